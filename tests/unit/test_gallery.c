// Unit and reliability tests for src/gallery: the store (people, samples,
// enrolment, events, settings, keys, migrations), crash and concurrency
// behaviour across processes, 1:N matching and its kernels, and
// calibration. Every case works in its own mkdtemp() directory.
//
// Both backends run the same cases: with FT_TEST_GALLERY_URL unset every
// gallery is a SQLite file in that directory; set to a postgresql:// URL
// (tests/unit/gallery_pg.cmake, a throwaway cluster from
// tests/tools/pg_cluster.sh) every gallery name is a schema of its own in
// that database, dropped at the end. Checks of SQLite's files (WAL, bytes
// on disk, permissions, corruption, PRAGMAs) run on SQLite only; cases made
// of nothing else exit 77 (skipped) on PostgreSQL.
#define _GNU_SOURCE
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "ft_test.h"
#include "gallery/gallery.h"
#include "gallery/sqdist.h"
#include "gallery/store.h"

#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// ---- Helpers ----

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char p[512];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_gallery_XXXXXX");
        if (!mkdtemp(tmp_dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

// ---- Backends ----

static const char *pg_base(void)
{
    const char *u = getenv("FT_TEST_GALLERY_URL");
    return u && *u ? u : NULL;
}

static bool on_pg(void)
{
    return pg_base() != NULL;
}

// Cases (or checks) that exercise SQLite's files only.
#define SKIP_ON_PG(why)                                                                    \
    do {                                                                                   \
        if (on_pg()) {                                                                     \
            printf("SKIP on PostgreSQL: %s\n", why);                                       \
            fflush(NULL);                                                                  \
            exit(77);                                                                      \
        }                                                                                  \
    } while (0)

static char pg_prefix[32]; // "ft<pid>_": this run's schemas (set in main, before any fork)
static pid_t main_pid;

// One statement on a plain connection to `url`; the first column of the
// first row as an integer (-1 on any failure, reported).
static void pg_quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

static long long pg_one(const char *url, const char *sql)
{
    long long v = -1;
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg: connect: %s", PQerrorMessage(c));
    } else {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else if (st == PGRES_COMMAND_OK)
            v = 0;
        else
            fprintf(stderr, "pg: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

// Where the gallery called `name` lives: a SQLite file in the case's
// folder, or (PostgreSQL) the base URL with search_path set to a schema of
// its own, created on first use. Returns a static buffer, as tmp_path.
static const char *gallery_loc(const char *name)
{
    if (!on_pg())
        return tmp_path(name);
    static char url[1024];
    char schema[64], sql[160];
    size_t k = (size_t)snprintf(schema, sizeof schema, "%s", pg_prefix);
    for (const char *p = name; *p && k + 1 < sizeof schema; p++)
        schema[k++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_');
    schema[k] = '\0';
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    if (pg_one(pg_base(), sql) != 0) {
        fprintf(stderr, "cannot create schema %s\n", schema);
        exit(1);
    }
    snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s", pg_base(),
             strchr(pg_base(), '?') ? "&" : "?", schema);
    return url;
}

static void pg_cleanup(void)
{
    if (!on_pg() || !pg_prefix[0] || getpid() != main_pid)
        return; // a forked child leaving early must not drop the parent's schemas
    char sql[512];
    snprintf(sql, sizeof sql,
             "DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE "
             "nspname LIKE '%s%%' LOOP EXECUTE 'DROP SCHEMA ' || quote_ident(s) || ' CASCADE';"
             " END LOOP; END$$",
             pg_prefix);
    pg_one(pg_base(), sql);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void tmp_cleanup(void)
{
    if (tmp_dir[0])
        nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9e3779b97f4a7c15ull + 1;
}

static double rng_uniform(void) // [0, 1)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

// The test's descriptor space: 128 floats compared by Euclidean distance,
// as face-api's ResNet.
#define TEST_DIM 128
static const ft_gallery_space test_space = {"test-space@1", TEST_DIM, FT_METRIC_EUCLIDEAN};

// Storage for make_sample's descriptors (ft_sample borrows them): a ring
// far larger than the samples any test keeps alive at once.
static float *sample_storage(void)
{
    static float ring[4096][TEST_DIM];
    static unsigned next;
    return ring[next++ % 4096];
}

// A face-api-like descriptor: a person's centre in [-0.1, 0.1]^128 (random
// pairs are ~0.9 apart) plus per-sample noise of `noise` per component.
static void person_centre(int person, float *c)
{
    uint64_t saved = rng_state;
    rng_seed(1000 + (uint64_t)person);
    for (int k = 0; k < TEST_DIM; k++)
        c[k] = (float)(rng_uniform() * 0.2 - 0.1);
    rng_state = saved;
}

static void make_sample(ft_sample *s, int person, double noise)
{
    memset(s, 0, sizeof *s);
    s->descriptor = sample_storage();
    s->dim = TEST_DIM;
    snprintf(s->model, sizeof s->model, "%s", test_space.name);
    person_centre(person, s->descriptor);
    for (int k = 0; k < TEST_DIM; k++)
        s->descriptor[k] += (float)((rng_uniform() * 2 - 1) * noise);
    s->detector_score = 0.95;
    s->face_w = s->face_h = 120;
}

static ft_gallery *open_db(const char *name)
{
    ft_gallery *g = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_open(gallery_loc(name), NULL, &g, &err), &err);
    FT_ASSERT(g != NULL);
    return g;
}

static int64_t enroll(ft_gallery *g, const char *name, int person, int n_samples)
{
    ft_sample s[8];
    int64_t pid = 0;
    ft_err err = {0};
    FT_ASSERT(n_samples <= 8);
    for (int i = 0; i < n_samples; i++)
        make_sample(&s[i], person, 0.005);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, name, s, (size_t)n_samples, &pid, NULL, &err), &err);
    return pid;
}

static ft_gallery_counts counts(ft_gallery *g)
{
    ft_gallery_counts c = {-1, -1, -1, -1};
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_counts_get(g, &c, &err), &err);
    return c;
}

// Count of rows from a raw SQL query on a separate plain connection.
static long long sql_count(const char *path, const char *sql)
{
    if (on_pg())
        return pg_one(path, sql);
    sqlite3 *db;
    sqlite3_stmt *s;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return v;
}

// ---- Store ----

static void test_open(void)
{
    SKIP_ON_PG("checks SQLite files (user_version, WAL, missing and foreign files)");
    ft_err err = {0};
    ft_gallery *g = open_db("a.db");
    FT_CHECK_EQ(ft_gallery_schema_version(g), FT_GALLERY_SCHEMA_VERSION);
    FT_CHECK(!ft_gallery_readonly(g));
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g);
    FT_CHECK_EQ(sql_count(tmp_path("a.db"), "PRAGMA user_version"), FT_GALLERY_SCHEMA_VERSION);
    // WAL is persistent in the file.
    sqlite3 *db;
    FT_CHECK_EQ(sqlite3_open(tmp_path("a.db"), &db), SQLITE_OK);
    sqlite3_stmt *s;
    FT_CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_step(s), SQLITE_ROW);
    FT_CHECK_STREQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    // Reopening an existing gallery works; NO_CREATE on a missing one fails.
    g = open_db("a.db");
    ft_gallery_close(g);
    ft_gallery_opts o = ft_gallery_opts_default();
    o.flags = FT_GALLERY_NO_CREATE;
    FT_CHECK_EQ(ft_gallery_open(tmp_path("missing.db"), &o, &g, &err), FT_E_NOT_FOUND);
    FT_CHECK(g == NULL);
    o.flags = FT_GALLERY_READONLY;
    FT_CHECK_EQ(ft_gallery_open(tmp_path("missing.db"), &o, &g, &err), FT_E_NOT_FOUND);
    FT_CHECK(access(tmp_path("missing.db"), F_OK) != 0);
    // Someone else's SQLite file is refused, not migrated.
    FT_CHECK_EQ(sqlite3_open(tmp_path("other.db"), &db), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    FT_CHECK_EQ(ft_gallery_open(tmp_path("other.db"), NULL, &g, &err), FT_E_DB);
    FT_CHECK(strstr(err.msg, "not a facetracker database") != NULL);
    ft_gallery_close(NULL);
}

