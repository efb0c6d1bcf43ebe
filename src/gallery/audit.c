// The audit trail: one row per administrative action (who, what, on what,
// details as JSON), added by the CLI, the HTTP handlers and the gallery's
// own checked changes (policy, erasure), read back newest first or as CSV
// (see gallery.h, "Audit"). Table created by schema migration 3 -> 4.
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

ft_status ft_gallery__audit_check(const char *actor, const char *action, const char *target,
                                  const char *detail, ft_err *err)
{
    ft_status st;
    if ((st = ft_gallery__text_check("audit actor", actor, FT_AUDIT_ACTOR_MAX, false, err)) !=
            FT_OK ||
        (st = ft_gallery__text_check("audit action", action, FT_AUDIT_ACTION_MAX, false, err)) !=
            FT_OK ||
        (target &&
         (st = ft_gallery__text_check("audit target", target, FT_AUDIT_TARGET_MAX, true, err)) !=
             FT_OK))
        return st;
    if (detail) {
        size_t n = strlen(detail);
        if (n > FT_AUDIT_DETAIL_MAX)
            return ft_err_set(err, FT_E_INVALID, "audit detail is longer than %d bytes",
                              FT_AUDIT_DETAIL_MAX);
        if (n < 2 || detail[0] != '{' || detail[n - 1] != '}')
            return ft_err_set(err, FT_E_INVALID, "audit detail must be a JSON object");
    }
    return FT_OK;
}

ft_status ft_gallery__audit_tx(ft_gallery *g, const char *actor, const char *action,
                               const char *target, const char *detail, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    if (!actor || !*actor)
        actor = "unknown";
    ft_status st = ft_gallery__audit_check(actor, action, target, detail, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g,
                                  "INSERT INTO audit(time, actor, action, target, detail) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)",
                                  &s, err)) != FT_OK)
        return st;
    sqlite3_bind_double(s, 1, ft_wall_s());
    sqlite3_bind_text(s, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, target ? target : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, detail ? detail : "{}", -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "add audit row");
    sqlite3_finalize(s);
    return st;
}

void ft_gallery__audit_armed_target(const ft_gallery *g, char out[FT_AUDIT_TARGET_MAX + 1])
{
    const ft_audit_entry *a = g->audit_armed;
    if (a->target) {
        snprintf(out, FT_AUDIT_TARGET_MAX + 1, "%s", a->target);
        return;
    }
    size_t n = strcspn(a->action, ".");
    snprintf(out, FT_AUDIT_TARGET_MAX + 1, "%.*s:%lld", (int)(n < 40 ? n : 40), a->action,
             (long long)g->audit_id);
}

ft_status ft_gallery__sq_audit_add(ft_gallery *g, const char *actor, const char *action,
                                   const char *target, const char *detail_json, ft_err *err)
{
    ft_status st = ft_gallery__audit_check(actor, action, target, detail_json, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    if ((st = ft_gallery__audit_tx(g, actor, action, target, detail_json, err)) != FT_OK) {
        ft_gallery__rollback(g);
        return st;
    }
    return ft_gallery__commit(g, err);
}

static ft_status audit_row(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err)
{
    ft_audit_row *a = dst;
    a->id = sqlite3_column_int64(s, 0);
    a->time = sqlite3_column_double(s, 1);
    ft_gallery__col_text(s, 2, a->actor, sizeof a->actor);
    ft_gallery__col_text(s, 3, a->action, sizeof a->action);
    ft_gallery__col_text(s, 4, a->target, sizeof a->target);
    ft_gallery__col_text(s, 5, a->detail, sizeof a->detail);
    return FT_OK;
}

ft_status ft_gallery__sq_audit_query(ft_gallery *g, double since, size_t limit,
                                     bool oldest_first, ft_audit_row **out, size_t *n,
                                     int64_t *total, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st;
    if (total) {
        if ((st = ft_gallery__prepare(g, "SELECT count(*) FROM audit WHERE time >= ?1", &s,
                                      err)) != FT_OK)
            return st;
        sqlite3_bind_double(s, 1, since > 0 ? since : -INFINITY);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *total = sqlite3_column_int64(s, 0);
        else
            st = ft_gallery__dberr(g, rc, err, "audit count");
        sqlite3_finalize(s);
        if (st != FT_OK)
            return st;
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT id, time, actor, action, target, detail FROM audit WHERE time >= ?1 "
             "ORDER BY time %s, id %s LIMIT ?2",
             oldest_first ? "ASC" : "DESC", oldest_first ? "ASC" : "DESC");
    if ((st = ft_gallery__prepare(g, sql, &s, err)) != FT_OK)
        return st;
    sqlite3_bind_double(s, 1, since > 0 ? since : -INFINITY);
    sqlite3_bind_int64(s, 2, limit ? (sqlite3_int64)limit : -1);
    return ft_gallery__collect(g, s, sizeof **out, audit_row, "audit query", (void **)out, n,
                               err);
}

// One RFC 4180 text cell; a leading = + - @ gets a ' (as the events CSV).
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

ft_status ft_gallery_audit_csv(ft_gallery *g, double since, ft_buf *out, ft_err *err)
{
    ft_audit_row *rows = NULL;
    size_t n = 0;
    ft_status st = g->ops->audit_query(g, since, 0, true, &rows, &n, NULL, err);
    if (st != FT_OK)
        return st;
    st = ft_buf_puts(out, "id,time,time_utc,actor,action,target,detail\r\n");
    for (size_t i = 0; st == FT_OK && i < n; i++) {
        char ts[32];
        time_t t = (time_t)floor(rows[i].time);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        st = ft_buf_printf(out, "%lld,%.3f,%s,", (long long)rows[i].id, rows[i].time, ts);
        if (st == FT_OK)
            st = csv_text(out, rows[i].actor);
        if (st == FT_OK)
            st = ft_buf_puts(out, ",");
        if (st == FT_OK)
            st = csv_text(out, rows[i].action);
        if (st == FT_OK)
            st = ft_buf_puts(out, ",");
        if (st == FT_OK)
            st = csv_text(out, rows[i].target);
        if (st == FT_OK)
            st = ft_buf_puts(out, ",");
        if (st == FT_OK)
            st = csv_text(out, rows[i].detail);
        if (st == FT_OK)
            st = ft_buf_puts(out, "\r\n");
    }
    ft_free(rows);
    if (st != FT_OK)
        return ft_err_set(err, st, "audit CSV: out of memory");
    return FT_OK;
}

void ft_audit_cli_actor(char out[FT_AUDIT_ACTOR_MAX + 1])
{
    char buf[1024];
    struct passwd pw, *res = NULL;
    uid_t uid = getuid();
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
        res->pw_name[0] && strlen(res->pw_name) < FT_AUDIT_ACTOR_MAX - 4)
        snprintf(out, FT_AUDIT_ACTOR_MAX + 1, "cli:%s", res->pw_name);
    else
        snprintf(out, FT_AUDIT_ACTOR_MAX + 1, "cli:uid %u", (unsigned)uid);
}
