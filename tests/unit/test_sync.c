// The change feed and the spool of a PostgreSQL gallery (gallery/sync.h),
// on the throwaway cluster of gallery_pg (FT_TEST_GALLERY_URL; without it
// every case is skipped). What the two-server end-to-end test
// (tests/e2e/pg_servers.mjs) cannot force: a spooled event the database
// already holds (a commit whose acknowledgement was lost) is not stored
// twice, and spooled events reach the database in spool order with their
// delivery rows.
#include "core/clock.h"
#include "core/mem.h"
#include "ft_test.h"
#include "gallery/gallery.h"
#include "gallery/sync.h"
#include "gallery/sync_internal.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *pg_base(void)
{
    const char *u = getenv("FT_TEST_GALLERY_URL");
    if (!u || !*u) {
        printf("SKIP: FT_TEST_GALLERY_URL is not set (PostgreSQL only)\n");
        fflush(NULL);
        exit(77);
    }
    return u;
}

static char schema[64];

static long long pg_one(const char *url, const char *sql)
{
    long long v = -1;
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else if (PQresultStatus(r) == PGRES_COMMAND_OK)
            v = 0;
        else
            fprintf(stderr, "pg: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

// A schema of this run's own, as the gallery cases do.
static const char *gallery_url(void)
{
    static char url[1024];
    char sql[128];
    snprintf(schema, sizeof schema, "ftsync%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 0);
    snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s", pg_base(),
             strchr(pg_base(), '?') ? "&" : "?", schema);
    return url;
}

static void drop_schema(void)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    pg_one(pg_base(), sql);
}

static void event_make(ft_event *ev, const char *uid, const char *source)
{
    ft_event_init(ev);
    snprintf(ev->uid, sizeof ev->uid, "%s", uid);
    snprintf(ev->source, sizeof ev->source, "%s", source);
    snprintf(ev->reason, sizeof ev->reason, "unknown");
    ev->decision = FT_DECISION_DENIED;
    ev->time = ft_wall_s();
    ev->distance = 0.7;
    ev->margin = INFINITY; // stored and read back through the spool's REAL column
}

static void test_spool_replay(void)
{
    ft_err err;
    ft_err_clear(&err);
    const char *url = gallery_url();
    char spool[256], sql[512];
    snprintf(spool, sizeof spool, "/tmp/ft_sync_%d.spool", (int)getpid());
    unlink(spool);
    // A handle opened before the sync starts is not attached to it: it
    // stands for "the database, directly".
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(url, NULL, &g, &err), &err);
    const char *u1 = "0123456789abcdef0123456789abcdef";
    const char *u2 = "fedcba9876543210fedcba9876543210";
    ft_event e1, e2;
    event_make(&e1, u1, "door-1");
    FT_CHECK_OK(ft_gallery_event_add(g, &e1, &err), &err);

    ft_gallery_sync_opts so = ft_gallery_sync_opts_default();
    so.spool_path = spool;
    ft_gallery_sync *s = NULL;
    FT_CHECK_OK(ft_gallery_sync_start(url, &so, &s, &err), &err);
    if (!s) {
        ft_gallery_close(g);
        drop_schema();
        return;
    }
    // One sync per gallery per process; one server per spool.
    ft_gallery_sync *s2 = NULL;
    FT_CHECK_EQ(ft_gallery_sync_start(url, &so, &s2, &err), FT_E_EXISTS);
    ft_gallery_sync_opts so2 = so;
    FT_CHECK_EQ(ft_gallery_sync_start(pg_base(), &so2, &s2, &err), FT_E_BUSY);

    // e1 again (its commit happened, its answer was lost), then e2, with
    // a delivery sink each: the spool replays both, in order.
    ft_event e1again, e2s;
    event_make(&e1again, u1, "door-1");
    event_make(&e2, u2, "door-1");
    e2s = e2;
    const char *sinks[] = {"hook"};
    FT_CHECK_OK(ft_sync__spool_add(s, &e1again, sinks, 1, &err), &err);
    FT_CHECK_OK(ft_sync__spool_add(s, &e2s, sinks, 1, &err), &err);
    ft_gallery_sync_poke(s);
    ft_gallery_sync_status st;
    double t0 = ft_now_ms();
    do {
        usleep(20000);
        ft_gallery_sync_status_get(s, &st);
    } while (st.spooled > 0 && ft_now_ms() - t0 < 10000);
    FT_CHECK_EQ(st.spooled, 0);
    FT_CHECK_EQ(st.flushed, 2);
    FT_CHECK_EQ(st.duplicates, 1);
    FT_CHECK_EQ(st.refused, 0);
    FT_CHECK(st.connected);

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.events WHERE uid = '%s'", schema, u1);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.events WHERE uid = '%s'", schema, u2);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 1);
    // Spool order is database order.
    snprintf(sql, sizeof sql,
             "SELECT ((SELECT id FROM %s.events WHERE uid = '%s') > "
             "(SELECT id FROM %s.events WHERE uid = '%s'))::int",
             schema, u2, schema, u1);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 1);
    // The duplicate added no delivery row; the new event got its one.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.outbox o JOIN %s.events e ON e.id = o.event_id "
             "WHERE e.uid = '%s'",
             schema, schema, u1);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.outbox o JOIN %s.events e ON e.id = o.event_id "
             "WHERE e.uid = '%s' AND o.sink = 'hook'",
             schema, schema, u2);
    FT_CHECK_EQ(pg_one(pg_base(), sql), 1);
    // The event read back as spooled (the margin's infinity included).
    ft_event back;
    ft_event_query q = ft_event_query_default();
    ft_event *evs = NULL;
    size_t n = 0;
    q.oldest_first = true;
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &evs, &n, NULL, &err), &err);
    FT_CHECK_EQ(n, 2);
    if (n == 2) {
        back = evs[1];
        FT_CHECK_STREQ(back.uid, u2);
        FT_CHECK_STREQ(back.source, "door-1");
        FT_CHECK_STREQ(back.reason, "unknown");
        FT_CHECK_DBL_EXACT(back.time, e2.time); // %.17g through SQLite REAL and float8: exact
        FT_CHECK_DBL_EXACT(back.distance, 0.7);
        FT_CHECK(isinf(back.margin) && back.margin > 0);
        FT_CHECK(isnan(back.detector_score));
    }
    ft_free(evs);

    // A handle opened now is attached: its events go to the database
    // directly while the spool is empty and the database reachable.
    ft_gallery *ga = NULL;
    FT_CHECK_OK(ft_gallery_open(url, NULL, &ga, &err), &err);
    ft_event e3;
    event_make(&e3, "", "door-2");
    FT_CHECK_OK(ft_gallery_event_add(ga, &e3, &err), &err);
    FT_CHECK(e3.id > 0);
    ft_gallery_close(ga);

    ft_gallery_sync_stop(s);
    ft_gallery_close(g);
    unlink(spool);
    drop_schema();
}

static const ft_test_case cases[] = {
    {"spool_replay", test_spool_replay},
};

FT_TEST_MAIN(cases)
