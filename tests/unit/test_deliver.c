// Tests for event delivery: the schema-3 event fields, the event JSON, the
// gallery's outbox (atomic with its event, due order, retries, crash
// survival), HMAC-SHA256 (RFC 4231), and src/deliver against real
// receivers started here on 127.0.0.1: a libmicrohttpd webhook receiver, a
// mosquitto broker (/usr/sbin/mosquitto) with a libmosquitto subscriber,
// and a door hook script. Every case works in its own mkdtemp() directory.
#define _GNU_SOURCE
#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "deliver/deliver.h"
#include "deliver/deliver_internal.h"
#include "ft_test.h"
#include "gallery/gallery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <microhttpd.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// ---- Helpers ----

static char tmp_dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void tmp_cleanup(void)
{
    if (tmp_dir[0])
        nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int k;
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_deliver_XXXXXX");
        if (!mkdtemp(tmp_dir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(tmp_cleanup);
    }
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
    return p[k];
}

static ft_gallery *open_db(const char *name)
{
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(tmp_path(name), NULL, &g, &err), &err);
    FT_ASSERT(g);
    return g;
}

static int64_t person(ft_gallery *g, const char *name)
{
    ft_err err = {0};
    int64_t id = 0;
    FT_CHECK_OK(ft_gallery_person_add(g, name, NULL, NULL, &id, &err), &err);
    return id;
}

// An event of `source` (granted for person_id > 0, else denied), stored
// with outbox rows for `sinks`; returns its id, uid in uid_out (may be NULL).
static int64_t add_event(ft_gallery *g, const char *source, int64_t person_id,
                         const char *const *sinks, size_t n_sinks, char *uid_out)
{
    ft_err err = {0};
    ft_event ev;
    ft_event_init(&ev);
    snprintf(ev.source, sizeof ev.source, "%s", source);
    ev.decision = person_id > 0 ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
    snprintf(ev.reason, sizeof ev.reason, "%s", person_id > 0 ? "match" : "unknown");
    ev.person_id = person_id;
    ev.distance = 0.25;
    ev.track_id = 42;
    FT_CHECK_OK(ft_gallery_event_add_outbox(g, &ev, sinks, n_sinks, &err), &err);
    if (uid_out)
        memcpy(uid_out, ev.uid, sizeof ev.uid);
    return ev.id;
}

static void counts(ft_gallery *g, const char *sink, int64_t *pending, int64_t *failed)
{
    ft_err err = {0};
    *pending = *failed = -1;
    FT_CHECK_OK(ft_gallery_outbox_count(g, sink, pending, failed, &err), &err);
}

static int64_t n_events(ft_gallery *g)
{
    ft_err err = {0};
    ft_gallery_counts c = {0};
    FT_CHECK_OK(ft_gallery_counts_get(g, &c, &err), &err);
    return c.events;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FT_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    FT_ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static ft_deliver_sink_stats sink_stats(ft_deliver *d, const char *prefix)
{
    ft_deliver_sink_stats s[FT_DELIVER_MAX_WEBHOOKS + 2], none;
    memset(&none, 0, sizeof none);
    size_t n = ft_deliver_stats(d, s, sizeof s / sizeof s[0]);
    for (size_t i = 0; i < n; i++)
        if (strncmp(s[i].name, prefix, strlen(prefix)) == 0)
            return s[i];
    return none;
}

// The event_uid member of an event JSON text ("" if absent or not JSON).
static void json_uid(const char *text, size_t len, char out[33])
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    const char *u = j ? json_string_value(json_object_get(j, "event_uid")) : NULL;
    snprintf(out, 33, "%s", u ? u : "");
    json_decref(j);
}

// ---- Gallery: events of schema 3 ----

static void test_event_fields(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("f.db");
    int64_t ann = person(g, "Ann"), bob = person(g, "Bob");

    ft_event e;
    ft_event_init(&e);
    FT_CHECK(isnan(e.first_seen) && isnan(e.second_distance) && isnan(e.distance));
    FT_CHECK(e.uid[0] == '\0' && e.track_id == 0 && e.frames == 0);

    // Every field set.
    snprintf(e.source, sizeof e.source, "front door");
    e.decision = FT_DECISION_GRANTED;
    snprintf(e.reason, sizeof e.reason, "match");
    e.person_id = ann;
    e.time = 1700000001.25;
    e.distance = 0.25;
    e.margin = 0.125;
    e.detector_score = 0.875;
    e.track_id = 17;
    e.frames = 5;
    e.first_seen = 1700000000.5;
    e.nearest_person_id = ann; // name from the people table
    e.second_person_id = bob;
    snprintf(e.second_name, sizeof e.second_name, "Bob then");
    e.second_distance = 0.5;
    FT_CHECK_OK(ft_gallery_event_add(g, &e, &err), &err);
    FT_CHECK_EQ(strlen(e.uid), 32);
    FT_CHECK(strspn(e.uid, "0123456789abcdef") == 32);

    ft_event got;
    FT_CHECK_OK(ft_gallery_event_get(g, e.id, &got, &err), &err);
    FT_CHECK_STREQ(got.uid, e.uid);
    FT_CHECK_EQ(got.track_id, 17);
    FT_CHECK_EQ(got.frames, 5);
    FT_CHECK_DBL_EXACT(got.first_seen, 1700000000.5);
    FT_CHECK_DBL_EXACT(got.time, 1700000001.25);
    FT_CHECK_EQ(got.nearest_person_id, ann);
    FT_CHECK_STREQ(got.nearest_name, "Ann");
    FT_CHECK_EQ(got.second_person_id, bob);
    FT_CHECK_STREQ(got.second_name, "Bob then");
    FT_CHECK_DBL_EXACT(got.second_distance, 0.5);
    FT_CHECK_STREQ(got.name_at_time, "Ann");

    // An old caller's memset-zeroed event: zero means "not recorded".
    ft_event z;
    memset(&z, 0, sizeof z);
    snprintf(z.source, sizeof z.source, "lobby");
    snprintf(z.reason, sizeof z.reason, "unknown");
    z.second_distance = 0.0; // no second person: not stored
    FT_CHECK_OK(ft_gallery_event_add(g, &z, &err), &err);
    FT_CHECK_EQ(strlen(z.uid), 32);
    FT_CHECK(strcmp(z.uid, e.uid) != 0);
    FT_CHECK_OK(ft_gallery_event_get(g, z.id, &got, &err), &err);
    FT_CHECK_EQ(got.track_id, 0);
    FT_CHECK_EQ(got.frames, 0);
    FT_CHECK(isnan(got.first_seen));
    FT_CHECK_EQ(got.nearest_person_id, 0);
    FT_CHECK_STREQ(got.nearest_name, "");
    FT_CHECK_EQ(got.second_person_id, 0);
    FT_CHECK(isnan(got.second_distance));
    FT_CHECK_DBL_EXACT(got.distance, 0.0); // the old meaning: 0 is a distance

    // first_seen NaN or negative: not recorded.
    ft_event n;
    ft_event_init(&n);
    snprintf(n.source, sizeof n.source, "lobby");
    snprintf(n.reason, sizeof n.reason, "unknown");
    n.first_seen = -3;
    FT_CHECK_OK(ft_gallery_event_add(g, &n, &err), &err);
    FT_CHECK_OK(ft_gallery_event_get(g, n.id, &got, &err), &err);
    FT_CHECK(isnan(got.first_seen));
    FT_CHECK(isnan(got.distance));

    // A given uid is kept; a taken one or a malformed one is refused.
    ft_event u;
    ft_event_init(&u);
    snprintf(u.source, sizeof u.source, "lobby");
    snprintf(u.reason, sizeof u.reason, "unknown");
    snprintf(u.uid, sizeof u.uid, "0123456789abcdef0123456789abcdef");
    FT_CHECK_OK(ft_gallery_event_add(g, &u, &err), &err);
    FT_CHECK_STREQ(u.uid, "0123456789abcdef0123456789abcdef");
    int64_t before = n_events(g);
    u.id = 0;
    FT_CHECK_EQ(ft_gallery_event_add(g, &u, &err), FT_E_EXISTS);
    snprintf(u.uid, sizeof u.uid, "0123456789ABCDEF0123456789abcdef");
    FT_CHECK_EQ(ft_gallery_event_add(g, &u, &err), FT_E_INVALID);
    snprintf(u.uid, sizeof u.uid, "0123");
    FT_CHECK_EQ(ft_gallery_event_add(g, &u, &err), FT_E_INVALID);
    FT_CHECK_EQ(n_events(g), before);
    FT_CHECK_EQ(ft_gallery_event_get(g, 9999, &got, &err), FT_E_NOT_FOUND);

    // Queries return the new fields.
    ft_event_query q = ft_event_query_default();
    q.oldest_first = true;
    ft_event *list = NULL;
    size_t cnt = 0;
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &list, &cnt, NULL, &err), &err);
    FT_CHECK_EQ(cnt, 4);
    if (cnt == 4) {
        FT_CHECK_STREQ(list[0].uid, e.uid);
        FT_CHECK_EQ(list[0].second_person_id, bob);
        FT_CHECK_DBL_EXACT(list[0].first_seen, 1700000000.5);
        FT_CHECK(isnan(list[1].second_distance));
    }
    ft_free(list);

    // CSV: the old columns unchanged; the door columns appended on request.
    ft_buf b;
    ft_buf_init(&b, 0);
    q.limit = 1;
    FT_CHECK_OK(ft_gallery_events_csv(g, &q, &b, &err), &err);
    ft_buf_terminate(&b);
    char want[1024];
    snprintf(want, sizeof want,
             "id,time,time_utc,source,decision,reason,person_id,name,distance,margin,"
             "detector_score\r\n"
             "1,1700000001.250,2023-11-14T22:13:21.250Z,front door,granted,match,%lld,Ann,"
             "0.250000,0.125000,0.8750\r\n",
             (long long)ann);
    FT_CHECK_STREQ((const char *)b.data, want);
    b.len = 0;
    q.csv_door_columns = true;
    FT_CHECK_OK(ft_gallery_events_csv(g, &q, &b, &err), &err);
    ft_buf_terminate(&b);
    snprintf(want, sizeof want,
             "id,time,time_utc,source,decision,reason,person_id,name,distance,margin,"
             "detector_score,uid,track_id,frames,first_seen,nearest_person_id,nearest_name,"
             "second_person_id,second_name,second_distance\r\n"
             "1,1700000001.250,2023-11-14T22:13:21.250Z,front door,granted,match,%lld,Ann,"
             "0.250000,0.125000,0.8750,%s,17,5,1700000000.500,%lld,Ann,%lld,Bob then,"
             "0.500000\r\n",
             (long long)ann, e.uid, (long long)ann, (long long)bob);
    FT_CHECK_STREQ((const char *)b.data, want);
    b.len = 0;
    q.offset = 1; // the zeroed event: empty cells
    FT_CHECK_OK(ft_gallery_events_csv(g, &q, &b, &err), &err);
    ft_buf_terminate(&b);
    char tail[128];
    snprintf(tail, sizeof tail, ",%s,,,,,,,,\r\n", z.uid);
    FT_CHECK(b.len > strlen(tail) &&
             strcmp((const char *)b.data + b.len - strlen(tail), tail) == 0);
    ft_buf_deinit(&b);
    ft_gallery_close(g);
}

