// The gallery store: opening and migrating the SQLite file, SQL helpers,
// people, samples and enrolment. Events, settings, keys, matching and
// calibration live in the neighbouring files (see gallery.h).
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

// 'FTg1' in the header's application_id: marks a facetracker gallery so we
// never migrate someone else's SQLite file into one.
#define FT_GALLERY_APP_ID 0x46546731

// ---- Schema and migrations ----

// migrations[v] takes a database from user_version v to v+1. Never edit a
// released entry; append a new one and bump FT_GALLERY_SCHEMA_VERSION.
static const char *const migrations[] = {
    // 0 -> 1: the initial schema.
    "CREATE TABLE people ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  external_id TEXT UNIQUE,"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  created_at REAL NOT NULL,"
    "  updated_at REAL NOT NULL);"
    "CREATE TABLE samples ("
    "  id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    "  descriptor BLOB NOT NULL CHECK (length(descriptor) = 512),"
    "  model TEXT NOT NULL,"
    "  alignment TEXT NOT NULL,"
    "  detector_score REAL,"
    "  face_w INTEGER,"
    "  face_h INTEGER,"
    "  thumbnail BLOB,"
    "  source_sha256 TEXT,"
    "  created_at REAL NOT NULL);"
    "CREATE INDEX samples_person ON samples(person_id);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  time REAL NOT NULL,"
    "  source TEXT NOT NULL,"
    "  decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),"
    "  reason TEXT NOT NULL,"
    "  person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,"
    "  name_at_time TEXT,"
    "  distance REAL,"
    "  margin REAL,"
    "  detector_score REAL,"
    "  thumbnail BLOB);"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'device', 'viewer')),"
    "  salt TEXT NOT NULL,"
    "  key_hash TEXT NOT NULL,"
    "  created_at REAL NOT NULL,"
    "  revoked_at REAL,"
    "  last_used_at REAL);",
    // 1 -> 2: event indexes for the history queries, and the change counter
    // that lets matchers in any process see that samples changed.
    "CREATE INDEX events_time ON events(time);"
    "CREATE INDEX events_person ON events(person_id);"
    "INSERT OR IGNORE INTO settings(key, value) VALUES ('generation', '0');"
    "CREATE TRIGGER samples_gen_ins AFTER INSERT ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;"
    "CREATE TRIGGER samples_gen_del AFTER DELETE ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;"
    "CREATE TRIGGER samples_gen_upd AFTER UPDATE ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;",
    // 2 -> 3: the door pipeline. Events name their track, the frames and
    // time span they were decided from, the nearest and second-nearest
    // person, and carry a unique idempotency key (uid; older rows get a
    // random one); the outbox holds one row per event and sink until it is
    // delivered (src/deliver).
    "ALTER TABLE events ADD COLUMN uid TEXT;"
    "UPDATE events SET uid = lower(hex(randomblob(16)));"
    "CREATE UNIQUE INDEX events_uid ON events(uid);"
    "ALTER TABLE events ADD COLUMN track_id INTEGER;"
    "ALTER TABLE events ADD COLUMN frames INTEGER;"
    "ALTER TABLE events ADD COLUMN first_seen REAL;"
    "ALTER TABLE events ADD COLUMN nearest_person_id INTEGER;"
    "ALTER TABLE events ADD COLUMN nearest_name TEXT;"
    "ALTER TABLE events ADD COLUMN second_person_id INTEGER;"
    "ALTER TABLE events ADD COLUMN second_name TEXT;"
    "ALTER TABLE events ADD COLUMN second_distance REAL;"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    "  sink TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL,"
    "  next_at REAL NOT NULL,"
    "  last_error TEXT,"
    "  delivered_at REAL,"
    "  failed_at REAL);"
    "CREATE INDEX outbox_pending ON outbox(sink, id) WHERE delivered_at IS NULL AND failed_at IS NULL;"
    "CREATE INDEX outbox_event ON outbox(event_id);",
    // 3 -> 4: the audit trail of administrative actions (audit.c): who
    // (actor), what (action), on what (target) and details (a JSON object).
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time REAL NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX audit_time ON audit(time);",
    // 4 -> 5: descriptor spaces of any length. Samples carry `dim` and a
    // BLOB of 4 * dim bytes (every older row is face-api's 128-d ResNet:
    // dim 128, its space string already in `model`), and the face region
    // a later space can be computed from (region, the JPEG; region_x..h,
    // the detection box inside it). SQLite cannot drop a CHECK, so the
    // table is rebuilt (its index and triggers with it).
    "CREATE TABLE samples5 ("
    "  id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    "  dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),"
    "  descriptor BLOB NOT NULL CHECK (length(descriptor) = 4 * dim),"
    "  model TEXT NOT NULL,"
    "  alignment TEXT NOT NULL,"
    "  detector_score REAL,"
    "  face_w INTEGER,"
    "  face_h INTEGER,"
    "  thumbnail BLOB,"
    "  source_sha256 TEXT,"
    "  created_at REAL NOT NULL,"
    "  region BLOB,"
    "  region_x REAL, region_y REAL, region_w REAL, region_h REAL);"
    "INSERT INTO samples5(id, person_id, dim, descriptor, model, alignment, detector_score,"
    "  face_w, face_h, thumbnail, source_sha256, created_at)"
    "  SELECT id, person_id, 128, descriptor, model, alignment, detector_score, face_w, face_h,"
    "  thumbnail, source_sha256, created_at FROM samples;"
    "DROP TABLE samples;"
    "ALTER TABLE samples5 RENAME TO samples;"
    "CREATE INDEX samples_person ON samples(person_id);"
    "CREATE INDEX samples_model ON samples(model);"
    "CREATE TRIGGER samples_gen_ins AFTER INSERT ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;"
    "CREATE TRIGGER samples_gen_del AFTER DELETE ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;"
    "CREATE TRIGGER samples_gen_upd AFTER UPDATE ON samples BEGIN"
    "  UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';"
    "END;",
    // 5 -> 6: the detector that found each sample's face (its region box
    // is that detector's; the landmark crop depends on it). Older rows
    // get '' (not recorded): nothing is guessed. No CHECK on the values,
    // which SQLite could not widen without rebuilding the table;
    // sample_check validates them.
    "ALTER TABLE samples ADD COLUMN detector TEXT NOT NULL DEFAULT '';",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == FT_GALLERY_SCHEMA_VERSION,
               "one migration per schema version");