static void test_names(void)
{
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_name_check("Zoë Ångström-李", &err), &err);
    FT_CHECK_EQ(ft_gallery_name_check("", &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_name_check(NULL, &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_name_check("a\tb", &err), FT_E_INVALID);
    FT_CHECK(strstr(err.msg, "control") != NULL);
    FT_CHECK_EQ(ft_gallery_name_check("a\x7f", &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_name_check("a\xc2\x85", &err), FT_E_INVALID); // C1 NEL
    FT_CHECK_EQ(ft_gallery_name_check("\xc3\x28", &err), FT_E_INVALID);  // bad continuation
    FT_CHECK_EQ(ft_gallery_name_check("\xc0\xaf", &err), FT_E_INVALID);  // overlong '/'
    FT_CHECK_EQ(ft_gallery_name_check("\xed\xa0\x80", &err), FT_E_INVALID); // surrogate
    FT_CHECK_EQ(ft_gallery_name_check("\xf4\x90\x80\x80", &err), FT_E_INVALID); // > U+10FFFF
    FT_CHECK_EQ(ft_gallery_name_check("\xe2\x82", &err), FT_E_INVALID); // truncated
    FT_CHECK_EQ(ft_gallery_name_check(" Ann", &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_name_check("Ann ", &err), FT_E_INVALID);
    char n[FT_GALLERY_NAME_MAX + 2];
    memset(n, 'x', sizeof n);
    n[FT_GALLERY_NAME_MAX] = '\0';
    FT_CHECK_OK(ft_gallery_name_check(n, &err), &err);
    n[FT_GALLERY_NAME_MAX] = 'x';
    n[FT_GALLERY_NAME_MAX + 1] = '\0';
    FT_CHECK_EQ(ft_gallery_name_check(n, &err), FT_E_INVALID);
}

static void test_people(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("p.db");
    int64_t a = 0, b = 0;
    FT_CHECK_OK(ft_gallery_person_add(g, "Ann", "E-1", "first floor", &a, &err), &err);
    FT_CHECK_OK(ft_gallery_person_add(g, "Bob", NULL, NULL, &b, &err), &err);
    FT_CHECK(a > 0 && b > 0 && a != b);
    FT_CHECK_EQ(ft_gallery_person_add(g, "Ann", NULL, NULL, NULL, &err), FT_E_EXISTS);
    FT_CHECK(strstr(err.msg, "named \"Ann\"") != NULL);
    FT_CHECK_EQ(ft_gallery_person_add(g, "Cy", "E-1", NULL, NULL, &err), FT_E_EXISTS);
    FT_CHECK(strstr(err.msg, "external id") != NULL);
    FT_CHECK_EQ(ft_gallery_person_add(g, "bad\nname", NULL, NULL, NULL, &err), FT_E_INVALID);

    ft_person p;
    FT_CHECK_OK(ft_gallery_person_get(g, a, &p, &err), &err);
    FT_CHECK_STREQ(p.name, "Ann");
    FT_CHECK_STREQ(p.external_id, "E-1");
    FT_CHECK_STREQ(p.notes, "first floor");
    FT_CHECK_EQ(p.n_samples, 0);
    FT_CHECK(p.created_at > 1.6e9 && p.updated_at >= p.created_at);
    FT_CHECK_OK(ft_gallery_person_find(g, "Bob", &p, &err), &err);
    FT_CHECK_EQ(p.id, b);
    FT_CHECK_STREQ(p.external_id, "");
    FT_CHECK_EQ(ft_gallery_person_find(g, "bob", &p, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(ft_gallery_person_get(g, 999, &p, &err), FT_E_NOT_FOUND);

    FT_CHECK_OK(ft_gallery_person_rename(g, b, "Bea", &err), &err);
    FT_CHECK_EQ(ft_gallery_person_rename(g, b, "Ann", &err), FT_E_EXISTS);
    FT_CHECK_EQ(ft_gallery_person_rename(g, 999, "Zed", &err), FT_E_NOT_FOUND);
    FT_CHECK_OK(ft_gallery_person_update(g, b, "E-2", NULL, &err), &err);
    FT_CHECK_OK(ft_gallery_person_update(g, a, "", "moved", &err), &err);
    FT_CHECK_EQ(ft_gallery_person_update(g, a, "E-2", NULL, &err), FT_E_EXISTS);
    FT_CHECK_OK(ft_gallery_person_get(g, a, &p, &err), &err);
    FT_CHECK_STREQ(p.external_id, "");
    FT_CHECK_STREQ(p.notes, "moved");

    ft_person *list = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_people_list(g, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    if (n == 2) {
        FT_CHECK_STREQ(list[0].name, "Ann");
        FT_CHECK_STREQ(list[1].name, "Bea");
        FT_CHECK_STREQ(list[1].external_id, "E-2");
    }
    ft_free(list);
    FT_CHECK_OK(ft_gallery_person_delete(g, a, &err), &err);
    FT_CHECK_EQ(ft_gallery_person_delete(g, a, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(counts(g).people, 1);
    ft_gallery_close(g);
}

static void test_enroll(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("e.db");
    ft_sample s[3];
    int64_t pid = 0, ids[3] = {0};
    for (int i = 0; i < 3; i++)
        make_sample(&s[i], 1, 0.01);
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9};
    s[0].thumbnail = jpeg;
    s[0].thumbnail_len = sizeof jpeg;
    snprintf(s[1].model, sizeof s[1].model, "other-model");
    snprintf(s[1].alignment, sizeof s[1].alignment, "similarity");
    memset(s[2].source_sha256, 'a', 64);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Ann", s, 3, &pid, ids, &err), &err);
    FT_CHECK(pid > 0 && ids[0] > 0 && ids[1] == ids[0] + 1 && ids[2] == ids[1] + 1);
    // By id, and by existing name, adds to the same person.
    int64_t pid2 = 0;
    FT_CHECK_OK(ft_gallery_enroll(g, pid, NULL, s, 1, &pid2, NULL, &err), &err);
    FT_CHECK_EQ(pid2, pid);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Ann", s + 2, 1, &pid2, NULL, &err), &err);
    FT_CHECK_EQ(pid2, pid);
    FT_CHECK_EQ(ft_gallery_enroll(g, 777, NULL, s, 1, NULL, NULL, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Ann", s, 0, NULL, NULL, &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "", s, 1, NULL, NULL, &err), FT_E_INVALID);
    ft_sample bad = s[0];
    float bad_desc[TEST_DIM];
    memcpy(bad_desc, s[0].descriptor, sizeof bad_desc);
    bad_desc[5] = NAN;
    bad.descriptor = bad_desc;
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Nan", &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    bad = s[0];
    snprintf(bad.alignment, sizeof bad.alignment, "tilted");
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Tilt", &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    bad = s[0];
    snprintf(bad.source_sha256, sizeof bad.source_sha256, "xyz");
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Sha", &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    // A rejected enrolment of a new name leaves no person behind.
    ft_sample two[2] = {s[0], bad};
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Half", two, 2, NULL, NULL, &err), FT_E_INVALID);
    ft_person p;
    FT_CHECK_EQ(ft_gallery_person_find(g, "Half", &p, &err), FT_E_NOT_FOUND);

    ft_sample *list = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_samples_list(g, pid, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 5);
    if (n == 5) {
        FT_CHECK_EQ(list[0].id, ids[0]);
        FT_CHECK_EQ(list[0].person_id, pid);
        FT_CHECK(memcmp(list[0].descriptor, s[0].descriptor, sizeof(float) * TEST_DIM) == 0);
        FT_CHECK_STREQ(list[0].model, test_space.name);
        FT_CHECK_EQ(list[0].dim, TEST_DIM);
        FT_CHECK_STREQ(list[0].alignment, "faceapi");
        FT_CHECK_EQ(list[0].thumbnail_len, sizeof jpeg);
        FT_CHECK(list[0].thumbnail == NULL);
        FT_CHECK_STREQ(list[1].model, "other-model");
        FT_CHECK_STREQ(list[1].alignment, "similarity");
        FT_CHECK_EQ(list[1].thumbnail_len, 0);
        FT_CHECK_EQ(strlen(list[2].source_sha256), 64);
        FT_CHECK_EQ(list[2].face_w, 120);
        FT_CHECK_DBL_EXACT(list[2].detector_score, 0.95); // a REAL round trip through SQLite
    }
    ft_free(list);
    ft_buf b;
    ft_buf_init(&b, 0);
    FT_CHECK_OK(ft_gallery_sample_thumbnail(g, ids[0], &b, &err), &err);
    FT_CHECK(b.len == sizeof jpeg && memcmp(b.data, jpeg, sizeof jpeg) == 0);
    FT_CHECK_OK(ft_gallery_sample_thumbnail(g, ids[1], &b, &err), &err);
    FT_CHECK_EQ(b.len, 0);
    FT_CHECK_EQ(ft_gallery_sample_thumbnail(g, 12345, &b, &err), FT_E_NOT_FOUND);
    ft_buf_deinit(&b);

    // Stored little-endian, exactly 512 bytes.
    FT_CHECK_EQ(sql_count(gallery_loc("e.db"), "SELECT count(*) FROM samples WHERE "
                                            "length(descriptor) = 512"),
                5);
    FT_CHECK_OK(ft_gallery_sample_delete(g, ids[1], &err), &err);
    FT_CHECK_EQ(ft_gallery_sample_delete(g, ids[1], &err), FT_E_NOT_FOUND);
    FT_CHECK_OK(ft_gallery_samples_list(g, 0, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 4);
    ft_free(list);
    ft_gallery_close(g);
}

// (e) Deleting a person removes every sample and thumbnail of theirs; their
// events stay, anonymised in person_id but with name_at_time, and lose
// their thumbnails; secure_delete leaves no copy of the bytes in the file.
static void test_delete_cascade(void)
{
    ft_err err = {0};
    const char *path = tmp_path("d.db");
    ft_gallery *g = open_db("d.db");
    if (on_pg())
        path = NULL; // no file to search
    static const char marker[] = "THUMB-MARKER-5c0e8d1b";
    ft_sample s[3];
    for (int i = 0; i < 3; i++) {
        make_sample(&s[i], 1, 0.01);
        s[i].thumbnail = (const uint8_t *)marker;
        s[i].thumbnail_len = sizeof marker;
    }
    int64_t ann = 0;
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Ann", s, 3, &ann, NULL, &err), &err);
    int64_t bob = enroll(g, "Bob", 2, 2);
    ft_event ev = {0};
    snprintf(ev.source, sizeof ev.source, "front door");
    snprintf(ev.reason, sizeof ev.reason, "match");
    ev.decision = FT_DECISION_GRANTED;
    ev.person_id = ann;
    ev.distance = 0.3, ev.margin = 0.4, ev.detector_score = 0.9;
    ev.thumbnail = (const uint8_t *)marker;
    ev.thumbnail_len = sizeof marker;
    FT_CHECK_OK(ft_gallery_event_add(g, &ev, &err), &err);
    FT_CHECK_OK(ft_gallery_person_delete(g, ann, &err), &err);
    ft_gallery_counts c = counts(g);
    FT_CHECK_EQ(c.people, 1);
    FT_CHECK_EQ(c.samples, 2);
    FT_CHECK_EQ(c.events, 1);
    ft_sample *list;
    size_t n;
    FT_CHECK_OK(ft_gallery_samples_list(g, 0, &list, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        FT_CHECK_EQ(list[i].person_id, bob);
    ft_free(list);
    ft_event *evs;
    FT_CHECK_OK(ft_gallery_events_query(g, &(ft_event_query){.decision = -1}, &evs, &n, NULL,
                                        &err),
                &err);
    FT_CHECK_EQ(n, 1);
    if (n == 1) {
        FT_CHECK_EQ(evs[0].person_id, 0);
        FT_CHECK_STREQ(evs[0].name_at_time, "Ann");
        FT_CHECK_EQ(evs[0].thumbnail_len, 0);
    }
    ft_free(evs);
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g); // the last connection checkpoints and removes the WAL

    // No copy of the thumbnail bytes remains anywhere in the file.
    if (!path)
        return;
    ft_buf f;
    ft_buf_init(&f, 0);
    FT_CHECK_OK(ft_file_read(path, 0, &f, &err), &err);
    FT_CHECK(memmem(f.data, f.len, marker, sizeof marker - 1) == NULL);
    ft_buf_deinit(&f);
}

static void test_settings(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("s.db");
    char v[64];
    FT_CHECK_EQ(ft_gallery_setting_get(g, "door.name", v, sizeof v, &err), FT_E_NOT_FOUND);
    FT_CHECK_OK(ft_gallery_setting_set(g, "door.name", "lobby", &err), &err);
    FT_CHECK_OK(ft_gallery_setting_get(g, "door.name", v, sizeof v, &err), &err);
    FT_CHECK_STREQ(v, "lobby");
    FT_CHECK_OK(ft_gallery_setting_set(g, "door.name", "lobby 2", &err), &err);
    FT_CHECK_OK(ft_gallery_setting_get(g, "door.name", v, sizeof v, &err), &err);
    FT_CHECK_STREQ(v, "lobby 2");
    FT_CHECK_EQ(ft_gallery_setting_get(g, "door.name", v, 4, &err), FT_E_LIMIT);
    FT_CHECK_EQ(ft_gallery_setting_set(g, "Bad Key", "x", &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_setting_set(g, "generation", "7", &err), FT_E_INVALID);
    FT_CHECK_OK(ft_gallery_setting_delete(g, "door.name", &err), &err);
    FT_CHECK_EQ(ft_gallery_setting_get(g, "door.name", v, sizeof v, &err), FT_E_NOT_FOUND);

    double d;
    int64_t i;
    FT_CHECK_OK(ft_gallery_setting_get_double(g, "x", 1.5, &d, &err), &err);
    FT_CHECK_DBL_EXACT(d, 1.5); // the default, handed back untouched
    FT_CHECK_OK(ft_gallery_setting_set_double(g, "x", 0.1, &err), &err);
    FT_CHECK_OK(ft_gallery_setting_get_double(g, "x", 1.5, &d, &err), &err);
    FT_CHECK(d == 0.1); // %.17g round-trips exactly
    FT_CHECK_EQ(ft_gallery_setting_set_double(g, "x", NAN, &err), FT_E_INVALID);
    FT_CHECK_OK(ft_gallery_setting_set(g, "x", "0.5abc", &err), &err);
    FT_CHECK_EQ(ft_gallery_setting_get_double(g, "x", 1.5, &d, &err), FT_E_FORMAT);
    FT_CHECK_OK(ft_gallery_setting_set_int(g, "n", -42, &err), &err);
    FT_CHECK_OK(ft_gallery_setting_get_int(g, "n", 0, &i, &err), &err);
    FT_CHECK_EQ(i, -42);
    FT_CHECK_EQ(ft_gallery_setting_get_int(g, "x", 0, &i, &err), FT_E_FORMAT);

    ft_gallery_policy p;
    FT_CHECK_OK(ft_gallery_policy_load(g, &p, &err), &err);
    // Nothing stored: the defaults themselves, bit for bit.
    FT_CHECK_DBL_EXACT(p.threshold, FT_GALLERY_DEFAULT_THRESHOLD);
    FT_CHECK_DBL_EXACT(p.margin, FT_GALLERY_DEFAULT_MARGIN);
    FT_CHECK_DBL_EXACT(p.min_face_px, FT_GALLERY_DEFAULT_MIN_FACE_PX);
    FT_CHECK_DBL_EXACT(p.min_detector_score, FT_GALLERY_DEFAULT_MIN_SCORE);
    p.threshold = 0.55;
    p.min_face_px = 64;
    FT_CHECK_OK(ft_gallery_policy_save(g, &p, &err), &err);
    ft_gallery_policy q;
    FT_CHECK_OK(ft_gallery_policy_load(g, &q, &err), &err);
    FT_CHECK(q.threshold == 0.55 && q.min_face_px == 64 && q.margin == p.margin);
    p.threshold = -1;
    FT_CHECK_EQ(ft_gallery_policy_save(g, &p, &err), FT_E_INVALID);
    p.threshold = 0.5;
    p.min_detector_score = 2;
    FT_CHECK_EQ(ft_gallery_policy_save(g, &p, &err), FT_E_INVALID);
    FT_CHECK_OK(ft_gallery_setting_set(g, "margin", "5000", &err), &err);
    FT_CHECK_EQ(ft_gallery_policy_load(g, &q, &err), FT_E_INVALID);
    ft_gallery_close(g);
}

// ---- Events ----

static void add_event(ft_gallery *g, double t, const char *src, ft_decision d, const char *reason,
                      int64_t person)
{
    ft_err err = {0};
    ft_event ev = {0};
    ev.time = t;
    snprintf(ev.source, sizeof ev.source, "%s", src);
    snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    ev.decision = d;
    ev.person_id = person;
    ev.distance = person ? 0.25 : NAN;
    ev.margin = person ? INFINITY : NAN;
    ev.detector_score = 0.875;
    FT_CHECK_OK(ft_gallery_event_add(g, &ev, &err), &err);
    FT_CHECK(ev.id > 0);
}

static void test_events(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("ev.db");
    int64_t ann = enroll(g, "Ann", 1, 1), bob = enroll(g, "Bob", 2, 1);
    // 30 events: t = 1000 + i, alternating doors, every third unknown.
    for (int i = 0; i < 30; i++) {
        bool unknown = i % 3 == 0;
        add_event(g, 1000 + i, i % 2 ? "back" : "front",
                  unknown ? FT_DECISION_DENIED : FT_DECISION_GRANTED,
                  unknown ? "unknown" : "match", unknown ? 0 : (i % 3 == 1 ? ann : bob));
    }
    ft_event *ev = NULL;
    size_t n = 0;
    int64_t total = 0;
    ft_event_query q = ft_event_query_default();
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    FT_CHECK_EQ(n, 30);
    FT_CHECK_EQ(total, 30);
    FT_CHECK(n == 30 && ev[0].time == 1029 && ev[29].time == 1000); // newest first
    ft_free(ev);

    q.since = 1010, q.until = 1020; // [1010, 1020)
    q.oldest_first = true;
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    FT_CHECK_EQ(n, 10);
    FT_CHECK(n == 10 && ev[0].time == 1010 && ev[9].time == 1019);
    ft_free(ev);

    q = ft_event_query_default();
    q.person_id = -1; // unknown faces: i = 0, 3, ..., 27
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    FT_CHECK_EQ(n, 10);
    for (size_t i = 0; i < n; i++) {
        FT_CHECK_EQ(ev[i].person_id, 0);
        FT_CHECK_EQ(ev[i].decision, FT_DECISION_DENIED);
        FT_CHECK(isnan(ev[i].distance));
    }
    ft_free(ev);

    q = ft_event_query_default();
    q.person_id = ann; // i % 3 == 1: 10 events
    q.source = "back"; // odd i: i = 1, 7, 13, 19, 25
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    FT_CHECK_EQ(n, 5);
    FT_CHECK_EQ(total, 5);
    if (n == 5) {
        FT_CHECK_STREQ(ev[0].name_at_time, "Ann");
        FT_CHECK(isinf(ev[0].margin) && ev[0].margin > 0);
        FT_CHECK_DBL_EXACT(ev[0].distance, 0.25);
        FT_CHECK_DBL_EXACT(ev[0].time, 1025.0); // a REAL round trip through SQLite
    }
    ft_free(ev);

    q = ft_event_query_default();
    q.decision = FT_DECISION_GRANTED;
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    FT_CHECK_EQ(n, 20);
    ft_free(ev);

    // Pagination: pages of 7 cover all 30 in order, without overlap.
    q = ft_event_query_default();
    q.limit = 7;
    double last = 1e18;
    size_t seen = 0;
    for (q.offset = 0; q.offset < 35; q.offset += 7) {
        FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
        FT_CHECK_EQ(total, 30);
        FT_CHECK_EQ(n, q.offset + 7 <= 30 ? 7 : q.offset < 30 ? 30 - q.offset : 0);
        for (size_t i = 0; i < n; i++) {
            FT_CHECK(ev[i].time < last);
            last = ev[i].time;
        }
        seen += n;
        ft_free(ev);
    }
    FT_CHECK_EQ(seen, 30);

    // Invalid events.
    ft_event bad = {0};
    snprintf(bad.source, sizeof bad.source, "door");
    snprintf(bad.reason, sizeof bad.reason, "match");
    bad.decision = FT_DECISION_GRANTED;
    FT_CHECK_EQ(ft_gallery_event_add(g, &bad, &err), FT_E_INVALID); // granted, no person
    bad.person_id = 4242;
    FT_CHECK_EQ(ft_gallery_event_add(g, &bad, &err), FT_E_NOT_FOUND);
    bad.person_id = ann;
    bad.source[0] = '\0';
    FT_CHECK_EQ(ft_gallery_event_add(g, &bad, &err), FT_E_INVALID);
    q = ft_event_query_default();
    q.decision = 5;
    FT_CHECK_EQ(ft_gallery_events_query(g, &q, &ev, &n, NULL, &err), FT_E_INVALID);
    ft_gallery_close(g);
}

static void test_events_csv(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("csv.db");
    int64_t p = enroll(g, "O'Neil, \"Jo\"", 1, 1);
    int64_t f = enroll(g, "=HYPERLINK(1)", 2, 1);
    add_event(g, 1700000000.25, "door,1", FT_DECISION_GRANTED, "match", p);
    add_event(g, 1700000001.5, "lobby", FT_DECISION_DENIED, "unknown", 0);
    add_event(g, 1700000002.0, "hall \"B\"", FT_DECISION_GRANTED, "match", f);
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_event_query q = ft_event_query_default();
    q.oldest_first = true;
    FT_CHECK_OK(ft_gallery_events_csv(g, &q, &b, &err), &err);
    const char *want =
        "id,time,time_utc,source,decision,reason,person_id,name,distance,margin,"
        "detector_score\r\n"
        "1,1700000000.250,2023-11-14T22:13:20.250Z,\"door,1\",granted,match,1,"
        "\"O'Neil, \"\"Jo\"\"\",0.250000,inf,0.8750\r\n"
        "2,1700000001.500,2023-11-14T22:13:21.500Z,lobby,denied,unknown,,,,,0.8750\r\n"
        "3,1700000002.000,2023-11-14T22:13:22.000Z,\"hall \"\"B\"\"\",granted,match,2,"
        "'=HYPERLINK(1),0.250000,inf,0.8750\r\n";
    FT_CHECK_STREQ((const char *)b.data, want);
    // Filters apply to the export too.
    b.len = 0;
    q.decision = FT_DECISION_DENIED;
    FT_CHECK_OK(ft_gallery_events_csv(g, &q, &b, &err), &err);
    FT_CHECK(strstr((const char *)b.data, "lobby") && !strstr((const char *)b.data, "door"));
    ft_buf_deinit(&b);
    ft_gallery_close(g);
}

// ---- API keys ----

static void test_keys(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("k.db");
    char tok[FT_KEY_TOKEN_MAX], tok2[FT_KEY_TOKEN_MAX];
    int64_t id = 0, id2 = 0;
    FT_CHECK_OK(ft_gallery_key_create(g, "door 1", FT_ROLE_DEVICE, tok, &id, &err), &err);
    FT_CHECK_OK(ft_gallery_key_create(g, "admin", FT_ROLE_ADMIN, tok2, &id2, &err), &err);
    FT_CHECK(strncmp(tok, "ftk_", 4) == 0 && strlen(tok) == 4 + 1 + 1 + 64);
    FT_CHECK(strcmp(tok, tok2) != 0);
    ft_api_key k;
    FT_CHECK_OK(ft_gallery_key_verify(g, tok, &k, &err), &err);
    FT_CHECK_EQ(k.id, id);
    FT_CHECK_EQ(k.role, FT_ROLE_DEVICE);
    FT_CHECK_STREQ(k.name, "door 1");
    FT_CHECK(k.last_used_at > 0 && k.revoked_at == 0);
    FT_CHECK_OK(ft_gallery_key_verify(g, tok2, &k, &err), &err);
    FT_CHECK_EQ(k.role, FT_ROLE_ADMIN);

    // Wrong keys: one flipped digit, another key's id, garbage, empty.
    char bad[256];
    snprintf(bad, sizeof bad, "%s", tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    FT_CHECK_EQ(ft_gallery_key_verify(g, bad, &k, &err), FT_E_AUTH);
    FT_CHECK_STREQ(err.msg, "invalid or revoked API key");
    snprintf(bad, sizeof bad, "ftk_%lld_%s", (long long)id2, strrchr(tok, '_') + 1);
    FT_CHECK_EQ(ft_gallery_key_verify(g, bad, &k, &err), FT_E_AUTH);
    FT_CHECK_EQ(ft_gallery_key_verify(g, "ftk_99_x", &k, &err), FT_E_AUTH);
    FT_CHECK_EQ(ft_gallery_key_verify(g, "", &k, &err), FT_E_AUTH);
    FT_CHECK_EQ(ft_gallery_key_verify(g, NULL, &k, &err), FT_E_AUTH);
    snprintf(bad, sizeof bad, "ftk_%lld_%s", (long long)id + 100, strrchr(tok, '_') + 1);
    FT_CHECK_EQ(ft_gallery_key_verify(g, bad, &k, &err), FT_E_AUTH);

    ft_api_key *list;
    size_t n;
    FT_CHECK_OK(ft_gallery_keys_list(g, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    ft_free(list);

    FT_CHECK_OK(ft_gallery_key_revoke(g, id, &err), &err);
    FT_CHECK_OK(ft_gallery_key_revoke(g, id, &err), &err);
    FT_CHECK_EQ(ft_gallery_key_revoke(g, 555, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(ft_gallery_key_verify(g, tok, &k, &err), FT_E_AUTH);
    FT_CHECK_OK(ft_gallery_key_verify(g, tok2, &k, &err), &err);
    FT_CHECK_OK(ft_gallery_keys_list(g, &list, &n, &err), &err);
    FT_CHECK(n == 2 && list[0].revoked_at > 0 && list[1].revoked_at == 0);
    ft_free(list);
    ft_key_role r;
    FT_CHECK_OK(ft_key_role_parse("viewer", &r, &err), &err);
    FT_CHECK_EQ(r, FT_ROLE_VIEWER);
    FT_CHECK_EQ(ft_key_role_parse("root", &r, &err), FT_E_INVALID);
    FT_CHECK_EQ(ft_gallery_key_create(g, "", FT_ROLE_ADMIN, tok, &id, &err), FT_E_INVALID);
    ft_gallery_close(g);
    if (on_pg())
        return; // no file to search; keys hold only salted hashes either way
    // The secret itself is nowhere in the file, only its salted hash.
    ft_buf f;
    ft_buf_init(&f, 0);
    FT_CHECK_OK(ft_file_read(tmp_path("k.db"), 0, &f, &err), &err);
    FT_CHECK(memmem(f.data, f.len, tok2 + strlen(tok2) - 64, 64) == NULL);
    FT_CHECK(memmem(f.data, f.len, tok + strlen(tok) - 64, 64) == NULL);
    ft_buf_deinit(&f);
}

// ---- Reliability ----

// Runs fn in a child process; returns the child's failure count (or 100 +
// signal number if it died).
static int in_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    FT_ASSERT(pid >= 0);
    if (pid == 0) {
        ft_test_failures = 0;
        fn(arg);
        fflush(NULL);
        _exit(ft_test_failures > 99 ? 99 : ft_test_failures);
    }
    int ws;
    FT_ASSERT(waitpid(pid, &ws, 0) == pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 100 + WTERMSIG(ws);
}

typedef struct {
    const char *path;
    int child;
} conc_arg;

static void conc_enroll(void *p)
{
    conc_arg *a = p;
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(a->path, NULL, &g, &err), &err);
    if (!g)
        return;
    rng_seed(77 + (uint64_t)a->child);
    for (int i = 0; i < 50; i++) {
        char name[32];
        ft_sample s[3];
        snprintf(name, sizeof name, "child%d-%02d", a->child, i);
        for (int k = 0; k < 3; k++)
            make_sample(&s[k], a->child * 100 + i, 0.01);
        FT_CHECK_OK(ft_gallery_enroll(g, 0, name, s, 3, NULL, NULL, &err), &err);
        // Readers and writers interleave: list people now and then.
        if (i % 10 == 0) {
            ft_person *list;
            size_t n;
            FT_CHECK_OK(ft_gallery_people_list(g, &list, &n, &err), &err);
            ft_free(list);
        }
    }
    ft_gallery_close(g);
}

// (a) Two processes enrolling 50 people x 3 samples each into one file at
// the same time lose nothing.
static void test_concurrent(void)
{
    ft_err err = {0};
    const char *p = gallery_loc("conc.db");
    char path[1024];
    snprintf(path, sizeof path, "%s", p);
    ft_gallery *g = open_db("conc.db"); // created (and migrated) before the race
    ft_gallery_close(g);
    conc_arg a[2] = {{path, 1}, {path, 2}};
    pid_t pids[2];
    fflush(NULL);
    for (int c = 0; c < 2; c++) {
        pids[c] = fork();
        FT_ASSERT(pids[c] >= 0);
        if (pids[c] == 0) {
            ft_test_failures = 0;
            conc_enroll(&a[c]);
            fflush(NULL);
            _exit(ft_test_failures ? 1 : 0);
        }
    }
    for (int c = 0; c < 2; c++) {
        int ws;
        FT_CHECK_EQ(waitpid(pids[c], &ws, 0), pids[c]);
        FT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    g = open_db("conc.db");
    ft_gallery_counts c = counts(g);
    FT_CHECK_EQ(c.people, 100);
    FT_CHECK_EQ(c.samples, 300);
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM people p WHERE "
                                "(SELECT count(*) FROM samples s WHERE s.person_id = p.id) != 3"),
                0);
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g);
}

// Four processes create the same new file at the same moment (released
// together through a pipe) and enrol 10 people each: creation, WAL switch
// and migration race safely.
static void test_concurrent_create(void)
{
    ft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s", gallery_loc("race.db"));
    int gate[2];
    FT_ASSERT(pipe(gate) == 0);
    pid_t pids[4];
    fflush(NULL);
    for (int c = 0; c < 4; c++) {
        pids[c] = fork();
        FT_ASSERT(pids[c] >= 0);
        if (pids[c] == 0) {
            char b;
            close(gate[1]);
            if (read(gate[0], &b, 1) != 0)
                _exit(2);
            ft_gallery *g = NULL;
            int bad = ft_gallery_open(path, NULL, &g, &err) != FT_OK;
            if (bad)
                fprintf(stderr, "child %d: open: %s\n", c, err.msg);
            for (int i = 0; i < 10 && !bad; i++) {
                char name[32];
                ft_sample s;
                snprintf(name, sizeof name, "race%d-%d", c, i);
                make_sample(&s, c * 10 + i, 0.01);
                bad = ft_gallery_enroll(g, 0, name, &s, 1, NULL, NULL, &err) != FT_OK;
                if (bad)
                    fprintf(stderr, "child %d: enroll: %s\n", c, err.msg);
            }
            ft_gallery_close(g);
            _exit(bad);
        }
    }
    close(gate[0]);
    close(gate[1]); // go
    for (int c = 0; c < 4; c++) {
        int ws;
        FT_CHECK_EQ(waitpid(pids[c], &ws, 0), pids[c]);
        FT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    ft_gallery *g = open_db("race.db");
    FT_CHECK_EQ(counts(g).people, 40);
    FT_CHECK_EQ(ft_gallery_schema_version(g), FT_GALLERY_SCHEMA_VERSION);
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g);
}

static void kill_hook(const char *point, void *arg)
{
    if (strcmp(point, (const char *)arg) == 0)
        raise(SIGKILL);
}

typedef struct {
    const char *path, *point;
} crash_arg;

static void crash_enroll(void *p)
{
    crash_arg *a = p;
    ft_err err = {0};
    ft_gallery *g = NULL;
    ft_gallery_opts o = ft_gallery_opts_default();
    o.test_hook = kill_hook;
    o.test_hook_arg = (void *)a->point;
    FT_CHECK_OK(ft_gallery_open(a->path, &o, &g, &err), &err);
    ft_sample s[3];
    for (int k = 0; k < 3; k++)
        make_sample(&s[k], 9, 0.01);
    ft_gallery_enroll(g, 0, "Crash Victim", s, 3, NULL, NULL, &err);
    ft_gallery_close(g); // not reached: the hook kills the process
}

static void crash_loop(void *p)
{
    const char *path = p;
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(path, NULL, &g, &err), &err);
    static uint8_t thumb[20000]; // bigger transactions: more chances to die mid-write
    for (int i = 0;; i++) {
        char name[32];
        ft_sample s[3];
        snprintf(name, sizeof name, "loop-%d-%05d", (int)getpid(), i);
        for (int k = 0; k < 3; k++) {
            make_sample(&s[k], i, 0.01);
            s[k].thumbnail = thumb;
            s[k].thumbnail_len = sizeof thumb;
        }
        if (ft_gallery_enroll(g, 0, name, s, 3, NULL, NULL, &err) != FT_OK)
            _exit(3);
    }
}

static void check_consistent(const char *path, long long want_people_min)
{
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(path, NULL, &g, &err), &err);
    if (!g)
        return;
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_counts c = counts(g);
    FT_CHECK(c.people >= want_people_min);
    FT_CHECK_EQ(c.samples, 3 * c.people);
    ft_gallery_close(g);
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM people p WHERE NOT EXISTS "
                                "(SELECT 1 FROM samples s WHERE s.person_id = p.id)"),
                0);
}

// (b) A process killed in the middle of an enrolment transaction (after the
// person row, or after all samples but before COMMIT) leaves no trace of
// it; one killed at a random moment leaves whole enrolments only.
static void test_crash(void)
{
    ft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s", gallery_loc("crash.db"));
    ft_gallery *g = open_db("crash.db");
    enroll(g, "Survivor", 1, 3);
    ft_gallery_close(g);
    const char *points[] = {"enroll:person", "enroll:samples"};
    for (int i = 0; i < 2; i++) {
        crash_arg a = {path, points[i]};
        FT_CHECK_EQ(in_child(crash_enroll, &a), 100 + SIGKILL);
        check_consistent(path, 1);
        g = open_db("crash.db");
        ft_person p;
        FT_CHECK_EQ(ft_gallery_person_find(g, "Crash Victim", &p, &err), FT_E_NOT_FOUND);
        FT_CHECK_OK(ft_gallery_person_find(g, "Survivor", &p, &err), &err);
        FT_CHECK_EQ(p.n_samples, 3);
        ft_gallery_close(g);
    }
    // The parent kills a busy enroller at arbitrary moments.
    for (int round = 0; round < 5; round++) {
        fflush(NULL);
        pid_t pid = fork();
        FT_ASSERT(pid >= 0);
        if (pid == 0)
            crash_loop(path);
        // A PostgreSQL connection takes longer to open (a server process
        // per connection): give the enroller the same number of commits.
        usleep((30000 + 17000 * (useconds_t)round) * (on_pg() ? 5 : 1));
        kill(pid, SIGKILL);
        int ws;
        FT_CHECK_EQ(waitpid(pid, &ws, 0), pid);
        FT_CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        check_consistent(path, 1);
    }
    // The enroller got somewhere before each kill: this tested something.
    FT_CHECK(sql_count(path, "SELECT count(*) FROM people") > 10);
}

// The read-only checks run as a user who cannot write the file: root
// ignores permissions, so as root the child drops to nobody first.
static void readonly_child(void *p)
{
    const char *path = p;
    ft_err err = {0};
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        fprintf(stderr, "cannot drop privileges\n");
        ft_test_failures++;
        return;
    }
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(path, NULL, &g, &err), &err);
    if (!g)
        return;
    FT_CHECK(ft_gallery_readonly(g));
    ft_person *list;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_people_list(g, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    ft_free(list);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(g, &test_space, &m, &err), &err);
    FT_CHECK(m && ft_match_matrix_rows(m) == 4);
    ft_match_matrix_free(m);
    FT_CHECK_EQ(ft_gallery_person_add(g, "Cy", NULL, NULL, NULL, &err), FT_E_DB);
    FT_CHECK(strstr(err.msg, "read-only") != NULL);
    FT_CHECK_EQ(ft_gallery_setting_set(g, "a", "b", &err), FT_E_DB);
    ft_gallery_close(g);
}

// (c) Read-only files, a locked database, corrupt and truncated files.
static void test_readonly(void)
{
    SKIP_ON_PG("file permissions and read-only files are SQLite's");
    ft_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("ro.db"));
    ft_gallery *g = open_db("ro.db");
    enroll(g, "Ann", 1, 2);
    enroll(g, "Bob", 2, 2);
    ft_gallery_close(g);

    // The READONLY flag on a writable file.
    ft_gallery_opts o = ft_gallery_opts_default();
    o.flags = FT_GALLERY_READONLY;
    FT_CHECK_OK(ft_gallery_open(path, &o, &g, &err), &err);
    FT_CHECK(g && ft_gallery_readonly(g));
    FT_CHECK_EQ(counts(g).people, 2);
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Cy", NULL, 0, NULL, NULL, &err), FT_E_INVALID);
    ft_sample s;
    make_sample(&s, 3, 0.01);
    FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Cy", &s, 1, NULL, NULL, &err), FT_E_DB);
    FT_CHECK(strstr(err.msg, "read-only") != NULL);
    char tok[FT_KEY_TOKEN_MAX];
    FT_CHECK_EQ(ft_gallery_key_create(g, "k", FT_ROLE_ADMIN, tok, NULL, &err), FT_E_DB);
    ft_gallery_close(g);

    // A file without write permission (chmod 0444) in a directory others
    // may use.
    FT_CHECK_EQ(chmod(path, 0444), 0);
    FT_CHECK_EQ(chmod(tmp_dir, 0777), 0);
    FT_CHECK_EQ(in_child(readonly_child, path), 0);
    chmod(tmp_dir, 0700);
    chmod(path, 0644);
}

typedef struct {
    const char *path;
    int fd;
} lock_arg;

// (c) A database locked by another connection's long write transaction:
// writes fail with FT_E_BUSY after the (short) busy timeout; reads go on.
static void test_busy(void)
{
    SKIP_ON_PG("holds SQLite's write lock from a raw sqlite3 connection");
    ft_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("busy.db"));
    ft_gallery *g = open_db("busy.db");
    enroll(g, "Ann", 1, 1);
    ft_gallery_close(g);

    sqlite3 *other;
    FT_CHECK_EQ(sqlite3_open(path, &other), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE people SET notes = 'x'", NULL, NULL,
                             NULL),
                SQLITE_OK);

    ft_gallery_opts o = ft_gallery_opts_default();
    o.busy_timeout_ms = 150;
    FT_CHECK_OK(ft_gallery_open(path, &o, &g, &err), &err); // opening needs no write lock
    if (g) {
        ft_sample s;
        make_sample(&s, 2, 0.01);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        FT_CHECK_EQ(ft_gallery_enroll(g, 0, "Bob", &s, 1, NULL, NULL, &err), FT_E_BUSY);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        FT_CHECK(ms >= 100 && ms < 3000);
        FT_CHECK(strstr(err.msg, "locked by another connection") != NULL);
        FT_CHECK_EQ(ft_gallery_setting_set(g, "a", "b", &err), FT_E_BUSY);
        // WAL: readers are not blocked by the writer.
        ft_person p;
        FT_CHECK_OK(ft_gallery_person_find(g, "Ann", &p, &err), &err);
        FT_CHECK_STREQ(p.notes, "");
        FT_CHECK_EQ(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        FT_CHECK_OK(ft_gallery_enroll(g, 0, "Bob", &s, 1, NULL, NULL, &err), &err);
        FT_CHECK_EQ(counts(g).people, 2);
        ft_gallery_close(g);
    }
    sqlite3_close(other);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    FT_ASSERT(f);
    FT_ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

// Every operation on a damaged file either succeeds or fails with FT_E_DB
// (never a crash); returns how many failed.
static int exercise(ft_gallery *g)
{
    ft_err err = {0};
    int failed = 0;
    ft_status st;
    ft_person *pl = NULL;
    ft_sample *sl = NULL;
    ft_match_matrix *m = NULL;
    size_t n;
#define EXPECT_OK_OR_DB(expr)                                                                   \
    do {                                                                                     \
        st = (expr);                                                                         \
        if (st != FT_OK) {                                                                   \
            failed++;                                                                        \
            FT_CHECK_EQ(st, FT_E_DB);                                                        \
            if (st != FT_E_DB)                                                               \
                fprintf(stderr, "  %s: %s\n", #expr, err.msg);                               \
        }                                                                                    \
    } while (0)
    EXPECT_OK_OR_DB(ft_gallery_check(g, &err));
    EXPECT_OK_OR_DB(ft_gallery_people_list(g, &pl, &n, &err));
    EXPECT_OK_OR_DB(ft_gallery_samples_list(g, 0, &sl, &n, &err));
    EXPECT_OK_OR_DB(ft_gallery_matrix_load(g, &test_space, &m, &err));
    ft_free(pl);
    ft_free(sl);
    ft_match_matrix_free(m);
#undef EXPECT_OK_OR_DB
    return failed;
}

static void test_corrupt(void)
{
    SKIP_ON_PG("corrupt and truncated SQLite files");
    ft_err err = {0};
    ft_gallery *g = NULL;
    // Random bytes.
    uint8_t junk[8192];
    rng_seed(5);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(rng_uniform() * 256);
    write_file(tmp_path("junk.db"), junk, sizeof junk);
    FT_CHECK_EQ(ft_gallery_open(tmp_path("junk.db"), NULL, &g, &err), FT_E_DB);
    FT_CHECK(strstr(err.msg, "corrupt or not a database") != NULL);
    FT_CHECK(g == NULL);
    // A text file.
    write_file(tmp_path("text.db"), "hello\n", 6);
    FT_CHECK_EQ(ft_gallery_open(tmp_path("text.db"), NULL, &g, &err), FT_E_DB);

    // A real gallery, truncated at several points, or with a page smashed.
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("big.db"));
    g = open_db("big.db");
    static uint8_t thumb[3000];
    for (int i = 0; i < 60; i++) {
        char name[32];
        ft_sample s[2];
        snprintf(name, sizeof name, "p%02d", i);
        for (int k = 0; k < 2; k++) {
            make_sample(&s[k], i, 0.01);
            s[k].thumbnail = thumb;
            s[k].thumbnail_len = sizeof thumb;
        }
        FT_CHECK_OK(ft_gallery_enroll(g, 0, name, s, 2, NULL, NULL, &err), &err);
    }
    ft_gallery_close(g);
    ft_buf whole;
    ft_buf_init(&whole, 0);
    FT_CHECK_OK(ft_file_read(path, 0, &whole, &err), &err);
    FT_CHECK(whole.len > 100000);
    const double cuts[] = {0.02, 0.3, 0.5, 0.9};
    int n_failed = 0;
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        char name[32];
        snprintf(name, sizeof name, "cut%zu.db", c);
        size_t len = (size_t)((double)whole.len * cuts[c]);
        write_file(tmp_path(name), whole.data, len);
        ft_status st = ft_gallery_open(tmp_path(name), NULL, &g, &err);
        if (st != FT_OK) {
            FT_CHECK_EQ(st, FT_E_DB);
            n_failed++;
            continue;
        }
        n_failed += exercise(g) > 0;
        ft_gallery_close(g);
    }
    FT_CHECK_EQ(n_failed, 4); // each truncation was detected by something
    // Smash page 3 onwards with random bytes (the header stays valid).
    memcpy(whole.data + 4096 * 2, junk, sizeof junk);
    write_file(tmp_path("smashed.db"), whole.data, whole.len);
    FT_CHECK_OK(ft_gallery_open(tmp_path("smashed.db"), NULL, &g, &err), &err);
    if (g) {
        FT_CHECK(exercise(g) > 0);
        ft_gallery_close(g);
    }
    ft_buf_deinit(&whole);
}

// The v1 schema exactly as released, frozen here: migrations must carry
// such a file forward.
static const char *const v1_schema =
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  external_id TEXT UNIQUE, notes TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,"
    "  updated_at REAL NOT NULL);"
    "CREATE TABLE samples (id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    "  descriptor BLOB NOT NULL CHECK (length(descriptor) = 512), model TEXT NOT NULL,"
    "  alignment TEXT NOT NULL, detector_score REAL, face_w INTEGER, face_h INTEGER,"
    "  thumbnail BLOB, source_sha256 TEXT, created_at REAL NOT NULL);"
    "CREATE INDEX samples_person ON samples(person_id);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, source TEXT NOT NULL,"
    "  decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')), reason TEXT NOT NULL,"
    "  person_id INTEGER REFERENCES people(id) ON DELETE SET NULL, name_at_time TEXT,"
    "  distance REAL, margin REAL, detector_score REAL, thumbnail BLOB);"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'device', 'viewer')), salt TEXT NOT NULL,"
    "  key_hash TEXT NOT NULL, created_at REAL NOT NULL, revoked_at REAL, last_used_at REAL);"
    "INSERT INTO people VALUES (1, 'Old Timer', NULL, 'from v1', 1.0e9, 1.0e9);"
    "INSERT INTO samples(person_id, descriptor, model, alignment, created_at)"
    "  VALUES (1, zeroblob(512), 'face_recognition_model@face-api-1.7.15', 'faceapi', 1.0e9);"
    "INSERT INTO events(time, source, decision, reason, person_id, name_at_time)"
    "  VALUES (1.0e9, 'door', 'granted', 'match', 1, 'Old Timer');"
    "INSERT INTO settings VALUES ('threshold', '0.45');"
    "PRAGMA user_version = 1; PRAGMA application_id = 1179936561;";

// (d) Migration from schema 1, and refusal of a newer schema.
static void test_migrate(void)
{
    SKIP_ON_PG("migrates SQLite files written by older versions");
    ft_err err = {0};
    sqlite3 *db;
    const char *p = tmp_path("v1.db");
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    FT_CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    // Read-only cannot migrate: a clear error.
    ft_gallery *g = NULL;
    ft_gallery_opts o = ft_gallery_opts_default();
    o.flags = FT_GALLERY_READONLY;
    FT_CHECK_EQ(ft_gallery_open(path, &o, &g, &err), FT_E_UNSUPPORTED);
    FT_CHECK(strstr(err.msg, "read-write once") != NULL);

    g = open_db("v1.db");
    FT_CHECK_EQ(ft_gallery_schema_version(g), FT_GALLERY_SCHEMA_VERSION);
    ft_person per;
    FT_CHECK_OK(ft_gallery_person_find(g, "Old Timer", &per, &err), &err);
    FT_CHECK_STREQ(per.notes, "from v1");
    FT_CHECK_EQ(per.n_samples, 1);
    ft_gallery_policy pol;
    FT_CHECK_OK(ft_gallery_policy_load(g, &pol, &err), &err);
    FT_CHECK_DBL_EXACT(pol.threshold, 0.45); // stored by v1 as text, parsed by strtod
    FT_CHECK_EQ(counts(g).events, 1);
    // What v2 added works: the change counter moves on enrolment.
    int64_t gen0 = -1, gen1 = -1;
    FT_CHECK_OK(ft_gallery_setting_get_int(g, "generation", -1, &gen0, &err), &err);
    enroll(g, "New Hire", 2, 2);
    FT_CHECK_OK(ft_gallery_setting_get_int(g, "generation", -1, &gen1, &err), &err);
    FT_CHECK(gen0 >= 0 && gen1 == gen0 + 2);
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g);
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'events_time'"),
                1);
    // Schema 5: the old sample is face-api's 128-d vector, and its space
    // string is kept.
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM samples WHERE dim = 128 AND model = "
                                "'face_recognition_model@face-api-1.7.15' AND region IS NULL"),
                1);
    // Schema 6: its detector is not recorded ('').
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM samples WHERE detector = '' AND "
                                "person_id = (SELECT id FROM people WHERE name = 'Old Timer')"),
                1);
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                                "('samples_gen_ins', 'samples_gen_del', 'samples_gen_upd', "
                                "'samples_person', 'samples_model')"),
                5);

    // A file from the future.
    FT_CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    FT_CHECK_EQ(ft_gallery_open(path, NULL, &g, &err), FT_E_UNSUPPORTED);
    FT_CHECK(strstr(err.msg, "newer than this facetracker") != NULL);
    FT_CHECK(g == NULL);
}