// ---- The event JSON ----

static void test_event_json(void)
{
    ft_event e;
    ft_event_init(&e);
    e.id = 7;
    snprintf(e.uid, sizeof e.uid, "0123456789abcdef0123456789abcdef");
    snprintf(e.source, sizeof e.source, "door \"1\"");
    e.track_id = 42;
    e.decision = FT_DECISION_GRANTED;
    snprintf(e.reason, sizeof e.reason, "match");
    e.person_id = 3;
    snprintf(e.name_at_time, sizeof e.name_at_time, "Ann");
    e.distance = 0.25;
    e.margin = INFINITY;
    e.detector_score = 0.875;
    e.frames = 5;
    e.first_seen = 1700000000.5;
    e.time = 1700000001.25;
    e.nearest_person_id = 3;
    snprintf(e.nearest_name, sizeof e.nearest_name, "Ann");
    e.second_person_id = 4;
    snprintf(e.second_name, sizeof e.second_name, "Bob");
    e.second_distance = 0.5;
    ft_buf b;
    ft_buf_init(&b, 0);
    FT_CHECK_OK(ft_gallery_event_json(&e, &b), NULL);
    ft_buf_terminate(&b);
    FT_CHECK_STREQ((const char *)b.data,
                   "{\"event_id\":7,\"event_uid\":\"0123456789abcdef0123456789abcdef\","
                   "\"source\":\"door \\\"1\\\"\",\"track\":42,\"decision\":\"granted\","
                   "\"reason\":\"match\",\"person\":{\"id\":3,\"name\":\"Ann\"},"
                   "\"distance\":0.25,\"margin\":null,\"detector_score\":0.875,\"frames\":5,"
                   "\"first_seen\":1700000000.5,\"decided_at\":1700000001.25,"
                   "\"nearest\":{\"id\":3,\"name\":\"Ann\"},"
                   "\"second\":{\"id\":4,\"name\":\"Bob\",\"distance\":0.5}}");

    // Denied: no "person" even with an id; unset fields are null; a value
    // like 0.1 prints in its shortest exact form; JSON appends.
    e.decision = FT_DECISION_DENIED;
    e.track_id = 0;
    e.frames = 0;
    e.first_seen = NAN;
    e.distance = 0.1;
    e.margin = NAN;
    e.detector_score = 1.0 / 3.0;
    e.second_person_id = 0;
    b.len = 0;
    ft_buf_puts(&b, "[");
    FT_CHECK_OK(ft_gallery_event_json(&e, &b), NULL);
    ft_buf_terminate(&b);
    FT_CHECK_STREQ((const char *)b.data,
                   "[{\"event_id\":7,\"event_uid\":\"0123456789abcdef0123456789abcdef\","
                   "\"source\":\"door \\\"1\\\"\",\"track\":null,\"decision\":\"denied\","
                   "\"reason\":\"match\",\"person\":null,"
                   "\"distance\":0.1,\"margin\":null,\"detector_score\":0.33333333333333331,"
                   "\"frames\":null,\"first_seen\":null,\"decided_at\":1700000001.25,"
                   "\"nearest\":{\"id\":3,\"name\":\"Ann\"},\"second\":null}");
    // An independent parser reads it back, numbers bit for bit.
    json_error_t je;
    json_t *j = json_loads((const char *)b.data + 1, 0, &je);
    FT_CHECK(j != NULL);
    if (j) {
        FT_CHECK_DBL_EXACT(json_real_value(json_object_get(j, "detector_score")), 1.0 / 3.0);
        FT_CHECK(json_is_null(json_object_get(j, "person")));
        json_decref(j);
    }
    // A full buffer leaves `out` as it was.
    ft_buf small;
    ft_buf_init(&small, 40);
    ft_buf_puts(&small, "x");
    FT_CHECK_EQ(ft_gallery_event_json(&e, &small), FT_E_LIMIT);
    FT_CHECK_EQ(small.len, 1);
    ft_buf_deinit(&small);
    ft_buf_deinit(&b);
}

