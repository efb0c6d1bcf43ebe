// ft_gallery_copy: a whole gallery from one backend to another (see
// gallery.h), as typed rows through the ops table's rows_* operations,
// checked afterwards by per-table row counts and SHA-256 checksums.
#include "gallery/gallery_internal.h"

#include "core/sha256.h"

#include <stdio.h>
#include <string.h>

#define I FT_COL_INT
#define R FT_COL_REAL
#define T FT_COL_TEXT
#define B FT_COL_BLOB

static const ft_store_col people_t[] = {I, T, T, T, R, R};
static const ft_store_col samples_t[] = {I, I, B, T, T, R, I, I, B, T, R, I, B, R, R, R, R, T};
static const ft_store_col events_t[] = {I, R, T, T, T, I, T, R, R, R,
                                        B, T, I, I, R, I, T, I, T, R};
static const ft_store_col keys_t[] = {I, T, T, T, T, R, R, R};
static const ft_store_col settings_t[] = {T, T};
static const ft_store_col audit_t[] = {I, R, T, T, T, T};

#define N(a) (int)(sizeof a / sizeof a[0])

// In foreign-key order. The "generation" setting is SQLite's own counter.
static const ft_store_table tables[] = {
    {"people", "id, name, external_id, notes, created_at, updated_at", NULL, "id", N(people_t),
     people_t, true},
    {"samples",
     "id, person_id, descriptor, model, alignment, detector_score, face_w, face_h, thumbnail, "
     "source_sha256, created_at, dim, region, region_x, region_y, region_w, region_h, "
     "detector",
     NULL, "id", N(samples_t), samples_t, true},
    {"events",
     "id, time, source, decision, reason, person_id, name_at_time, distance, margin, "
     "detector_score, thumbnail, uid, track_id, frames, first_seen, nearest_person_id, "
     "nearest_name, second_person_id, second_name, second_distance",
     NULL, "id", N(events_t), events_t, true},
    {"api_keys", "id, name, role, salt, key_hash, created_at, revoked_at, last_used_at", NULL,
     "id", N(keys_t), keys_t, true},
    {"settings", "key, value", "key <> 'generation'", "key", N(settings_t), settings_t, false},
    {"audit", "id, time, actor, action, target, detail", NULL, "id", N(audit_t), audit_t, true},
};

#define N_TABLES (sizeof tables / sizeof tables[0])

typedef struct side {
    ft_sha256 h[N_TABLES], all;
    int64_t rows[N_TABLES];
    size_t k; // the table being read
    ft_gallery *dst; // NULL: only count and hash
} side;

// A row's canonical bytes: per value a tag, then 8 bytes (INT, REAL
// bits) or a length and the bytes (TEXT, BLOB). NULL is its own tag.
static void hash_row(ft_sha256 *h, const ft_store_table *t, const ft_store_value *v)
{
    for (int c = 0; c < t->n; c++) {
        uint8_t tag = v[c].null ? 'N' : (uint8_t)('0' + t->types[c]);
        uint8_t w[8];
        uint64_t u = 0;
        ft_sha256_update(h, &tag, 1);
        if (v[c].null)
            continue;
        if (t->types[c] == FT_COL_INT)
            u = (uint64_t)v[c].i;
        else if (t->types[c] == FT_COL_REAL)
            memcpy(&u, &v[c].d, 8);
        else
            u = v[c].len;
        for (int b = 0; b < 8; b++)
            w[b] = (uint8_t)(u >> (8 * b));
        ft_sha256_update(h, w, 8);
        if (t->types[c] == FT_COL_TEXT || t->types[c] == FT_COL_BLOB)
            ft_sha256_update(h, v[c].p, v[c].len);
    }
}

static ft_status on_row(void *arg, const ft_store_table *t, const ft_store_value *v, ft_err *err)
{
    side *s = arg;
    hash_row(&s->h[s->k], t, v);
    s->rows[s->k]++;
    if (s->dst)
        return s->dst->ops->rows_write(s->dst, t, v, err);
    return FT_OK;
}

static ft_status read_all(ft_gallery *g, side *s, ft_err *err)
{
    for (s->k = 0; s->k < N_TABLES; s->k++) {
        ft_sha256_init(&s->h[s->k]);
        s->rows[s->k] = 0;
        ft_status st = g->ops->rows_read(g, &tables[s->k], on_row, s, err);
        if (st != FT_OK)
            return st;
    }
    return FT_OK;
}

static void digests(side *s, uint8_t d[N_TABLES][32], char all_hex[65])
{
    ft_sha256_init(&s->all);
    for (size_t k = 0; k < N_TABLES; k++) {
        ft_sha256_final(&s->h[k], d[k]);
        ft_sha256_update(&s->all, d[k], 32);
    }
    uint8_t a[32];
    ft_sha256_final(&s->all, a);
    for (int i = 0; i < 32; i++)
        snprintf(all_hex + 2 * i, 3, "%02x", a[i]);
}

ft_status ft_gallery_copy(ft_gallery *src, ft_gallery *dst, ft_gallery_copy_result *out,
                          ft_err *err)
{
    side a, b;
    uint8_t da[N_TABLES][32], db[N_TABLES][32];
    char ha[65], hb[65];
    ft_status st;
    if (!src->ops->rows_read || !dst->ops->rows_write)
        return ft_err_set(err, FT_E_UNSUPPORTED, "gallery copy: not supported by this backend");
    if ((st = ft_gallery__writable(dst, err)) != FT_OK)
        return st;
    // The destination must be empty: ids are copied as they are.
    memset(&b, 0, sizeof b);
    if ((st = read_all(dst, &b, err)) != FT_OK)
        return st;
    for (size_t k = 0; k < N_TABLES; k++)
        if (b.rows[k])
            return ft_err_set(err, FT_E_EXISTS,
                              "gallery copy: %s is not empty (%lld rows in %s); copy into a new "
                              "gallery",
                              dst->path, (long long)b.rows[k], tables[k].name);
    memset(&a, 0, sizeof a);
    a.dst = dst;
    if ((st = dst->ops->rows_begin(dst, err)) != FT_OK)
        return st;
    st = read_all(src, &a, err);
    ft_status st2 = dst->ops->rows_end(dst, st == FT_OK, st == FT_OK ? err : NULL);
    if (st != FT_OK)
        return st;
    if (st2 != FT_OK)
        return st2;
    // Read back what was committed and compare.
    memset(&b, 0, sizeof b);
    if ((st = read_all(dst, &b, err)) != FT_OK)
        return st;
    digests(&a, da, ha);
    digests(&b, db, hb);
    for (size_t k = 0; k < N_TABLES; k++)
        if (a.rows[k] != b.rows[k] || memcmp(da[k], db[k], 32) != 0)
            return ft_err_set(err, FT_E_DB,
                              "gallery copy: %s differs after the copy (%lld rows read, %lld "
                              "written, checksums %s)",
                              tables[k].name, (long long)a.rows[k], (long long)b.rows[k],
                              memcmp(da[k], db[k], 32) ? "differ" : "equal");
    if (out) {
        memset(out, 0, sizeof *out);
        out->people = a.rows[0];
        out->samples = a.rows[1];
        out->events = a.rows[2];
        out->api_keys = a.rows[3];
        out->settings = a.rows[4];
        out->audit = a.rows[5];
        memcpy(out->sha256, ha, sizeof ha);
    }
    return FT_OK;
}