// ---- SQL helpers ----

ft_status ft_gallery__dberr(ft_gallery *g, int rc, ft_err *err, const char *what)
{
    const char *msg = g && g->db ? sqlite3_errmsg(g->db) : sqlite3_errstr(rc);
    const char *path = g && g->path ? g->path : "?";
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ft_err_set(err, FT_E_BUSY,
                          "%s: %s: database is locked by another connection (waited %d ms)", path,
                          what, g ? g->busy_ms : 0);
    case SQLITE_NOMEM:
        return ft_err_set(err, FT_E_NOMEM, "%s: %s: out of memory", path, what);
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return ft_err_set(err, FT_E_EXISTS, "%s: %s: %s", path, what, msg);
        return ft_err_set(err, FT_E_DB, "%s: %s: %s", path, what, msg);
    case SQLITE_READONLY:
        return ft_err_set(err, FT_E_DB, "%s: %s: the database is read-only", path, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ft_err_set(err, FT_E_DB, "%s: %s: the file is corrupt or not a database (%s)",
                          path, what, msg);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return ft_err_set(err, FT_E_IO, "%s: %s: %s", path, what, msg);
    default:
        return ft_err_set(err, FT_E_DB, "%s: %s: %s", path, what, msg);
    }
}

ft_status ft_gallery__prepare(ft_gallery *g, const char *sql, sqlite3_stmt **st, ft_err *err)
{
    int rc = sqlite3_prepare_v2(g->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return ft_gallery__dberr(g, rc, err, "prepare");
    }
    return FT_OK;
}

ft_status ft_gallery__writable(ft_gallery *g, ft_err *err)
{
    if (g->readonly)
        return ft_err_set(err, FT_E_DB, "%s: the database is read-only (opened read-only or "
                                        "the file is not writable)", g->path);
    return FT_OK;
}

ft_status ft_gallery__exec(ft_gallery *g, const char *sql, ft_err *err)
{
    int rc = sqlite3_exec(g->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ft_gallery__dberr(g, rc, err, sql);
    return FT_OK;
}

ft_status ft_gallery__begin(ft_gallery *g, ft_err *err)
{
    ft_status st = ft_gallery__writable(g, err);
    if (st != FT_OK)
        return st;
    int rc = sqlite3_exec(g->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ft_gallery__dberr(g, rc, err, "begin write transaction");
    return FT_OK;
}

ft_status ft_gallery__commit(ft_gallery *g, ft_err *err)
{
    if (g->audit_armed) {
        // The administrative write's audit row, in its transaction.
        const ft_audit_entry *a = g->audit_armed;
        char target[FT_AUDIT_TARGET_MAX + 1];
        ft_gallery__audit_armed_target(g, target);
        g->audit_armed = NULL;
        ft_status st = ft_gallery__audit_tx(g, a->actor, a->action, target, a->detail, err);
        if (st != FT_OK) {
            ft_gallery__rollback(g);
            return st;
        }
    }
    int rc = sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ft_status st = ft_gallery__dberr(g, rc, err, "commit");
        ft_gallery__rollback(g);
        return st;
    }
    g->local_seq++;
    return FT_OK;
}

void ft_gallery__rollback(ft_gallery *g)
{
    if (!sqlite3_get_autocommit(g->db))
        sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
}

void ft_gallery__hook(ft_gallery *g, const char *point)
{
    if (g->hook)
        g->hook(point, g->hook_arg);
}

void ft_gallery__col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    size_t n = s ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

double ft_gallery__col_real(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NAN;
    return sqlite3_column_double(st, col);
}

int ft_gallery__bind_real(sqlite3_stmt *st, int idx, double v)
{
    if (isnan(v))
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_double(st, idx, v);
}

int ft_gallery__bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n)
{
    if (!p || n == 0)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_blob(st, idx, p, (int)n, SQLITE_TRANSIENT);
}

void ft_gallery__desc_to_le(const float *d, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &d[i], 4);
        out[4 * i] = (uint8_t)u;
        out[4 * i + 1] = (uint8_t)(u >> 8);
        out[4 * i + 2] = (uint8_t)(u >> 16);
        out[4 * i + 3] = (uint8_t)(u >> 24);
    }
}

void ft_gallery__desc_from_le(const uint8_t *p, size_t n, float *d)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
        memcpy(&d[i], &u, 4);
    }
}

ft_status ft_gallery__blob_get(ft_gallery *g, const char *sql, int64_t id, ft_buf *out,
                               const char *what, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        out->len = 0;
        st = ft_buf_append(out, p, p ? n : 0);
        if (st != FT_OK)
            ft_err_set(err, st, "%s %lld: cannot hold %zu bytes", what, (long long)id, n);
    } else if (rc == SQLITE_DONE) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no %s with id %lld", what, (long long)id);
    } else {
        st = ft_gallery__dberr(g, rc, err, what);
    }
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__generation(ft_gallery *g, int64_t *out, ft_err *err)
{
    return ft_gallery_setting_get_int(g, "generation", 0, out, err);
}

