// Issue 10, the audit table: every administrative write and its audit row
// are one transaction (the gallery's *_audited functions). For each action
// the test makes the audit insert fail (a trigger that aborts every INSERT
// on audit, made by the test on the gallery's own database) and checks the
// action did not happen and its error came back; then, without the
// trigger, that the action happened with exactly one row naming the actor.
//
// Both backends: with FT_TEST_GALLERY_URL unset the gallery is a SQLite
// file; set (tests/unit/gallery_tx.cmake, the throwaway cluster of
// gallery_pg.cmake) it is a schema of its own in that PostgreSQL database.
#include "core/mem.h"
#include "ft_test.h"
#include "gallery/gallery.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---- Backends ----

static const char *pg_base(void)
{
    const char *u = getenv("FT_TEST_GALLERY_URL");
    return u && *u ? u : NULL;
}

static char schema[64]; // PostgreSQL: this case's schema
static char loc[1024];  // the gallery's location

static void pg_quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

// One statement on a plain connection to url; false (reported) on failure.
static bool pg_exec(const char *url, const char *sql)
{
    bool ok = false;
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg: connect: %s", PQerrorMessage(c));
    } else {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "pg: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

static bool sq_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    bool ok = sqlite3_open(path, &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "sqlite: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return ok;
}

// A fresh gallery for case `name`, opened.
static ft_gallery *open_fresh(const char *name)
{
    if (pg_base()) {
        snprintf(schema, sizeof schema, "fttx%d_%s", (int)getpid(), name);
        char sql[160];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
                 schema);
        FT_ASSERT(pg_exec(pg_base(), sql));
        snprintf(loc, sizeof loc, "%s%soptions=-csearch_path%%3D%s", pg_base(),
                 strchr(pg_base(), '?') ? "&" : "?", schema);
    } else {
        snprintf(loc, sizeof loc, "/tmp/ft_gallery_tx_%d_%s.db", (int)getpid(), name);
        unlink(loc);
    }
    ft_gallery *g = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_open(loc, NULL, &g, &err), &err);
    FT_ASSERT(g != NULL);
    return g;
}

static void close_and_remove(ft_gallery *g)
{
    ft_gallery_close(g);
    if (pg_base()) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
        pg_exec(pg_base(), sql);
    } else {
        char p[1100];
        unlink(loc);
        snprintf(p, sizeof p, "%s-wal", loc);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", loc);
        unlink(p);
    }
}

// Makes every INSERT on the audit table fail (on), or work again (off):
// the injected failure of the audit write, a disk that is full just then.
static void audit_block(bool on)
{
    bool ok;
    if (pg_base())
        ok = pg_exec(loc, on ? "CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql "
                               "AS $$BEGIN RAISE EXCEPTION 'audit refused by the test'; END$$; "
                               "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit FOR EACH ROW "
                               "EXECUTE FUNCTION audit_refuse()"
                             : "DROP TRIGGER audit_refuse ON audit; DROP FUNCTION audit_refuse()");
    else
        ok = sq_exec(loc, on ? "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN "
                               "SELECT RAISE(ABORT, 'audit refused by the test'); END"
                             : "DROP TRIGGER audit_refuse");
    FT_ASSERT(ok);
}

// ---- Helpers ----

#define DIM 8

static ft_sample sample(float *desc, float base)
{
    ft_sample s;
    memset(&s, 0, sizeof s);
    for (int k = 0; k < DIM; k++)
        desc[k] = base + 0.01f * (float)k;
    s.descriptor = desc;
    s.dim = DIM;
    snprintf(s.model, sizeof s.model, "tx%d", DIM);
    s.detector_score = 0.9;
    s.face_w = s.face_h = 100;
    return s;
}

static int64_t n_audit(ft_gallery *g)
{
    ft_audit_row *rows = NULL;
    size_t n = 0;
    int64_t total = -1;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_audit_query(g, 0, 1, &rows, &n, &total, &err), &err);
    ft_free(rows);
    return total;
}

// The newest audit row must be (actor, action, target), and the only one
// since `before` rows.
static void check_audited(ft_gallery *g, int64_t before, const char *actor, const char *action,
                          const char *target)
{
    ft_audit_row *rows = NULL;
    size_t n = 0;
    int64_t total = -1;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_audit_query(g, 0, 1, &rows, &n, &total, &err), &err);
    FT_CHECK_EQ(total, before + 1);
    FT_CHECK_EQ(n, 1);
    if (n == 1) {
        FT_CHECK_STREQ(rows[0].actor, actor);
        FT_CHECK_STREQ(rows[0].action, action);
        FT_CHECK_STREQ(rows[0].target, target);
    }
    ft_free(rows);
}