// ---- Gallery: the outbox ----

static void test_outbox_store(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("o.db");
    int64_t ann = person(g, "Ann");
    const char *both[] = {"webhook a", "mqtt b"};
    const char *wh[] = {"webhook a"};
    int64_t ev[4];
    for (int i = 0; i < 3; i++)
        ev[i] = add_event(g, "door", i == 1 ? 0 : ann, both, 2, NULL);
    ev[3] = add_event(g, "door", ann, wh, 1, NULL);
    int64_t pending, failed;
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 7);
    FT_CHECK_EQ(failed, 0);
    counts(g, "webhook a", &pending, &failed);
    FT_CHECK_EQ(pending, 4);
    counts(g, "nobody", &pending, &failed);
    FT_CHECK_EQ(pending, 0);

    double now = ft_wall_s();
    ft_outbox_item *it = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 4);
    int64_t rows[4] = {0};
    for (size_t i = 0; i < n && i < 4; i++) {
        rows[i] = it[i].id;
        FT_CHECK_EQ(it[i].event_id, ev[i]);
        FT_CHECK_STREQ(it[i].sink, "webhook a");
        FT_CHECK_EQ(it[i].attempts, 0);
        FT_CHECK(i == 0 || it[i].id > it[i - 1].id);
        // Created now, due at once (1 s covers the test's own runtime).
        FT_CHECK_NEAR(it[i].created_at, now, 1.0);
        FT_CHECK_DBL_EXACT(it[i].next_at, it[i].created_at);
    }
    ft_free(it);
    // Not yet due before its creation time.
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now - 100, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 0);
    ft_free(it);
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 1, 2, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    ft_free(it);

    // Delivered rows are never returned again; done is idempotent.
    FT_CHECK_OK(ft_gallery_outbox_done(g, rows[0], &err), &err);
    FT_CHECK_OK(ft_gallery_outbox_done(g, rows[0], &err), &err);
    FT_CHECK_EQ(ft_gallery_outbox_done(g, 99999, &err), FT_E_NOT_FOUND);
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 3);
    FT_CHECK(n > 0 && it[0].id == rows[1]);
    ft_free(it);

    // A retry pushes the row back and holds the rows behind it (order).
    FT_CHECK_OK(ft_gallery_outbox_retry(g, rows[1], now + 100, "HTTP 503", &err), &err);
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 0);
    ft_free(it);
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 200, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 3);
    if (n == 3) {
        FT_CHECK_EQ(it[0].id, rows[1]);
        FT_CHECK_EQ(it[0].attempts, 1);
        FT_CHECK_STREQ(it[0].last_error, "HTTP 503");
        FT_CHECK_DBL_EXACT(it[0].next_at, now + 100);
        FT_CHECK_EQ(it[1].attempts, 0);
    }
    ft_free(it);
    // Other sinks are not held up.
    FT_CHECK_OK(ft_gallery_outbox_due(g, "mqtt b", now + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 3);
    ft_free(it);

    // Given up: never returned, counted as failed.
    FT_CHECK_OK(ft_gallery_outbox_fail(g, rows[1], "gave up", &err), &err);
    FT_CHECK_EQ(ft_gallery_outbox_retry(g, 99999, now, "x", &err), FT_E_NOT_FOUND);
    counts(g, "webhook a", &pending, &failed);
    FT_CHECK_EQ(pending, 2);
    FT_CHECK_EQ(failed, 1);
    FT_CHECK_OK(ft_gallery_outbox_due(g, "webhook a", now + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    FT_CHECK(n == 2 && it[0].id == rows[2] && it[1].id == rows[3]);
    ft_free(it);
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 5);
    FT_CHECK_EQ(failed, 1);

    // Atomic: a failing event adds no outbox rows, a bad sink no event.
    int64_t ne = n_events(g);
    ft_event bad;
    ft_event_init(&bad);
    snprintf(bad.source, sizeof bad.source, "door");
    snprintf(bad.reason, sizeof bad.reason, "match");
    bad.decision = FT_DECISION_GRANTED;
    bad.person_id = 4242; // no such person: the INSERT fails inside the transaction
    FT_CHECK_EQ(ft_gallery_event_add_outbox(g, &bad, both, 2, &err), FT_E_NOT_FOUND);
    const char *bad_sinks[] = {"webhook a", ""};
    bad.person_id = ann;
    FT_CHECK_EQ(ft_gallery_event_add_outbox(g, &bad, bad_sinks, 2, &err), FT_E_INVALID);
    FT_CHECK_EQ(n_events(g), ne);
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 5);
    FT_CHECK_EQ(ft_gallery_outbox_due(g, "", now, 10, &it, &n, &err), FT_E_INVALID);
    ft_gallery_close(g);
}

// The crash child: commits two events with outbox rows, then dies
// (SIGKILL) inside the third event's transaction, after its outbox rows
// and before COMMIT.
static void crash_hook(const char *point, void *arg)
{
    int *n = arg;
    if (strcmp(point, "event:outbox") == 0 && ++*n == 3)
        kill(getpid(), SIGKILL);
}

static void test_outbox_crash(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("c.db");
    int64_t ann = person(g, "Ann");
    const char *sinks[] = {"webhook a", "hook"};
    add_event(g, "door", ann, sinks, 2, NULL);
    ft_gallery_close(g);

    fflush(NULL);
    pid_t pid = fork();
    FT_ASSERT(pid >= 0);
    if (pid == 0) {
        int n = 0;
        ft_gallery_opts o = ft_gallery_opts_default();
        o.test_hook = crash_hook;
        o.test_hook_arg = &n;
        ft_gallery *c = NULL;
        if (ft_gallery_open(tmp_path("c.db"), &o, &c, NULL) != FT_OK)
            _exit(3);
        for (int i = 0; i < 3; i++)
            add_event(c, "door", ann, sinks, 2, NULL);
        _exit(4); // not reached: the hook kills us
    }
    int ws;
    FT_CHECK_EQ(waitpid(pid, &ws, 0), pid);
    FT_CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

    g = open_db("c.db");
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    FT_CHECK_EQ(n_events(g), 3); // 1 + the child's 2 committed ones
    int64_t pending, failed;
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 6); // every committed event has both rows; the third none
    FT_CHECK_EQ(failed, 0);
    ft_outbox_item *it = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_outbox_due(g, "hook", ft_wall_s() + 1, 10, &it, &n, &err), &err);
    FT_CHECK_EQ(n, 3);
    ft_free(it);
    ft_gallery_close(g);
}

// ---- HMAC-SHA256 (RFC 4231 section 4) ----