// (f) Every allocation of ours in open, enrol, list and matrix load failing
// in turn gives FT_E_NOMEM and no leak (ASan); SQLite's own allocations are
// not hooked.
static void test_oom(void)
{
    SKIP_ON_PG("allocation failures while opening a SQLite file");
    ft_err err = {0};
    const char *p = tmp_path("oom.db");
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    ft_sample s[2];
    make_sample(&s[0], 1, 0.01);
    make_sample(&s[1], 1, 0.01);
    bool done = false;
    long n;
    for (n = 0; n < 1000 && !done; n++) {
        ft_gallery *g = NULL;
        ft_person *pl = NULL;
        ft_match_matrix *m = NULL;
        size_t np;
        char name[32];
        snprintf(name, sizeof name, "oom-%ld", n);
        ft_mem_fail_after(n);
        ft_status st = ft_gallery_open(path, NULL, &g, &err);
        if (st == FT_OK)
            st = ft_gallery_enroll(g, 0, name, s, 2, NULL, NULL, &err);
        if (st == FT_OK)
            st = ft_gallery_people_list(g, &pl, &np, &err);
        if (st == FT_OK)
            st = ft_gallery_matrix_load(g, &test_space, &m, &err);
        ft_mem_fail_after(-1);
        if (st == FT_OK)
            done = true;
        else
            FT_CHECK_EQ(st, FT_E_NOMEM);
        ft_free(pl);
        ft_match_matrix_free(m);
        ft_gallery_close(g);
    }
    FT_CHECK(done);
    FT_CHECK(n > 4); // the loop really went through several failure points
    ft_gallery *g = open_db("oom.db");
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_counts c = counts(g);
    FT_CHECK_EQ(c.samples, 2 * c.people);
    ft_gallery_close(g);
}

