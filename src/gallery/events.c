// Access events: add, filtered and paginated queries, CSV export (see
// gallery.h).
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *ft_decision_str(ft_decision d)
{
    return d == FT_DECISION_GRANTED ? "granted" : "denied";
}

ft_event_query ft_event_query_default(void)
{
    ft_event_query q;
    memset(&q, 0, sizeof q);
    q.decision = -1;
    return q;
}

ft_status ft_gallery_event_add(ft_gallery *g, ft_event *ev, ft_err *err)
{
    ft_status st;
    sqlite3_stmt *s = NULL;
    if ((st = ft_gallery__text_check("event source", ev->source, FT_GALLERY_NAME_MAX, false,
                                     err)) != FT_OK ||
        (st = ft_gallery__text_check("event reason", ev->reason, sizeof ev->reason - 1, false,
                                     err)) != FT_OK ||
        (st = ft_gallery__text_check("event name", ev->name_at_time, FT_GALLERY_NAME_MAX, true,
                                     err)) != FT_OK)
        return st;
    if (ev->decision != FT_DECISION_GRANTED && ev->decision != FT_DECISION_DENIED)
        return ft_err_set(err, FT_E_INVALID, "event decision must be granted or denied");
    if (ev->person_id < 0 || !isfinite(ev->time) || ev->thumbnail_len > FT_GALLERY_THUMB_MAX ||
        (ev->thumbnail_len && !ev->thumbnail))
        return ft_err_set(err, FT_E_INVALID, "event: bad person id, time or thumbnail");
    if (ev->decision == FT_DECISION_GRANTED && ev->person_id == 0)
        return ft_err_set(err, FT_E_INVALID, "a granted event needs a person");

    double t = ev->time > 0 ? ev->time : ft_wall_s();
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    // name_at_time defaults to the person's name now; a missing person
    // fails the foreign key.
    if ((st = ft_gallery__prepare(
             g,
             "INSERT INTO events(time, source, decision, reason, person_id, name_at_time, "
             "distance, margin, detector_score, thumbnail) VALUES (?1, ?2, ?3, ?4, ?5, "
             "coalesce(nullif(?6, ''), (SELECT name FROM people WHERE id = ?5)), ?7, ?8, ?9, ?10)",
             &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_double(s, 1, t);
    sqlite3_bind_text(s, 2, ev->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ft_decision_str(ev->decision), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ev->reason, -1, SQLITE_STATIC);
    if (ev->person_id > 0)
        sqlite3_bind_int64(s, 5, ev->person_id);
    sqlite3_bind_text(s, 6, ev->name_at_time, -1, SQLITE_STATIC);
    ft_gallery__bind_real(s, 7, ev->distance);
    ft_gallery__bind_real(s, 8, ev->margin);
    ft_gallery__bind_real(s, 9, ev->detector_score);
    ft_gallery__bind_blob(s, 10, ev->thumbnail, ev->thumbnail_len);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "event: no person with id %lld",
                        (long long)ev->person_id);
        goto fail;
    }
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "add event");
        goto fail;
    }
    int64_t id = sqlite3_last_insert_rowid(g->db);
    sqlite3_finalize(s);
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    ev->id = id;
    ev->time = t;
    return FT_OK;
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

// ---- Queries ----

// Builds "WHERE ..." from q with numbered parameters bound by bind_query.
static void where_clause(const ft_event_query *q, char *w, size_t cap)
{
    snprintf(w, cap,
             "WHERE (?1 IS NULL OR e.time >= ?1) AND (?2 IS NULL OR e.time < ?2)"
             " AND (?3 IS NULL OR e.decision = ?3) AND (?4 IS NULL OR e.source = ?4)%s",
             q->person_id > 0 ? " AND e.person_id = ?5"
             : q->person_id < 0 ? " AND e.person_id IS NULL"
                                : "");
}

static void bind_query(sqlite3_stmt *s, const ft_event_query *q)
{
    if (q->since > 0)
        sqlite3_bind_double(s, 1, q->since);
    if (q->until > 0)
        sqlite3_bind_double(s, 2, q->until);
    if (q->decision >= 0)
        sqlite3_bind_text(s, 3, ft_decision_str((ft_decision)q->decision), -1, SQLITE_STATIC);
    if (q->source)
        sqlite3_bind_text(s, 4, q->source, -1, SQLITE_STATIC);
    if (q->person_id > 0)
        sqlite3_bind_int64(s, 5, q->person_id);
}

static ft_status query_check(const ft_event_query *q, ft_err *err)
{
    if (q->decision > 1 || q->decision < -1)
        return ft_err_set(err, FT_E_INVALID, "event query: decision must be -1, 0 or 1");
    if (!isfinite(q->since) || !isfinite(q->until) || q->limit > INT64_MAX ||
        q->offset > INT64_MAX)
        return ft_err_set(err, FT_E_INVALID, "event query: bad time range or paging");
    return FT_OK;
}

#define EVENT_COLS                                                                         \
    "e.id, e.time, e.source, e.decision, e.reason, e.person_id, e.name_at_time, "          \
    "e.distance, e.margin, e.detector_score, length(e.thumbnail)"