static void test_hmac(void)
{
    uint8_t k20[20], d50[50], k25[25], k131[131];
    char hex[65];
    memset(k20, 0x0b, sizeof k20);
    ft_hmac_sha256_hex(k20, 20, "Hi There", 8, hex); // test case 1
    FT_CHECK_STREQ(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const char *m2 = "what do ya want for nothing?"; // 2
    ft_hmac_sha256_hex("Jefe", 4, m2, strlen(m2), hex);
    FT_CHECK_STREQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k20, 0xaa, sizeof k20); // 3
    memset(d50, 0xdd, sizeof d50);
    ft_hmac_sha256_hex(k20, 20, d50, 50, hex);
    FT_CHECK_STREQ(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++) // 4
        k25[i] = (uint8_t)(i + 1);
    memset(d50, 0xcd, sizeof d50);
    ft_hmac_sha256_hex(k25, 25, d50, 50, hex);
    FT_CHECK_STREQ(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k20, 0x0c, sizeof k20); // 5: truncated to 128 bits
    ft_hmac_sha256_hex(k20, 20, "Test With Truncation", 20, hex);
    FT_CHECK(strncmp(hex, "a3b6167473100ee06e0c796c2955552b", 32) == 0);
    memset(k131, 0xaa, sizeof k131); // 6: key longer than a block
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    ft_hmac_sha256_hex(k131, 131, m6, strlen(m6), hex);
    FT_CHECK_STREQ(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm."; // 7
    ft_hmac_sha256_hex(k131, 131, m7, strlen(m7), hex);
    FT_CHECK_STREQ(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    uint8_t raw[32];
    ft_hmac_sha256(k131, 131, m7, strlen(m7), raw);
    FT_CHECK_EQ(raw[0], 0x9b);
    FT_CHECK_EQ(raw[31], 0xe2);
}

// ---- Command lines ----

static void test_split_argv(void)
{
    ft_err err = {0};
    char **v = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_deliver__split_argv("  /bin/door  open 'a b'\"c \\\" d\"  'it''s' $(x) ", &v,
                                       &n, &err),
                &err);
    FT_CHECK_EQ(n, 5);
    if (n == 5) {
        FT_CHECK_STREQ(v[0], "/bin/door");
        FT_CHECK_STREQ(v[1], "open");
        FT_CHECK_STREQ(v[2], "a bc \" d");
        FT_CHECK_STREQ(v[3], "its");
        FT_CHECK_STREQ(v[4], "$(x)");
        FT_CHECK(v[5] == NULL);
    }
    ft_free(v);
    FT_CHECK_EQ(ft_deliver__split_argv("door 'open", &v, &n, &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_deliver__split_argv("   ", &v, &n, &err), FT_E_INVALID);
    FT_CHECK_OK(ft_deliver__split_argv("''", &v, &n, &err), &err);
    FT_CHECK(n == 1 && strcmp(v[0], "") == 0);
    ft_free(v);

    // ft_deliver_start checks its options.
    ft_deliver_opts o = ft_deliver_opts_default();
    ft_deliver *d = NULL;
    o.db_path = tmp_path("s.db");
    o.on_grant = "door \"open";
    FT_CHECK_EQ(ft_deliver_start(&o, &d, &err), FT_E_INVALID);
    o.on_grant = NULL;
    o.n_webhooks = 1;
    o.webhooks[0].url = "ftp://x/";
    FT_CHECK_EQ(ft_deliver_start(&o, &d, &err), FT_E_INVALID);
    o.webhooks[0].url = "http://";
    FT_CHECK_EQ(ft_deliver_start(&o, &d, &err), FT_E_INVALID);
    // Credentials in a URL stay out of the sink's name.
    o.webhooks[0].url = "https://user:pw@example.org:8443/in/x?token=abc#f";
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    const char *const *nm;
    FT_CHECK_EQ(ft_deliver_sinks(d, FT_DECISION_DENIED, &nm), 1);
    FT_CHECK_STREQ(nm[0], "webhook https://example.org:8443/in/x");
    ft_deliver_stop(d);
    d = NULL;
    o.n_webhooks = 0;
    o.mqtt = "host:99999";
    FT_CHECK_EQ(ft_deliver_start(&o, &d, &err), FT_E_INVALID);
    FT_CHECK(d == NULL);
}

// ---- Webhook: a receiver on 127.0.0.1 ----

#define RX_MAX 64

typedef struct receiver {
    struct MHD_Daemon *mhd;
    int port;
    const char *secret;
    pthread_mutex_t mu;
    int fail_first; // answer 503 to this many requests first
    int requests, bad;
    char uids[RX_MAX][33];
    int n_uids;
} receiver;

typedef struct rx_body {
    ft_buf b;
} rx_body;

static enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    receiver *rx = cls;
    rx_body *body = *con_cls;
    if (!body) {
        body = calloc(1, sizeof *body);
        ft_buf_init(&body->b, 1 << 20);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size) {
        ft_buf_append(&body->b, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    ft_buf_terminate(&body->b);
    const char *text = body->b.data ? (const char *)body->b.data : "";
    // The receiver's own checks: method, type, the uid header matching the
    // body, and the signature over the exact bytes received.
    bool ok = strcmp(method, "POST") == 0;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *hu = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Facetracker-Event");
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Facetracker-Signature");
    char uid[33], hex[65], want[80];
    json_uid(text, body->b.len, uid);
    ok = ok && ct && strcmp(ct, "application/json") == 0 && hu && strcmp(hu, uid) == 0 &&
         uid[0];
    if (rx->secret) {
        ft_hmac_sha256_hex(rx->secret, strlen(rx->secret), text, body->b.len, hex);
        snprintf(want, sizeof want, "sha256=%s", hex);
        ok = ok && sig && strcmp(sig, want) == 0;
    } else {
        ok = ok && !sig;
    }
    pthread_mutex_lock(&rx->mu);
    rx->requests++;
    unsigned code = 200;
    if (!ok) {
        rx->bad++;
        fprintf(stderr, "receiver: bad request: %s ct=%s uid=%s/%s sig=%s body=%s\n", method,
                ct ? ct : "-", hu ? hu : "-", uid, sig ? sig : "-", text);
    }
    if (rx->requests <= rx->fail_first)
        code = 503;
    else if (rx->n_uids < RX_MAX)
        snprintf(rx->uids[rx->n_uids++], 33, "%s", uid);
    pthread_mutex_unlock(&rx->mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok",
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result res = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return res;
}

static void rx_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode tc)
{
    rx_body *body = *con_cls;
    if (body) {
        ft_buf_deinit(&body->b);
        free(body);
        *con_cls = NULL;
    }
}

// Starts on `port` (0 = any); returns false if it cannot.
static bool rx_start(receiver *rx, int port)
{
    rx->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                               (uint16_t)port, NULL, NULL, rx_handler, rx,
                               MHD_OPTION_NOTIFY_COMPLETED, rx_done, rx, MHD_OPTION_END);
    if (!rx->mhd)
        return false;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(rx->mhd, MHD_DAEMON_INFO_BIND_PORT);
    rx->port = i ? i->port : 0;
    return rx->port > 0;
}

static void rx_stop(receiver *rx)
{
    if (rx->mhd)
        MHD_stop_daemon(rx->mhd);
    rx->mhd = NULL;
}

static void test_webhook(void)
{
    ft_err err = {0};
    receiver rx = {0};
    pthread_mutex_init(&rx.mu, NULL);
    rx.secret = "s3cret \"key\"";
    rx.fail_first = 3;
    FT_ASSERT(rx_start(&rx, 0));

    ft_gallery *g = open_db("w.db");
    int64_t ann = person(g, "Ann");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", rx.port);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("w.db");
    o.n_webhooks = 1;
    o.webhooks[0].url = url;
    o.webhooks[0].secret = rx.secret;
    o.backoff_min_s = 0.05;
    o.backoff_max_s = 0.2;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    FT_ASSERT(d);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_DENIED, &names);
    FT_CHECK_EQ(ns, 1);
    char want_name[160];
    snprintf(want_name, sizeof want_name, "webhook %s", url);
    FT_CHECK(ns == 1 && strcmp(names[0], want_name) == 0);

    enum { N = 10 };
    char uids[N][33];
    for (int i = 0; i < N; i++) {
        ns = ft_deliver_sinks(d, i % 3 ? FT_DECISION_GRANTED : FT_DECISION_DENIED, &names);
        add_event(g, "door", i % 3 ? ann : 0, names, ns, uids[i]);
        ft_deliver_kick(d);
    }
    FT_CHECK_OK(ft_deliver_flush(d, 30, &err), &err);
    pthread_mutex_lock(&rx.mu);
    FT_CHECK_EQ(rx.requests, N + 3);
    FT_CHECK_EQ(rx.bad, 0);
    FT_CHECK_EQ(rx.n_uids, N); // each event once, in order
    for (int i = 0; i < N && i < rx.n_uids; i++)
        FT_CHECK_STREQ(rx.uids[i], uids[i]);
    pthread_mutex_unlock(&rx.mu);
    int64_t pending, failed;
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    FT_CHECK_EQ(failed, 0);
    ft_deliver_sink_stats s = sink_stats(d, "webhook");
    FT_CHECK_EQ(s.delivered, N);
    FT_CHECK_EQ(s.retries, 3); // one row at a time: each 503 stops the batch
    FT_CHECK_EQ(s.failed, 0);
    FT_CHECK_EQ(s.pending, 0);
    FT_CHECK(s.connected);
    FT_CHECK_STREQ(s.last_error, "HTTP 503");
    ft_deliver_stop(d);
    rx_stop(&rx);

    // max_attempts: a receiver that always fails gets rows given up.
    receiver rx2 = {0};
    pthread_mutex_init(&rx2.mu, NULL);
    rx2.fail_first = 1000;
    FT_ASSERT(rx_start(&rx2, 0));
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", rx2.port);
    o.webhooks[0].secret = NULL;
    o.max_attempts = 2;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    ns = ft_deliver_sinks(d, FT_DECISION_DENIED, &names);
    add_event(g, "door", 0, names, ns, NULL);
    FT_CHECK_OK(ft_deliver_flush(d, 10, &err), &err);
    counts(g, names[0], &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    FT_CHECK_EQ(failed, 1);
    s = sink_stats(d, "webhook");
    FT_CHECK_EQ(s.retries, 1);
    FT_CHECK_EQ(s.failed, 1);
    FT_CHECK(strstr(s.last_error, "gave up after 2 attempts") != NULL);
    FT_CHECK_EQ(rx2.bad, 0); // unsigned: no signature header
    ft_deliver_stop(d);
    rx_stop(&rx2);
    ft_gallery_close(g);
}

static void test_webhook_restart(void)
{
    ft_err err = {0};
    receiver rx = {0};
    pthread_mutex_init(&rx.mu, NULL);
    rx.secret = "k";
    // Learn a port, then close it: the receiver is "down".
    FT_ASSERT(rx_start(&rx, 0));
    int port = rx.port;
    rx_stop(&rx);

    ft_gallery *g = open_db("r.db");
    int64_t ann = person(g, "Ann");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("r.db");
    o.n_webhooks = 1;
    o.webhooks[0].url = url;
    o.webhooks[0].secret = "k";
    o.backoff_min_s = 0.05;
    o.backoff_max_s = 0.2;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    char uids[6][33];
    for (int i = 0; i < 5; i++)
        add_event(g, "door", ann, names, ns, uids[i]);
    ft_deliver_kick(d);
    FT_CHECK_EQ(ft_deliver_flush(d, 0.5, &err), FT_E_BUSY);
    ft_deliver_sink_stats s = sink_stats(d, "webhook");
    FT_CHECK(s.retries >= 1);
    FT_CHECK(!s.connected);
    FT_CHECK_EQ(s.delivered, 0);
    FT_CHECK_EQ(s.pending, 5);
    ft_deliver_stop(d);
    int64_t pending, failed;
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 5);

    // The receiver comes back; a new deliver on the same database and
    // configuration sends everything once, in order.
    FT_ASSERT(rx_start(&rx, port));
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    add_event(g, "door", ann, names, ns, uids[5]);
    ft_deliver_kick(d);
    FT_CHECK_OK(ft_deliver_flush(d, 20, &err), &err);
    pthread_mutex_lock(&rx.mu);
    FT_CHECK_EQ(rx.n_uids, 6);
    FT_CHECK_EQ(rx.bad, 0);
    for (int i = 0; i < 6 && i < rx.n_uids; i++)
        FT_CHECK_STREQ(rx.uids[i], uids[i]);
    pthread_mutex_unlock(&rx.mu);
    counts(g, NULL, &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    ft_deliver_stop(d);
    rx_stop(&rx);
    ft_gallery_close(g);
}

// ---- MQTT: a mosquitto broker and a subscriber ----

#define MOSQUITTO "/usr/sbin/mosquitto"

typedef struct broker {
    pid_t pid;
    int port;
} broker;

// Starts mosquitto on 127.0.0.1:port with a config written to the temp
// dir; persist: keep sessions in `tag`.db across restarts.
static bool broker_start(broker *b, int port, const char *tag, bool persist)
{
    char conf[512], log[512], dir[512];
    snprintf(conf, sizeof conf, "%s", tmp_path(tag));
    snprintf(conf + strlen(conf), sizeof conf - strlen(conf), ".conf");
    snprintf(log, sizeof log, "%s.log", tmp_path(tag));
    snprintf(dir, sizeof dir, "%s/", tmp_dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return false;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nuser root\n", port);
    if (persist)
        fprintf(f, "persistence true\npersistence_location %s\npersistence_file %s.db\n", dir,
                tag);
    else
        fprintf(f, "persistence false\n");
    fclose(f);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    char *argv[] = {MOSQUITTO, "-c", conf, NULL};
    extern char **environ;
    int rc = posix_spawn(&b->pid, MOSQUITTO, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "cannot start %s: %s\n", MOSQUITTO, strerror(rc));
        return false;
    }
    b->port = port;
    for (int i = 0; i < 500; i++) {
        if (port_open(port))
            return true;
        sleep_s(0.01);
    }
    fprintf(stderr, "mosquitto did not open port %d (log: %s)\n", port, log);
    return false;
}

static void broker_stop(broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
    }
    b->pid = 0;
}

#define SUB_MAX 64

typedef struct sub_msg {
    char topic[128];
    char payload[2048];
    int qos;
    bool retain;
} sub_msg;

typedef struct subscriber {
    struct mosquitto *m;
    const char *filter;
    pthread_mutex_t mu;
    bool subscribed;
    sub_msg msgs[SUB_MAX];
    int n;
} subscriber;

static void sub_on_connect(struct mosquitto *m, void *arg, int rc)
{
    subscriber *s = arg;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, s->filter, 1);
}

