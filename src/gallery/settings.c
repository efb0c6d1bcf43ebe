// Settings (key/value text) with typed helpers, and the access policy
// stored in them (see gallery.h).
#include "gallery/gallery_internal.h"

#include "core/clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 4096

ft_status ft_gallery__setting_key_check(const char *key, ft_err *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 64)
        return ft_err_set(err, FT_E_INVALID, "setting key must be 1..64 bytes");
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return ft_err_set(err, FT_E_INVALID, "setting key \"%s\": only [a-z0-9_.] allowed",
                              key);
    }
    return FT_OK;
}

ft_status ft_gallery__sq_setting_get(ft_gallery *g, const char *key, char *out, size_t cap,
                                     ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__setting_key_check(key, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g, "SELECT value FROM settings WHERE key = ?1", &s, err)) !=
        FT_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        const unsigned char *v = sqlite3_column_text(s, 0);
        if (n >= cap)
            st = ft_err_set(err, FT_E_LIMIT, "setting %s: value of %zu bytes does not fit", key,
                            n);
        else {
            if (n)
                memcpy(out, v, n);
            out[n] = '\0';
        }
    } else if (rc == SQLITE_DONE) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "setting %s is not set", key);
    } else {
        st = ft_gallery__dberr(g, rc, err, "get setting");
    }
    sqlite3_finalize(s);
    return st;
}

// One settings upsert (value) or delete (NULL) inside the caller's transaction.
static ft_status setting_put_tx(ft_gallery *g, const char *key, const char *value, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = value ? "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                            : "DELETE FROM settings WHERE key = ?1";
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, value ? "set setting" : "delete setting");
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_settings_write(ft_gallery *g, const char *const *keys,
                                        const char *const *values, size_t n,
                                        const ft_store_audit *audit, ft_err *err)
{
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    for (size_t i = 0; i < n && st == FT_OK; i++)
        st = setting_put_tx(g, keys[i], values[i], err);
    if (st == FT_OK && audit && audit->action)
        st = ft_gallery__audit_tx(g, audit->actor, audit->action, audit->target, audit->detail,
                                  err);
    if (st != FT_OK) {
        ft_gallery__rollback(g);
        return st;
    }
    return ft_gallery__commit(g, err);
}

static ft_status setting_write(ft_gallery *g, const char *key, const char *value, ft_err *err)
{
    return g->ops->settings_write(g, &key, &value, 1, NULL, err);
}

static ft_status writable_key(const char *key, ft_err *err)
{
    ft_status st = ft_gallery__setting_key_check(key, err);
    if (st != FT_OK)
        return st;
    if (strcmp(key, "generation") == 0)
        return ft_err_set(err, FT_E_INVALID, "setting \"generation\" is maintained by the gallery");
    return FT_OK;
}

ft_status ft_gallery_setting_set(ft_gallery *g, const char *key, const char *value, ft_err *err)
{
    ft_status st = writable_key(key, err);
    if (st != FT_OK)
        return st;
    if (!value || strlen(value) > VALUE_MAX)
        return ft_err_set(err, FT_E_INVALID, "setting %s: value missing or over %d bytes", key,
                          VALUE_MAX);
    if ((st = ft_gallery__text_check("setting value", value, VALUE_MAX, true, err)) != FT_OK)
        return st;
    return setting_write(g, key, value, err);
}

ft_status ft_gallery_settings_set_audited(ft_gallery *g, const char *const *keys,
                                          const char *const *values, size_t n,
                                          const ft_audit_entry *a, ft_err *err)
{
    ft_status st = FT_OK;
    if (n == 0 || n > 64 || !keys || !values)
        return ft_err_set(err, FT_E_INVALID, "settings: 1 to 64 keys expected");
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        if ((st = writable_key(keys[i], err)) != FT_OK)
            break;
        if (values[i] &&
            (st = ft_gallery__text_check("setting value", values[i], VALUE_MAX, true, err)) !=
                FT_OK)
            break;
    }
    if (st == FT_OK && a && a->action)
        st = ft_gallery__audit_check(a->actor && *a->actor ? a->actor : "unknown", a->action,
                                     a->target, a->detail, err);
    if (st != FT_OK)
        return st;
    return g->ops->settings_write(g, keys, values, n, a, err);
}