// One integer from a single-row query (a PRAGMA, a count).
static ft_status query_int(ft_gallery *g, const char *sql, int64_t *out, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    else
        st = ft_gallery__dberr(g, rc, err, sql);
    sqlite3_finalize(s);
    return st;
}

// ---- Opening ----

static ft_status check_identity(ft_gallery *g, int64_t version, bool in_tx, ft_err *err);

// Runs the migrations still missing, each in its own write transaction.
// The version is re-read inside the transaction: another process may have
// migrated the file meanwhile.
static ft_status migrate(ft_gallery *g, ft_err *err)
{
    ft_status st = FT_OK;
    for (;;) {
        int64_t v;
        if ((st = ft_gallery__begin(g, err)) != FT_OK)
            return st;
        if ((st = query_int(g, "PRAGMA user_version", &v, err)) != FT_OK ||
            (st = check_identity(g, v, true, err)) != FT_OK)
            goto fail;
        if (v >= FT_GALLERY_SCHEMA_VERSION) {
            g->version = (int)v;
            return ft_gallery__commit(g, err);
        }
        int rc = sqlite3_exec(g->db, migrations[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migration %lld -> %lld", (long long)v,
                     (long long)v + 1);
            st = ft_gallery__dberr(g, rc, err, what);
            goto fail;
        }
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %lld; PRAGMA application_id = %d",
                 (long long)v + 1, FT_GALLERY_APP_ID);
        if ((st = ft_gallery__exec(g, sql, err)) != FT_OK)
            goto fail;
        if ((st = ft_gallery__commit(g, err)) != FT_OK)
            return st;
    }
fail:
    ft_gallery__rollback(g);
    return st;
}

// Refuses files that are SQLite but not ours (someone else's tables) and
// schemas newer than this build.
static ft_status check_identity(ft_gallery *g, int64_t version, bool in_tx, ft_err *err)
{
    int64_t app_id = 0, n_tables = 0;
    ft_status st;
    // A new file (version 0) is checked in the migration transaction, not
    // at open: another process may be creating the schema right now, and
    // user_version, application_id and the tables read outside one
    // transaction come from different moments.
    if (version == 0 && !in_tx)
        return FT_OK;
    st = query_int(g, "PRAGMA application_id", &app_id, err);
    if (st != FT_OK)
        return st;
    if (app_id != 0 && app_id != FT_GALLERY_APP_ID)
        return ft_err_set(err, FT_E_DB, "%s: not a facetracker database (application_id %#llx)",
                          g->path, (unsigned long long)app_id);
    if (version == 0) {
        st = query_int(g, "SELECT count(*) FROM sqlite_schema", &n_tables, err);
        if (st != FT_OK)
            return st;
        if (n_tables != 0)
            return ft_err_set(err, FT_E_DB,
                              "%s: not a facetracker database (an SQLite file with other tables)",
                              g->path);
    }
    if (version > FT_GALLERY_SCHEMA_VERSION)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "%s: database schema version %lld is newer than this facetracker "
                          "supports (%d); upgrade facetracker",
                          g->path, (long long)version, FT_GALLERY_SCHEMA_VERSION);
    return FT_OK;
}

// WAL: readers never block the writer, and a crash mid-transaction leaves
// the last committed state. Switching a new file to WAL needs a lock that
// SQLite does not wait for (it returns BUSY at once when another process
// is opening the same new file), so retry until the busy timeout.
static ft_status enable_wal(ft_gallery *g, ft_err *err)
{
    double deadline = ft_now_ms() + g->busy_ms;
    for (;;) {
        sqlite3_stmt *s;
        char mode[16] = "";
        ft_status st = ft_gallery__prepare(g, "PRAGMA journal_mode = WAL", &s, err);
        if (st != FT_OK)
            return st;
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            ft_gallery__col_text(s, 0, mode, sizeof mode);
        sqlite3_finalize(s);
        if (rc == SQLITE_ROW) {
            if (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0)
                return FT_OK;
            return ft_err_set(err, FT_E_DB, "%s: cannot switch to WAL (journal mode stays %s)",
                              g->path, mode);
        }
        if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
            ft_now_ms() > deadline)
            return ft_gallery__dberr(g, rc, err, "enable WAL");
        usleep(5000);
    }
}