// The action failed because of the audit row: an error, naming it.
static void check_refused(ft_status st, const ft_err *err)
{
    FT_CHECK(st != FT_OK);
    FT_CHECK(strstr(ft_err_msg(err, st), "audit") != NULL);
}

static int64_t n_people(ft_gallery *g)
{
    ft_gallery_counts c;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_counts_get(g, &c, &err), &err);
    return c.people;
}

static int64_t n_samples(ft_gallery *g)
{
    ft_gallery_counts c;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_counts_get(g, &c, &err), &err);
    return c.samples;
}

static int64_t enrol_plain(ft_gallery *g, const char *name, int64_t *sample_id)
{
    float d[DIM];
    ft_sample s = sample(d, 0.1f);
    int64_t pid = 0;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_enroll(g, 0, name, &s, 1, &pid, sample_id, &err), &err);
    return pid;
}

// ---- Cases ----

static void test_person_add(void)
{
    ft_gallery *g = open_fresh("person_add");
    ft_err err = {0};
    ft_audit_entry a = {"cli:tester", "person.create", NULL, "{\"name\": \"Ann\"}"};
    int64_t id = -1, a0 = n_audit(g);
    audit_block(true);
    check_refused(ft_gallery_person_add_audited(g, "Ann", NULL, NULL, &a, &id, &err), &err);
    FT_CHECK_EQ(id, -1); // out-params written only on success
    FT_CHECK_EQ(n_people(g), 0);
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_person_add_audited(g, "Ann", NULL, NULL, &a, &id, &err), &err);
    FT_CHECK_EQ(n_people(g), 1);
    char target[48];
    snprintf(target, sizeof target, "person:%lld", (long long)id);
    check_audited(g, a0, "cli:tester", "person.create", target);
    close_and_remove(g);
}

static void test_enroll(void)
{
    ft_gallery *g = open_fresh("enroll");
    ft_err err = {0};
    float d[2][DIM];
    ft_sample s[2] = {sample(d[0], 0.2f), sample(d[1], 0.3f)};
    ft_audit_entry a = {"key:3:door", "person.enrol", NULL, "{\"samples\": 2}"};
    int64_t pid = -1, ids[2] = {0, 0}, a0 = n_audit(g);
    // A new person: neither the person nor a sample may stay.
    audit_block(true);
    check_refused(ft_gallery_enroll_audited(g, 0, "Bea", "B-1", "new", s, 2, &a, &pid, ids, &err), &err);
    FT_CHECK_EQ(pid, -1);
    FT_CHECK_EQ(n_people(g), 0);
    FT_CHECK_EQ(n_samples(g), 0);
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_enroll_audited(g, 0, "Bea", "B-1", "new", s, 2, &a, &pid, ids, &err), &err);
    FT_CHECK_EQ(n_people(g), 1);
    FT_CHECK_EQ(n_samples(g), 2);
    char target[48];
    snprintf(target, sizeof target, "person:%lld", (long long)pid);
    check_audited(g, a0, "key:3:door", "person.enrol", target);
    ft_person p;
    FT_CHECK_OK(ft_gallery_person_get(g, pid, &p, &err), &err); // a new person's fields
    FT_CHECK_STREQ(p.external_id, "B-1");
    FT_CHECK_STREQ(p.notes, "new");
    // More samples for the same person, by id (the fields are a new person's only).
    int64_t a1 = n_audit(g), pid2 = -1;
    audit_block(true);
    check_refused(ft_gallery_enroll_audited(g, pid, NULL, "X-9", NULL, s, 1, &a, &pid2, ids, &err), &err);
    FT_CHECK_EQ(n_samples(g), 2);
    FT_CHECK_EQ(n_audit(g), a1);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_enroll_audited(g, pid, NULL, "X-9", NULL, s, 1, &a, &pid2, ids, &err), &err);
    FT_CHECK_EQ(pid2, pid);
    FT_CHECK_EQ(n_samples(g), 3);
    check_audited(g, a1, "key:3:door", "person.enrol", target);
    FT_CHECK_OK(ft_gallery_person_get(g, pid, &p, &err), &err);
    FT_CHECK_STREQ(p.external_id, "B-1");
    // A new person whose external id is taken: nothing at all is written.
    int64_t a2 = n_audit(g);
    FT_CHECK_EQ(ft_gallery_enroll_audited(g, 0, "Cy", "B-1", NULL, s, 1, &a, &pid2, ids, &err),
                FT_E_EXISTS);
    FT_CHECK_EQ(n_people(g), 1);
    FT_CHECK_EQ(n_samples(g), 3);
    FT_CHECK_EQ(n_audit(g), a2);
    close_and_remove(g);
}