// ---- Matching ----

// A descriptor with value v in component k, zero elsewhere.
static void axis(float *d, int k, float v)
{
    memset(d, 0, TEST_DIM * sizeof *d);
    d[k] = v;
}

static void test_match_rules(void)
{
    ft_err err = {0};
    // Rows deliberately out of person order: the matrix groups them.
    // Person 7: distances 0.5 and 0.25 from the zero query; person 3: 0.375
    // and 0.875; person 9: 1.5. Values are exact in binary.
    float d[5 * TEST_DIM];
    int64_t pid[5] = {7, 3, 9, 7, 3}, sid[5] = {70, 30, 90, 71, 31};
    axis(d + 0 * TEST_DIM, 0, 0.5f);
    axis(d + 1 * TEST_DIM, 1, 0.375f);
    axis(d + 2 * TEST_DIM, 2, -1.5f);
    axis(d + 3 * TEST_DIM, 3, -0.25f);
    axis(d + 4 * TEST_DIM, 4, 0.875f);
    ft_match_matrix *m;
    FT_CHECK_OK(ft_match_matrix_new(d, TEST_DIM, FT_METRIC_EUCLIDEAN, pid, sid, 5, &m, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 5);
    FT_CHECK_EQ(ft_match_matrix_people(m), 3);
    float q[TEST_DIM] = {0};
    ft_match_result r;
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    FT_CHECK_EQ(r.person_id, 7);
    FT_CHECK_EQ(r.sample_id, 71);
    FT_CHECK_DBL_EXACT(r.distance, 0.25); // exact: one non-zero component
    FT_CHECK_EQ(r.second_person_id, 3);
    FT_CHECK_DBL_EXACT(r.second_distance, 0.375);
    FT_CHECK_DBL_EXACT(r.margin, 0.125);
    // Threshold is strict: best >= threshold is unknown.
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.25, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_UNKNOWN);
    FT_CHECK_EQ(r.person_id, 7); // still reported, for the event
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.2500001, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    // Margin: 0.125 < 0.2 -> ambiguous; exactly 0.125 passes.
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 0.2, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_AMBIGUOUS);
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 0.125, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    // Unknown wins over ambiguous.
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.2, 0.2, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_UNKNOWN);
    // A query near person 9.
    axis(q, 2, -1.25f);
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    FT_CHECK_EQ(r.person_id, 9);
    FT_CHECK_NEAR(r.distance, 0.25, 1e-7); // float rounding in (x - y)^2 sums
    q[0] = NAN;
    FT_CHECK_EQ(ft_match(m, q, TEST_DIM, 0.5, 0.05, &r, &err), FT_E_INVALID);
    q[0] = 0;
    FT_CHECK_EQ(ft_match(m, q, TEST_DIM, 0, 0.05, &r, &err), FT_E_INVALID);
    ft_match_matrix_free(m);

    // One person: margin +inf, never ambiguous.
    FT_CHECK_OK(ft_match_matrix_new(d, TEST_DIM, FT_METRIC_EUCLIDEAN, pid, NULL, 1, &m, &err), &err);
    axis(q, 0, 0.25f);
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 10.0, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    FT_CHECK(isinf(r.margin) && r.margin > 0 && r.second_person_id == 0);
    FT_CHECK_EQ(r.sample_id, 1);
    ft_match_matrix_free(m);
    // Empty gallery: unknown, no person.
    FT_CHECK_OK(ft_match_matrix_new(d, TEST_DIM, FT_METRIC_EUCLIDEAN, pid, NULL, 0, &m, &err), &err);
    FT_CHECK_OK(ft_match(m, q, TEST_DIM, 0.5, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_UNKNOWN);
    FT_CHECK(r.person_id == 0 && isinf(r.distance));
    ft_match_matrix_free(m);
    // Bad input rows.
    int64_t zero = 0;
    FT_CHECK_EQ(ft_match_matrix_new(d, TEST_DIM, FT_METRIC_EUCLIDEAN, &zero, NULL, 1, &m, &err), FT_E_INVALID);
}

