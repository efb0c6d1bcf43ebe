// Access events: add (with their outbox rows), filtered and paginated
// queries, one event by id, the event JSON and the CSV export (see
// gallery.h). The outbox's own reads and updates are in outbox.c.
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

void ft_event_init(ft_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->distance = ev->margin = ev->detector_score = NAN;
    ev->first_seen = NAN;
    ev->second_distance = NAN;
}

// 32 lowercase hex digits from 16 bytes of getrandom.
ft_status ft_gallery__uid_new(char out[33], ft_err *err)
{
    uint8_t r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return ft_err_set(err, FT_E_IO, "event uid: getrandom: %s", strerror(errno));
        }
        got += (size_t)k;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
    return FT_OK;
}

static bool uid_valid(const char *u)
{
    size_t i = 0;
    for (; u[i]; i++)
        if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
            return false;
    return i == 32;
}

ft_status ft_gallery__event_check(const ft_event *ev, ft_err *err)
{
    ft_status st;
    if ((st = ft_gallery__text_check("event source", ev->source, FT_GALLERY_NAME_MAX, false,
                                     err)) != FT_OK ||
        (st = ft_gallery__text_check("event reason", ev->reason, sizeof ev->reason - 1, false,
                                     err)) != FT_OK ||
        (st = ft_gallery__text_check("event name", ev->name_at_time, FT_GALLERY_NAME_MAX, true,
                                     err)) != FT_OK ||
        (st = ft_gallery__text_check("event nearest name", ev->nearest_name,
                                     FT_GALLERY_NAME_MAX, true, err)) != FT_OK ||
        (st = ft_gallery__text_check("event second name", ev->second_name, FT_GALLERY_NAME_MAX,
                                     true, err)) != FT_OK)
        return st;
    if (ev->decision != FT_DECISION_GRANTED && ev->decision != FT_DECISION_DENIED)
        return ft_err_set(err, FT_E_INVALID, "event decision must be granted or denied");
    if (ev->person_id < 0 || !isfinite(ev->time) || ev->thumbnail_len > FT_GALLERY_THUMB_MAX ||
        (ev->thumbnail_len && !ev->thumbnail))
        return ft_err_set(err, FT_E_INVALID, "event: bad person id, time or thumbnail");
    if (ev->decision == FT_DECISION_GRANTED && ev->person_id == 0)
        return ft_err_set(err, FT_E_INVALID, "a granted event needs a person");
    if (ev->uid[0] && !uid_valid(ev->uid))
        return ft_err_set(err, FT_E_INVALID, "event uid must be 32 lowercase hex digits");
    if (ev->track_id < 0 || ev->frames < 0 || ev->nearest_person_id < 0 ||
        ev->second_person_id < 0)
        return ft_err_set(err, FT_E_INVALID, "event: negative track, frames or person id");
    return FT_OK;
}

