// The gallery's public functions over the storage interface (store.h):
// opening picks the backend by the location string; every operation
// checks the contract's argument rules once, for all backends, and then
// dispatches through g->ops.
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

// ---- Locations ----

bool ft_store_is_pg_url(const char *loc)
{
    return loc &&
           (strncasecmp(loc, "postgresql://", 13) == 0 || strncasecmp(loc, "postgres://", 11) == 0);
}

// Appends s[0..n) to out (cap bytes with NUL), truncating.
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    while (n-- && *len + 1 < cap)
        out[(*len)++] = *s++;
    out[*len] = '\0';
}

void ft_store_url_mask(const char *url, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    const char *p = url;
    const char *scheme = strstr(p, "://");
    if (scheme) {
        scheme += 3;
        put(out, cap, &len, p, (size_t)(scheme - p));
        p = scheme;
        // userinfo: up to '@' before the first '/', '?' or '#'.
        size_t auth = strcspn(p, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < auth; i++)
            if (p[i] == '@')
                at = p + i; // the last '@' of the authority ends the userinfo
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (colon) {
                put(out, cap, &len, p, (size_t)(colon - p));
                put(out, cap, &len, ":***", 4);
            } else {
                put(out, cap, &len, p, (size_t)(at - p));
            }
            p = at;
        }
    }
    // The rest, with the value of any password= parameter (URL query or
    // keyword/value form) masked.
    while (*p) {
        if ((p == url || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ') &&
            strncasecmp(p, "password=", 9) == 0) {
            put(out, cap, &len, p, 9);
            put(out, cap, &len, "***", 3);
            p += 9;
            p += strcspn(p, "& ");
            continue;
        }
        put(out, cap, &len, p, 1);
        p++;
    }
}

// ---- Opening ----

ft_gallery_opts ft_gallery_opts_default(void)
{
    ft_gallery_opts o = {0};
    o.busy_timeout_ms = 5000;
    return o;
}

ft_status ft_gallery_open(const char *path, const ft_gallery_opts *o, ft_gallery **out, ft_err *err)
{
    ft_gallery_opts def = ft_gallery_opts_default();
    *out = NULL;
    if (!o)
        o = &def;
    if (!path)
        path = FT_GALLERY_DEFAULT_PATH;
    if (!*path)
        return ft_err_set(err, FT_E_INVALID, "empty gallery path");
    ft_gallery *g = ft_calloc(1, sizeof *g);
    if (!g) {
        char shown[256];
        ft_store_url_mask(path, shown, sizeof shown);
        return ft_err_set(err, FT_E_NOMEM, "%s: out of memory", shown);
    }
    bool pg = ft_store_is_pg_url(path);
    g->ops = pg ? &ft_store_pg : &ft_store_sqlite;
    g->busy_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 0;
    // Not a secret: only needs to differ between handles. If getrandom
    // fails, the clock still makes a clash unlikely.
    if (getrandom(&g->nonce, sizeof g->nonce, GRND_NONBLOCK) != (ssize_t)sizeof g->nonce)
        g->nonce = (uint64_t)(ft_now_ms() * 1e6) ^ (uint64_t)(uintptr_t)g;
    g->hook = o->test_hook;
    g->hook_arg = o->test_hook_arg;
    ft_status st = pg ? ft_store__pg_open(g, path, o, err) : ft_store__sqlite_open(g, path, o, err);
    if (st != FT_OK) {
        ft_gallery_close(g);
        return st;
    }
    *out = g;
    return FT_OK;
}

void ft_gallery_close(ft_gallery *g)
{
    if (!g)
        return;
    g->ops->close(g);
    ft_free(g->path);
    ft_free(g);
}

bool ft_gallery_readonly(const ft_gallery *g)
{
    return g->readonly;
}

const char *ft_gallery_path(const ft_gallery *g)
{
    return g->path;
}

int ft_gallery_schema_version(const ft_gallery *g)
{
    return g->version;
}

// ---- Dispatch ----

static ft_status unsupported(const ft_gallery *g, const char *op, ft_err *err)
{
    return ft_err_set(err, FT_E_UNSUPPORTED, "%s: %s is not supported by the %s gallery backend",
                      g->path, op, g->ops->name);
}

