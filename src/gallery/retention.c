// The log's retention and one person's erasure (see gallery.h,
// "Retention"): event face images older than retention_thumbnails_days,
// events older than retention_events_days, and everything that names or
// shows one person.
#include "gallery/gallery_internal.h"

#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// Runs one statement with up to two parameters (?1 double or int64 as
// given) inside the caller's transaction; *changes gets the rows changed.
static ft_status run_tx(ft_gallery *g, const char *sql, const double *d1, const int64_t *i1,
                        int64_t *changes, const char *what, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    if (d1)
        sqlite3_bind_double(s, 1, *d1);
    if (i1)
        sqlite3_bind_int64(s, 1, *i1);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, what);
    else if (changes)
        *changes = sqlite3_changes(g->db);
    sqlite3_finalize(s);
    return st;
}

static ft_status days_setting(ft_gallery *g, const char *key, int64_t def, int64_t *out,
                              ft_err *err)
{
    ft_status st = ft_gallery_setting_get_int(g, key, def, out, err);
    if (st == FT_OK && (*out < 0 || *out > 100000))
        st = ft_err_set(err, FT_E_INVALID, "setting %s = %lld: expected 0..100000 days", key,
                        (long long)*out);
    return st;
}

ft_status ft_gallery_retention_apply(ft_gallery *g, double now, ft_retention_result *out,
                                     ft_err *err)
{
    ft_retention_result res;
    memset(&res, 0, sizeof res);
    int64_t thumb_days, event_days;
    ft_status st;
    if (!(now > 0))
        now = ft_wall_s();
    if ((st = days_setting(g, "retention_thumbnails_days",
                           FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS, &thumb_days, err)) != FT_OK ||
        (st = days_setting(g, "retention_events_days", FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS,
                           &event_days, err)) != FT_OK)
        return st;
    if (thumb_days == 0 && event_days == 0) {
        if (out)
            *out = res;
        return FT_OK;
    }
    if (event_days > 0)
        res.events_before = now - (double)event_days * 86400.0;
    if (thumb_days > 0)
        res.thumbnails_before = now - (double)thumb_days * 86400.0;
    if ((st = g->ops->retention(g, res.events_before, res.thumbnails_before, event_days,
                                thumb_days, &res, err)) != FT_OK)
        return st;
    if (out)
        *out = res;
    return FT_OK;
}

ft_status ft_gallery__sq_retention(ft_gallery *g, double events_before, double thumbs_before,
                                   int64_t event_days, int64_t thumb_days,
                                   ft_retention_result *res, ft_err *err)
{
    ft_status st;
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    if (events_before > 0) {
        // The outbox rows go with their events (ON DELETE CASCADE).
        st = run_tx(g, "DELETE FROM events WHERE time < ?1", &events_before, NULL,
                    &res->events_removed, "retention: delete events", err);
    }
    if (st == FT_OK && thumbs_before > 0) {
        st = run_tx(g,
                    "UPDATE events SET thumbnail = NULL"
                    " WHERE time < ?1 AND thumbnail IS NOT NULL",
                    &thumbs_before, NULL, &res->thumbnails_removed,
                    "retention: remove event thumbnails", err);
    }
    if (st == FT_OK && (res->events_removed || res->thumbnails_removed)) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "{\"events_removed\": %lld, \"thumbnails_removed\": %lld, "
                 "\"events_days\": %lld, \"thumbnails_days\": %lld}",
                 (long long)res->events_removed, (long long)res->thumbnails_removed,
                 (long long)event_days, (long long)thumb_days);
        st = ft_gallery__audit_tx(g, "retention", "events.purge", "events", detail, err);
    }
    if (st != FT_OK) {
        ft_gallery__rollback(g);
        return st;
    }
    return ft_gallery__commit(g, err);
}

ft_status ft_gallery__sq_person_erase(ft_gallery *g, int64_t id, const char *actor,
                                      ft_erase_result *out, ft_err *err)
{
    ft_erase_result res;
    memset(&res, 0, sizeof res);
    ft_person p;
    ft_status st = ft_gallery__writable(g, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    // Read inside the write transaction: what is erased is what is counted.
    if ((st = ft_gallery_person_get(g, id, &p, err)) != FT_OK)
        goto fail;
    snprintf(res.name, sizeof res.name, "%s", p.name);
    res.samples = p.n_samples;
    // Every event that names them: the face image goes, and so does the
    // name wherever it is theirs (granted, nearest or second person).
    st = run_tx(g,
                "UPDATE events SET thumbnail = NULL,"
                " name_at_time = CASE WHEN person_id = ?1 THEN '' ELSE name_at_time END,"
                " nearest_name = CASE WHEN nearest_person_id = ?1 THEN '' ELSE nearest_name END,"
                " nearest_person_id = CASE WHEN nearest_person_id = ?1 THEN NULL"
                "   ELSE nearest_person_id END,"
                " second_name = CASE WHEN second_person_id = ?1 THEN '' ELSE second_name END,"
                " second_person_id = CASE WHEN second_person_id = ?1 THEN NULL"
                "   ELSE second_person_id END "
                "WHERE person_id = ?1 OR nearest_person_id = ?1 OR second_person_id = ?1",
                NULL, &id, &res.events, "erase: events", err);
    if (st != FT_OK)
        goto fail;
    // Samples (descriptors and thumbnails) go by ON DELETE CASCADE; the
    // events' person_id becomes NULL by ON DELETE SET NULL.
    if ((st = run_tx(g, "DELETE FROM people WHERE id = ?1", NULL, &id, NULL, "erase: person",
                     err)) != FT_OK)
        goto fail;
    char target[48], detail[160];
    snprintf(target, sizeof target, "person:%lld", (long long)id);
    // The audit row keeps the id, not the name: erasure is the point.
    snprintf(detail, sizeof detail, "{\"samples\": %lld, \"events\": %lld}",
             (long long)res.samples, (long long)res.events);
    if ((st = ft_gallery__audit_tx(g, actor, "person.erase", target, detail, err)) != FT_OK)
        goto fail;
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    if (out)
        *out = res;
    return FT_OK;
fail:
    ft_gallery__rollback(g);
    return st;
}