// The INSERT of one event, inside the caller's transaction. `uid` is the
// key to store (given or generated).
static ft_status event_insert(ft_gallery *g, const ft_event *ev, double t, const char *uid,
                              int64_t *id, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    // name_at_time (and the nearest/second names) default to the person's
    // name now; a missing person fails the foreign key. nearest and second
    // carry no foreign key: they are a record of what was seen, kept as
    // written when those people are deleted later.
    ft_status st = ft_gallery__prepare(
        g,
        "INSERT INTO events(time, source, decision, reason, person_id, name_at_time, "
        "distance, margin, detector_score, thumbnail, uid, track_id, frames, first_seen, "
        "nearest_person_id, nearest_name, second_person_id, second_name, second_distance) "
        "VALUES (?1, ?2, ?3, ?4, ?5, "
        "coalesce(nullif(?6, ''), (SELECT name FROM people WHERE id = ?5)), ?7, ?8, ?9, ?10, "
        "?11, ?12, ?13, ?14, ?15, "
        "coalesce(nullif(?16, ''), (SELECT name FROM people WHERE id = ?15)), ?17, "
        "coalesce(nullif(?18, ''), (SELECT name FROM people WHERE id = ?17)), ?19)",
        &s, err);
    if (st != FT_OK)
        return st;
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
    sqlite3_bind_text(s, 11, uid, -1, SQLITE_STATIC);
    // Zero means "not recorded" for all of these (memset-zeroed events of
    // older callers), stored as NULL.
    if (ev->track_id > 0)
        sqlite3_bind_int64(s, 12, ev->track_id);
    if (ev->frames > 0)
        sqlite3_bind_int(s, 13, ev->frames);
    if (ev->first_seen > 0 && isfinite(ev->first_seen))
        sqlite3_bind_double(s, 14, ev->first_seen);
    if (ev->nearest_person_id > 0) {
        sqlite3_bind_int64(s, 15, ev->nearest_person_id);
        sqlite3_bind_text(s, 16, ev->nearest_name, -1, SQLITE_STATIC);
    }
    if (ev->second_person_id > 0) {
        sqlite3_bind_int64(s, 17, ev->second_person_id);
        sqlite3_bind_text(s, 18, ev->second_name, -1, SQLITE_STATIC);
        ft_gallery__bind_real(s, 19, ev->second_distance);
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        st = ft_err_set(err, FT_E_NOT_FOUND, "event: no person with id %lld",
                        (long long)ev->person_id);
    else if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "add event");
    else
        *id = sqlite3_last_insert_rowid(g->db);
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sink_check(const char *sink, ft_err *err)
{
    return ft_gallery__text_check("outbox sink", sink, FT_OUTBOX_SINK_MAX, false, err);
}

#define sink_check ft_gallery__sink_check

ft_status ft_gallery__sq_event_add_outbox(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                          size_t n_sinks, ft_err *err)
{
    ft_status st;
    sqlite3_stmt *s = NULL;
    char uid[33];
    int64_t id = 0;
    if ((st = ft_gallery__event_check(ev, err)) != FT_OK)
        return st;
    if (n_sinks && !sinks)
        return ft_err_set(err, FT_E_INVALID, "outbox: sinks missing");
    for (size_t i = 0; i < n_sinks; i++)
        if ((st = sink_check(sinks[i], err)) != FT_OK)
            return st;
    if (ev->uid[0])
        memcpy(uid, ev->uid, sizeof uid);
    else if ((st = ft_gallery__uid_new(uid, err)) != FT_OK)
        return st;

    double t = ev->time > 0 ? ev->time : ft_wall_s();
    double now = ft_wall_s();
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    if ((st = event_insert(g, ev, t, uid, &id, err)) != FT_OK)
        goto fail;
    if (n_sinks) {
        if ((st = ft_gallery__prepare(g,
                                      "INSERT INTO outbox(event_id, sink, created_at, next_at) "
                                      "VALUES (?1, ?2, ?3, ?3)",
                                      &s, err)) != FT_OK)
            goto fail;
        for (size_t i = 0; i < n_sinks; i++) {
            sqlite3_reset(s);
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_text(s, 2, sinks[i], -1, SQLITE_STATIC);
            sqlite3_bind_double(s, 3, now);
            int rc = sqlite3_step(s);
            if (rc != SQLITE_DONE) {
                st = ft_gallery__dberr(g, rc, err, "add outbox row");
                goto fail;
            }
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    ft_gallery__hook(g, "event:outbox");
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    ev->id = id;
    ev->time = t;
    memcpy(ev->uid, uid, sizeof uid);
    return FT_OK;
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

ft_status ft_gallery_event_add(ft_gallery *g, ft_event *ev, ft_err *err)
{
    return ft_gallery_event_add_outbox(g, ev, NULL, 0, err);
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

ft_status ft_gallery__event_query_check(const ft_event_query *q, ft_err *err)
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
    "e.distance, e.margin, e.detector_score, length(e.thumbnail), e.uid, e.track_id, "     \
    "e.frames, e.first_seen, e.nearest_person_id, e.nearest_name, e.second_person_id, "   \
    "e.second_name, e.second_distance"

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
    ft_gallery__col_text(s, 11, e->uid, sizeof e->uid);
    e->track_id = sqlite3_column_int64(s, 12);
    e->frames = sqlite3_column_int(s, 13);
    e->first_seen = ft_gallery__col_real(s, 14);
    e->nearest_person_id = sqlite3_column_int64(s, 15);
    ft_gallery__col_text(s, 16, e->nearest_name, sizeof e->nearest_name);
    e->second_person_id = sqlite3_column_int64(s, 17);
    ft_gallery__col_text(s, 18, e->second_name, sizeof e->second_name);
    e->second_distance = ft_gallery__col_real(s, 19);
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

ft_status ft_gallery__sq_events_query(ft_gallery *g, const ft_event_query *q, ft_event **out,
                                      size_t *n, int64_t *total, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__event_query_check(q, err);
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

ft_status ft_gallery__sq_event_get(ft_gallery *g, int64_t id, ft_event *out, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__prepare(g, "SELECT " EVENT_COLS " FROM events e WHERE e.id = ?1",
                                       &s, err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        event_row(s, out);
    else if (rc == SQLITE_DONE)
        st = ft_err_set(err, FT_E_NOT_FOUND, "no event with id %lld", (long long)id);
    else
        st = ft_gallery__dberr(g, rc, err, "get event");
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_event_thumbnail(ft_gallery *g, int64_t event_id, ft_buf *out, ft_err *err)
{
    return ft_gallery__blob_get(g, "SELECT thumbnail FROM events WHERE id = ?1", event_id, out,
                                "event", err);
}

// ---- JSON ----

// A finite double in the shortest of %.15g / %.17g that reads back
// exactly; NaN and infinities as null (JSON has no such numbers).
static ft_status json_real(ft_buf *b, double v)
{
    if (!isfinite(v))
        return ft_buf_puts(b, "null");
    char t[40];
    snprintf(t, sizeof t, "%.15g", v);
    if (strtod(t, NULL) != v)
        snprintf(t, sizeof t, "%.17g", v);
    return ft_buf_puts(b, t);
}

static ft_status json_id_name(ft_buf *b, int64_t id, const char *name)
{
    ft_status st = ft_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)id);
    if (st == FT_OK)
        st = ft_buf_json_str(b, name);
    return st;
}

ft_status ft_gallery_event_json(const ft_event *ev, ft_buf *out)
{
    size_t len0 = out->len;
    ft_status st = ft_buf_printf(out, "{\"event_id\":%lld,\"event_uid\":", (long long)ev->id);
    if (st == FT_OK)
        st = ft_buf_json_str(out, ev->uid);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"source\":");
    if (st == FT_OK)
        st = ft_buf_json_str(out, ev->source);
    if (st == FT_OK)
        st = ev->track_id > 0 ? ft_buf_printf(out, ",\"track\":%lld", (long long)ev->track_id)
                              : ft_buf_puts(out, ",\"track\":null");
    if (st == FT_OK)
        st = ft_buf_printf(out, ",\"decision\":\"%s\",\"reason\":", ft_decision_str(ev->decision));
    if (st == FT_OK)
        st = ft_buf_json_str(out, ev->reason);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"person\":");
    // The person is named only when the door opened for them: a denied
    // event's closest match is "nearest", not an identification.
    if (st == FT_OK) {
        if (ev->decision == FT_DECISION_GRANTED && ev->person_id > 0) {
            st = json_id_name(out, ev->person_id, ev->name_at_time);
            if (st == FT_OK)
                st = ft_buf_puts(out, "}");
        } else {
            st = ft_buf_puts(out, "null");
        }
    }
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"distance\":");
    if (st == FT_OK)
        st = json_real(out, ev->distance);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"margin\":");
    if (st == FT_OK)
        st = json_real(out, ev->margin);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"detector_score\":");
    if (st == FT_OK)
        st = json_real(out, ev->detector_score);
    if (st == FT_OK)
        st = ev->frames > 0 ? ft_buf_printf(out, ",\"frames\":%d", (int)ev->frames)
                            : ft_buf_puts(out, ",\"frames\":null");
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"first_seen\":");
    if (st == FT_OK)
        st = json_real(out, ev->first_seen > 0 ? ev->first_seen : NAN);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"decided_at\":");
    if (st == FT_OK)
        st = json_real(out, ev->time);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"nearest\":");
    if (st == FT_OK) {
        if (ev->nearest_person_id > 0) {
            st = json_id_name(out, ev->nearest_person_id, ev->nearest_name);
            if (st == FT_OK)
                st = ft_buf_puts(out, "}");
        } else {
            st = ft_buf_puts(out, "null");
        }
    }
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"second\":");
    if (st == FT_OK) {
        if (ev->second_person_id > 0) {
            st = json_id_name(out, ev->second_person_id, ev->second_name);
            if (st == FT_OK)
                st = ft_buf_puts(out, ",\"distance\":");
            if (st == FT_OK)
                st = json_real(out, ev->second_distance);
            if (st == FT_OK)
                st = ft_buf_puts(out, "}");
        } else {
            st = ft_buf_puts(out, "null");
        }
    }
    if (st == FT_OK)
        st = ft_buf_puts(out, "}");
    if (st != FT_OK)
        out->len = len0;
    return st;
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