ft_status ft_store__sqlite_open(ft_gallery *g, const char *path, const ft_gallery_opts *o,
                                ft_err *err)
{
    ft_status st;
    int64_t version;
    bool ro = o->flags & FT_GALLERY_READONLY;
    if ((ro || (o->flags & FT_GALLERY_NO_CREATE)) && access(path, F_OK) != 0)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: no gallery database (%s)", path,
                          strerror(errno));
    g->path = ft_strdup(path);
    if (!g->path)
        return ft_err_set(err, FT_E_NOMEM, "%s: out of memory", path);

    int flags = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &g->db, flags, NULL);
    if (rc != SQLITE_OK)
        return ft_gallery__dberr(g, rc, err, "open");
    sqlite3_extended_result_codes(g->db, 1);
    sqlite3_busy_timeout(g->db, g->busy_ms);
    // A write-protected file opens read-only even when asked for read-write.
    g->readonly = ro || sqlite3_db_readonly(g->db, "main") == 1;

    // The first statement reads the header: random bytes fail here (NOTADB).
    if ((st = ft_gallery__exec(g, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON", err)) !=
        FT_OK)
        return st;
    if ((st = query_int(g, "PRAGMA user_version", &version, err)) != FT_OK)
        return st;
    if ((st = check_identity(g, version, g->readonly, err)) != FT_OK)
        return st;

    if (g->readonly) {
        if (version == 0)
            return ft_err_set(err, FT_E_DB, "%s: empty database, and it is read-only", path);
        if (version < FT_GALLERY_SCHEMA_VERSION)
            return ft_err_set(err, FT_E_UNSUPPORTED,
                              "%s: schema version %lld needs migrating to %d, but the database "
                              "is read-only; open it read-write once",
                              path, (long long)version, FT_GALLERY_SCHEMA_VERSION);
        g->version = (int)version;
        return FT_OK;
    }
    if ((st = enable_wal(g, err)) != FT_OK)
        return st;
    if ((st = ft_gallery__exec(g, "PRAGMA synchronous = NORMAL", err)) != FT_OK)
        return st;
    // Only take the write lock when there is something to migrate, so
    // opening never waits for another connection's write.
    if (version < FT_GALLERY_SCHEMA_VERSION)
        return migrate(g, err);
    g->version = (int)version;
    return FT_OK;
}

void ft_gallery__sq_close(ft_gallery *g)
{
    if (g->db)
        sqlite3_close_v2(g->db);
    g->db = NULL;
}

ft_status ft_gallery__sq_counts_get(ft_gallery *g, ft_gallery_counts *out, ft_err *err)
{
    ft_gallery_counts c;
    ft_status st;
    if ((st = query_int(g, "SELECT count(*) FROM people", &c.people, err)) != FT_OK ||
        (st = query_int(g, "SELECT count(*) FROM samples", &c.samples, err)) != FT_OK ||
        (st = query_int(g, "SELECT count(*) FROM events", &c.events, err)) != FT_OK ||
        (st = query_int(g, "SELECT count(*) FROM api_keys", &c.api_keys, err)) != FT_OK)
        return st;
    *out = c;
    return FT_OK;
}

ft_status ft_gallery__sq_check(ft_gallery *g, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(g, "PRAGMA integrity_check", &s, err);
    if (st != FT_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        st = ft_gallery__dberr(g, rc, err, "integrity check");
    } else {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            st = ft_err_set(err, FT_E_DB, "%s: integrity check failed: %s", g->path,
                            r ? r : "?");
    }
    sqlite3_finalize(s);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g, "PRAGMA foreign_key_check", &s, err)) != FT_OK)
        return st;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        st = ft_err_set(err, FT_E_DB, "%s: foreign key check failed in table %s", g->path,
                        (const char *)sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "foreign key check");
    sqlite3_finalize(s);
    return st;
}

// ---- Names ----

// Decodes one UTF-8 sequence at s (n bytes left); returns its length, or 0
// if malformed (overlong, surrogate, > U+10FFFF, truncated).
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

// Shared by names, external ids, key names and event sources.
static ft_status text_check(const char *what, const char *s, size_t max, bool allow_empty,
                            ft_err *err)
{
    if (!s)
        return ft_err_set(err, FT_E_INVALID, "%s is missing", what);
    size_t n = strlen(s);
    if (n == 0 && !allow_empty)
        return ft_err_set(err, FT_E_INVALID, "%s is empty", what);
    if (n > max)
        return ft_err_set(err, FT_E_INVALID, "%s is longer than %zu bytes (%zu)", what, max, n);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(u + i, n - i, &cp);
        if (len == 0)
            return ft_err_set(err, FT_E_INVALID, "%s is not valid UTF-8 (byte %zu)", what, i);
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            return ft_err_set(err, FT_E_INVALID, "%s contains a control character (byte %zu)",
                              what, i);
        i += len;
    }
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        return ft_err_set(err, FT_E_INVALID, "%s has leading or trailing spaces", what);
    return FT_OK;
}

ft_status ft_gallery_name_check(const char *name, ft_err *err)
{
    ft_status st = text_check("name", name, FT_GALLERY_NAME_MAX, false, err);
    if (st != FT_OK)
        return st;
    // An all-digit name reads as an id wherever a person is named on a
    // command line or in a URL: "people delete 1" must never be a question.
    if (strspn(name, "0123456789") == strlen(name))
        return ft_err_set(err, FT_E_INVALID,
                          "name \"%s\" is all digits, which reads as an id; add a letter", name);
    return FT_OK;
}

ft_status ft_gallery__text_check(const char *what, const char *s, size_t max, bool allow_empty,
                                 ft_err *err)
{
    return text_check(what, s, max, allow_empty, err);
}

// ---- People ----

#define PERSON_COLS                                                                        \
    "p.id, p.name, p.external_id, p.notes, p.created_at, p.updated_at, "                   \
    "(SELECT count(*) FROM samples s WHERE s.person_id = p.id)"

static void person_row(sqlite3_stmt *s, ft_person *p)
{
    p->id = sqlite3_column_int64(s, 0);
    ft_gallery__col_text(s, 1, p->name, sizeof p->name);
    ft_gallery__col_text(s, 2, p->external_id, sizeof p->external_id);
    ft_gallery__col_text(s, 3, p->notes, sizeof p->notes);
    p->created_at = sqlite3_column_double(s, 4);
    p->updated_at = sqlite3_column_double(s, 5);
    p->n_samples = sqlite3_column_int64(s, 6);
}

// Turns a UNIQUE violation on people into a message naming the field.
static ft_status person_exists(ft_gallery *g, const char *name, const char *ext, ft_err *err)
{
    const char *m = sqlite3_errmsg(g->db);
    if (strstr(m, "external_id"))
        return ft_err_set(err, FT_E_EXISTS, "external id \"%s\" is already used by another person",
                          ext ? ext : "");
    return ft_err_set(err, FT_E_EXISTS, "a person named \"%s\" already exists", name ? name : "");
}