static void event_row(sqlite3_stmt *s, ft_event *e)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(s, 0);
    e->time = sqlite3_column_double(s, 1);
    ft_gallery__col_text(s, 2, e->source, sizeof e->source);
    const char *d = (const char *)sqlite3_column_text(s, 3);
    e->decision = d && strcmp(d, "granted") == 0 ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
    ft_gallery__col_text(s, 4, e->reason, sizeof e->reason);
    e->person_id = sqlite3_column_int64(s, 5);
    ft_gallery__col_text(s, 6, e->name_at_time, sizeof e->name_at_time);
    e->distance = ft_gallery__col_real(s, 7);
    e->margin = ft_gallery__col_real(s, 8);
    e->detector_score = ft_gallery__col_real(s, 9);
    e->thumbnail_len = (size_t)sqlite3_column_int64(s, 10);
}

// Prepares the SELECT for q (with LIMIT/OFFSET).
static ft_status events_select(ft_gallery *g, const ft_event_query *q, sqlite3_stmt **s,
                               ft_err *err)
{
    char w[256], sql[768];
    where_clause(q, w, sizeof w);
    const char *dir = q->oldest_first ? "ASC" : "DESC";
    snprintf(sql, sizeof sql,
             "SELECT " EVENT_COLS " FROM events e %s ORDER BY e.time %s, e.id %s"
             " LIMIT ?6 OFFSET ?7",
             w, dir, dir);
    ft_status st = ft_gallery__prepare(g, sql, s, err);
    if (st != FT_OK)
        return st;
    bind_query(*s, q);
    sqlite3_bind_int64(*s, 6, q->limit ? (int64_t)q->limit : -1);
    sqlite3_bind_int64(*s, 7, (int64_t)q->offset);
    return FT_OK;
}

static ft_status event_row_v(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err)
{
    event_row(s, dst);
    return FT_OK;
}

ft_status ft_gallery_events_query(ft_gallery *g, const ft_event_query *q, ft_event **out,
                                  size_t *n, int64_t *total, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = query_check(q, err);
    if (st != FT_OK)
        return st;
    if (total) {
        char w[256], sql[384];
        where_clause(q, w, sizeof w);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM events e %s", w);
        if ((st = ft_gallery__prepare(g, sql, &s, err)) != FT_OK)
            return st;
        bind_query(s, q);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *total = sqlite3_column_int64(s, 0);
        else
            st = ft_gallery__dberr(g, rc, err, "count events");
        sqlite3_finalize(s);
        if (st != FT_OK)
            return st;
    }
    if ((st = events_select(g, q, &s, err)) != FT_OK)
        return st;
    return ft_gallery__collect(g, s, sizeof **out, event_row_v, "query events", (void **)out, n,
                               err);
}

ft_status ft_gallery_event_thumbnail(ft_gallery *g, int64_t event_id, ft_buf *out, ft_err *err)
{
    return ft_gallery__blob_get(g, "SELECT thumbnail FROM events WHERE id = ?1", event_id, out,
                                "event", err);
}

// ---- CSV ----

// One RFC 4180 text cell: quoted when it holds a comma, quote, CR or LF;
// a leading = + - @ gets a ' so spreadsheets show text, not a formula.
static ft_status csv_text(ft_buf *b, const char *s)
{
    bool guard = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    ft_status st = FT_OK;
    if (quote)
        st = ft_buf_append(b, "\"", 1);
    if (st == FT_OK && guard)
        st = ft_buf_append(b, "'", 1);
    for (const char *p = s; st == FT_OK && *p; p++)
        st = *p == '"' ? ft_buf_append(b, "\"\"", 2) : ft_buf_append(b, p, 1);
    if (st == FT_OK && quote)
        st = ft_buf_append(b, "\"", 1);
    return st;
}

// digits: decimals after the point.
static ft_status csv_real(ft_buf *b, double v, int digits)
{
    if (isnan(v))
        return FT_OK; // empty cell
    if (isinf(v))
        return ft_buf_puts(b, v > 0 ? "inf" : "-inf");
    return ft_buf_printf(b, "%.*f", digits, v);
}

static ft_status csv_row(ft_buf *b, const ft_event *e)
{
    char iso[40];
    time_t secs = (time_t)floor(e->time);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + k, sizeof iso - k, ".%03dZ",
             (int)fmin(999.0, floor((e->time - floor(e->time)) * 1000.0)));
    ft_status st = ft_buf_printf(b, "%lld,%.3f,%s,", (long long)e->id, e->time, iso);
    if (st == FT_OK)
        st = csv_text(b, e->source);
    if (st == FT_OK)
        st = ft_buf_printf(b, ",%s,", ft_decision_str(e->decision));
    if (st == FT_OK)
        st = csv_text(b, e->reason);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK && e->person_id > 0)
        st = ft_buf_printf(b, "%lld", (long long)e->person_id);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_text(b, e->name_at_time);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_real(b, e->distance, 6);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_real(b, e->margin, 6);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_real(b, e->detector_score, 4);
    if (st == FT_OK)
        st = ft_buf_puts(b, "\r\n");
    return st;
}

ft_status ft_gallery_events_csv(ft_gallery *g, const ft_event_query *q, ft_buf *out,
                                ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = query_check(q, err);
    if (st != FT_OK)
        return st;
    // Streams row by row: an export of years of events never sits in an
    // ft_event array.
    if ((st = events_select(g, q, &s, err)) != FT_OK)
        return st;
    st = ft_buf_puts(out, "id,time,time_utc,source,decision,reason,person_id,name,distance,"
                          "margin,detector_score\r\n");
    int rc = SQLITE_DONE;
    while (st == FT_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ft_event e;
        event_row(s, &e);
        st = csv_row(out, &e);
    }
    if (st != FT_OK)
        st = ft_err_set(err, st, "events CSV: %s", ft_status_str(st));
    else if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "events CSV");
    sqlite3_finalize(s);
    return st;
}