// The schema-3 columns, after the original ones (ft_event_query.csv_door_columns).
static ft_status csv_door(ft_buf *b, const ft_event *e)
{
    ft_status st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_text(b, e->uid);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK && e->track_id > 0)
        st = ft_buf_printf(b, "%lld", (long long)e->track_id);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK && e->frames > 0)
        st = ft_buf_printf(b, "%d", (int)e->frames);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_real(b, e->first_seen, 3);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK && e->nearest_person_id > 0)
        st = ft_buf_printf(b, "%lld", (long long)e->nearest_person_id);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_text(b, e->nearest_name);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK && e->second_person_id > 0)
        st = ft_buf_printf(b, "%lld", (long long)e->second_person_id);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_text(b, e->second_name);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",");
    if (st == FT_OK)
        st = csv_real(b, e->second_distance, 6);
    return st;
}

ft_status ft_gallery__event_csv_row(ft_buf *b, const ft_event *e, bool door)
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
    if (st == FT_OK && door)
        st = csv_door(b, e);
    if (st == FT_OK)
        st = ft_buf_puts(b, "\r\n");
    return st;
}

ft_status ft_gallery__event_csv_header(ft_buf *out, bool door)
{
    ft_status st = ft_buf_puts(out, "id,time,time_utc,source,decision,reason,person_id,name,"
                                    "distance,margin,detector_score");
    if (st == FT_OK && door)
        st = ft_buf_puts(out, ",uid,track_id,frames,first_seen,nearest_person_id,nearest_name,"
                              "second_person_id,second_name,second_distance");
    if (st == FT_OK)
        st = ft_buf_puts(out, "\r\n");
    return st;
}

ft_status ft_gallery__sq_events_csv(ft_gallery *g, const ft_event_query *q, ft_buf *out,
                                    ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__event_query_check(q, err);
    if (st != FT_OK)
        return st;
    // Streams row by row: an export of years of events never sits in an
    // ft_event array.
    if ((st = events_select(g, q, &s, err)) != FT_OK)
        return st;
    st = ft_gallery__event_csv_header(out, q->csv_door_columns);
    int rc = SQLITE_DONE;
    while (st == FT_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ft_event e;
        event_row(s, &e);
        st = ft_gallery__event_csv_row(out, &e, q->csv_door_columns);
    }
    if (st != FT_OK)
        st = ft_err_set(err, st, "events CSV: %s", ft_status_str(st));
    else if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "events CSV");
    sqlite3_finalize(s);
    return st;
}