static ft_status extid_notes_check(const char *ext, const char *notes, ft_err *err)
{
    ft_status st;
    if (ext && (st = text_check("external id", ext, FT_GALLERY_NAME_MAX, true, err)) != FT_OK)
        return st;
    if (notes && strlen(notes) > FT_GALLERY_NOTES_MAX)
        return ft_err_set(err, FT_E_INVALID, "notes are longer than %d bytes",
                          FT_GALLERY_NOTES_MAX);
    if (notes) {
        // Notes may hold newlines and tabs, but must be UTF-8.
        const unsigned char *u = (const unsigned char *)notes;
        size_t n = strlen(notes);
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t len = utf8_decode(u + i, n - i, &cp);
            if (len == 0)
                return ft_err_set(err, FT_E_INVALID, "notes are not valid UTF-8 (byte %zu)", i);
            i += len;
        }
    }
    return FT_OK;
}

// Inserts a person inside the caller's transaction.
static ft_status person_insert(ft_gallery *g, const char *name, const char *ext,
                               const char *notes, int64_t *id, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(
        g,
        "INSERT INTO people(name, external_id, notes, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?4)",
        &s, err);
    if (st != FT_OK)
        return st;
    double now = ft_wall_s();
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (ext && *ext)
        sqlite3_bind_text(s, 2, ext, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, notes ? notes : "", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        *id = g->audit_id = sqlite3_last_insert_rowid(g->db);
    else if ((rc & 0xff) == SQLITE_CONSTRAINT)
        st = person_exists(g, name, ext, err);
    else
        st = ft_gallery__dberr(g, rc, err, "add person");
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_person_add(ft_gallery *g, const char *name, const char *external_id,
                                    const char *notes, int64_t *id_out, ft_err *err)
{
    ft_status st;
    int64_t id = 0;
    if ((st = ft_gallery_name_check(name, err)) != FT_OK ||
        (st = extid_notes_check(external_id, notes, err)) != FT_OK)
        return st;
    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    if ((st = person_insert(g, name, external_id, notes, &id, err)) != FT_OK) {
        ft_gallery__rollback(g);
        return st;
    }
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    if (id_out)
        *id_out = id;
    return FT_OK;
}

static ft_status person_get_where(ft_gallery *g, const char *where, int64_t id, const char *name,
                                  ft_person *out, ft_err *err)
{
    char sql[512];
    sqlite3_stmt *s;
    snprintf(sql, sizeof sql, "SELECT " PERSON_COLS " FROM people p WHERE %s", where);
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    if (name)
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        person_row(s, out);
    else if (rc == SQLITE_DONE)
        st = name ? ft_err_set(err, FT_E_NOT_FOUND, "no person named \"%s\"", name)
                  : ft_err_set(err, FT_E_NOT_FOUND, "no person with id %lld", (long long)id);
    else
        st = ft_gallery__dberr(g, rc, err, "get person");
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_person_get(ft_gallery *g, int64_t id, ft_person *out, ft_err *err)
{
    return person_get_where(g, "p.id = ?1", id, NULL, out, err);
}

ft_status ft_gallery__sq_person_find(ft_gallery *g, const char *name, ft_person *out, ft_err *err)
{
    if (!name)
        return ft_err_set(err, FT_E_INVALID, "name is missing");
    return person_get_where(g, "p.name = ?1", 0, name, out, err);
}

ft_status ft_gallery__collect(ft_gallery *g, sqlite3_stmt *s, size_t size, ft_gallery__row_fn row,
                              const char *what, void **out, size_t *n, ft_err *err)
{
    unsigned char *v = NULL;
    size_t len = 0, cap = 0;
    ft_status st = FT_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            size_t bytes, nc = cap ? cap * 2 : 16;
            unsigned char *nv;
            if (!ft_size_mul(nc, size, &bytes) || !(nv = ft_realloc(v, bytes))) {
                st = ft_err_set(err, FT_E_NOMEM, "%s: out of memory", what);
                goto done;
            }
            v = nv;
            cap = nc;
        }
        memset(v + len * size, 0, size);
        if ((st = row(g, s, v + len * size, err)) != FT_OK)
            goto done;
        len++;
    }
    if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, what);
done:
    sqlite3_finalize(s);
    if (st != FT_OK) {
        ft_free(v);
        return st;
    }
    *out = v;
    *n = len;
    return FT_OK;
}

static ft_status person_row_v(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err)
{
    person_row(s, dst);
    return FT_OK;
}

ft_status ft_gallery__sq_people_list(ft_gallery *g, ft_person **out, size_t *n, ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(
        g, "SELECT " PERSON_COLS " FROM people p ORDER BY p.name, p.id", &s, err);
    if (st != FT_OK)
        return st;
    return ft_gallery__collect(g, s, sizeof **out, person_row_v, "list people", (void **)out, n,
                               err);
}

