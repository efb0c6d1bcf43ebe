// The outbox: events waiting to be delivered to a sink (webhook, MQTT, door
// hook). Rows are added with their event in ft_gallery_event_add_outbox
// (events.c); this file reads the due rows and records each attempt's
// outcome for src/deliver (see gallery.h).
//
// A row is pending while delivered_at and failed_at are both NULL;
// delivered rows have delivered_at, given-up rows failed_at. The partial
// index outbox_pending(sink, id) covers exactly the pending rows.
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define sink_check ft_gallery__sink_check

static ft_status item_row(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err)
{
    ft_outbox_item *it = dst;
    memset(it, 0, sizeof *it);
    it->id = sqlite3_column_int64(s, 0);
    it->event_id = sqlite3_column_int64(s, 1);
    ft_gallery__col_text(s, 2, it->sink, sizeof it->sink);
    it->attempts = sqlite3_column_int(s, 3);
    it->created_at = sqlite3_column_double(s, 4);
    it->next_at = sqlite3_column_double(s, 5);
    ft_gallery__col_text(s, 6, it->last_error, sizeof it->last_error);
    return FT_OK;
}

ft_status ft_gallery__sq_outbox_due(ft_gallery *g, const char *sink, double now, size_t limit,
                                    ft_outbox_item **out, size_t *n, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = sink_check(sink, err);
    if (st != FT_OK)
        return st;
    if (!isfinite(now) || limit == 0 || limit > INT32_MAX)
        return ft_err_set(err, FT_E_INVALID, "outbox due: bad time or limit");
    // The pending rows in id order, cut before the first one that is not
    // due yet: a later row must not overtake a row waiting for its retry.
    if ((st = ft_gallery__prepare(
             g,
             "SELECT id, event_id, sink, attempts, created_at, next_at, last_error FROM outbox "
             "WHERE sink = ?1 AND delivered_at IS NULL AND failed_at IS NULL "
             "AND id < coalesce((SELECT min(id) FROM outbox WHERE sink = ?1 AND "
             "delivered_at IS NULL AND failed_at IS NULL AND next_at > ?2), 9223372036854775807) "
             "ORDER BY id LIMIT ?3",
             &s, err)) != FT_OK)
        return st;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, now);
    sqlite3_bind_int64(s, 3, (int64_t)limit);
    return ft_gallery__collect(g, s, sizeof **out, item_row, "outbox due", (void **)out, n, err);
}

// Runs one UPDATE of row `id` (parameter ?1; ?2 and ?3 text/real as given)
// in a write transaction. A row that is no longer pending is left alone:
// FT_OK if it exists, FT_E_NOT_FOUND if not.
static ft_status row_update(ft_gallery *g, const char *sql, int64_t id, const char *text,
                            double real, const char *what, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g, sql, &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_text(s, 2, text ? text : "", -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 3)
        sqlite3_bind_double(s, 3, real);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, what);
        goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_changes(g->db) == 0) {
        if ((st = ft_gallery__prepare(g, "SELECT 1 FROM outbox WHERE id = ?1", &s, err)) != FT_OK)
            goto fail;
        sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) {
            st = ft_err_set(err, FT_E_NOT_FOUND, "%s: no outbox row %lld", what, (long long)id);
            goto fail;
        }
        if (rc != SQLITE_ROW) {
            st = ft_gallery__dberr(g, rc, err, what);
            goto fail;
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

// Error texts are cut to the size of ft_outbox_item.last_error (at a UTF-8
// character boundary), so what is stored is what is read back.
void ft_gallery__outbox_error_copy(char dst[256], const char *e)
{
    size_t n = e ? strlen(e) : 0;
    if (n > 255) {
        n = 255;
        while (n > 0 && ((unsigned char)e[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, e, n);
    dst[n] = '\0';
}

ft_status ft_gallery__sq_outbox_done(ft_gallery *g, int64_t id, ft_err *err)
{
    return row_update(g,
                      "UPDATE outbox SET delivered_at = ?3 WHERE id = ?1 AND "
                      "delivered_at IS NULL AND failed_at IS NULL",
                      id, "", ft_wall_s(), "outbox done", err);
}

ft_status ft_gallery__sq_outbox_retry(ft_gallery *g, int64_t id, double next_at, const char *error,
                                      ft_err *err)
{
    char e[256];
    if (!isfinite(next_at))
        return ft_err_set(err, FT_E_INVALID, "outbox retry: next_at must be finite");
    ft_gallery__outbox_error_copy(e, error);
    return row_update(g,
                      "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3 "
                      "WHERE id = ?1 AND delivered_at IS NULL AND failed_at IS NULL",
                      id, e, next_at, "outbox retry", err);
}

ft_status ft_gallery__sq_outbox_fail(ft_gallery *g, int64_t id, const char *error, ft_err *err)
{
    char e[256];
    ft_gallery__outbox_error_copy(e, error);
    return row_update(g,
                      "UPDATE outbox SET failed_at = ?3, last_error = ?2 "
                      "WHERE id = ?1 AND delivered_at IS NULL AND failed_at IS NULL",
                      id, e, ft_wall_s(), "outbox fail", err);
}

ft_status ft_gallery__sq_outbox_count(ft_gallery *g, const char *sink, int64_t *pending,
                                      int64_t *failed, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st;
    if (sink && (st = sink_check(sink, err)) != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(
             g,
             "SELECT coalesce(sum(delivered_at IS NULL AND failed_at IS NULL), 0), "
             "coalesce(sum(failed_at IS NOT NULL), 0) FROM outbox WHERE ?1 IS NULL OR sink = ?1",
             &s, err)) != FT_OK)
        return st;
    if (sink)
        sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (pending)
            *pending = sqlite3_column_int64(s, 0);
        if (failed)
            *failed = sqlite3_column_int64(s, 1);
    } else {
        st = ft_gallery__dberr(g, rc, err, "count outbox");
    }
    sqlite3_finalize(s);
    return st;
}