ft_status ft_gallery_setting_delete(ft_gallery *g, const char *key, ft_err *err)
{
    ft_status st = writable_key(key, err);
    if (st != FT_OK)
        return st;
    return setting_write(g, key, NULL, err);
}

ft_status ft_gallery_setting_get_double(ft_gallery *g, const char *key, double def, double *out,
                                        ft_err *err)
{
    char buf[64], *end;
    ft_status st = ft_gallery_setting_get(g, key, buf, sizeof buf, err);
    if (st == FT_E_NOT_FOUND) {
        *out = def;
        return FT_OK;
    }
    if (st == FT_E_LIMIT)
        return ft_err_set(err, FT_E_FORMAT, "setting %s is not a number", key);
    if (st != FT_OK)
        return st;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v))
        return ft_err_set(err, FT_E_FORMAT, "setting %s = \"%s\" is not a number", key, buf);
    *out = v;
    return FT_OK;
}

ft_status ft_gallery_setting_set_double(ft_gallery *g, const char *key, double v, ft_err *err)
{
    char buf[64];
    if (!isfinite(v))
        return ft_err_set(err, FT_E_INVALID, "setting %s: value is not finite", key);
    snprintf(buf, sizeof buf, "%.17g", v);
    return ft_gallery_setting_set(g, key, buf, err);
}

ft_status ft_gallery_setting_get_int(ft_gallery *g, const char *key, int64_t def, int64_t *out,
                                     ft_err *err)
{
    char buf[64], *end;
    ft_status st = ft_gallery_setting_get(g, key, buf, sizeof buf, err);
    if (st == FT_E_NOT_FOUND) {
        *out = def;
        return FT_OK;
    }
    if (st == FT_E_LIMIT)
        return ft_err_set(err, FT_E_FORMAT, "setting %s is not an integer", key);
    if (st != FT_OK)
        return st;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end != '\0' || errno == ERANGE)
        return ft_err_set(err, FT_E_FORMAT, "setting %s = \"%s\" is not an integer", key, buf);
    *out = v;
    return FT_OK;
}

ft_status ft_gallery_setting_set_int(ft_gallery *g, const char *key, int64_t v, ft_err *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return ft_gallery_setting_set(g, key, buf, err);
}

// ---- Policy ----

ft_policy_space ft_policy_space_legacy(void)
{
    ft_policy_space sp = {"resnet128",
                          true,
                          FT_GALLERY_DEFAULT_THRESHOLD,
                          FT_GALLERY_DEFAULT_MARGIN,
                          FT_GALLERY_SAFE_THRESHOLD,
                          FT_GALLERY_THRESHOLD_MAX};
    return sp;
}

ft_status ft_policy_space_check(const ft_policy_space *sp, ft_err *err)
{
    size_t n = sp && sp->name ? strlen(sp->name) : 0;
    if (n == 0 || n > FT_POLICY_SPACE_NAME_MAX)
        return ft_err_set(err, FT_E_INVALID, "policy space: name must be 1..%d bytes",
                          FT_POLICY_SPACE_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = sp->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return ft_err_set(err, FT_E_INVALID, "policy space \"%s\": only [a-z0-9_] allowed",
                              sp->name);
    }
    if (!(sp->threshold_max > 0 && sp->threshold_max <= FT_GALLERY_THRESHOLD_MAX &&
          sp->safe_threshold > 0 && sp->safe_threshold <= sp->threshold_max &&
          sp->threshold > 0 && sp->threshold <= sp->threshold_max && sp->margin >= 0 &&
          sp->margin <= FT_GALLERY_MARGIN_MAX))
        return ft_err_set(err, FT_E_INVALID,
                          "policy space %s: bounds out of order (threshold %g, margin %g, safe "
                          "%g, max %g)",
                          sp->name, sp->threshold, sp->margin, sp->safe_threshold,
                          sp->threshold_max);
    return FT_OK;
}

ft_status ft_policy_space_key(const ft_policy_space *sp, const char *base, char *out, size_t cap,
                              ft_err *err)
{
    int n = sp->legacy_keys ? snprintf(out, cap, "%s", base)
                            : snprintf(out, cap, "%s.%s", base, sp->name);
    if (n < 0 || (size_t)n >= cap || n > 64)
        return ft_err_set(err, FT_E_INVALID, "setting key %s.%s is too long", base, sp->name);
    return FT_OK;
}