// Runs an UPDATE on one person id in its own transaction; FT_E_NOT_FOUND
// if no row changed. ?1 id, ?2 now, ?3 a (a name, or with b_used an
// external id), ?4 b (notes, with b_used), ?5 with b_used: a is NULL.
static ft_status person_write(ft_gallery *g, const char *sql, int64_t id, const char *a,
                              const char *b, bool b_used, const char *what, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g, sql, &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_double(s, 2, ft_wall_s());
    if (a)
        sqlite3_bind_text(s, 3, a, -1, SQLITE_STATIC);
    if (b_used && b)
        sqlite3_bind_text(s, 4, b, -1, SQLITE_STATIC);
    if (b_used)
        sqlite3_bind_int(s, 5, a == NULL);
    int rc = sqlite3_step(s);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        st = b_used ? person_exists(g, NULL, a, err) : person_exists(g, a, NULL, err);
        goto fail;
    }
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, what);
        goto fail;
    }
    if (sqlite3_changes(g->db) == 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no person with id %lld", (long long)id);
        goto fail;
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

ft_status ft_gallery__sq_person_rename(ft_gallery *g, int64_t id, const char *name, ft_err *err)
{
    ft_status st = ft_gallery_name_check(name, err);
    if (st != FT_OK)
        return st;
    return person_write(g, "UPDATE people SET name = ?3, updated_at = ?2 WHERE id = ?1", id, name,
                        NULL, false, "rename person", err);
}

ft_status ft_gallery__sq_person_update(ft_gallery *g, int64_t id, const char *external_id,
                                       const char *notes, ft_err *err)
{
    ft_status st = extid_notes_check(external_id, notes, err);
    if (st != FT_OK)
        return st;
    // ?3 external id (NULL = keep, '' = clear; ?5 = it is NULL), ?4 notes (NULL = keep).
    return person_write(g,
                        "UPDATE people SET updated_at = ?2,"
                        " external_id = CASE WHEN ?5 THEN external_id ELSE nullif(?3, '') END,"
                        " notes = coalesce(?4, notes) WHERE id = ?1",
                        id, external_id, notes, true, "update person", err);
}

ft_status ft_gallery__sq_person_delete(ft_gallery *g, int64_t id, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    // Event rows are the audit trail and stay (person_id becomes NULL by the
    // foreign key, name_at_time remains), but the face images go.
    if ((st = ft_gallery__prepare(g, "UPDATE events SET thumbnail = NULL WHERE person_id = ?1",
                                  &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    s = NULL;
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "delete person's event thumbnails");
        goto fail;
    }
    if ((st = ft_gallery__prepare(g, "DELETE FROM people WHERE id = ?1", &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "delete person");
        goto fail;
    }
    if (sqlite3_changes(g->db) == 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no person with id %lld", (long long)id);
        goto fail;
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

// ---- Samples and enrolment ----

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return s[64] == '\0';
}

bool ft_gallery_detector_valid(const char *name)
{
    static const char *const ok[] = {"", "yunet", "ssd", "tiny", "trained"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(name, ok[i]) == 0)
            return true;
    return false;
}

static ft_status sample_check(const ft_sample *x, size_t i, ft_err *err)
{
    if (!x->descriptor || x->dim < 1 || x->dim > FT_GALLERY_DIM_MAX)
        return ft_err_set(err, FT_E_INVALID,
                          "sample %zu: descriptor missing or of length %u (1..%d)", i,
                          (unsigned)x->dim, FT_GALLERY_DIM_MAX);
    for (size_t k = 0; k < x->dim; k++)
        if (!isfinite(x->descriptor[k]))
            return ft_err_set(err, FT_E_INVALID, "sample %zu: descriptor value %zu is not finite",
                              i, k);
    size_t ml = strnlen(x->model, sizeof x->model);
    if (ml == sizeof x->model)
        return ft_err_set(err, FT_E_INVALID, "sample %zu: space name is not terminated", i);
    if (ml == 0)
        return ft_err_set(err, FT_E_INVALID, "sample %zu: descriptor space is missing", i);
    ft_status st = text_check("model", x->model, FT_GALLERY_MODEL_MAX, true, err);
    if (st != FT_OK)
        return st;
    if (x->alignment[0] && strcmp(x->alignment, "faceapi") != 0 &&
        strcmp(x->alignment, "similarity") != 0 && strcmp(x->alignment, "box") != 0)
        return ft_err_set(err, FT_E_INVALID,
                          "sample %zu: alignment must be \"faceapi\", \"similarity\" or \"box\"",
                          i);
    if (x->region_len > FT_GALLERY_THUMB_MAX || (x->region_len && !x->region))
        return ft_err_set(err, FT_E_INVALID, "sample %zu: region is missing or over %u bytes",
                          i, FT_GALLERY_THUMB_MAX);
    if (x->region_len)
        for (int k = 0; k < 4; k++)
            if (!isfinite(x->region_box[k]) || x->region_box[k] < 0 ||
                (k >= 2 && !(x->region_box[k] > 0)))
                return ft_err_set(err, FT_E_INVALID, "sample %zu: bad region box", i);
    if (strnlen(x->detector, sizeof x->detector) == sizeof x->detector ||
        !ft_gallery_detector_valid(x->detector))
        return ft_err_set(err, FT_E_INVALID,
                          "sample %zu: detector must be \"yunet\", \"ssd\", \"tiny\", "
                          "\"trained\" or \"\" (not recorded)",
                          i);
    if (x->source_sha256[0] && !is_hex64(x->source_sha256))
        return ft_err_set(err, FT_E_INVALID, "sample %zu: source_sha256 is not 64 hex digits", i);
    if (x->thumbnail_len > FT_GALLERY_THUMB_MAX || (x->thumbnail_len && !x->thumbnail))
        return ft_err_set(err, FT_E_INVALID, "sample %zu: thumbnail is missing or over %u bytes",
                          i, FT_GALLERY_THUMB_MAX);
    if (x->face_w < 0 || x->face_h < 0 || !(x->detector_score >= 0.0 && x->detector_score <= 1.0))
        return ft_err_set(err, FT_E_INVALID, "sample %zu: bad face size or detector score", i);
    return FT_OK;
}

ft_status ft_gallery__sq_enroll(ft_gallery *g, int64_t person_id, const char *name,
                                const char *external_id, const char *notes,
                                const ft_sample *samples, size_t n, int64_t *person_out,
                                int64_t *sample_ids, ft_err *err)
{
    ft_status st;
    sqlite3_stmt *s = NULL;
    int rc;

    if (n == 0 || !samples)
        return ft_err_set(err, FT_E_INVALID, "enrolment needs at least one sample");
    if (n > 10000)
        return ft_err_set(err, FT_E_INVALID, "too many samples in one enrolment (%zu)", n);
    if (person_id <= 0 && (st = ft_gallery_name_check(name, err)) != FT_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if ((st = sample_check(&samples[i], i, err)) != FT_OK)
            return st;

    if ((st = ft_gallery__begin(g, err)) != FT_OK)
        return st;
    const char *find = person_id > 0 ? "SELECT id FROM people WHERE id = ?1"
                                     : "SELECT id FROM people WHERE name = ?1";
    if ((st = ft_gallery__prepare(g, find, &s, err)) != FT_OK)
        goto fail;
    if (person_id > 0)
        sqlite3_bind_int64(s, 1, person_id);
    else
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        person_id = g->audit_id = sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "enrol: find person");
        goto fail;
    } else if (person_id > 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no person with id %lld", (long long)person_id);
        goto fail;
    } else {
        sqlite3_finalize(s);
        s = NULL;
        if ((st = person_insert(g, name, external_id, notes, &person_id, err)) != FT_OK)
            goto fail;
        ft_gallery__hook(g, "enroll:person");
    }
    sqlite3_finalize(s);
    s = NULL;

    if ((st = ft_gallery__prepare(
             g,
             "INSERT INTO samples(person_id, descriptor, model, alignment, detector_score, "
             "face_w, face_h, thumbnail, source_sha256, created_at, dim, region, region_x, "
             "region_y, region_w, region_h, detector) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
             "?17)",
             &s, err)) != FT_OK)
        goto fail;
    double now = ft_wall_s();
    for (size_t i = 0; i < n; i++) {
        const ft_sample *x = &samples[i];
        uint8_t blob[FT_GALLERY_DIM_MAX * 4];
        ft_gallery__desc_to_le(x->descriptor, x->dim, blob);
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, person_id);
        sqlite3_bind_blob(s, 2, blob, (int)x->dim * 4, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, x->model, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, x->alignment[0] ? x->alignment : "faceapi", -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_double(s, 5, x->detector_score);
        sqlite3_bind_int(s, 6, x->face_w);
        sqlite3_bind_int(s, 7, x->face_h);
        ft_gallery__bind_blob(s, 8, x->thumbnail, x->thumbnail_len);
        if (x->source_sha256[0])
            sqlite3_bind_text(s, 9, x->source_sha256, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 9);
        sqlite3_bind_double(s, 10, now);
        sqlite3_bind_int(s, 11, (int)x->dim);
        ft_gallery__bind_blob(s, 12, x->region, x->region_len);
        for (int k = 0; k < 4; k++) {
            if (x->region_len)
                sqlite3_bind_double(s, 13 + k, x->region_box[k]);
            else
                sqlite3_bind_null(s, 13 + k);
        }
        sqlite3_bind_text(s, 17, x->detector, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            st = ft_gallery__dberr(g, rc, err, "enrol: insert sample");
            goto fail;
        }
        if (sample_ids)
            sample_ids[i] = sqlite3_last_insert_rowid(g->db);
    }
    sqlite3_finalize(s);
    s = NULL;
    if ((st = ft_gallery__prepare(g, "UPDATE people SET updated_at = ?2 WHERE id = ?1", &s,
                                  err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, person_id);
    sqlite3_bind_double(s, 2, now);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "enrol: update person");
        goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    ft_gallery__hook(g, "enroll:samples");
    if ((st = ft_gallery__commit(g, err)) != FT_OK)
        return st;
    if (person_out)
        *person_out = person_id;
    return FT_OK;
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

#define SAMPLE_COLS                                                                        \
    "id, person_id, descriptor, model, alignment, detector_score, face_w, face_h, "        \
    "source_sha256, created_at, length(thumbnail), dim, length(region), region_x, "        \
    "region_y, region_w, region_h, detector"

// One row into x; its descriptor is appended to *fl (x->descriptor stays
// NULL until the list is packed).
static ft_status sample_row(ft_gallery *g, sqlite3_stmt *s, ft_sample *x, ft_buf *fl,
                            ft_err *err)
{
    memset(x, 0, sizeof *x);
    x->id = sqlite3_column_int64(s, 0);
    x->person_id = sqlite3_column_int64(s, 1);
    const void *blob = sqlite3_column_blob(s, 2);
    int64_t dim = sqlite3_column_int64(s, 11);
    if (!blob || dim < 1 || dim > FT_GALLERY_DIM_MAX || sqlite3_column_bytes(s, 2) != dim * 4)
        return ft_err_set(err, FT_E_DB, "%s: sample %lld has a malformed descriptor", g->path,
                          (long long)x->id);
    x->dim = (uint32_t)dim;
    float d[FT_GALLERY_DIM_MAX];
    ft_gallery__desc_from_le(blob, (size_t)dim, d);
    ft_status st = ft_buf_append(fl, d, (size_t)dim * sizeof(float));
    if (st != FT_OK)
        return ft_err_set(err, st, "list samples: out of memory");
    ft_gallery__col_text(s, 3, x->model, sizeof x->model);
    ft_gallery__col_text(s, 4, x->alignment, sizeof x->alignment);
    x->detector_score = ft_gallery__col_real(s, 5);
    x->face_w = sqlite3_column_int(s, 6);
    x->face_h = sqlite3_column_int(s, 7);
    ft_gallery__col_text(s, 8, x->source_sha256, sizeof x->source_sha256);
    x->created_at = sqlite3_column_double(s, 9);
    x->thumbnail_len = (size_t)sqlite3_column_int64(s, 10);
    x->region_len = (size_t)sqlite3_column_int64(s, 12);
    for (int k = 0; k < 4; k++)
        x->region_box[k] = (float)sqlite3_column_double(s, 13 + k);
    ft_gallery__col_text(s, 17, x->detector, sizeof x->detector);
    return FT_OK;
}

ft_status ft_gallery__samples_pack(const ft_sample *v, size_t n, const float *floats,
                                   const size_t *offs, ft_sample **out, ft_err *err)
{
    size_t head, total = 0, bytes;
    *out = NULL;
    if (n == 0)
        return FT_OK;
    for (size_t i = 0; i < n; i++)
        total += v[i].dim;
    // Descriptors start 64-byte aligned after the array (ft_malloc's block
    // is at least 16-byte aligned; keep float alignment in any case).
    head = (n * sizeof *v + 63) & ~(size_t)63;
    if (!ft_size_mul(total, sizeof(float), &bytes) || head + bytes < head)
        return ft_err_set(err, FT_E_LIMIT, "list samples: too large");
    unsigned char *blk = ft_malloc(head + bytes);
    if (!blk)
        return ft_err_set(err, FT_E_NOMEM, "list samples: out of memory");
    ft_sample *a = (ft_sample *)(void *)blk;
    float *f = (float *)(void *)(blk + head);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = v[i];
        a[i].descriptor = f + o;
        memcpy(f + o, floats + offs[i], v[i].dim * sizeof(float));
        o += v[i].dim;
    }
    *out = a;
    return FT_OK;
}

ft_status ft_gallery__sq_samples_list(ft_gallery *g, int64_t person_id, ft_sample **out, size_t *n,
                                      ft_err *err)
{
    sqlite3_stmt *s;
    ft_buf fl = {0}, rows = {0}, offs = {0};
    ft_status st = ft_gallery__prepare(
        g,
        person_id > 0 ? "SELECT " SAMPLE_COLS " FROM samples WHERE person_id = ?1 ORDER BY id"
                      : "SELECT " SAMPLE_COLS " FROM samples ORDER BY id",
        &s, err);
    if (st != FT_OK)
        return st;
    if (person_id > 0)
        sqlite3_bind_int64(s, 1, person_id);
    int rc;
    size_t cnt = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ft_sample x;
        size_t off = fl.len / sizeof(float);
        if ((st = sample_row(g, s, &x, &fl, err)) != FT_OK)
            goto done;
        if ((st = ft_buf_append(&rows, &x, sizeof x)) != FT_OK ||
            (st = ft_buf_append(&offs, &off, sizeof off)) != FT_OK) {
            st = ft_err_set(err, st, "list samples: out of memory");
            goto done;
        }
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "list samples");
        goto done;
    }
    if ((st = ft_gallery__samples_pack((const ft_sample *)(void *)rows.data, cnt,
                                       (const float *)(void *)fl.data,
                                       (const size_t *)(void *)offs.data, out, err)) != FT_OK)
        goto done;
    *n = cnt;
done:
    sqlite3_finalize(s);
    ft_buf_deinit(&fl);
    ft_buf_deinit(&rows);
    ft_buf_deinit(&offs);
    return st;
}

ft_status ft_gallery__sq_sample_delete(ft_gallery *g, int64_t sample_id, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_status st = ft_gallery__begin(g, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_gallery__prepare(g, "DELETE FROM samples WHERE id = ?1", &s, err)) != FT_OK)
        goto fail;
    sqlite3_bind_int64(s, 1, sample_id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "delete sample");
        goto fail;
    }
    if (sqlite3_changes(g->db) == 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no sample with id %lld", (long long)sample_id);
        goto fail;
    }
    sqlite3_finalize(s);
    return ft_gallery__commit(g, err);
fail:
    sqlite3_finalize(s);
    ft_gallery__rollback(g);
    return st;
}