// ft_match against a brute force in double over a random gallery large
// enough to span several kernel blocks.
static void test_match_brute(void)
{
    ft_err err = {0};
    enum { N = 1237, P = 97 };
    float *d = ft_malloc(sizeof(float) * N * TEST_DIM);
    int64_t *pid = ft_malloc(sizeof(int64_t) * N);
    rng_seed(11);
    for (int i = 0; i < N; i++) {
        ft_sample s;
        int p = (int)(rng_uniform() * P);
        make_sample(&s, p, 0.05);
        memcpy(d + (size_t)i * TEST_DIM, s.descriptor, sizeof(float) * TEST_DIM);
        pid[i] = p + 1;
    }
    ft_match_matrix *m;
    FT_CHECK_OK(ft_match_matrix_new(d, TEST_DIM, FT_METRIC_EUCLIDEAN, pid, NULL, N, &m, &err), &err);
    for (int t = 0; t < 50; t++) {
        ft_sample qs;
        make_sample(&qs, (int)(rng_uniform() * P), 0.08);
        double best[P + 1];
        for (int p = 0; p <= P; p++)
            best[p] = INFINITY;
        for (int i = 0; i < N; i++) {
            double acc = 0;
            for (int k = 0; k < TEST_DIM; k++) {
                double x = (double)d[(size_t)i * TEST_DIM + k] - qs.descriptor[k];
                acc += x * x;
            }
            if (sqrt(acc) < best[pid[i]])
                best[pid[i]] = sqrt(acc);
        }
        int b1 = 0, b2 = 0;
        for (int p = 1; p <= P; p++) {
            if (best[p] < best[b1])
                b2 = b1, b1 = p;
            else if (best[p] < best[b2])
                b2 = p;
        }
        ft_match_result r;
        FT_CHECK_OK(ft_match(m, qs.descriptor, TEST_DIM, 0.6, 0.05, &r, &err), &err);
        FT_CHECK_EQ(r.person_id, b1);
        FT_CHECK_EQ(r.second_person_id, b2);
        // Float kernels vs double: relative 1e-5 (sqdist.h), halved by sqrt.
        FT_CHECK_NEAR(r.distance, best[b1], 1e-5);
        FT_CHECK_NEAR(r.second_distance, best[b2], 1e-5);
    }
    ft_match_matrix_free(m);
    ft_free(d);
    ft_free(pid);
}

// Every variant the CPU has against the reference: n not a multiple of the
// vector width or the unroll, canaries after the output.
static void test_kernels(void)
{
    size_t nv;
    const ft_sqdist_variant *v = ft_sqdist_variants(&nv);
    FT_CHECK(nv >= 1 && strcmp(v[0].name, "ref") == 0);
    const size_t sizes[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 255, 256, 257, 1001};
    enum { MAXN = 1001, CANARY = 16 };
    float *rows = ft_aligned_alloc(sizeof(float) * MAXN * TEST_DIM);
    float q[TEST_DIM + 1];
    float ref[MAXN], out[MAXN + CANARY];
    rng_seed(3);
    for (size_t i = 0; i < (size_t)MAXN * TEST_DIM; i++)
        rows[i] = (float)(rng_uniform() * 0.4 - 0.2);
    // A misaligned query: the contract allows any alignment.
    float *qu = q + 1;
    for (int k = 0; k < TEST_DIM; k++)
        qu[k] = (float)(rng_uniform() * 0.4 - 0.2);
    unsigned cpu = ft_cpu_features();
    int tested = 0;
    for (size_t vi = 0; vi < nv; vi++) {
        if ((v[vi].cpu & cpu) != v[vi].cpu) {
            fprintf(stderr, "  kernel %s: not supported by this CPU, skipped\n", v[vi].name);
            continue;
        }
        tested++;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            ft_kern_sqdist128_f32_ref(rows, n, qu, ref);
            memset(out, 0xA5, sizeof out);
            v[vi].fn(rows, n, qu, out);
            for (size_t i = 0; i < n; i++) {
                double tol = 1e-5 * fmax(1.0, ref[i]); // sqdist.h
                if (!(fabs(out[i] - ref[i]) <= tol)) {
                    fprintf(stderr, "  %s n=%zu row %zu: %.9g vs ref %.9g\n", v[vi].name, n, i,
                            out[i], ref[i]);
                    ft_test_failures++;
                    break;
                }
            }
            const uint8_t *c = (const uint8_t *)(out + n);
            for (size_t b = 0; b < CANARY * sizeof(float); b++)
                if (c[b] != 0xA5) {
                    fprintf(stderr, "  %s n=%zu: wrote past the output\n", v[vi].name, n);
                    ft_test_failures++;
                    break;
                }
        }
    }
    FT_CHECK(tested >= 1);
    // Any length (fn_dim): lengths that are not multiples of the vector
    // width, and faceres's 1024, against the reference.
    {
        static const size_t dims[] = {1, 7, 20, 100, 1024};
        static float rr[3 * 1024], qq[1024];
        float want[3], got[3];
        for (size_t i = 0; i < 3 * 1024; i++)
            rr[i] = (float)(rng_uniform() * 0.4 - 0.2);
        for (size_t i = 0; i < 1024; i++)
            qq[i] = (float)(rng_uniform() * 0.4 - 0.2);
        for (size_t vi = 0; vi < nv; vi++) {
            if ((v[vi].cpu & cpu) != v[vi].cpu)
                continue;
            for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
                ft_kern_sqdist_f32_ref(rr, 3, dims[di], qq, want);
                v[vi].fn_dim(rr, 3, dims[di], qq, got);
                for (int i = 0; i < 3; i++) {
                    double tol = 1e-7 * (double)dims[di] * fmax(1.0, want[i]); // sqdist.h
                    if (!(fabs(got[i] - want[i]) <= tol)) {
                        fprintf(stderr, "  %s dim=%zu row %d: %.9g vs ref %.9g\n", v[vi].name,
                                dims[di], i, got[i], want[i]);
                        ft_test_failures++;
                    }
                }
            }
        }
    }
    // The dispatcher honours FT_KERNELS=ref.
    setenv("FT_KERNELS", "ref", 1);
    FT_CHECK_STREQ(ft_sqdist_best()->name, "ref");
    unsetenv("FT_KERNELS");
    fprintf(stderr, "  best kernel here: %s\n", ft_sqdist_best()->name);
    ft_aligned_free(rows);
}