// The seven keys of one space, in this order.
enum { K_THRESHOLD, K_MARGIN, K_CAL_T, K_CAL_FAR, K_CAL_TARGET, K_CAL_AT, K_CAL_TABLE, N_KEYS };
static const char *const space_base[N_KEYS] = {
    "threshold",         "margin",        "calibrated_threshold", "calibrated_far",
    "calibrated_target", "calibrated_at", "calibration_far"};

typedef struct space_keys {
    char k[N_KEYS][72];
} space_keys;

static ft_status keys_of(const ft_policy_space *sp, space_keys *out, ft_err *err)
{
    ft_status st = ft_policy_space_check(sp, err);
    for (int i = 0; i < N_KEYS && st == FT_OK; i++)
        st = ft_policy_space_key(sp, space_base[i], out->k[i], sizeof out->k[i], err);
    return st;
}

ft_gallery_policy ft_gallery_policy_default(void)
{
    ft_gallery_policy p = {FT_GALLERY_DEFAULT_THRESHOLD, FT_GALLERY_DEFAULT_MARGIN,
                           FT_GALLERY_DEFAULT_MIN_FACE_PX, FT_GALLERY_DEFAULT_MIN_SCORE,
                           FT_GALLERY_DEFAULT_PERSON_CAP};
    return p;
}

ft_gallery_policy ft_gallery_policy_default_for(const ft_policy_space *sp)
{
    ft_gallery_policy p = ft_gallery_policy_default();
    p.threshold = sp->threshold;
    p.margin = sp->margin;
    return p;
}

ft_status ft_gallery_policy_check_for(const ft_policy_space *sp, const ft_gallery_policy *p,
                                      ft_err *err)
{
    // The reasons for each range are in gallery.h (ft_gallery_policy,
    // ft_policy_space).
    if (!(p->threshold > 0.0 && p->threshold <= sp->threshold_max))
        return ft_err_set(err, FT_E_INVALID,
                          "threshold %g is outside (0, %g]: %s descriptor distances above %g "
                          "match almost anyone",
                          p->threshold, sp->threshold_max, sp->name, sp->threshold_max);
    if (!(p->margin >= 0.0 && p->margin <= FT_GALLERY_MARGIN_MAX))
        return ft_err_set(err, FT_E_INVALID, "margin %g is outside [0, %g]", p->margin,
                          FT_GALLERY_MARGIN_MAX);
    if (!(p->min_face_px >= FT_GALLERY_MIN_FACE_PX_MIN &&
          p->min_face_px <= FT_GALLERY_MIN_FACE_PX_MAX))
        return ft_err_set(err, FT_E_INVALID, "min_face_px %g is outside [%g, %g]",
                          p->min_face_px, FT_GALLERY_MIN_FACE_PX_MIN, FT_GALLERY_MIN_FACE_PX_MAX);
    if (!(p->min_detector_score >= 0.0 && p->min_detector_score <= 1.0))
        return ft_err_set(err, FT_E_INVALID, "min_detector_score %g is outside [0, 1]",
                          p->min_detector_score);
    if (!(p->person_cap >= 0.0 && p->person_cap <= 1.0))
        return ft_err_set(err, FT_E_INVALID, "person_cap %g is outside [0, 1] (0 = off)",
                          p->person_cap);
    return FT_OK;
}

ft_status ft_gallery_policy_check(const ft_gallery_policy *p, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_policy_check_for(&sp, p, err);
}

ft_status ft_gallery_policy_load_for(ft_gallery *g, const ft_policy_space *sp,
                                     ft_gallery_policy *out, ft_err *err)
{
    space_keys k;
    ft_status st = keys_of(sp, &k, err);
    if (st != FT_OK)
        return st;
    ft_gallery_policy p = ft_gallery_policy_default_for(sp);
    if ((st = ft_gallery_setting_get_double(g, k.k[K_THRESHOLD], p.threshold, &p.threshold,
                                            err)) != FT_OK ||
        (st = ft_gallery_setting_get_double(g, k.k[K_MARGIN], p.margin, &p.margin, err)) !=
            FT_OK ||
        (st = ft_gallery_setting_get_double(g, "min_face_px", p.min_face_px, &p.min_face_px,
                                            err)) != FT_OK ||
        (st = ft_gallery_setting_get_double(g, "min_detector_score", p.min_detector_score,
                                            &p.min_detector_score, err)) != FT_OK ||
        (st = ft_gallery_setting_get_double(g, "person_cap", p.person_cap, &p.person_cap,
                                            err)) != FT_OK)
        return st;
    if ((st = ft_gallery_policy_check_for(sp, &p, err)) != FT_OK) {
        ft_err_prefix(err, "%s: stored policy (%s): ", g->path, sp->name);
        return st;
    }
    *out = p;
    return FT_OK;
}