static void test_rename_update(void)
{
    ft_gallery *g = open_fresh("rename_update");
    ft_err err = {0};
    int64_t pid = enrol_plain(g, "Cleo", NULL), a0 = n_audit(g);
    char target[48];
    snprintf(target, sizeof target, "person:%lld", (long long)pid);
    ft_audit_entry rn = {"local", "person.rename", target, "{\"old\": \"Cleo\", \"new\": \"Clio\"}"};
    ft_audit_entry up = {"local", "person.update", NULL, "{\"notes_changed\": true}"};
    ft_person p;
    audit_block(true);
    check_refused(ft_gallery_person_rename_audited(g, pid, "Clio", &rn, &err), &err);
    check_refused(ft_gallery_person_update_audited(g, pid, "E-7", "desk 4", &up, &err), &err);
    FT_CHECK_OK(ft_gallery_person_get(g, pid, &p, &err), &err);
    FT_CHECK_STREQ(p.name, "Cleo");
    FT_CHECK_STREQ(p.external_id, "");
    FT_CHECK_STREQ(p.notes, "");
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_person_rename_audited(g, pid, "Clio", &rn, &err), &err);
    check_audited(g, a0, "local", "person.rename", target);
    FT_CHECK_OK(ft_gallery_person_update_audited(g, pid, "E-7", "desk 4", &up, &err), &err);
    check_audited(g, a0 + 1, "local", "person.update", target);
    FT_CHECK_OK(ft_gallery_person_get(g, pid, &p, &err), &err);
    FT_CHECK_STREQ(p.name, "Clio");
    FT_CHECK_STREQ(p.external_id, "E-7");
    FT_CHECK_STREQ(p.notes, "desk 4");
    // A failed action writes no row: renaming someone who does not exist.
    FT_CHECK_EQ(ft_gallery_person_rename_audited(g, pid + 100, "Zed", &rn, &err),
                FT_E_NOT_FOUND);
    FT_CHECK_EQ(n_audit(g), a0 + 2);
    close_and_remove(g);
}

static void test_delete(void)
{
    ft_gallery *g = open_fresh("delete");
    ft_err err = {0};
    int64_t sid = 0, pid = enrol_plain(g, "Dora", &sid), a0 = n_audit(g);
    float d[DIM];
    ft_sample s2 = sample(d, 0.5f);
    int64_t sid2 = 0;
    FT_CHECK_OK(ft_gallery_enroll(g, pid, NULL, &s2, 1, NULL, &sid2, &err), &err);
    ft_audit_entry sd = {"cli:tester", "sample.delete", NULL, NULL};
    ft_audit_entry pd = {"cli:tester", "person.delete", NULL, "{\"name\": \"Dora\"}"};
    audit_block(true);
    check_refused(ft_gallery_sample_delete_audited(g, sid2, &sd, &err), &err);
    check_refused(ft_gallery_person_delete_audited(g, pid, &pd, &err), &err);
    FT_CHECK_EQ(n_people(g), 1);
    FT_CHECK_EQ(n_samples(g), 2);
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_sample_delete_audited(g, sid2, &sd, &err), &err);
    FT_CHECK_EQ(n_samples(g), 1);
    char target[48];
    snprintf(target, sizeof target, "sample:%lld", (long long)sid2);
    check_audited(g, a0, "cli:tester", "sample.delete", target);
    FT_CHECK_OK(ft_gallery_person_delete_audited(g, pid, &pd, &err), &err);
    FT_CHECK_EQ(n_people(g), 0);
    FT_CHECK_EQ(n_samples(g), 0);
    snprintf(target, sizeof target, "person:%lld", (long long)pid);
    check_audited(g, a0 + 1, "cli:tester", "person.delete", target);
    close_and_remove(g);
}

