// Settings (key/value text) with typed helpers, and the access policy
// stored in them (see gallery.h).
#include "gallery/gallery_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 4096

static ft_status key_check(const char *key, ft_err *err)
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

ft_status ft_gallery_setting_get(ft_gallery *g, const char *key, char *out, size_t cap,
                                 ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = key_check(key, err);
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

static ft_status setting_write(ft_gallery *g, const char *key, const char *value, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    const char *sql = value ? "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                            : "DELETE FROM settings WHERE key = ?1";
    if ((st = ft_gallery__prepare(g, sql, &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, value ? "set setting" : "delete setting");
        goto fail;
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

static ft_status writable_key(const char *key, ft_err *err)
{
    ft_status st = key_check(key, err);
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

ft_gallery_policy ft_gallery_policy_default(void)
{
    ft_gallery_policy p = {FT_GALLERY_DEFAULT_THRESHOLD, FT_GALLERY_DEFAULT_MARGIN,
                           FT_GALLERY_DEFAULT_MIN_FACE_PX, FT_GALLERY_DEFAULT_MIN_SCORE};
    return p;
}

ft_status ft_gallery_policy_check(const ft_gallery_policy *p, ft_err *err)
{
    if (!(p->threshold > 0.0 && p->threshold <= 10.0))
        return ft_err_set(err, FT_E_INVALID, "threshold %g is outside (0, 10]", p->threshold);
    if (!(p->margin >= 0.0 && p->margin <= 10.0))
        return ft_err_set(err, FT_E_INVALID, "margin %g is outside [0, 10]", p->margin);
    if (!(p->min_face_px >= 0.0 && p->min_face_px <= 10000.0))
        return ft_err_set(err, FT_E_INVALID, "min_face_px %g is outside [0, 10000]",
                          p->min_face_px);
    if (!(p->min_detector_score >= 0.0 && p->min_detector_score <= 1.0))
        return ft_err_set(err, FT_E_INVALID, "min_detector_score %g is outside [0, 1]",
                          p->min_detector_score);
    return FT_OK;
}

ft_status ft_gallery_policy_load(ft_gallery *g, ft_gallery_policy *out, ft_err *err)
{
    ft_gallery_policy p = ft_gallery_policy_default();
    ft_status st;
    if ((st = ft_gallery_setting_get_double(g, "threshold", p.threshold, &p.threshold, err)) !=
            FT_OK ||
        (st = ft_gallery_setting_get_double(g, "margin", p.margin, &p.margin, err)) != FT_OK ||
        (st = ft_gallery_setting_get_double(g, "min_face_px", p.min_face_px, &p.min_face_px,
                                            err)) != FT_OK ||
        (st = ft_gallery_setting_get_double(g, "min_detector_score", p.min_detector_score,
                                            &p.min_detector_score, err)) != FT_OK)
        return st;
    if ((st = ft_gallery_policy_check(&p, err)) != FT_OK) {
        ft_err_prefix(err, "%s: stored policy: ", g->path);
        return st;
    }
    *out = p;
    return FT_OK;
}

ft_status ft_gallery_policy_save(ft_gallery *g, const ft_gallery_policy *p, ft_err *err)
{
    ft_status st = ft_gallery_policy_check(p, err);
    if (st != FT_OK)
        return st;
    // Four settings in one transaction: readers never see half a policy.
    const char *keys[4] = {"threshold", "margin", "min_face_px", "min_detector_score"};
    double vals[4] = {p->threshold, p->margin, p->min_face_px, p->min_detector_score};
    sqlite3_stmt *s = NULL;
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g,
                                  "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                  &s, err)) != FT_OK)
        goto fail;
    for (int i = 0; i < 4; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", vals[i]);
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, buf, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            st = ft_gallery__dberr(g, rc, err, "save policy");
            goto fail;
        }
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}