static void child_enroll(void *p)
{
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open((const char *)p, NULL, &g, &err), &err);
    if (!g)
        return;
    ft_sample s;
    make_sample(&s, 42, 0.01);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "From Child", &s, 1, NULL, NULL, &err), &err);
    ft_gallery_close(g);
}

// The matrix notices changes made by this connection, by another
// connection, and by another process; other writes (events) do not force
// a reload.
static void test_match_reload(void)
{
    ft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s", gallery_loc("reload.db"));
    ft_gallery *g = open_db("reload.db"), *g2 = open_db("reload.db");
    int64_t ann = enroll(g, "Ann", 1, 2);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(g, &test_space, &m, &err), &err);
    FT_ASSERT(m);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 2);
    bool stale = true;
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(!stale);

    // Another connection enrols.
    int64_t bob = enroll(g2, "Bob", 2, 3);
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(stale);
    FT_CHECK_OK(ft_gallery_matrix_refresh(g, &m, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 5);
    FT_CHECK_EQ(ft_match_matrix_people(m), 2);
    ft_sample q;
    make_sample(&q, 2, 0.01);
    ft_match_result r;
    FT_CHECK_OK(ft_match(m, q.descriptor, TEST_DIM, 0.5, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    FT_CHECK_EQ(r.person_id, bob);

    // Events from another connection: data_version moves, samples do not.
    add_event(g2, 0, "door", FT_DECISION_GRANTED, "match", bob);
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(!stale);
    ft_match_matrix *before = m;
    FT_CHECK_OK(ft_gallery_matrix_refresh(g, &m, &err), &err);
    FT_CHECK(m == before);

    // This connection deletes a person (cascade to samples).
    FT_CHECK_OK(ft_gallery_person_delete(g, bob, &err), &err);
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(stale);
    FT_CHECK_OK(ft_gallery_matrix_refresh(g, &m, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 2);
    FT_CHECK_OK(ft_match(m, q.descriptor, TEST_DIM, 0.5, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_UNKNOWN);
    FT_CHECK_EQ(r.person_id, ann);

    // Another process.
    FT_CHECK_EQ(in_child(child_enroll, path), 0);
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(stale);
    FT_CHECK_OK(ft_gallery_matrix_refresh(g, &m, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 3);
    // The model filter survives a refresh; other models are left out.
    ft_sample other;
    make_sample(&other, 5, 0.01);
    snprintf(other.model, sizeof other.model, "another-model");
    FT_CHECK_OK(ft_gallery_enroll(g2, 0, "Other", &other, 1, NULL, NULL, &err), &err);
    FT_CHECK_OK(ft_gallery_matrix_refresh(g, &m, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(m), 3);
    ft_match_matrix *all;
    const ft_gallery_space another = {"another-model", TEST_DIM, FT_METRIC_EUCLIDEAN};
    FT_CHECK_OK(ft_gallery_matrix_load(g2, &another, &all, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(all), 1);
    ft_match_matrix_free(all);
    FT_CHECK_OK(ft_gallery_matrix_load(g2, &test_space, &all, &err), &err);
    FT_CHECK_EQ(ft_match_matrix_rows(all), 3);
    // A matrix checked through a different connection compares generations.
    FT_CHECK_OK(ft_gallery_matrix_stale(g, all, &stale, &err), &err);
    FT_CHECK(!stale);
    ft_match_matrix_free(all);
    ft_match_matrix_free(m);
    ft_gallery_close(g2);
    ft_gallery_close(g);
}

typedef struct {
    const char *path;
    const ft_match_matrix *m;
    int id, failures;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    ft_err err = {0};
    ft_gallery *g = NULL;
    if (ft_gallery_open(a->path, NULL, &g, &err) != FT_OK) {
        a->failures++;
        return NULL;
    }
    for (int i = 0; i < 20; i++) {
        char name[32];
        ft_sample s;
        float sd[TEST_DIM];
        memset(&s, 0, sizeof s);
        s.descriptor = sd;
        s.dim = TEST_DIM;
        snprintf(s.model, sizeof s.model, "%s", test_space.name);
        // Deterministic per thread without the shared test RNG.
        for (int k = 0; k < TEST_DIM; k++)
            s.descriptor[k] = (float)((a->id * 31 + i * 7 + k) % 17) * 0.01f;
        s.detector_score = 0.9;
        snprintf(name, sizeof name, "t%d-%d", a->id, i);
        if (ft_gallery_enroll(g, 0, name, &s, 1, NULL, NULL, &err) != FT_OK)
            a->failures++;
        ft_match_result r;
        if (ft_match(a->m, s.descriptor, TEST_DIM, 0.5, 0.05, &r, &err) != FT_OK)
            a->failures++;
    }
    ft_gallery_close(g);
    return NULL;
}

// One connection per thread, one shared read-only matrix (run under TSan
// in CI).
static void test_threads(void)
{
    ft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s", gallery_loc("threads.db"));
    ft_gallery *g = open_db("threads.db");
    enroll(g, "Seed", 1, 3);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(g, &test_space, &m, &err), &err);
    pthread_t th[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){path, m, i, 0};
        FT_CHECK_EQ(pthread_create(&th[i], NULL, thread_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        FT_CHECK_EQ(a[i].failures, 0);
    }
    FT_CHECK_EQ(counts(g).people, 81);
    bool stale = false;
    FT_CHECK_OK(ft_gallery_matrix_stale(g, m, &stale, &err), &err);
    FT_CHECK(stale);
    ft_match_matrix_free(m);
    ft_gallery_close(g);
}

// ---- Calibration ----

// Points on one axis, chosen so every distance is at least 0.0025 from a
// grid threshold (float rounding cannot move a trial across one):
//   P1 {0, 0.3425}, P2 {0.7075, 1.4625}, P3 {3.0}.
// Genuine: 0.3425 (x2, P1), 0.755 (x2, P2); P3 has one sample, none.
// Impostor (10 trials): 0 vs P2 0.7075, 0.3425 vs P2 0.365, 0.7075 vs P1
// 0.365, and seven more above 0.8.
static void test_calibrate(void)
{
    ft_err err = {0};
    float d[5 * TEST_DIM];
    const float x[5] = {0.0f, 0.3425f, 0.7075f, 1.4625f, 3.0f};
    const int64_t lab[5] = {1, 1, 2, 2, 3};
    for (int i = 0; i < 5; i++)
        axis(d + i * TEST_DIM, 0, x[i]);
    ft_calib_opts o = ft_calib_opts_default();
    ft_calib_result r;
    FT_CHECK_OK(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 5, &o, &r, &err), &err);
    FT_CHECK_EQ(r.n_samples, 5);
    FT_CHECK_EQ(r.n_people, 3);
    FT_CHECK_EQ(r.n_genuine, 4);
    FT_CHECK_EQ(r.n_impostor, 10);
    FT_CHECK_EQ(r.n_rows, 51);
    for (size_t k = 0; k < r.n_rows; k++) {
        const ft_calib_row *row = &r.rows[k];
        double t = row->threshold;
        // Rates are counts over trials, one correctly rounded division:
        // exact.
        double far = (t < 0.365 ? 0 : t < 0.7075 ? 2 : 3) / 10.0;
        double frr = (t < 0.3425 ? 4 : t < 0.755 ? 2 : 0) / 4.0;
        // The grid is t_min + k * t_step in double: 1e-12 (~1e4 ulps) lets
        // any evaluation order pass, while a wrong step is off by >= 0.01.
        FT_CHECK_NEAR(t, 0.30 + 0.01 * (double)k, 1e-12);
        FT_CHECK_DBL_EXACT(row->far, far);
        FT_CHECK_DBL_EXACT(row->frr, frr);
    }
    // 0.1 % needs >= 1000 impostor trials: not measurable here.
    FT_CHECK(isnan(r.threshold));
    ft_calib_result_deinit(&r);
    o.target_far = 0.1;
    FT_CHECK_OK(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 5, &o, &r, &err), &err);
    FT_CHECK_NEAR(r.threshold, 0.36, 1e-12); // a grid point, as above
    FT_CHECK_DBL_EXACT(r.far, 0.0);
    FT_CHECK_DBL_EXACT(r.frr, 0.5);
    ft_calib_result_deinit(&r);
    o.target_far = 0.25;
    FT_CHECK_OK(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 5, &o, &r, &err), &err);
    FT_CHECK_NEAR(r.threshold, 0.70, 1e-12); // a grid point, as above
    FT_CHECK_DBL_EXACT(r.far, 2 / 10.0);
    ft_calib_result_deinit(&r);
    // Order of the input does not matter.
    float dr[5 * TEST_DIM];
    int64_t labr[5];
    for (int i = 0; i < 5; i++) {
        memcpy(dr + i * TEST_DIM, d + (4 - i) * TEST_DIM,
               sizeof(float) * TEST_DIM);
        labr[i] = lab[4 - i];
    }
    FT_CHECK_OK(ft_calibrate(dr, TEST_DIM, FT_METRIC_EUCLIDEAN, labr, 5, &o, &r, &err), &err);
    FT_CHECK_NEAR(r.threshold, 0.70, 1e-12); // a grid point, as above
    FT_CHECK_EQ(r.n_impostor, 10);
    ft_calib_result_deinit(&r);
    // Bad options.
    o = ft_calib_opts_default();
    o.t_step = 0;
    FT_CHECK_EQ(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 5, &o, &r, &err), FT_E_INVALID);
    o = ft_calib_opts_default();
    o.target_far = 1.5;
    FT_CHECK_EQ(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 5, &o, &r, &err), FT_E_INVALID);
    // Nothing enrolled: no trials, NaN rates.
    FT_CHECK_OK(ft_calibrate(d, TEST_DIM, FT_METRIC_EUCLIDEAN, lab, 0, NULL, &r, &err), &err);
    FT_CHECK(r.n_genuine == 0 && r.n_impostor == 0 && isnan(r.rows[0].far));
    ft_calib_result_deinit(&r);
}

// Over the gallery, storing the threshold on request.
static void test_calibrate_store(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("cal.db");
    rng_seed(21);
    for (int p = 0; p < 40; p++) {
        char name[16];
        snprintf(name, sizeof name, "p%02d", p);
        enroll(g, name, p, 3); // noise 0.005: genuine ~0.05, impostor ~0.9
    }
    ft_calib_opts o = ft_calib_opts_default();
    ft_calib_result r;
    FT_CHECK_OK(ft_gallery_calibrate(g, &test_space, &o, true, &r, &err), &err);
    FT_CHECK_EQ(r.n_genuine, 120);
    FT_CHECK_EQ(r.n_impostor, 120 * 39);
    // The answer is the last grid row within the target.
    FT_CHECK(r.threshold >= 0.5 && r.far <= 0.001);
    for (size_t k = 0; k < r.n_rows; k++)
        FT_CHECK(r.rows[k].threshold <= r.threshold ? r.rows[k].far <= 0.001
                                                    : r.rows[k].far > 0.001);
    FT_CHECK_DBL_EXACT(r.frr, 0.0); // genuine distances ~0.05
    double t = 0;
    FT_CHECK_OK(ft_gallery_setting_get_double(g, "threshold", 0, &t, &err), &err);
    FT_CHECK_DBL_EXACT(t, r.threshold); // stored with %.17g, read back with strtod
    ft_calib_result_deinit(&r);
    // Unmeasurable target: nothing stored, clear error.
    o.target_far = 1e-6;
    FT_CHECK_EQ(ft_gallery_calibrate(g, &test_space, &o, true, &r, &err), FT_E_INVALID);
    FT_CHECK(strstr(err.msg, "nothing stored") != NULL);
    ft_gallery_close(g);
}

// ---- Backend choice and connection strings ----

// The location string picks the backend; a connection string's password
// never reaches a message (masked in g->path and in every error).
static void test_url_mask(void)
{
    char out[256];
    FT_CHECK(ft_store_is_pg_url("postgresql://h/db"));
    FT_CHECK(ft_store_is_pg_url("postgres://h/db"));
    FT_CHECK(ft_store_is_pg_url("PostgreSQL://h/db"));
    FT_CHECK(!ft_store_is_pg_url("./facetracker.db"));
    FT_CHECK(!ft_store_is_pg_url("postgresql.db"));
    ft_store_url_mask("postgresql://ann:s3cr%40t@db.example:5432/gal?sslmode=require", out,
                      sizeof out);
    FT_CHECK_STREQ(out, "postgresql://ann:***@db.example:5432/gal?sslmode=require");
    ft_store_url_mask("postgres://ann@h/db?password=s3cret&sslmode=disable", out, sizeof out);
    FT_CHECK_STREQ(out, "postgres://ann@h/db?password=***&sslmode=disable");
    ft_store_url_mask("postgresql://h/db", out, sizeof out);
    FT_CHECK_STREQ(out, "postgresql://h/db");
    ft_store_url_mask("postgresql://a:b@c@h/db", out, sizeof out); // '@' inside the password
    FT_CHECK_STREQ(out, "postgresql://a:***@h/db");
    ft_store_url_mask("postgresql://u:pw@h/db", out, 12); // truncated, still no password
    FT_CHECK(strstr(out, "pw") == NULL);

    // Nothing listens on port 1: the open fails without the password.
    ft_gallery *g = NULL;
    ft_err err = {0};
    ft_status st = ft_gallery_open(
        "postgresql://ann:Sup3rSecret@127.0.0.1:1/gal?connect_timeout=2", NULL, &g, &err);
    FT_CHECK_EQ(st, FT_E_IO);
    FT_CHECK(g == NULL);
    FT_CHECK(strstr(err.msg, "Sup3rSecret") == NULL);
    FT_CHECK(strstr(err.msg, "ann:***@127.0.0.1:1") != NULL);
    // Path-only operations say clearly that they are SQLite's.
    FT_CHECK_EQ(ft_gallery_path_writable_probe("postgresql://h/db", &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(ft_gallery_backup_check("postgresql://h/db", NULL, &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(ft_gallery_restore("a.db", "postgresql://h/db", &err), FT_E_UNSUPPORTED);
}

// PostgreSQL's change feed: every write transaction bumps the gallery
// version and sends NOTIFY facetracker_gallery ("<schema> <version>
// <generation>"; other cases' galleries share the channel) at its commit; only changes of samples move the generation (the match
// matrix's staleness). SQLite has no NOTIFY: skipped there.
static void test_pg_feed(void)
{
    if (!on_pg()) {
        printf("SKIP on SQLite: NOTIFY is PostgreSQL's\n");
        fflush(NULL);
        exit(77);
    }
    ft_err err = {0};
    ft_gallery *g = open_db("feed.db");
    char url[1024];
    snprintf(url, sizeof url, "%s", gallery_loc("feed.db"));
    PGconn *l = PQconnectdb(url);
    FT_ASSERT(PQstatus(l) == CONNECTION_OK);
    PQclear(PQexec(l, "LISTEN facetracker_gallery"));
    char schema[64];
    snprintf(schema, sizeof schema, "%sfeed_db", pg_prefix);
    long long v0 = sql_count(url, "SELECT version FROM gallery_version");
    long long g0 = sql_count(url, "SELECT generation FROM gallery_version");

    int64_t ann = enroll(g, "Ann", 1, 2);
    long long v1 = sql_count(url, "SELECT version FROM gallery_version");
    long long g1 = sql_count(url, "SELECT generation FROM gallery_version");
    FT_CHECK_EQ(v1, v0 + 1);
    FT_CHECK(g1 > g0);
    add_event(g, 0, "door", FT_DECISION_GRANTED, "match", ann);
    FT_CHECK_OK(ft_gallery_setting_set(g, "note.x", "y", &err), &err);
    FT_CHECK_EQ(sql_count(url, "SELECT version FROM gallery_version"), v1 + 2);
    FT_CHECK_EQ(sql_count(url, "SELECT generation FROM gallery_version"), g1);

    // Three commits, three notifications, in order, the last naming the
    // current version and generation.
    char last[64] = "";
    int got = 0;
    double t0 = ft_now_ms();
    while (got < 3 && ft_now_ms() - t0 < 5000) {
        PQconsumeInput(l);
        PGnotify *n;
        while ((n = PQnotifies(l)) != NULL) {
            FT_CHECK_STREQ(n->relname, "facetracker_gallery");
            if (strncmp(n->extra, schema, strlen(schema)) == 0 &&
                n->extra[strlen(schema)] == ' ') {
                snprintf(last, sizeof last, "%s", n->extra);
                got++;
            }
            PQfreemem(n);
        }
        if (got < 3)
            usleep(10000);
    }
    FT_CHECK_EQ(got, 3);
    // "<schema> <version> <generation> <commit time>": the time is the
    // server's clock at the commit (Unix seconds), for the listeners'
    // NOTIFY-to-applied latency; this machine's clock is the server's.
    char want[128];
    snprintf(want, sizeof want, "%s %lld %lld ", schema, v1 + 2, g1);
    FT_CHECK(strncmp(last, want, strlen(want)) == 0);
    double at = strtod(last + strlen(want), NULL);
    FT_CHECK(fabs(at - ft_wall_s()) < 60.0); // generous: only the unit (seconds) is checked
    // A failed write (duplicate name) rolls back: no bump, no notification.
    FT_CHECK_EQ(ft_gallery_person_add(g, "Ann", NULL, NULL, NULL, &err), FT_E_EXISTS);
    FT_CHECK_EQ(sql_count(url, "SELECT version FROM gallery_version"), v1 + 2);
    PQfinish(l);
    ft_gallery_close(g);
}

// ft_gallery_copy: a SQLite gallery into the backend under test and back
// into a new SQLite file; everything arrives with its ids (API tokens
// still verify), the checksums agree end to end, and a non-empty
// destination is refused.
static void test_copy(void)
{
    ft_err err = {0};
    ft_gallery *a = NULL, *b = NULL, *c = NULL;
    char src[512], back[512], mid[1024];
    snprintf(src, sizeof src, "%s", tmp_path("src.db"));
    snprintf(back, sizeof back, "%s", tmp_path("back.db"));
    snprintf(mid, sizeof mid, "%s", gallery_loc("mid.db"));
    FT_CHECK_OK(ft_gallery_open(src, NULL, &a, &err), &err);
    FT_ASSERT(a);
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 0xff, 0xd9};
    ft_sample s[2];
    make_sample(&s[0], 1, 0.01);
    make_sample(&s[1], 1, 0.01);
    s[0].thumbnail = jpeg;
    s[0].thumbnail_len = sizeof jpeg;
    snprintf(s[0].detector, sizeof s[0].detector, "yunet"); // schema 6: travels with the row
    snprintf(s[1].detector, sizeof s[1].detector, "tiny");
    int64_t ann = 0, sid[2];
    FT_CHECK_OK(ft_gallery_enroll(a, 0, "Ann", s, 2, &ann, sid, &err), &err);
    int64_t bob = enroll(a, "Bob", 2, 1);
    FT_CHECK_OK(ft_gallery_person_update(a, bob, "E-7", "note\nline", &err), &err);
    ft_event ev;
    ft_event_init(&ev);
    snprintf(ev.source, sizeof ev.source, "front");
    snprintf(ev.reason, sizeof ev.reason, "match");
    ev.decision = FT_DECISION_GRANTED;
    ev.person_id = ann;
    ev.distance = 0.25, ev.margin = INFINITY, ev.detector_score = 0.9;
    ev.thumbnail = jpeg;
    ev.thumbnail_len = sizeof jpeg;
    const char *sinks[] = {"hook"};
    FT_CHECK_OK(ft_gallery_event_add_outbox(a, &ev, sinks, 1, &err), &err);
    add_event(a, 0, "back", FT_DECISION_DENIED, "unknown", 0);
    char tok[FT_KEY_TOKEN_MAX];
    int64_t kid;
    FT_CHECK_OK(ft_gallery_key_create(a, "door", FT_ROLE_DEVICE, tok, &kid, &err), &err);
    FT_CHECK_OK(ft_gallery_setting_set_double(a, "threshold", 0.45, &err), &err);
    FT_CHECK_OK(ft_gallery_audit_add(a, "cli:test", "person.add", "person:1", NULL, &err), &err);

    FT_CHECK_OK(ft_gallery_open(mid, NULL, &b, &err), &err);
    FT_ASSERT(b);
    ft_gallery_copy_result r1, r2;
    FT_CHECK_OK(ft_gallery_copy(a, b, &r1, &err), &err);
    FT_CHECK_EQ(r1.people, 2);
    FT_CHECK_EQ(r1.samples, 3);
    FT_CHECK_EQ(r1.events, 2);
    FT_CHECK_EQ(r1.api_keys, 1);
    FT_CHECK_EQ(r1.settings, 1);
    FT_CHECK_EQ(r1.audit, 1);
    FT_CHECK_EQ(strlen(r1.sha256), 64);
    // What arrived works: the descriptors, the thumbnails, the ids (the
    // token below: verifying it records its use, a change).
    ft_person p;
    FT_CHECK_OK(ft_gallery_person_get(b, bob, &p, &err), &err);
    FT_CHECK_STREQ(p.external_id, "E-7");
    FT_CHECK_STREQ(p.notes, "note\nline");
    ft_sample *list = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_samples_list(b, ann, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    if (n == 2) {
        FT_CHECK_EQ(list[0].id, sid[0]);
        FT_CHECK(memcmp(list[0].descriptor, s[0].descriptor, sizeof(float) * TEST_DIM) == 0);
        FT_CHECK_STREQ(list[0].detector, "yunet");
        FT_CHECK_STREQ(list[1].detector, "tiny");
    }
    ft_free(list);
    ft_buf th;
    ft_buf_init(&th, 0);
    FT_CHECK_OK(ft_gallery_event_thumbnail(b, ev.id, &th, &err), &err);
    FT_CHECK(th.len == sizeof jpeg && memcmp(th.data, jpeg, sizeof jpeg) == 0);
    ft_buf_deinit(&th);
    ft_event got;
    FT_CHECK_OK(ft_gallery_event_get(b, ev.id, &got, &err), &err);
    FT_CHECK_STREQ(got.uid, ev.uid);
    FT_CHECK(isinf(got.margin) && got.margin > 0);
    double thr = 0;
    FT_CHECK_OK(ft_gallery_setting_get_double(b, "threshold", 0.5, &thr, &err), &err);
    FT_CHECK_DBL_EXACT(thr, 0.45);
    // New rows continue after the copied ids; the matrix sees the samples.
    int64_t cy = enroll(b, "Cy", 3, 1);
    FT_CHECK(cy > bob);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(b, &test_space, &m, &err), &err);
    FT_CHECK(m && ft_match_matrix_rows(m) == 4);
    ft_match_matrix_free(m);
    // Not into a gallery that holds something.
    FT_CHECK_EQ(ft_gallery_copy(a, b, NULL, &err), FT_E_EXISTS);
    FT_CHECK_OK(ft_gallery_person_delete(b, cy, &err), &err);

    // And back: the same checksum end to end.
    FT_CHECK_OK(ft_gallery_open(back, NULL, &c, &err), &err);
    FT_ASSERT(c);
    FT_CHECK_OK(ft_gallery_copy(b, c, &r2, &err), &err);
    FT_CHECK_STREQ(r2.sha256, r1.sha256);
    list = NULL;
    FT_CHECK_OK(ft_gallery_samples_list(c, ann, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    if (n == 2) {
        FT_CHECK_STREQ(list[0].detector, "yunet");
        FT_CHECK_STREQ(list[1].detector, "tiny");
    }
    ft_free(list);
    ft_api_key k;
    FT_CHECK_OK(ft_gallery_key_verify(b, tok, &k, &err), &err);
    FT_CHECK_EQ(k.id, kid);
    FT_CHECK_OK(ft_gallery_key_verify(c, tok, &k, &err), &err);
    FT_CHECK_EQ(k.id, kid);
    FT_CHECK_OK(ft_gallery_check(c, &err), &err);
    ft_gallery_close(c);
    ft_gallery_close(b);
    ft_gallery_close(a);
}


// Descriptor spaces of other lengths and the cosine metric (schema 5): a
// person enrolled in two spaces, the list packing both lengths, the face
// region, matrices that refuse a wrong length, and cosine distances.
static void test_spaces(void)
{
    ft_err err = {0};
    ft_gallery *g = open_db("spaces.db");
    enum { DC = 1024 };
    const ft_gallery_space cos_space = {"cos-space@1", DC, FT_METRIC_COSINE};
    static float a[DC], b[DC], q[DC];
    // a: 3 * e0; b: 2 * (cos t e0 + sin t e1) with cos t = 0.6, so the
    // cosine distance a-b is exactly 1 - 0.6 = 0.4 whatever the lengths.
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    a[0] = 3.0f;
    b[0] = 1.2f;
    b[1] = 1.6f;
    static const uint8_t region[] = {0xff, 0xd8, 0xff, 0xe0, 9, 8, 7, 0xff, 0xd9};
    ft_sample s[3];
    make_sample(&s[0], 1, 0.0); // the 128-d test space
    memset(&s[1], 0, sizeof s[1]);
    s[1].descriptor = a;
    s[1].dim = DC;
    snprintf(s[1].model, sizeof s[1].model, "%s", cos_space.name);
    snprintf(s[1].alignment, sizeof s[1].alignment, "box");
    s[1].detector_score = 0.9;
    snprintf(s[1].source_sha256, sizeof s[1].source_sha256, "%064d", 1);
    s[1].region = region;
    s[1].region_len = sizeof region;
    s[1].region_box[0] = 10, s[1].region_box[1] = 20, s[1].region_box[2] = 30,
    s[1].region_box[3] = 40;
    s[2] = s[1];
    s[2].descriptor = b;
    s[2].region = NULL;
    s[2].region_len = 0;
    int64_t ann = 0, ids[3];
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Ann", s, 2, &ann, ids, &err), &err);
    int64_t bob = 0;
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Bob", &s[2], 1, &bob, &ids[2], &err), &err);

    // The list: one block, each sample with its own length and values.
    ft_sample *list = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_samples_list(g, 0, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 3);
    if (n == 3) {
        FT_CHECK_EQ(list[0].dim, TEST_DIM);
        FT_CHECK(memcmp(list[0].descriptor, s[0].descriptor, sizeof(float) * TEST_DIM) == 0);
        FT_CHECK_EQ(list[1].dim, DC);
        FT_CHECK(memcmp(list[1].descriptor, a, sizeof a) == 0);
        FT_CHECK(memcmp(list[2].descriptor, b, sizeof b) == 0);
        FT_CHECK_STREQ(list[1].model, cos_space.name);
        FT_CHECK_STREQ(list[1].alignment, "box");
        FT_CHECK_EQ(list[1].region_len, sizeof region);
        FT_CHECK(list[1].region == NULL);
        FT_CHECK_EQ(list[2].region_len, 0);
    }
    ft_free(list);
    ft_buf rb;
    ft_buf_init(&rb, 0);
    float box[4] = {-1, -1, -1, -1};
    FT_CHECK_OK(ft_gallery_sample_region(g, ids[1], &rb, box, &err), &err);
    FT_CHECK(rb.len == sizeof region && memcmp(rb.data, region, sizeof region) == 0);
    FT_CHECK(box[0] == 10 && box[1] == 20 && box[2] == 30 && box[3] == 40); // exact: small ints
    FT_CHECK_OK(ft_gallery_sample_region(g, ids[2], &rb, box, &err), &err);
    FT_CHECK_EQ(rb.len, 0);
    FT_CHECK_EQ(ft_gallery_sample_region(g, 98765, &rb, box, &err), FT_E_NOT_FOUND);
    ft_buf_deinit(&rb);
    // Stored as 4 * dim bytes.
    FT_CHECK_EQ(sql_count(gallery_loc("spaces.db"),
                          "SELECT count(*) FROM samples WHERE length(descriptor) = 4096 AND "
                          "dim = 1024"),
                2);

    // Matrices: one space each; cosine rows are unit vectors.
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(g, &cos_space, &m, &err), &err);
    FT_CHECK(m && ft_match_matrix_rows(m) == 2 && ft_match_matrix_dim(m) == DC &&
             ft_match_matrix_metric(m) == FT_METRIC_COSINE);
    ft_match_result r;
    memset(q, 0, sizeof q);
    q[0] = 0.5f; // the direction of a
    FT_CHECK_OK(ft_match(m, q, DC, 0.38, 0.04, &r, &err), &err);
    FT_CHECK_EQ(r.person_id, ann);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    // Float unit vectors through |a-b|^2/2: a few float epsilons.
    FT_CHECK_NEAR(r.distance, 0.0, 1e-6);
    FT_CHECK_NEAR(r.second_distance, 0.4, 1e-6);
    FT_CHECK_EQ(r.second_person_id, bob);
    FT_CHECK_EQ(ft_match(m, q, TEST_DIM, 0.38, 0.04, &r, &err), FT_E_INVALID); // wrong length
    memset(q, 0, sizeof q);
    FT_CHECK_EQ(ft_match(m, q, DC, 0.38, 0.04, &r, &err), FT_E_INVALID); // no direction
    ft_match_matrix_free(m);
    // The 128-d space holds only its own sample.
    FT_CHECK_OK(ft_gallery_matrix_load(g, &test_space, &m, &err), &err);
    FT_CHECK(m && ft_match_matrix_rows(m) == 1 && ft_match_matrix_dim(m) == TEST_DIM);
    ft_match_matrix_free(m);
    // A space asked for with another length is refused, never mixed.
    const ft_gallery_space wrong = {cos_space.name, 512, FT_METRIC_COSINE};
    m = NULL;
    FT_CHECK_EQ(ft_gallery_matrix_load(g, &wrong, &m, &err), FT_E_DB);
    FT_CHECK(m == NULL && strstr(err.msg, "mixes") != NULL);
    FT_CHECK_EQ(ft_gallery_matrix_load(g, NULL, &m, &err), FT_E_INVALID);
    // A zero vector cannot be enrolled into... it can (the gallery stores
    // any finite vector), but a cosine matrix refuses it.
    static float z[DC];
    ft_sample zs = s[2];
    zs.descriptor = z;
    FT_CHECK_OK(ft_gallery_enroll(g, bob, NULL, &zs, 1, NULL, NULL, &err), &err);
    FT_CHECK_EQ(ft_gallery_matrix_load(g, &cos_space, &m, &err), FT_E_DB);
    FT_CHECK(strstr(err.msg, "zero vector") != NULL);
    // Lengths out of range and a missing space are refused at enrolment.
    ft_sample bad = s[1];
    bad.dim = 0;
    FT_CHECK_EQ(ft_gallery_enroll(g, ann, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    bad.dim = FT_GALLERY_DIM_MAX + 1;
    FT_CHECK_EQ(ft_gallery_enroll(g, ann, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    bad = s[1];
    bad.model[0] = 0;
    FT_CHECK_EQ(ft_gallery_enroll(g, ann, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    bad = s[1];
    bad.region_box[2] = 0;
    FT_CHECK_EQ(ft_gallery_enroll(g, ann, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    ft_gallery_close(g);

    // Arrays: the cosine matrix from raw rows scales them itself.
    int64_t pid[2] = {1, 2};
    static float rows[2 * DC];
    memcpy(rows, a, sizeof a);
    memcpy(rows + DC, b, sizeof b);
    FT_CHECK_OK(ft_match_matrix_new(rows, DC, FT_METRIC_COSINE, pid, NULL, 2, &m, &err), &err);
    memset(q, 0, sizeof q);
    q[1] = 7.0f; // e1: cos to a = 0, to b = 0.8
    FT_CHECK_OK(ft_match(m, q, DC, 0.38, 0.04, &r, &err), &err);
    FT_CHECK_EQ(r.person_id, 2);
    FT_CHECK_NEAR(r.distance, 0.2, 1e-6);
    FT_CHECK_NEAR(r.second_distance, 1.0, 1e-6);
    ft_match_matrix_free(m);
}

// Schema 6: samples record the detector that found their face. A schema-5
// gallery (made by opening a current one and removing what 5 -> 6 added:
// the column and the version; every other table is the same) is migrated
// on open on either store, its rows read "" (not recorded) and new rows
// keep what they are given; values outside the list are refused; on
// SQLite a backup of the schema-5 file restores and migrates, and a
// backup of a schema-6 file keeps the field.
static void test_detector(void)
{
    ft_err err = {0};
    const char *loc = gallery_loc("det5.db");
    char path[1024];
    snprintf(path, sizeof path, "%s", loc);
    ft_gallery *g = open_db("det5.db");
    int64_t old = enroll(g, "Before Six", 1, 1);
    ft_gallery_close(g);
    // Back to schema 5.
    if (on_pg()) {
        FT_CHECK_EQ(pg_one(path, "ALTER TABLE samples DROP COLUMN detector"), 0);
        FT_CHECK_EQ(pg_one(path, "UPDATE facetracker_schema SET version = 5"), 0);
    } else {
        sqlite3 *db;
        FT_CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
        FT_CHECK_EQ(sqlite3_exec(db,
                                 "ALTER TABLE samples DROP COLUMN detector; "
                                 "PRAGMA user_version = 5",
                                 NULL, NULL, NULL),
                    SQLITE_OK);
        sqlite3_close(db);
    }
    FT_CHECK_EQ(sql_count(path, on_pg() ? "SELECT version FROM facetracker_schema"
                                        : "PRAGMA user_version"),
                5);
    char bk5[512];
    snprintf(bk5, sizeof bk5, "%s", tmp_path("det5.bak"));
    if (!on_pg()) {
        // A schema-5 backup: checked as readable, restored below.
        g = NULL;
        ft_gallery_opts ro = ft_gallery_opts_default();
        ro.flags = FT_GALLERY_READONLY;
        FT_CHECK_EQ(ft_gallery_open(path, &ro, &g, &err), FT_E_UNSUPPORTED); // needs migrating
        FT_CHECK(g == NULL);
        sqlite3 *db;
        char sql[600];
        snprintf(sql, sizeof sql, "VACUUM INTO '%s'", bk5); // a copy of the file as it is
        FT_CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
        FT_CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }

    g = open_db("det5.db");
    FT_CHECK_EQ(ft_gallery_schema_version(g), 6);
    ft_sample s[4];
    make_sample(&s[0], 2, 0.01);
    make_sample(&s[1], 2, 0.01);
    make_sample(&s[2], 2, 0.01);
    make_sample(&s[3], 2, 0.01);
    snprintf(s[0].detector, sizeof s[0].detector, "yunet");
    snprintf(s[1].detector, sizeof s[1].detector, "ssd");
    snprintf(s[2].detector, sizeof s[2].detector, "trained");
    int64_t pid = 0, ids[4];
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "After Six", s, 4, &pid, ids, &err), &err);
    ft_sample *list = NULL;
    size_t n = 0;
    FT_CHECK_OK(ft_gallery_samples_list(g, 0, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 5);
    if (n == 5) {
        FT_CHECK_EQ(list[0].person_id, old);
        FT_CHECK_STREQ(list[0].detector, ""); // from before schema 6: not recorded
        FT_CHECK_STREQ(list[1].detector, "yunet");
        FT_CHECK_STREQ(list[2].detector, "ssd");
        FT_CHECK_STREQ(list[3].detector, "trained");
        FT_CHECK_STREQ(list[4].detector, "");
    }
    ft_free(list);
    // Only the listed values; the field must be terminated.
    ft_sample bad = s[0];
    snprintf(bad.detector, sizeof bad.detector, "YuNet");
    FT_CHECK_EQ(ft_gallery_enroll(g, pid, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    FT_CHECK(strstr(err.msg, "detector") != NULL);
    memset(bad.detector, 'x', sizeof bad.detector);
    FT_CHECK_EQ(ft_gallery_enroll(g, pid, NULL, &bad, 1, NULL, NULL, &err), FT_E_INVALID);
    FT_CHECK_OK(ft_gallery_check(g, &err), &err);
    ft_gallery_close(g);
    FT_CHECK_EQ(sql_count(path, "SELECT count(*) FROM samples WHERE detector = 'ssd'"), 1);
    if (on_pg())
        return;

    // SQLite's backups: the schema-5 one restores and migrates; a schema-6
    // one keeps the field.
    char live[512], bk6[512];
    snprintf(live, sizeof live, "%s", tmp_path("det_live.db"));
    snprintf(bk6, sizeof bk6, "%s", tmp_path("det6.bak"));
    ft_gallery_counts c;
    FT_CHECK_OK(ft_gallery_backup_check(bk5, &c, &err), &err);
    FT_CHECK_EQ(c.samples, 1);
    FT_CHECK_OK(ft_gallery_restore(bk5, live, &err), &err);
    FT_CHECK_OK(ft_gallery_open(live, NULL, &g, &err), &err);
    FT_ASSERT(g);
    FT_CHECK_EQ(ft_gallery_schema_version(g), 6);
    FT_CHECK_OK(ft_gallery_enroll(g, old, NULL, &s[1], 1, NULL, NULL, &err), &err);
    FT_CHECK_OK(ft_gallery_backup(g, bk6, &err), &err);
    ft_gallery_close(g);
    FT_CHECK_OK(ft_gallery_open(bk6, NULL, &g, &err), &err);
    FT_ASSERT(g);
    FT_CHECK_OK(ft_gallery_samples_list(g, old, &list, &n, &err), &err);
    FT_CHECK_EQ(n, 2);
    if (n == 2) {
        FT_CHECK_STREQ(list[0].detector, "");
        FT_CHECK_STREQ(list[1].detector, "ssd");
    }
    ft_free(list);
    ft_gallery_close(g);
}

static const ft_test_case cases[] = {
    {"open", test_open},
    {"names", test_names},
    {"people", test_people},
    {"enroll", test_enroll},
    {"delete_cascade", test_delete_cascade},
    {"settings", test_settings},
    {"events", test_events},
    {"events_csv", test_events_csv},
    {"keys", test_keys},
    {"concurrent", test_concurrent},
    {"concurrent_create", test_concurrent_create},
    {"crash", test_crash},
    {"readonly", test_readonly},
    {"busy", test_busy},
    {"corrupt", test_corrupt},
    {"migrate", test_migrate},
    {"oom", test_oom},
    {"match_rules", test_match_rules},
    {"match_brute", test_match_brute},
    {"kernels", test_kernels},
    {"match_reload", test_match_reload},
    {"threads", test_threads},
    {"calibrate", test_calibrate},
    {"calibrate_store", test_calibrate_store},
    {"url_mask", test_url_mask},
    {"pg_feed", test_pg_feed},
    {"copy", test_copy},
    {"spaces", test_spaces},
    {"detector", test_detector},
};

int main(int argc, char **argv)
{
    main_pid = getpid();
    snprintf(pg_prefix, sizeof pg_prefix, "ft%d_", (int)main_pid);
    atexit(pg_cleanup);
    int rc = ft_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
    tmp_cleanup();
    return rc;
}