ft_status ft_gallery_policy_load(ft_gallery *g, ft_gallery_policy *out, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_policy_load_for(g, &sp, out, err);
}

#define N_POLICY 5

// The five policy settings: keys (sp's threshold and margin, the shared
// ones) and values as text (%.17g: read back exactly).
static void policy_kv(const space_keys *k, const ft_gallery_policy *p, char buf[N_POLICY][64],
                      const char *keys[N_POLICY], const char *vals[N_POLICY])
{
    double v[N_POLICY] = {p->threshold, p->margin, p->min_face_px, p->min_detector_score,
                          p->person_cap};
    const char *names[N_POLICY] = {k->k[K_THRESHOLD], k->k[K_MARGIN], "min_face_px",
                                   "min_detector_score", "person_cap"};
    for (int i = 0; i < N_POLICY; i++) {
        snprintf(buf[i], 64, "%.17g", v[i]);
        vals[i] = buf[i];
        keys[i] = names[i];
    }
}

ft_status ft_gallery_policy_save_for(ft_gallery *g, const ft_policy_space *sp,
                                     const ft_gallery_policy *p, ft_err *err)
{
    space_keys k;
    ft_status st = keys_of(sp, &k, err);
    if (st == FT_OK)
        st = ft_gallery_policy_check_for(sp, p, err);
    if (st != FT_OK)
        return st;
    // One transaction: readers never see half a policy.
    const char *keys[N_POLICY], *vals[N_POLICY];
    char buf[N_POLICY][64];
    policy_kv(&k, p, buf, keys, vals);
    return g->ops->settings_write(g, keys, vals, N_POLICY, NULL, err);
}

ft_status ft_gallery_policy_save(ft_gallery *g, const ft_gallery_policy *p, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_policy_save_for(g, &sp, p, err);
}

// ---- Calibration record and policy review ----

ft_status ft_gallery__calibration_store(ft_gallery *g, const ft_policy_space *sp,
                                        const ft_calib_result *r, const ft_calib_opts *o,
                                        ft_err *err)
{
    space_keys k;
    ft_status st = keys_of(sp, &k, err);
    if (st != FT_OK)
        return st;
    ft_buf table;
    ft_buf_init(&table, 0);
    // "t:far" pairs; rows without impostor trials have no FAR and are left
    // out. 51 rows of about 12 bytes fit the 4096-byte setting easily; a
    // finer grid is cut to what fits (the lookup then says "unknown" past
    // the end).
    for (size_t i = 0; i < r->n_rows && st == FT_OK; i++) {
        if (isnan(r->rows[i].far))
            continue;
        char cell[48];
        int len = snprintf(cell, sizeof cell, "%s%.4g:%.6g", table.len ? " " : "",
                           r->rows[i].threshold, r->rows[i].far);
        if (table.len + (size_t)len > VALUE_MAX)
            break;
        st = ft_buf_append(&table, cell, (size_t)len);
    }
    if (st == FT_OK)
        st = ft_buf_append(&table, "", 1); // NUL
    if (st != FT_OK) {
        ft_buf_deinit(&table);
        return ft_err_set(err, st, "calibration table: out of memory");
    }
    char detail[320];
    snprintf(detail, sizeof detail,
             "{\"space\": \"%s\", \"threshold\": %.6g, \"far\": %.6g, \"frr\": %.6g, "
             "\"target_far\": %.6g, \"impostor_trials\": %zu, \"confirmed\": %s}",
             sp->name, r->threshold, r->far, isnan(r->frr) ? -1.0 : r->frr, o->target_far,
             r->n_impostor, o->confirm ? "true" : "false");
    char v[5][64];
    double dv[5] = {r->threshold, r->threshold, r->far, o->target_far, ft_wall_s()};
    for (int i = 0; i < 5; i++)
        snprintf(v[i], sizeof v[i], "%.17g", dv[i]);
    const char *keys[6] = {k.k[K_THRESHOLD], k.k[K_CAL_T],  k.k[K_CAL_FAR],
                           k.k[K_CAL_TARGET], k.k[K_CAL_AT], k.k[K_CAL_TABLE]};
    const char *vals[6] = {v[0], v[1], v[2], v[3], v[4], (const char *)table.data};
    char target[96];
    snprintf(target, sizeof target, "settings:%s", k.k[K_THRESHOLD]);
    ft_store_audit a = {o->actor, "settings.calibrate", target, detail};
    st = g->ops->settings_write(g, keys, vals, 6, &a, err);
    ft_buf_deinit(&table);
    return st;
}

