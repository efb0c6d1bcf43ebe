// API keys: random tokens shown once, stored as salted SHA-256, verified by
// constant-time comparison (see gallery.h).
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

const char *ft_key_role_str(ft_key_role r)
{
    switch (r) {
    case FT_ROLE_ADMIN:
        return "admin";
    case FT_ROLE_DEVICE:
        return "device";
    case FT_ROLE_VIEWER:
        return "viewer";
    }
    return "viewer";
}

ft_status ft_key_role_parse(const char *s, ft_key_role *out, ft_err *err)
{
    static const ft_key_role all[] = {FT_ROLE_ADMIN, FT_ROLE_DEVICE, FT_ROLE_VIEWER};
    for (size_t i = 0; s && i < 3; i++)
        if (strcmp(s, ft_key_role_str(all[i])) == 0) {
            *out = all[i];
            return FT_OK;
        }
    return ft_err_set(err, FT_E_INVALID, "role must be admin, device or viewer");
}

static ft_status random_bytes(uint8_t *p, size_t n, ft_err *err)
{
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ft_err_set(err, FT_E_IO, "getrandom: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
    return FT_OK;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

// hex(SHA-256(salt_hex || token)).
static void key_hash(const char *salt, const char *token, char out[65])
{
    ft_sha256 h;
    uint8_t d[32];
    ft_sha256_init(&h);
    ft_sha256_update(&h, salt, strlen(salt));
    ft_sha256_update(&h, token, strlen(token));
    ft_sha256_final(&h, d);
    to_hex(d, 32, out);
}

static bool ct_equal(const char *a, const char *b, size_t n)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

typedef struct key_secret {
    const char *salt, *secret_hex;
    char token[FT_KEY_TOKEN_MAX];
} key_secret;

// The token and its stored hash, once the row's id is known.
static void key_hash_for(int64_t id, void *arg, char out[65])
{
    key_secret *k = arg;
    snprintf(k->token, sizeof k->token, "ftk_%lld_%s", (long long)id, k->secret_hex);
    key_hash(k->salt, k->token, out);
}

ft_status ft_gallery_key_create(ft_gallery *g, const char *name, ft_key_role role,
                                char token[FT_KEY_TOKEN_MAX], int64_t *id_out, ft_err *err)
{
    ft_status st;
    uint8_t secret[32], salt_b[16];
    char secret_hex[65], salt[33];
    int64_t id = 0;
    if ((st = ft_gallery__text_check("key name", name, FT_GALLERY_NAME_MAX, false, err)) != FT_OK)
        return st;
    if (role != FT_ROLE_ADMIN && role != FT_ROLE_DEVICE && role != FT_ROLE_VIEWER)
        return ft_err_set(err, FT_E_INVALID, "role must be admin, device or viewer");
    if ((st = random_bytes(secret, sizeof secret, err)) != FT_OK ||
        (st = random_bytes(salt_b, sizeof salt_b, err)) != FT_OK)
        return st;
    to_hex(secret, sizeof secret, secret_hex);
    to_hex(salt_b, sizeof salt_b, salt);
    key_secret k = {salt, secret_hex, ""};
    if ((st = ft_gallery__writable(g, err)) != FT_OK ||
        (st = g->ops->key_insert(g, name, role, salt, key_hash_for, &k, &id, err)) != FT_OK)
        return st;
    memcpy(token, k.token, sizeof k.token);
    if (id_out)
        *id_out = id;
    return FT_OK;
}

// ---- SQLite ----

ft_status ft_gallery__sq_key_insert(ft_gallery *g, const char *name, ft_key_role role,
                                    const char *salt,
                                    void (*hash_fn)(int64_t id, void *arg, char out[65]),
                                    void *arg, int64_t *id_out, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    char hash[65];
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    // The id is part of the token, so the row comes first, then its hash.
    if ((st = ft_gallery__prepare(g,
                                  "INSERT INTO api_keys(name, role, salt, key_hash, created_at) "
                                  "VALUES (?1, ?2, ?3, '', ?4)",
                                  &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ft_key_role_str(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, salt, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, ft_wall_s());
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "create key");
        goto fail;
    }
    int64_t id = g->audit_id = sqlite3_last_insert_rowid(g->db);
    sqlite3_finalize(s);
    s = NULL;
    hash_fn(id, arg, hash);
    if ((st = ft_gallery__prepare(g, "UPDATE api_keys SET key_hash = ?2 WHERE id = ?1", &s,
                                  err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "create key");
        goto fail;
    }
    sqlite3_finalize(s);
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    *id_out = id;
    return FT_OK;
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

static void key_row(sqlite3_stmt *s, ft_api_key *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(s, 0);
    ft_gallery__col_text(s, 1, k->name, sizeof k->name);
    const char *r = (const char *)sqlite3_column_text(s, 2);
    if (ft_key_role_parse(r, &k->role, NULL) != FT_OK)
        k->role = FT_ROLE_VIEWER; // the CHECK constraint makes this unreachable
    k->created_at = sqlite3_column_double(s, 3);
    k->revoked_at = sqlite3_column_double(s, 4);   // NULL reads as 0
    k->last_used_at = sqlite3_column_double(s, 5); // NULL reads as 0
}

static ft_status key_row_v(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err)
{
    key_row(s, dst);
    return FT_OK;
}

ft_status ft_gallery__sq_keys_list(ft_gallery *g, ft_api_key **out, size_t *n, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(
        g,
        "SELECT id, name, role, created_at, revoked_at, last_used_at FROM api_keys ORDER BY id",
        &s, err);
    if (st != FT_OK)
        return st;
    return ft_gallery__collect(g, s, sizeof **out, key_row_v, "list keys", (void **)out, n, err);
}

ft_status ft_gallery__sq_key_revoke(ft_gallery *g, int64_t id, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(
             g, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1", &s,
             err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, ft_wall_s());
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "revoke key");
        goto fail;
    }
    if (sqlite3_changes(g->db) == 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no API key with id %lld", (long long)id);
        goto fail;
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

// "ftk_<id>_<64 hex>" -> id; false if malformed.
static bool token_parse(const char *t, int64_t *id)
{
    if (strncmp(t, "ftk_", 4) != 0)
        return false;
    const char *p = t + 4;
    int64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 18) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || v <= 0 || *p++ != '_')
        return false;
    for (int i = 0; i < 64; i++, p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    if (*p != '\0')
        return false;
    *id = v;
    return true;
}

ft_status ft_gallery__sq_key_lookup(ft_gallery *g, int64_t id, ft_api_key *k, bool *revoked,
                                    char salt[40], char hash[65], ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g,
                                       "SELECT id, name, role, created_at, revoked_at, "
                                       "last_used_at, salt, key_hash FROM api_keys WHERE id = ?1",
                                       &s, err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        key_row(s, k);
        ft_gallery__col_text(s, 6, salt, 40);
        ft_gallery__col_text(s, 7, hash, 65);
        *revoked = sqlite3_column_type(s, 4) != SQLITE_NULL;
    } else if (rc == SQLITE_DONE) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no API key with id %lld", (long long)id);
    } else {
        st = ft_gallery__dberr(g, rc, err, "verify key");
    }
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_key_touch(ft_gallery *g, int64_t id, double now, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g, "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                                       &s, err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        g->local_seq++;
    else
        st = ft_gallery__dberr(g, rc, err, "record key use");
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery_key_verify(ft_gallery *g, const char *token, ft_api_key *out, ft_err *err)
{
    int64_t id;
    ft_api_key k;
    char hash[65], salt[40] = "", stored[65] = "";
    bool revoked = true;
    if (!token || strlen(token) >= FT_KEY_TOKEN_MAX || !token_parse(token, &id))
        return ft_err_set(err, FT_E_AUTH, "invalid or revoked API key");
    ft_status st = g->ops->key_lookup(g, id, &k, &revoked, salt, stored, err);
    bool ok = false;
    if (st == FT_OK) {
        key_hash(salt, token, hash);
        ok = strlen(stored) == 64 && ct_equal(hash, stored, 64) && !revoked;
    } else if (st == FT_E_NOT_FOUND) {
        key_hash("", token, hash); // the same work, so timing does not reveal ids
        st = FT_OK;
    }
    if (st != FT_OK)
        return st;
    if (!ok)
        return ft_err_set(err, FT_E_AUTH, "invalid or revoked API key");

    // last_used_at is advisory: refresh it at most once a minute, and never
    // fail a valid key because the write could not be made.
    double now = ft_wall_s();
    if (!g->readonly && now - k.last_used_at >= 60.0 && g->ops->key_touch &&
        g->ops->key_touch(g, id, now, NULL) == FT_OK)
        k.last_used_at = now;
    if (out)
        *out = k;
    return FT_OK;
}