static void sub_on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *qos)
{
    subscriber *s = arg;
    pthread_mutex_lock(&s->mu);
    s->subscribed = true;
    pthread_mutex_unlock(&s->mu);
}

static void sub_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    subscriber *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->n < SUB_MAX) {
        sub_msg *x = &s->msgs[s->n++];
        snprintf(x->topic, sizeof x->topic, "%s", msg->topic);
        snprintf(x->payload, sizeof x->payload, "%.*s", msg->payloadlen,
                 (const char *)msg->payload);
        x->qos = msg->qos;
        x->retain = msg->retain;
    }
    pthread_mutex_unlock(&s->mu);
}

// Connects (clean or persistent session `id`) and waits for the SUBACK.
static bool sub_start(subscriber *s, int port, const char *id, bool clean, const char *filter)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->filter = filter;
    mosquitto_lib_init();
    s->m = mosquitto_new(id, clean, s);
    if (!s->m)
        return false;
    mosquitto_connect_callback_set(s->m, sub_on_connect);
    mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
    mosquitto_message_callback_set(s->m, sub_on_message);
    if (mosquitto_connect(s->m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(s->m) != MOSQ_ERR_SUCCESS)
        return false;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&s->mu);
        bool ok = s->subscribed;
        pthread_mutex_unlock(&s->mu);
        if (ok)
            return true;
        sleep_s(0.01);
    }
    return false;
}