ft_status ft_gallery__sq_sample_thumbnail(ft_gallery *g, int64_t sample_id, ft_buf *out, ft_err *err)
{
    return ft_gallery__blob_get(g, "SELECT thumbnail FROM samples WHERE id = ?1", sample_id, out,
                                "sample", err);
}

ft_status ft_gallery__sq_sample_region(ft_gallery *g, int64_t sample_id, ft_buf *out,
                                       float box[4], ft_err *err)
{
    sqlite3_stmt *s;
    ft_status st = ft_gallery__prepare(
        g, "SELECT region, region_x, region_y, region_w, region_h FROM samples WHERE id = ?1", &s,
        err);
    if (st != FT_OK)
        return st;
    sqlite3_bind_int64(s, 1, sample_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t n = p ? (size_t)sqlite3_column_bytes(s, 0) : 0;
        out->len = 0;
        if ((st = ft_buf_append(out, p, n)) != FT_OK)
            ft_err_set(err, st, "sample %lld: cannot hold its region", (long long)sample_id);
        for (int k = 0; box && k < 4; k++)
            box[k] = n ? (float)sqlite3_column_double(s, 1 + k) : 0.0f;
    } else if (rc == SQLITE_DONE) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "no sample with id %lld", (long long)sample_id);
    } else {
        st = ft_gallery__dberr(g, rc, err, "sample region");
    }
    sqlite3_finalize(s);
    return st;
}

// ---- Shared argument rules (gallery_internal.h) ----

ft_status ft_gallery__extid_notes_check(const char *ext, const char *notes, ft_err *err)
{
    return extid_notes_check(ext, notes, err);
}

ft_status ft_gallery__sample_check(const ft_sample *x, size_t i, ft_err *err)
{
    return sample_check(x, i, err);
}