static void test_keys(void)
{
    ft_gallery *g = open_fresh("keys");
    ft_err err = {0};
    char token[FT_KEY_TOKEN_MAX];
    int64_t id = -1, a0 = n_audit(g);
    ft_audit_entry kc = {"cli:tester", "key.create", NULL, "{\"name\": \"door\"}"};
    ft_audit_entry kr = {"cli:tester", "key.revoke", NULL, NULL};
    ft_api_key *keys = NULL;
    size_t n = 0;
    audit_block(true);
    check_refused(ft_gallery_key_create_audited(g, "door", FT_ROLE_ADMIN, &kc, token, &id, &err),
                  &err);
    FT_CHECK_EQ(id, -1);
    FT_CHECK_OK(ft_gallery_keys_list(g, &keys, &n, &err), &err);
    FT_CHECK_EQ(n, 0);
    ft_free(keys);
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_key_create_audited(g, "door", FT_ROLE_ADMIN, &kc, token, &id, &err),
                &err);
    char target[48];
    snprintf(target, sizeof target, "key:%lld", (long long)id);
    check_audited(g, a0, "cli:tester", "key.create", target);
    FT_CHECK_OK(ft_gallery_key_verify(g, token, NULL, &err), &err);
    audit_block(true);
    check_refused(ft_gallery_key_revoke_audited(g, id, &kr, &err), &err);
    FT_CHECK_OK(ft_gallery_key_verify(g, token, NULL, &err), &err); // still valid
    audit_block(false);
    FT_CHECK_OK(ft_gallery_key_revoke_audited(g, id, &kr, &err), &err);
    check_audited(g, a0 + 1, "cli:tester", "key.revoke", target);
    FT_CHECK_EQ(ft_gallery_key_verify(g, token, NULL, &err), FT_E_AUTH);
    close_and_remove(g);
}

static void test_settings(void)
{
    ft_gallery *g = open_fresh("settings");
    ft_err err = {0};
    const char *key = "retention_events_days", *val = "30";
    ft_audit_entry a = {"local", "settings.change", "settings:retention_events_days",
                        "{\"old\": 365, \"new\": 30}"};
    int64_t a0 = n_audit(g);
    char buf[32];
    audit_block(true);
    check_refused(ft_gallery_settings_set_audited(g, &key, &val, 1, &a, &err), &err);
    FT_CHECK_EQ(ft_gallery_setting_get(g, key, buf, sizeof buf, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(n_audit(g), a0);
    audit_block(false);
    FT_CHECK_OK(ft_gallery_settings_set_audited(g, &key, &val, 1, &a, &err), &err);
    FT_CHECK_OK(ft_gallery_setting_get(g, key, buf, sizeof buf, &err), &err);
    FT_CHECK_STREQ(buf, "30");
    check_audited(g, a0, "local", "settings.change", "settings:retention_events_days");
    close_and_remove(g);
}

// An entry the audit table would refuse stops the action before it starts;
// a NULL entry is the unaudited write; after a failed write the entry is
// not left armed for the next one.
static void test_entry_rules(void)
{
    ft_gallery *g = open_fresh("entry_rules");
    ft_err err = {0};
    int64_t id = -1, a0 = n_audit(g);
    ft_audit_entry bad = {"cli:tester", "", NULL, NULL}; // no action
    FT_CHECK_EQ(ft_gallery_person_add_audited(g, "Eve", NULL, NULL, &bad, &id, &err),
                FT_E_INVALID);
    ft_audit_entry bad_detail = {"cli:tester", "person.create", NULL, "not json"};
    FT_CHECK_EQ(ft_gallery_person_add_audited(g, "Eve", NULL, NULL, &bad_detail, &id, &err),
                FT_E_INVALID);
    FT_CHECK_EQ(n_people(g), 0);
    FT_CHECK_OK(ft_gallery_person_add_audited(g, "Eve", NULL, NULL, NULL, &id, &err), &err);
    FT_CHECK_EQ(n_people(g), 1);
    FT_CHECK_EQ(n_audit(g), a0);
    ft_audit_entry a = {"cli:tester", "person.create", NULL, NULL};
    FT_CHECK_EQ(ft_gallery_person_add_audited(g, "Eve", NULL, NULL, &a, &id, &err), FT_E_EXISTS);
    FT_CHECK_EQ(n_audit(g), a0);
    FT_CHECK_OK(ft_gallery_person_rename(g, id, "Eva", &err), &err);
    FT_CHECK_EQ(n_audit(g), a0); // the plain write after it wrote no row
    close_and_remove(g);
}

static const ft_test_case cases[] = {
    {"person_add", test_person_add}, {"enroll", test_enroll},
    {"rename_update", test_rename_update}, {"delete", test_delete},
    {"keys", test_keys}, {"settings", test_settings},
    {"entry_rules", test_entry_rules},
};

FT_TEST_MAIN(cases)