static void sub_stop(subscriber *s)
{
    if (s->m) {
        mosquitto_disconnect(s->m);
        mosquitto_loop_stop(s->m, false);
        mosquitto_destroy(s->m);
    }
    s->m = NULL;
}

// Waits until `n` messages on topics containing `part` arrived (or 5 s).
static int sub_wait(subscriber *s, const char *part, int n)
{
    int have = 0;
    for (int i = 0; i < 500; i++) {
        have = 0;
        pthread_mutex_lock(&s->mu);
        for (int k = 0; k < s->n; k++)
            have += strstr(s->msgs[k].topic, part) != NULL;
        pthread_mutex_unlock(&s->mu);
        if (have >= n)
            break;
        sleep_s(0.01);
    }
    sleep_s(0.1); // a duplicate would arrive now
    return have;
}

// The retained payload of `topic` a new subscriber gets ("" if none).
static void retained(int port, const char *topic, char *out, size_t cap)
{
    subscriber s;
    out[0] = '\0';
    if (!sub_start(&s, port, NULL, true, topic)) {
        sub_stop(&s);
        return;
    }
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&s.mu);
        int n = s.n;
        if (n)
            snprintf(out, cap, "%s%s", s.msgs[0].retain ? "" : "(not retained) ",
                     s.msgs[0].payload);
        pthread_mutex_unlock(&s.mu);
        if (n)
            break;
        sleep_s(0.01);
    }
    sub_stop(&s);
}

// Checks the access messages of `s`: the uids in order, each once, QoS 1.
static void check_access(subscriber *s, char (*uids)[33], int n, const char *topic)
{
    int k = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        if (!strstr(s->msgs[i].topic, "/access"))
            continue;
        char uid[33];
        json_uid(s->msgs[i].payload, strlen(s->msgs[i].payload), uid);
        FT_CHECK_STREQ(s->msgs[i].topic, topic);
        FT_CHECK_EQ(s->msgs[i].qos, 1);
        FT_CHECK(!s->msgs[i].retain);
        if (k < n)
            FT_CHECK_STREQ(uid, uids[k]);
        k++;
    }
    pthread_mutex_unlock(&s->mu);
    FT_CHECK_EQ(k, n);
}

static void test_mqtt(void)
{
    ft_err err = {0};
    broker b = {0};
    if (access(MOSQUITTO, X_OK) != 0) {
        fprintf(stderr, "%s is missing (tools/setup.sh installs mosquitto)\n", MOSQUITTO);
        ft_test_failures++;
        return;
    }
    int port = free_port();
    FT_ASSERT(broker_start(&b, port, "mq", false));
    subscriber s;
    FT_ASSERT(sub_start(&s, port, "ft-test-sub", true, "fttest/+/access"));

    ft_gallery *g = open_db("m.db");
    int64_t ann = person(g, "Ann");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("m.db");
    o.mqtt = host;
    o.mqtt_prefix = "fttest";
    o.mqtt_client_id = "ft-dlv-test";
    o.backoff_min_s = 0.05;
    o.backoff_max_s = 0.5;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    FT_ASSERT(d);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_DENIED, &names);
    char want_name[96];
    snprintf(want_name, sizeof want_name, "mqtt %s", host);
    FT_CHECK(ns == 1 && strcmp(names[0], want_name) == 0);
    ft_deliver_source_state(d, "door+1", true);

    enum { N = 8 };
    char uids[N][33];
    for (int i = 0; i < N; i++) {
        ns = ft_deliver_sinks(d, i % 2 ? FT_DECISION_GRANTED : FT_DECISION_DENIED, &names);
        add_event(g, "door+1", i % 2 ? ann : 0, names, ns, uids[i]);
        ft_deliver_kick(d);
    }
    FT_CHECK_OK(ft_deliver_flush(d, 20, &err), &err);
    FT_CHECK_EQ(sub_wait(&s, "/access", N), N);
    check_access(&s, uids, N, "fttest/door_1/access");
    ft_deliver_sink_stats st = sink_stats(d, "mqtt");
    FT_CHECK_EQ(st.delivered, N);
    FT_CHECK_EQ(st.failed, 0);
    FT_CHECK_EQ(st.pending, 0);
    FT_CHECK(st.connected);

    // Retained states, as a subscriber arriving later sees them.
    char v[64];
    retained(port, "fttest/door_1/status", v, sizeof v);
    FT_CHECK_STREQ(v, "online");
    retained(port, "fttest/server/ft-dlv-test/status", v, sizeof v);
    FT_CHECK_STREQ(v, "online");
    ft_deliver_source_state(d, "door+1", false);
    sleep_s(0.3);
    retained(port, "fttest/door_1/status", v, sizeof v);
    FT_CHECK_STREQ(v, "offline");
    ft_deliver_stop(d);
    retained(port, "fttest/server/ft-dlv-test/status", v, sizeof v);
    FT_CHECK_STREQ(v, "offline");
    sub_stop(&s);
    broker_stop(&b);
    ft_gallery_close(g);
}

// The will: a facetracker that dies without a clean stop is reported
// offline by the broker itself.
static void test_mqtt_will(void)
{
    broker b = {0};
    if (access(MOSQUITTO, X_OK) != 0) {
        fprintf(stderr, "%s is missing\n", MOSQUITTO);
        ft_test_failures++;
        return;
    }
    int port = free_port();
    char host[64], v[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    // No broker yet: a stop does not hang in the client's reconnect loop.
    ft_deliver_opts o0 = ft_deliver_opts_default();
    o0.db_path = tmp_path("will0.db");
    o0.mqtt = host;
    ft_deliver *d0 = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_deliver_start(&o0, &d0, &err), &err);
    sleep_s(1.2); // past the first reconnect delay
    double t0 = ft_now_ms();
    ft_deliver_stop(d0);
    FT_CHECK(ft_now_ms() - t0 < 1500); // at most one reconnect delay (1 s)
    FT_ASSERT(broker_start(&b, port, "will", false));
    const char *topic = "fttest/server/ft-dlv-will/status";
    fflush(NULL);
    pid_t pid = fork();
    FT_ASSERT(pid >= 0);
    if (pid == 0) {
        ft_deliver_opts o = ft_deliver_opts_default();
        o.db_path = tmp_path("will.db");
        o.mqtt = host;
        o.mqtt_prefix = "fttest";
        o.mqtt_client_id = "ft-dlv-will";
        ft_deliver *d = NULL;
        if (ft_deliver_start(&o, &d, NULL) != FT_OK)
            _exit(3);
        pause(); // until killed: never stopped cleanly
        _exit(4);
    }
    for (int i = 0; i < 300; i++) {
        retained(port, topic, v, sizeof v);
        if (strcmp(v, "online") == 0)
            break;
        sleep_s(0.02);
    }
    FT_CHECK_STREQ(v, "online");
    kill(pid, SIGKILL);
    int ws;
    FT_CHECK_EQ(waitpid(pid, &ws, 0), pid);
    for (int i = 0; i < 300; i++) {
        retained(port, topic, v, sizeof v);
        if (strcmp(v, "offline") == 0)
            break;
        sleep_s(0.02);
    }
    FT_CHECK_STREQ(v, "offline");
    broker_stop(&b);
}

static bool mqtt_up(ft_deliver *d)
{
    return sink_stats(d, "mqtt").connected;
}