#define DISPATCH(op, ...)                    \
    do {                                     \
        if (!g->ops->op)                     \
            return unsupported(g, #op, err); \
        return g->ops->op(g, __VA_ARGS__);   \
    } while (0)

ft_status ft_gallery_counts_get(ft_gallery *g, ft_gallery_counts *out, ft_err *err)
{
    DISPATCH(counts_get, out, err);
}

ft_status ft_gallery_check(ft_gallery *g, ft_err *err)
{
    DISPATCH(check, err);
}

// ---- People ----

ft_status ft_gallery_person_add(ft_gallery *g, const char *name, const char *external_id,
                                const char *notes, int64_t *id_out, ft_err *err)
{
    ft_status st;
    if ((st = ft_gallery_name_check(name, err)) != FT_OK ||
        (st = ft_gallery__extid_notes_check(external_id, notes, err)) != FT_OK)
        return st;
    DISPATCH(person_add, name, external_id, notes, id_out, err);
}

ft_status ft_gallery_person_get(ft_gallery *g, int64_t id, ft_person *out, ft_err *err)
{
    DISPATCH(person_get, id, out, err);
}

ft_status ft_gallery_person_find(ft_gallery *g, const char *name, ft_person *out, ft_err *err)
{
    if (!name)
        return ft_err_set(err, FT_E_INVALID, "name is missing");
    DISPATCH(person_find, name, out, err);
}

ft_status ft_gallery_people_list(ft_gallery *g, ft_person **out, size_t *n, ft_err *err)
{
    DISPATCH(people_list, out, n, err);
}

ft_status ft_gallery_person_rename(ft_gallery *g, int64_t id, const char *name, ft_err *err)
{
    ft_status st = ft_gallery_name_check(name, err);
    if (st != FT_OK)
        return st;
    DISPATCH(person_rename, id, name, err);
}

ft_status ft_gallery_person_update(ft_gallery *g, int64_t id, const char *external_id,
                                   const char *notes, ft_err *err)
{
    ft_status st = ft_gallery__extid_notes_check(external_id, notes, err);
    if (st != FT_OK)
        return st;
    DISPATCH(person_update, id, external_id, notes, err);
}

ft_status ft_gallery_person_delete(ft_gallery *g, int64_t id, ft_err *err)
{
    DISPATCH(person_delete, id, err);
}

ft_status ft_gallery_person_erase(ft_gallery *g, int64_t id, const char *actor,
                                  ft_erase_result *out, ft_err *err)
{
    DISPATCH(person_erase, id, actor, out, err);
}

// ---- Samples ----

// The contract's rules for an enrolment (ft_gallery_enroll).
static ft_status enroll_check(int64_t person_id, const char *name, const ft_sample *samples,
                              size_t n, ft_err *err)
{
    ft_status st;
    if (n == 0 || !samples)
        return ft_err_set(err, FT_E_INVALID, "enrolment needs at least one sample");
    if (n > 10000)
        return ft_err_set(err, FT_E_INVALID, "too many samples in one enrolment (%zu)", n);
    if (person_id <= 0 && (st = ft_gallery_name_check(name, err)) != FT_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if ((st = ft_gallery__sample_check(&samples[i], i, err)) != FT_OK)
            return st;
    return FT_OK;
}

ft_status ft_gallery_enroll(ft_gallery *g, int64_t person_id, const char *name,
                            const ft_sample *samples, size_t n, int64_t *person_out,
                            int64_t *sample_ids, ft_err *err)
{
    ft_status st = enroll_check(person_id, name, samples, n, err);
    if (st != FT_OK)
        return st;
    DISPATCH(enroll, person_id, name, NULL, NULL, samples, n, person_out, sample_ids, err);
}

ft_status ft_gallery_samples_list(ft_gallery *g, int64_t person_id, ft_sample **out, size_t *n,
                                  ft_err *err)
{
    DISPATCH(samples_list, person_id, out, n, err);
}

ft_status ft_gallery_sample_delete(ft_gallery *g, int64_t sample_id, ft_err *err)
{
    DISPATCH(sample_delete, sample_id, err);
}

ft_status ft_gallery_sample_thumbnail(ft_gallery *g, int64_t sample_id, ft_buf *out, ft_err *err)
{
    DISPATCH(sample_thumbnail, sample_id, out, err);
}

ft_status ft_gallery_sample_region(ft_gallery *g, int64_t sample_id, ft_buf *out, float box[4],
                                   ft_err *err)
{
    DISPATCH(sample_region, sample_id, out, box, err);
}

// ---- Events and outbox ----

ft_status ft_gallery_event_add_outbox(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                      size_t n_sinks, ft_err *err)
{
    ft_status st;
    if ((st = ft_gallery__event_check(ev, err)) != FT_OK)
        return st;
    if (n_sinks && !sinks)
        return ft_err_set(err, FT_E_INVALID, "outbox: sinks missing");
    for (size_t i = 0; i < n_sinks; i++)
        if ((st = ft_gallery__sink_check(sinks[i], err)) != FT_OK)
            return st;
    DISPATCH(event_add_outbox, ev, sinks, n_sinks, err);
}

ft_status ft_gallery_events_query(ft_gallery *g, const ft_event_query *q, ft_event **out, size_t *n,
                                  int64_t *total, ft_err *err)
{
    ft_status st = ft_gallery__event_query_check(q, err);
    if (st != FT_OK)
        return st;
    DISPATCH(events_query, q, out, n, total, err);
}

ft_status ft_gallery_event_get(ft_gallery *g, int64_t id, ft_event *out, ft_err *err)
{
    DISPATCH(event_get, id, out, err);
}

ft_status ft_gallery_event_thumbnail(ft_gallery *g, int64_t event_id, ft_buf *out, ft_err *err)
{
    DISPATCH(event_thumbnail, event_id, out, err);
}

ft_status ft_gallery_events_csv(ft_gallery *g, const ft_event_query *q, ft_buf *out, ft_err *err)
{
    ft_status st = ft_gallery__event_query_check(q, err);
    if (st != FT_OK)
        return st;
    if (g->ops->events_csv)
        return g->ops->events_csv(g, q, out, err);
    // Generic export: the matching events in pages of 1000 (oldest first
    // pages never shift under new events; newest first is read as one
    // snapshot per page, as the API's own paging is).
    ft_event_query pq = *q;
    size_t left = q->limit;
    if ((st = ft_gallery__event_csv_header(out, q->csv_door_columns)) != FT_OK)
        return ft_err_set(err, st, "events CSV: %s", ft_status_str(st));
    for (;;) {
        ft_event *ev = NULL;
        size_t n = 0;
        pq.limit = q->limit && left < 1000 ? left : 1000;
        if ((st = g->ops->events_query(g, &pq, &ev, &n, NULL, err)) != FT_OK)
            return st;
        for (size_t i = 0; i < n && st == FT_OK; i++)
            st = ft_gallery__event_csv_row(out, &ev[i], q->csv_door_columns);
        ft_free(ev);
        if (st != FT_OK)
            return ft_err_set(err, st, "events CSV: %s", ft_status_str(st));
        pq.offset += n;
        if (q->limit)
            left -= n;
        if (n < pq.limit || (q->limit && left == 0))
            return FT_OK;
    }
}

ft_status ft_gallery_outbox_due(ft_gallery *g, const char *sink, double now, size_t limit,
                                ft_outbox_item **out, size_t *n, ft_err *err)
{
    ft_status st = ft_gallery__sink_check(sink, err);
    if (st != FT_OK)
        return st;
    if (!isfinite(now) || limit == 0 || limit > INT32_MAX)
        return ft_err_set(err, FT_E_INVALID, "outbox due: bad time or limit");
    DISPATCH(outbox_due, sink, now, limit, out, n, err);
}

ft_status ft_gallery_outbox_done(ft_gallery *g, int64_t id, ft_err *err)
{
    DISPATCH(outbox_done, id, err);
}

ft_status ft_gallery_outbox_retry(ft_gallery *g, int64_t id, double next_at, const char *error,
                                  ft_err *err)
{
    if (!isfinite(next_at))
        return ft_err_set(err, FT_E_INVALID, "outbox retry: next_at must be finite");
    DISPATCH(outbox_retry, id, next_at, error, err);
}

ft_status ft_gallery_outbox_fail(ft_gallery *g, int64_t id, const char *error, ft_err *err)
{
    DISPATCH(outbox_fail, id, error, err);
}

ft_status ft_gallery_outbox_count(ft_gallery *g, const char *sink, int64_t *pending,
                                  int64_t *failed, ft_err *err)
{
    ft_status st;
    if (sink && (st = ft_gallery__sink_check(sink, err)) != FT_OK)
        return st;
    DISPATCH(outbox_count, sink, pending, failed, err);
}

// ---- Settings, keys, audit ----

ft_status ft_gallery_setting_get(ft_gallery *g, const char *key, char *out, size_t cap, ft_err *err)
{
    ft_status st = ft_gallery__setting_key_check(key, err);
    if (st != FT_OK)
        return st;
    DISPATCH(setting_get, key, out, cap, err);
}

ft_status ft_gallery_keys_list(ft_gallery *g, ft_api_key **out, size_t *n, ft_err *err)
{
    DISPATCH(keys_list, out, n, err);
}

ft_status ft_gallery_key_revoke(ft_gallery *g, int64_t id, ft_err *err)
{
    DISPATCH(key_revoke, id, err);
}

// ---- Administrative writes with their audit row ----

// Arms `a` for the one backend write that follows (struct ft_gallery):
// the entry is checked first, so a bad one stops the action before it starts.
static ft_status audit_arm(ft_gallery *g, const ft_audit_entry *a, int64_t id, ft_err *err)
{
    g->audit_armed = NULL;
    g->audit_id = id;
    if (!a)
        return FT_OK;
    ft_status st = ft_gallery__audit_check(a->actor && *a->actor ? a->actor : "unknown",
                                           a->action, a->target, a->detail, err);
    if (st == FT_OK)
        g->audit_armed = a;
    return st;
}

// Disarms after the write, whatever it returned: a write that failed
// before its commit must not leave the row for the next one.
static ft_status audit_disarm(ft_gallery *g, ft_status st)
{
    g->audit_armed = NULL;
    g->audit_id = 0;
    return st;
}

ft_status ft_gallery_person_add_audited(ft_gallery *g, const char *name, const char *external_id,
                                        const char *notes, const ft_audit_entry *a,
                                        int64_t *id_out, ft_err *err)
{
    ft_status st = audit_arm(g, a, 0, err);
    if (st == FT_OK)
        st = ft_gallery_person_add(g, name, external_id, notes, id_out, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_person_rename_audited(ft_gallery *g, int64_t id, const char *name,
                                           const ft_audit_entry *a, ft_err *err)
{
    ft_status st = audit_arm(g, a, id, err);
    if (st == FT_OK)
        st = ft_gallery_person_rename(g, id, name, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_person_update_audited(ft_gallery *g, int64_t id, const char *external_id,
                                           const char *notes, const ft_audit_entry *a,
                                           ft_err *err)
{
    ft_status st = audit_arm(g, a, id, err);
    if (st == FT_OK)
        st = ft_gallery_person_update(g, id, external_id, notes, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_person_delete_audited(ft_gallery *g, int64_t id, const ft_audit_entry *a,
                                           ft_err *err)
{
    ft_status st = audit_arm(g, a, id, err);
    if (st == FT_OK)
        st = ft_gallery_person_delete(g, id, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_enroll_audited(ft_gallery *g, int64_t person_id, const char *name,
                                    const char *external_id, const char *notes,
                                    const ft_sample *samples, size_t n, const ft_audit_entry *a,
                                    int64_t *person_out, int64_t *sample_ids, ft_err *err)
{
    ft_status st = ft_gallery__extid_notes_check(external_id, notes, err);
    if (st != FT_OK)
        return st;
    if (!g->ops->enroll) // never without its audit row or its fields
        return unsupported(g, "enroll", err);
    if ((st = enroll_check(person_id, name, samples, n, err)) != FT_OK)
        return st;
    st = audit_arm(g, a, person_id, err);
    if (st == FT_OK)
        st = g->ops->enroll(g, person_id, name, external_id, notes, samples, n, person_out,
                            sample_ids, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_sample_delete_audited(ft_gallery *g, int64_t sample_id,
                                           const ft_audit_entry *a, ft_err *err)
{
    ft_status st = audit_arm(g, a, sample_id, err);
    if (st == FT_OK)
        st = ft_gallery_sample_delete(g, sample_id, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_key_create_audited(ft_gallery *g, const char *name, ft_key_role role,
                                        const ft_audit_entry *a, char token[FT_KEY_TOKEN_MAX],
                                        int64_t *id_out, ft_err *err)
{
    ft_status st = audit_arm(g, a, 0, err);
    if (st == FT_OK)
        st = ft_gallery_key_create(g, name, role, token, id_out, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_key_revoke_audited(ft_gallery *g, int64_t id, const ft_audit_entry *a,
                                        ft_err *err)
{
    ft_status st = audit_arm(g, a, id, err);
    if (st == FT_OK)
        st = ft_gallery_key_revoke(g, id, err);
    return audit_disarm(g, st);
}

ft_status ft_gallery_audit_add(ft_gallery *g, const char *actor, const char *action,
                               const char *target, const char *detail_json, ft_err *err)
{
    ft_status st = ft_gallery__audit_check(actor, action, target, detail_json, err);
    if (st != FT_OK)
        return st;
    DISPATCH(audit_add, actor, action, target, detail_json, err);
}

ft_status ft_gallery_audit_query(ft_gallery *g, double since, size_t limit, ft_audit_row **out,
                                 size_t *n, int64_t *total, ft_err *err)
{
    DISPATCH(audit_query, since, limit, false, out, n, total, err);
}

// ---- Storage health and copies ----

ft_status ft_gallery_writable_probe(ft_gallery *g, ft_err *err)
{
    DISPATCH(writable_probe, err);
}

ft_status ft_gallery_backup(ft_gallery *g, const char *dest, ft_err *err)
{
    DISPATCH(backup, dest, err);
}