ft_status ft_gallery_calibrated_far_for(ft_gallery *g, const ft_policy_space *sp, double threshold,
                                        double *far, ft_err *err)
{
    char table[VALUE_MAX + 1];
    space_keys k;
    *far = NAN;
    ft_status st = keys_of(sp, &k, err);
    if (st != FT_OK)
        return st;
    st = ft_gallery_setting_get(g, k.k[K_CAL_TABLE], table, sizeof table, err);
    if (st == FT_E_NOT_FOUND)
        return FT_OK;
    if (st != FT_OK)
        return st;
    // FAR only grows with the threshold: the first grid point at or above
    // `threshold` bounds the FAR at `threshold` from above.
    const char *p = table;
    while (*p) {
        char *end;
        double t = strtod(p, &end);
        if (end == p || *end != ':')
            return ft_err_set(err, FT_E_FORMAT, "setting %s is malformed", k.k[K_CAL_TABLE]);
        p = end + 1;
        double f = strtod(p, &end);
        if (end == p)
            return ft_err_set(err, FT_E_FORMAT, "setting %s is malformed", k.k[K_CAL_TABLE]);
        p = end;
        while (*p == ' ')
            p++;
        if (t >= threshold - 1e-9) {
            *far = f;
            return FT_OK;
        }
    }
    return FT_OK;
}

ft_status ft_gallery_calibrated_far(ft_gallery *g, double threshold, double *far, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_calibrated_far_for(g, &sp, threshold, far, err);
}

// Appends "; " and text to why (cut to fit).
static void why_add(char *why, size_t cap, const char *text)
{
    size_t n = strlen(why);
    snprintf(why + n, cap - n, "%s%s", n ? "; " : "", text);
}

ft_status ft_gallery_policy_review_for(ft_gallery *g, const ft_policy_space *sp,
                                       const ft_gallery_policy *p, ft_policy_review *out,
                                       ft_err *err)
{
    ft_policy_review rv;
    space_keys k;
    memset(&rv, 0, sizeof rv);
    rv.calibrated_threshold = rv.calibrated_far = rv.expected_far = NAN;
    ft_status st = keys_of(sp, &k, err);
    if (st != FT_OK)
        return st;
    ft_gallery_policy cur;
    st = ft_gallery_policy_load_for(g, sp, &cur, err);
    if (st == FT_E_INVALID) {
        // A stored policy out of today's bounds (written by an older
        // version): any valid change is a repair, judged against the
        // defaults.
        cur = ft_gallery_policy_default_for(sp);
        st = FT_OK;
    }
    if (st == FT_OK)
        st = ft_gallery_setting_get_double(g, k.k[K_CAL_T], NAN, &rv.calibrated_threshold, err);
    if (st == FT_OK)
        st = ft_gallery_setting_get_double(g, k.k[K_CAL_FAR], NAN, &rv.calibrated_far, err);
    if (st == FT_OK)
        st = ft_gallery_calibrated_far_for(g, sp, p->threshold, &rv.expected_far, err);
    if (st != FT_OK)
        return st;
    bool raised = p->threshold > cur.threshold;
    bool above_cal = !isnan(rv.calibrated_threshold) && p->threshold > rv.calibrated_threshold;
    bool above_safe = p->threshold > sp->safe_threshold;
    if (raised && (above_cal || above_safe)) {
        char expect[160], text[400];
        if (!isnan(rv.expected_far))
            snprintf(expect, sizeof expect,
                     "the calibration table expects a false-accept rate of up to %.2f %% at "
                     "%.3g",
                     rv.expected_far * 100.0, p->threshold);
        else if (!isnan(rv.calibrated_threshold))
            snprintf(expect, sizeof expect,
                     "the calibration table does not reach %.3g: the false-accept rate there "
                     "is unknown",
                     p->threshold);
        else
            snprintf(expect, sizeof expect,
                     "no calibration is stored, so the false-accept rate is unknown (run "
                     "calibrate)");
        rv.loosens = true;
        if (above_cal)
            snprintf(text, sizeof text,
                     "%s threshold %.3g is above the calibrated %.3g (false-accept rate %.2f "
                     "%%); %s",
                     sp->name, p->threshold, rv.calibrated_threshold, rv.calibrated_far * 100.0,
                     expect);
        else
            snprintf(text, sizeof text,
                     "%s threshold %.3g is above the safe maximum %.2g (its equal-error "
                     "point); %s",
                     sp->name, p->threshold, sp->safe_threshold, expect);
        why_add(rv.why, sizeof rv.why, text);
    }
    // person_cap: 0 is off (no per-person limit); any other value caps each
    // person's threshold at person_cap x the distance to their nearest
    // other person, so a larger value is looser.
    bool cap_off = cur.person_cap > 0 && p->person_cap == 0;
    bool cap_raised = cur.person_cap > 0 && p->person_cap > cur.person_cap;
    if (cap_off || cap_raised) {
        char text[240];
        if (cap_off)
            snprintf(text, sizeof text,
                     "person_cap 0 turns the per-person thresholds off (was %.3g): a stranger "
                     "who resembles two enrolled look-alikes can be let in",
                     cur.person_cap);
        else
            snprintf(text, sizeof text,
                     "person_cap %.3g is above %.3g: people with an enrolled look-alike get a "
                     "looser threshold",
                     p->person_cap, cur.person_cap);
        rv.loosens = true;
        why_add(rv.why, sizeof rv.why, text);
    }
    *out = rv;
    return FT_OK;
}