// The broker is down when events happen; once it is up they arrive. The
// subscriber's persistent session (stored by a first broker run) makes
// the broker keep the messages for it whenever they come, so the test
// does not depend on who connects first.
static void test_mqtt_late_broker(void)
{
    ft_err err = {0};
    broker b = {0};
    if (access(MOSQUITTO, X_OK) != 0) {
        fprintf(stderr, "%s is missing\n", MOSQUITTO);
        ft_test_failures++;
        return;
    }
    int port = free_port();
    FT_ASSERT(broker_start(&b, port, "late", true));
    subscriber s;
    FT_ASSERT(sub_start(&s, port, "ft-test-late", false, "fttest/+/access"));
    sub_stop(&s);
    broker_stop(&b); // saves the session

    ft_gallery *g = open_db("l.db");
    int64_t ann = person(g, "Ann");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("l.db");
    o.mqtt = host;
    o.mqtt_prefix = "fttest";
    o.mqtt_client_id = "ft-dlv-late";
    o.backoff_min_s = 0.05;
    o.backoff_max_s = 0.3;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    enum { N = 3 };
    char uids[N][33];
    for (int i = 0; i < N; i++)
        add_event(g, "door", ann, names, ns, uids[i]);
    ft_deliver_kick(d);
    FT_CHECK_EQ(ft_deliver_flush(d, 0.8, &err), FT_E_BUSY);
    ft_deliver_sink_stats st = sink_stats(d, "mqtt");
    FT_CHECK(!st.connected);
    FT_CHECK(st.retries >= 1);
    FT_CHECK_EQ(st.delivered, 0);
    FT_CHECK(strstr(st.last_error, "not connected") != NULL);

    FT_ASSERT(broker_start(&b, port, "late", true));
    FT_CHECK_OK(ft_deliver_flush(d, 40, &err), &err);
    st = sink_stats(d, "mqtt");
    FT_CHECK_EQ(st.delivered, N);
    FT_CHECK(st.connected);
    FT_ASSERT(sub_start(&s, port, "ft-test-late", false, "fttest/+/access"));
    FT_CHECK_EQ(sub_wait(&s, "/access", N), N);
    check_access(&s, uids, N, "fttest/door/access");
    sub_stop(&s);

    // The broker goes away and comes back: the client reconnects and the
    // rows queued meanwhile follow, once each.
    broker_stop(&b);
    for (int i = 0; i < 200 && mqtt_up(d); i++)
        sleep_s(0.01);
    FT_CHECK(!mqtt_up(d));
    char more[N + 2][33];
    memcpy(more, uids, sizeof uids);
    for (int i = N; i < N + 2; i++)
        add_event(g, "door", ann, names, ns, more[i]);
    ft_deliver_kick(d);
    FT_CHECK_EQ(ft_deliver_flush(d, 0.5, &err), FT_E_BUSY);
    FT_ASSERT(broker_start(&b, port, "late", true));
    FT_CHECK_OK(ft_deliver_flush(d, 40, &err), &err);
    st = sink_stats(d, "mqtt");
    FT_CHECK_EQ(st.delivered, N + 2);
    FT_ASSERT(sub_start(&s, port, "ft-test-late", false, "fttest/+/access"));
    FT_CHECK_EQ(sub_wait(&s, "/access", 2), 2);
    check_access(&s, more + N, 2, "fttest/door/access");
    sub_stop(&s);
    ft_deliver_stop(d);
    broker_stop(&b);
    ft_gallery_close(g);
}

// ---- The door hook ----