ft_status ft_gallery_policy_review(ft_gallery *g, const ft_gallery_policy *p,
                                   ft_policy_review *out, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_policy_review_for(g, &sp, p, out, err);
}

ft_status ft_gallery_policy_change_for(ft_gallery *g, const ft_policy_space *sp,
                                       const ft_gallery_policy *p, bool confirm,
                                       const char *actor, ft_policy_review *review, ft_err *err)
{
    ft_policy_review rv;
    ft_gallery_policy cur;
    space_keys k;
    ft_status st = keys_of(sp, &k, err);
    if (st == FT_OK)
        st = ft_gallery_policy_check_for(sp, p, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery_policy_review_for(g, sp, p, &rv, err)) != FT_OK)
        return st;
    if (review)
        *review = rv;
    if (rv.loosens && !confirm)
        return ft_err_set(err, FT_E_CONFIRM, "%s; confirm to apply (--force, \"confirm\": true)",
                          rv.why);
    if (ft_gallery_policy_load_for(g, sp, &cur, NULL) != FT_OK)
        cur = ft_gallery_policy_default_for(sp);
    char detail[1024];
    snprintf(detail, sizeof detail,
             "{\"space\": \"%s\", \"old\": {\"threshold\": %.6g, \"margin\": %.6g, "
             "\"min_face_px\": %.6g, \"min_detector_score\": %.6g, \"person_cap\": %.6g}, "
             "\"new\": {\"threshold\": %.6g, \"margin\": %.6g, \"min_face_px\": %.6g, "
             "\"min_detector_score\": %.6g, \"person_cap\": %.6g}, \"loosens\": %s, "
             "\"confirmed\": %s}",
             sp->name, cur.threshold, cur.margin, cur.min_face_px, cur.min_detector_score,
             cur.person_cap, p->threshold, p->margin, p->min_face_px, p->min_detector_score,
             p->person_cap, rv.loosens ? "true" : "false", confirm ? "true" : "false");
    const char *keys[N_POLICY], *vals[N_POLICY];
    char buf[N_POLICY][64];
    policy_kv(&k, p, buf, keys, vals);
    ft_store_audit a = {actor, "settings.change", "settings:policy", detail};
    return g->ops->settings_write(g, keys, vals, N_POLICY, &a, err);
}

ft_status ft_gallery_policy_change(ft_gallery *g, const ft_gallery_policy *p, bool confirm,
                                   const char *actor, ft_policy_review *review, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_policy_change_for(g, &sp, p, confirm, actor, review, err);
}