// The hook script: appends its argument and environment to the file named
// by its first argument, one KEY=value per line, then "END".
static const char *hook_script = "#!/bin/sh\n"
                                 "{\n"
                                 "  printf 'ARG2=%s\\n' \"$2\"\n"
                                 "  printf 'FT_EVENT_JSON=%s\\n' \"$FT_EVENT_JSON\"\n"
                                 "  printf 'FT_EVENT_ID=%s\\n' \"$FT_EVENT_ID\"\n"
                                 "  printf 'FT_EVENT_UID=%s\\n' \"$FT_EVENT_UID\"\n"
                                 "  printf 'FT_SOURCE=%s\\n' \"$FT_SOURCE\"\n"
                                 "  printf 'FT_TRACK=%s\\n' \"$FT_TRACK\"\n"
                                 "  printf 'FT_DECISION=%s\\n' \"$FT_DECISION\"\n"
                                 "  printf 'FT_REASON=%s\\n' \"$FT_REASON\"\n"
                                 "  printf 'FT_PERSON_ID=%s\\n' \"$FT_PERSON_ID\"\n"
                                 "  printf 'FT_PERSON_NAME=%s\\n' \"$FT_PERSON_NAME\"\n"
                                 "  printf 'FT_DISTANCE=%s\\n' \"$FT_DISTANCE\"\n"
                                 "  printf 'HOME=%s\\n' \"${HOME-unset}\"\n"
                                 "  echo END\n"
                                 "} >> \"$1\"\n";

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    FT_ASSERT(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void read_text(const char *path, ft_buf *b)
{
    ft_buf_deinit(b); // ft_file_read starts from an empty buffer
    ft_buf_init(b, 0);
    ft_err err = {0};
    if (access(path, F_OK) == 0)
        FT_CHECK_OK(ft_file_read(path, 0, b, &err), &err);
    ft_buf_terminate(b);
}

static int count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, len) == 0 && p[len] == '\n')
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static void test_hook(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("h.db");
    const char *weird = "O'Neil \"Jo\" $(touch pwned) `id` ; rm -rf x";
    int64_t p = person(g, weird);
    char script[512], out[512], cmd[1400], pwned[512];
    snprintf(script, sizeof script, "%s", tmp_path("door hook.sh"));
    snprintf(out, sizeof out, "%s", tmp_path("hook out.txt"));
    snprintf(pwned, sizeof pwned, "%s", tmp_path("pwned"));
    write_file(script, hook_script, 0755);
    snprintf(cmd, sizeof cmd, "'%s' \"%s\" 'x $(touch pwned) \"y\"'", script, out);

    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("h.db");
    o.on_grant = cmd;
    o.backoff_min_s = 0.05;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    FT_ASSERT(d);
    const char *const *names;
    FT_CHECK_EQ(ft_deliver_sinks(d, FT_DECISION_DENIED, &names), 0);
    size_t ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    FT_CHECK(ns == 1 && strcmp(names[0], "hook") == 0);

    // A granted event with every field the hook sees.
    ft_event e;
    ft_event_init(&e);
    snprintf(e.source, sizeof e.source, "front door");
    e.decision = FT_DECISION_GRANTED;
    snprintf(e.reason, sizeof e.reason, "match");
    e.person_id = p;
    e.distance = 0.25;
    e.track_id = 42;
    FT_CHECK_OK(ft_gallery_event_add_outbox(g, &e, names, ns, &err), &err);
    // A denied event queued for the hook anyway (by mistake): never run.
    const char *hook_only[] = {"hook"};
    int64_t denied = add_event(g, "front door", 0, hook_only, 1, NULL);
    // A granted event from long ago: given up, not run.
    ft_event old;
    ft_event_init(&old);
    snprintf(old.source, sizeof old.source, "front door");
    old.decision = FT_DECISION_GRANTED;
    snprintf(old.reason, sizeof old.reason, "match");
    old.person_id = p;
    old.time = ft_wall_s() - 100;
    FT_CHECK_OK(ft_gallery_event_add_outbox(g, &old, names, ns, &err), &err);
    ft_deliver_kick(d);
    FT_CHECK_OK(ft_deliver_flush(d, 10, &err), &err);

    ft_buf b;
    ft_buf_init(&b, 0);
    read_text(out, &b);
    const char *text = (const char *)b.data;
    FT_CHECK_EQ(count_lines(text, "END"), 1); // only the fresh granted event ran
    ft_event got;
    FT_CHECK_OK(ft_gallery_event_get(g, e.id, &got, &err), &err);
    ft_buf json;
    ft_buf_init(&json, 0);
    FT_CHECK_OK(ft_gallery_event_json(&got, &json), NULL);
    ft_buf_terminate(&json);
    char want[4096];
    snprintf(want, sizeof want,
             "ARG2=x $(touch pwned) \"y\"\n"
             "FT_EVENT_JSON=%s\n"
             "FT_EVENT_ID=%lld\n"
             "FT_EVENT_UID=%s\n"
             "FT_SOURCE=front door\n"
             "FT_TRACK=42\n"
             "FT_DECISION=granted\n"
             "FT_REASON=match\n"
             "FT_PERSON_ID=%lld\n"
             "FT_PERSON_NAME=%s\n"
             "FT_DISTANCE=0.25\n"
             "HOME=unset\n" // nothing but PATH and FT_* is passed on
             "END\n",
             (const char *)json.data, (long long)e.id, e.uid, (long long)p, weird);
    FT_CHECK_STREQ(text, want);
    FT_CHECK(access(pwned, F_OK) != 0); // nothing was run by a shell
    FT_CHECK(strstr((const char *)json.data, weird) == NULL); // JSON escapes the quotes

    int64_t pending, failed;
    counts(g, "hook", &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    FT_CHECK_EQ(failed, 2);
    ft_deliver_sink_stats st = sink_stats(d, "hook");
    FT_CHECK_EQ(st.delivered, 1);
    FT_CHECK_EQ(st.failed, 2);
    FT_CHECK(denied > 0);
    ft_deliver_stop(d);
    ft_buf_deinit(&json);
    ft_buf_deinit(&b);
    ft_gallery_close(g);
}

// A hook that hangs is killed at its time limit (with its children),
// retried, and given up once the event is older than hook_max_age_s.
static void test_hook_timeout(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("t.db");
    int64_t p = person(g, "Ann");
    char script[512], out[512];
    snprintf(script, sizeof script, "%s", tmp_path("hang.sh"));
    snprintf(out, sizeof out, "%s", tmp_path("hang.txt"));
    write_file(script,
               "#!/bin/sh\n"
               "sleep 30 &\n"
               "echo \"start $!\" >> \"$1\"\n"
               "wait\n"
               "echo end >> \"$1\"\n",
               0755);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "%s %s", script, out);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("t.db");
    o.on_grant = cmd;
    o.hook_timeout_s = 0.5;
    o.hook_max_age_s = 2.0;
    o.backoff_min_s = 0.1;
    o.backoff_max_s = 0.2;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    FT_ASSERT(d);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    double t0 = ft_now_ms();
    add_event(g, "door", p, names, ns, NULL);
    ft_deliver_kick(d);
    FT_CHECK_OK(ft_deliver_flush(d, 10, &err), &err);
    double took = (ft_now_ms() - t0) / 1000.0;
    // Given up once older than 2 s: at the first attempt after that,
    // which starts at most one backoff (0.2 s) plus one kill (0.5 s) later;
    // 2 s more for a loaded machine. Attempts at about 0, 0.6, 1.3 s.
    FT_CHECK(took >= 2.0 && took < 4.7);
    int64_t pending, failed;
    counts(g, "hook", &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    FT_CHECK_EQ(failed, 1);
    ft_deliver_sink_stats st = sink_stats(d, "hook");
    FT_CHECK(st.retries >= 2);
    FT_CHECK_EQ(st.failed, 1);
    FT_CHECK_EQ(st.delivered, 0);
    FT_CHECK(strstr(st.last_error, "old") != NULL);
    ft_deliver_stop(d);

    ft_buf b;
    ft_buf_init(&b, 0);
    read_text(out, &b);
    const char *text = (const char *)b.data;
    FT_CHECK(strstr(text, "end") == NULL);
    int starts = 0;
    for (const char *s = text; (s = strstr(s, "start ")) != NULL; s++) {
        starts++;
        // The hook's child (sleep) died with it: gone, or a zombie.
        long pid = strtol(s + 6, NULL, 10);
        char path[64], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(stat, sizeof stat, f))
                stat[0] = '\0';
            fclose(f);
            const char *rp = strrchr(stat, ')');
            FT_CHECK(rp && rp[1] == ' ' && rp[2] == 'Z');
        }
    }
    FT_CHECK(starts >= 2);
    ft_buf_deinit(&b);
    ft_gallery_close(g);
}

// A webhook receiver that never answers does not hold up the door hook:
// each sink has its own thread.
static void test_hook_isolated(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("i.db");
    int64_t p = person(g, "Ann");
    // Accepts connections (the kernel's backlog) but never reads or answers.
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FT_ASSERT(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 8) == 0);
    FT_ASSERT(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    char url[128], script[512], out[512], cmd[1100];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    snprintf(script, sizeof script, "%s", tmp_path("iso.sh"));
    snprintf(out, sizeof out, "%s", tmp_path("iso.txt"));
    write_file(script, hook_script, 0755);
    snprintf(cmd, sizeof cmd, "%s %s", script, out);
    ft_deliver_opts o = ft_deliver_opts_default();
    o.db_path = tmp_path("i.db");
    o.n_webhooks = 1;
    o.webhooks[0].url = url;
    o.webhook_timeout_s = 3;
    o.on_grant = cmd;
    ft_deliver *d = NULL;
    FT_CHECK_OK(ft_deliver_start(&o, &d, &err), &err);
    FT_ASSERT(d);
    const char *const *names;
    size_t ns = ft_deliver_sinks(d, FT_DECISION_GRANTED, &names);
    FT_CHECK_EQ(ns, 2);
    double t0 = ft_now_ms();
    add_event(g, "door", p, names, ns, NULL); // the webhook row first
    ft_deliver_kick(d);
    ft_buf b;
    ft_buf_init(&b, 0);
    double took = -1;
    for (int i = 0; i < 300 && took < 0; i++) {
        read_text(out, &b);
        if (count_lines((const char *)b.data, "END") == 1)
            took = (ft_now_ms() - t0) / 1000.0;
        else
            sleep_s(0.01);
    }
    // The hook ran while the webhook was still waiting for its 3 s timeout
    // (1.5 s leaves room for a loaded machine).
    FT_CHECK(took >= 0 && took < 1.5);
    ft_deliver_sink_stats st = sink_stats(d, "webhook");
    FT_CHECK_EQ(st.delivered, 0);
    ft_deliver_stop(d); // waits for the webhook attempt to time out
    int64_t pending, failed;
    counts(g, "hook", &pending, &failed);
    FT_CHECK_EQ(pending, 0);
    counts(g, st.name, &pending, &failed);
    FT_CHECK_EQ(pending, 1);
    close(lfd);
    ft_buf_deinit(&b);
    ft_gallery_close(g);
}

static const ft_test_case cases[] = {
    {"event_fields", test_event_fields},
    {"event_json", test_event_json},
    {"outbox_store", test_outbox_store},
    {"outbox_crash", test_outbox_crash},
    {"hmac", test_hmac},
    {"split_argv", test_split_argv},
    {"webhook", test_webhook},
    {"webhook_restart", test_webhook_restart},
    {"mqtt", test_mqtt},
    {"mqtt_late_broker", test_mqtt_late_broker},
    {"mqtt_will", test_mqtt_will},
    {"hook", test_hook},
    {"hook_timeout", test_hook_timeout},
    {"hook_isolated", test_hook_isolated},
};

FT_TEST_MAIN(cases)
