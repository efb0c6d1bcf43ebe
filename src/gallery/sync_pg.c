// A server's link to a shared PostgreSQL gallery (sync.h): the listener
// thread (LISTEN, resync after a lost connection, the NOTIFY-to-applied
// latency), the degraded-mode caches the PostgreSQL backend answers from
// while the database is unreachable, and the local spool of events.
#include "gallery/sync_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define CHANNEL "facetracker_gallery"
#define KEYS_MAX 64
#define SETTINGS_MAX 32
#define SETTING_VALUE_MAX 8192

typedef struct key_entry {
    ft_api_key k;
    bool revoked, used;
    char salt[40], hash[65];
    uint64_t stamp;
} key_entry;

typedef struct setting_entry {
    char key[64];
    char *value; // NULL = absent
    bool used;
} setting_entry;

struct ft_gallery_sync {
    char *url;
    ft_gallery_sync_opts o;
    ft_gallery_sync *next; // the registry
    int refs;              // the sync itself + attached handles (registry lock)
    bool stopped;

    pthread_t thread;
    bool thread_started;
    int wake[2]; // a pipe: stop and poke
    atomic_bool stop, poke;

    // The listener's connection and what it heard (mu).
    PGconn *listen;
    char schema[128];
    ft_gallery *flush_g; // a handle of its own for replaying the spool (listener thread only)
    pthread_mutex_t mu;
    bool connected;
    double down_since;
    int64_t version, generation;
    bool have_generation;
    int64_t notifies, connects, flushed, duplicates, refused;
    int64_t lag_count;
    double lag_last_ms, lag_max_ms, lag_sum_ms;

    // Degraded-mode caches (mu).
    setting_entry settings[SETTINGS_MAX];
    int64_t *name_ids; // sorted
    char **names;
    size_t n_names, cap_names;
    bool have_counts;
    ft_gallery_counts counts;
    key_entry keys[KEYS_MAX];
    uint64_t key_stamp;

    // The spool (spool_mu, held across each append and each removal).
    pthread_mutex_t spool_mu;
    sqlite3 *spool;
    int lock_fd;
    int64_t spooled;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static ft_gallery_sync *reg_head;

ft_gallery_sync_opts ft_gallery_sync_opts_default(void)
{
    ft_gallery_sync_opts o;
    memset(&o, 0, sizeof o);
    o.retry_ms = 250;
    return o;
}

// ---- Registry ----

static void sync_free(ft_gallery_sync *s);

ft_gallery_sync *ft_sync__attach(const char *url)
{
    ft_gallery_sync *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (ft_gallery_sync *s = reg_head; s; s = s->next)
        if (!s->stopped && strcmp(s->url, url) == 0) {
            s->refs++;
            found = s;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

void ft_sync__detach(ft_gallery_sync *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&reg_mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&reg_mu);
    if (last)
        sync_free(s);
}

// ---- State and caches ----

bool ft_sync__down(ft_gallery_sync *s, double *since)
{
    pthread_mutex_lock(&s->mu);
    bool down = !s->connected;
    if (since)
        *since = s->down_since;
    pthread_mutex_unlock(&s->mu);
    return down;
}

void ft_sync__generation_put(ft_gallery_sync *s, int64_t gen)
{
    pthread_mutex_lock(&s->mu);
    if (!s->have_generation || gen > s->generation)
        s->generation = gen;
    s->have_generation = true;
    pthread_mutex_unlock(&s->mu);
}

bool ft_sync__generation_get(ft_gallery_sync *s, int64_t *gen)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->have_generation;
    *gen = s->generation;
    pthread_mutex_unlock(&s->mu);
    return have;
}

void ft_sync__setting_put(ft_gallery_sync *s, const char *key, const char *value)
{
    if (strlen(key) >= sizeof s->settings[0].key || (value && strlen(value) >= SETTING_VALUE_MAX))
        return;
    char *v = value ? ft_strdup(value) : NULL;
    if (value && !v)
        return;
    pthread_mutex_lock(&s->mu);
    setting_entry *e = NULL;
    for (int i = 0; i < SETTINGS_MAX && !e; i++)
        if (s->settings[i].used && strcmp(s->settings[i].key, key) == 0)
            e = &s->settings[i];
    for (int i = 0; i < SETTINGS_MAX && !e; i++)
        if (!s->settings[i].used)
            e = &s->settings[i];
    if (e) {
        ft_free(e->value);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->value = v;
        e->used = true;
        v = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    ft_free(v); // the table is full: not cached
}

ft_status ft_sync__setting_get(ft_gallery_sync *s, const char *key, char *out, size_t cap)
{
    ft_status st = FT_E_IO;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SETTINGS_MAX; i++) {
        setting_entry *e = &s->settings[i];
        if (!e->used || strcmp(e->key, key) != 0)
            continue;
        if (!e->value)
            st = FT_E_NOT_FOUND;
        else if (strlen(e->value) >= cap)
            st = FT_E_LIMIT;
        else {
            memcpy(out, e->value, strlen(e->value) + 1);
            st = FT_OK;
        }
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void names_clear(ft_gallery_sync *s)
{
    for (size_t i = 0; i < s->n_names; i++)
        ft_free(s->names[i]);
    s->n_names = 0;
}

static bool names_reserve(ft_gallery_sync *s, size_t n)
{
    if (n <= s->cap_names)
        return true;
    size_t cap = s->cap_names ? s->cap_names : 64;
    while (cap < n)
        cap *= 2;
    int64_t *ids = ft_realloc(s->name_ids, cap * sizeof *ids);
    if (!ids)
        return false;
    s->name_ids = ids;
    char **names = ft_realloc(s->names, cap * sizeof *names);
    if (!names)
        return false;
    s->names = names;
    s->cap_names = cap;
    return true;
}

// Index of id, or where it would go (*found false).
static size_t names_find(const ft_gallery_sync *s, int64_t id, bool *found)
{
    size_t lo = 0, hi = s->n_names;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->name_ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n_names && s->name_ids[lo] == id;
    return lo;
}

void ft_sync__names_set(ft_gallery_sync *s, const int64_t *ids, char *const *names, size_t n)
{
    pthread_mutex_lock(&s->mu);
    names_clear(s);
    if (names_reserve(s, n)) {
        for (size_t i = 0; i < n; i++) {
            char *c = ft_strdup(names[i]);
            if (!c)
                break;
            // ids come sorted (ORDER BY id); keep the array sorted anyway.
            if (s->n_names && s->name_ids[s->n_names - 1] >= ids[i]) {
                ft_free(c);
                continue;
            }
            s->name_ids[s->n_names] = ids[i];
            s->names[s->n_names++] = c;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void ft_sync__name_put(ft_gallery_sync *s, int64_t id, const char *name)
{
    char *c = ft_strdup(name);
    if (!c)
        return;
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t i = names_find(s, id, &found);
    if (found) {
        ft_free(s->names[i]);
        s->names[i] = c;
        c = NULL;
    } else if (names_reserve(s, s->n_names + 1)) {
        memmove(s->name_ids + i + 1, s->name_ids + i, (s->n_names - i) * sizeof *s->name_ids);
        memmove(s->names + i + 1, s->names + i, (s->n_names - i) * sizeof *s->names);
        s->name_ids[i] = id;
        s->names[i] = c;
        s->n_names++;
        c = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    ft_free(c);
}

bool ft_sync__name_get(ft_gallery_sync *s, int64_t id, char *out, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t i = names_find(s, id, &found);
    if (found)
        snprintf(out, cap, "%s", s->names[i]);
    pthread_mutex_unlock(&s->mu);
    return found;
}

void ft_sync__counts_put(ft_gallery_sync *s, const ft_gallery_counts *c)
{
    pthread_mutex_lock(&s->mu);
    s->counts = *c;
    s->have_counts = true;
    pthread_mutex_unlock(&s->mu);
}

bool ft_sync__counts_get(ft_gallery_sync *s, ft_gallery_counts *c)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->have_counts;
    if (have)
        *c = s->counts;
    pthread_mutex_unlock(&s->mu);
    return have;
}

void ft_sync__key_put(ft_gallery_sync *s, const ft_api_key *k, bool revoked, const char *salt,
                      const char *hash)
{
    pthread_mutex_lock(&s->mu);
    key_entry *e = NULL, *oldest = &s->keys[0];
    for (int i = 0; i < KEYS_MAX && !e; i++) {
        if (s->keys[i].used && s->keys[i].k.id == k->id)
            e = &s->keys[i];
        else if (!s->keys[i].used || s->keys[i].stamp < oldest->stamp)
            oldest = &s->keys[i];
    }
    if (!e)
        e = oldest;
    e->k = *k;
    e->revoked = revoked;
    snprintf(e->salt, sizeof e->salt, "%s", salt);
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    e->used = true;
    e->stamp = ++s->key_stamp;
    pthread_mutex_unlock(&s->mu);
}

bool ft_sync__key_get(ft_gallery_sync *s, int64_t id, ft_api_key *k, bool *revoked, char salt[40],
                      char hash[65])
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < KEYS_MAX && !found; i++) {
        key_entry *e = &s->keys[i];
        if (!e->used || e->k.id != id)
            continue;
        *k = e->k;
        *revoked = e->revoked;
        memcpy(salt, e->salt, 40);
        memcpy(hash, e->hash, 65);
        found = true;
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

// ---- The spool ----

static const char spool_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "CREATE TABLE IF NOT EXISTS spool ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  time REAL NOT NULL, source TEXT NOT NULL, decision INTEGER NOT NULL,"
    "  reason TEXT NOT NULL, person_id INTEGER, name_at_time TEXT,"
    "  distance REAL, margin REAL, detector_score REAL, thumbnail BLOB,"
    "  track_id INTEGER, frames INTEGER, first_seen REAL,"
    "  nearest_person_id INTEGER, nearest_name TEXT,"
    "  second_person_id INTEGER, second_name TEXT, second_distance REAL,"
    "  sinks TEXT NOT NULL DEFAULT '', spooled_at REAL NOT NULL,"
    // NULL while the event waits; the database's refusal once it refused it
    // (the row stays here, for an operator to look at).
    "  refusal TEXT);";

#define SPOOL_COLS                                                                          \
    "uid, time, source, decision, reason, person_id, name_at_time, distance, margin, "      \
    "detector_score, thumbnail, track_id, frames, first_seen, nearest_person_id, "          \
    "nearest_name, second_person_id, second_name, second_distance, sinks"

static ft_status spool_err(ft_gallery_sync *s, int rc, const char *what, ft_err *err)
{
    return ft_err_set(err, rc == SQLITE_FULL || rc == SQLITE_IOERR ? FT_E_IO : FT_E_DB,
                      "%s: the event spool: %s: %s", s->o.spool_path, what,
                      sqlite3_errmsg(s->spool));
}

static ft_status spool_open(ft_gallery_sync *s, ft_err *err)
{
    s->lock_fd = open(s->o.spool_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return ft_err_set(err, FT_E_IO, "%s: cannot open the event spool: %s", s->o.spool_path,
                          strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return ft_err_set(err, FT_E_BUSY,
                          "%s: the event spool is in use by another facetracker server (each "
                          "server needs a spool of its own: --spool PATH)",
                          s->o.spool_path);
    int rc = sqlite3_open_v2(s->o.spool_path, &s->spool,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        return spool_err(s, rc, "open", err);
    sqlite3_busy_timeout(s->spool, 5000);
    if ((rc = sqlite3_exec(s->spool, spool_schema, NULL, NULL, NULL)) != SQLITE_OK)
        return spool_err(s, rc, "create", err);
    sqlite3_stmt *q;
    if ((rc = sqlite3_prepare_v2(s->spool,
                                 "SELECT count(*) FILTER (WHERE refusal IS NULL), "
                                 "count(refusal) FROM spool",
                                 -1, &q, NULL)) != SQLITE_OK)
        return spool_err(s, rc, "count", err);
    if (sqlite3_step(q) == SQLITE_ROW) {
        s->spooled = sqlite3_column_int64(q, 0);
        s->refused = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    return FT_OK;
}

bool ft_sync__spooling(ft_gallery_sync *s)
{
    pthread_mutex_lock(&s->spool_mu);
    bool spooling = s->spooled > 0 || ft_sync__down(s, NULL);
    pthread_mutex_unlock(&s->spool_mu);
    return spooling;
}

static void bind_id(sqlite3_stmt *q, int i, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(q, i, id);
    else
        sqlite3_bind_null(q, i);
}

ft_status ft_sync__spool_add(ft_gallery_sync *s, const ft_event *ev, const char *const *sinks,
                             size_t n_sinks, ft_err *err)
{
    ft_buf sk;
    ft_buf_init(&sk, 0);
    for (size_t i = 0; i < n_sinks; i++)
        if (ft_buf_printf(&sk, "%s%s", i ? "\n" : "", sinks[i]) != FT_OK) {
            ft_buf_deinit(&sk);
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        }
    sqlite3_stmt *q = NULL;
    ft_status st = FT_OK;
    pthread_mutex_lock(&s->spool_mu);
    int rc = sqlite3_prepare_v2(s->spool,
                                "INSERT INTO spool(" SPOOL_COLS ", spooled_at) VALUES (?1, ?2, "
                                "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                                "?17, ?18, ?19, ?20, ?21)",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, ev->uid, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 2, ev->time);
        sqlite3_bind_text(q, 3, ev->source, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, ev->decision == FT_DECISION_GRANTED);
        sqlite3_bind_text(q, 5, ev->reason, -1, SQLITE_STATIC);
        bind_id(q, 6, ev->person_id);
        sqlite3_bind_text(q, 7, ev->name_at_time, -1, SQLITE_STATIC);
        ft_gallery__bind_real(q, 8, ev->distance);
        ft_gallery__bind_real(q, 9, ev->margin);
        ft_gallery__bind_real(q, 10, ev->detector_score);
        ft_gallery__bind_blob(q, 11, ev->thumbnail, ev->thumbnail_len);
        bind_id(q, 12, ev->track_id);
        bind_id(q, 13, ev->frames);
        ft_gallery__bind_real(q, 14, ev->first_seen);
        bind_id(q, 15, ev->nearest_person_id);
        sqlite3_bind_text(q, 16, ev->nearest_name, -1, SQLITE_STATIC);
        bind_id(q, 17, ev->second_person_id);
        sqlite3_bind_text(q, 18, ev->second_name, -1, SQLITE_STATIC);
        ft_gallery__bind_real(q, 19, ev->second_distance);
        sqlite3_bind_text(q, 20, sk.len ? (const char *)sk.data : "", (int)sk.len, SQLITE_STATIC);
        sqlite3_bind_double(q, 21, ft_wall_s());
        rc = sqlite3_step(q);
    }
    if (rc == SQLITE_DONE)
        s->spooled++;
    else
        st = spool_err(s, rc, "add event", err);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->spool_mu);
    ft_buf_deinit(&sk);
    return st;
}

// The oldest spooled event: *seq 0 when the spool is empty. ev's
// thumbnail points into *thumb, sinks into *sinks (split at '\n').
typedef struct spooled {
    int64_t seq;
    ft_event ev;
    ft_buf thumb, sinks;
    const char *sink[16];
    size_t n_sinks;
} spooled;

static ft_status spool_oldest(ft_gallery_sync *s, spooled *x, ft_err *err)
{
    sqlite3_stmt *q = NULL;
    ft_status st = FT_OK;
    x->seq = 0;
    pthread_mutex_lock(&s->spool_mu);
    int rc = sqlite3_prepare_v2(s->spool,
                                "SELECT seq, " SPOOL_COLS
                                " FROM spool WHERE refusal IS NULL ORDER BY seq LIMIT 1",
                                -1,
                                &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        ft_event *e = &x->ev;
        ft_event_init(e);
        x->seq = sqlite3_column_int64(q, 0);
        ft_gallery__col_text(q, 1, e->uid, sizeof e->uid);
        e->time = sqlite3_column_double(q, 2);
        ft_gallery__col_text(q, 3, e->source, sizeof e->source);
        e->decision = sqlite3_column_int(q, 4) ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
        ft_gallery__col_text(q, 5, e->reason, sizeof e->reason);
        e->person_id = sqlite3_column_int64(q, 6);
        ft_gallery__col_text(q, 7, e->name_at_time, sizeof e->name_at_time);
        e->distance = ft_gallery__col_real(q, 8);
        e->margin = ft_gallery__col_real(q, 9);
        e->detector_score = ft_gallery__col_real(q, 10);
        x->thumb.len = 0;
        if (sqlite3_column_bytes(q, 11) > 0 &&
            ft_buf_append(&x->thumb, sqlite3_column_blob(q, 11),
                          (size_t)sqlite3_column_bytes(q, 11)) != FT_OK)
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        e->track_id = sqlite3_column_int64(q, 12);
        e->frames = sqlite3_column_int(q, 13);
        e->first_seen = ft_gallery__col_real(q, 14);
        e->nearest_person_id = sqlite3_column_int64(q, 15);
        ft_gallery__col_text(q, 16, e->nearest_name, sizeof e->nearest_name);
        e->second_person_id = sqlite3_column_int64(q, 17);
        ft_gallery__col_text(q, 18, e->second_name, sizeof e->second_name);
        e->second_distance = ft_gallery__col_real(q, 19);
        x->sinks.len = 0;
        const unsigned char *sk = sqlite3_column_text(q, 20);
        if (st == FT_OK && ft_buf_append(&x->sinks, sk ? (const char *)sk : "",
                                         sk ? strlen((const char *)sk) + 1 : 1) != FT_OK)
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
    } else if (rc != SQLITE_DONE) {
        st = spool_err(s, rc, "read", err);
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->spool_mu);
    if (st != FT_OK || !x->seq)
        return st;
    x->ev.thumbnail = x->thumb.len ? x->thumb.data : NULL;
    x->ev.thumbnail_len = x->thumb.len;
    x->n_sinks = 0;
    char *p = (char *)x->sinks.data;
    while (p && *p && x->n_sinks < sizeof x->sink / sizeof x->sink[0]) {
        x->sink[x->n_sinks++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return FT_OK;
}

// Removes seq from the spool (stored), or marks it refused (kept).
static ft_status spool_remove(ft_gallery_sync *s, int64_t seq, const char *refusal, ft_err *err)
{
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&s->spool_mu);
    int rc = sqlite3_prepare_v2(s->spool,
                                refusal ? "UPDATE spool SET refusal = ?2 WHERE seq = ?1"
                                        : "DELETE FROM spool WHERE seq = ?1",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, seq);
        if (refusal)
            sqlite3_bind_text(q, 2, refusal, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
    }
    sqlite3_finalize(q);
    ft_status st = FT_OK;
    if (rc != SQLITE_DONE)
        st = spool_err(s, rc, "remove", err);
    else
        s->spooled--;
    pthread_mutex_unlock(&s->spool_mu);
    if (st == FT_OK && refusal) {
        pthread_mutex_lock(&s->mu);
        s->refused++;
        pthread_mutex_unlock(&s->mu);
    }
    return st;
}

// Replays the spool, oldest first, while the database takes it. Returns
// false when the connection failed (try again after reconnecting).
static bool spool_flush(ft_gallery_sync *s)
{
    spooled x;
    memset(&x, 0, sizeof x);
    ft_buf_init(&x.thumb, 0);
    ft_buf_init(&x.sinks, 0);
    bool ok = true;
    while (!atomic_load(&s->stop)) {
        ft_err err;
        ft_err_clear(&err);
        if (spool_oldest(s, &x, &err) != FT_OK || !x.seq)
            break;
        bool inserted = false;
        ft_status st = ft_store__pg_event_replay(s->flush_g, &x.ev, x.sink, x.n_sinks, &inserted,
                                                 &err);
        if (st == FT_E_IO || st == FT_E_BUSY || st == FT_E_NOMEM) {
            ok = st != FT_E_IO;
            break;
        }
        char refusal[300];
        if (st != FT_OK)
            snprintf(refusal, sizeof refusal, "%s", ft_err_msg(&err, st));
        if (spool_remove(s, x.seq, st == FT_OK ? NULL : refusal, &err) != FT_OK)
            break;
        pthread_mutex_lock(&s->mu);
        if (st == FT_OK) {
            s->flushed++;
            s->duplicates += !inserted;
        }
        pthread_mutex_unlock(&s->mu);
    }
    ft_buf_deinit(&x.thumb);
    ft_buf_deinit(&x.sinks);
    return ok;
}

// ---- The listener ----

static void set_down(ft_gallery_sync *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->connected || s->down_since == 0)
        s->down_since = ft_wall_s();
    s->connected = false;
    pthread_mutex_unlock(&s->mu);
    if (s->listen) {
        PQfinish(s->listen);
        s->listen = NULL;
    }
}

static void notice_quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

// Connects, LISTENs, reads where the gallery is: the full resync.
static bool listen_connect(ft_gallery_sync *s, ft_err *err)
{
    PGconn *c = ft_store__pg_connect(s->url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        ft_err_set(err, FT_E_IO, "the change feed cannot connect: %s",
                   c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return false;
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    PGresult *r = PQexec(c, "LISTEN " CHANNEL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = ok ? PQexec(c, "SELECT current_schema(), version, generation FROM gallery_version "
                       "WHERE id = 1")
           : NULL;
    ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (!ok) {
        ft_err_set(err, FT_E_IO, "the change feed cannot listen: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return false;
    }
    snprintf(s->schema, sizeof s->schema, "%s", PQgetvalue(r, 0, 0));
    int64_t v = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    int64_t gen = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    s->listen = c;
    pthread_mutex_lock(&s->mu);
    s->connected = true;
    s->down_since = 0;
    s->version = v;
    s->generation = gen;
    s->have_generation = true;
    s->connects++;
    pthread_mutex_unlock(&s->mu);
    return true;
}

static void call_change(ft_gallery_sync *s)
{
    if (s->o.on_change)
        s->o.on_change(s->o.arg);
}

// One notification: "<schema> <version> <generation> <commit epoch>".
static void on_notify(ft_gallery_sync *s, const char *payload)
{
    char schema[128];
    long long v = 0, gen = 0;
    double at = NAN;
    int n = sscanf(payload, "%127s %lld %lld %lf", schema, &v, &gen, &at);
    if (n < 3 || strcmp(schema, s->schema) != 0)
        return; // another gallery in the same database
    pthread_mutex_lock(&s->mu);
    s->notifies++;
    if (v > s->version)
        s->version = v;
    bool moved = gen > s->generation;
    if (moved)
        s->generation = gen;
    pthread_mutex_unlock(&s->mu);
    if (!moved)
        return;
    call_change(s);
    if (n == 4 && isfinite(at)) {
        double lag = (ft_wall_s() - at) * 1000.0;
        pthread_mutex_lock(&s->mu);
        s->lag_count++;
        s->lag_last_ms = lag;
        s->lag_sum_ms += lag;
        if (lag > s->lag_max_ms)
            s->lag_max_ms = lag;
        pthread_mutex_unlock(&s->mu);
    }
}

static void pause_ms(ft_gallery_sync *s, int ms)
{
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    poll(&p, 1, ms);
}

static void *listener_main(void *arg)
{
    ft_gallery_sync *s = arg;
    while (!atomic_load(&s->stop)) {
        char drain[64];
        if (!s->listen) {
            ft_err err;
            ft_err_clear(&err);
            if (!listen_connect(s, &err)) {
                set_down(s);
                pause_ms(s, s->o.retry_ms);
                while (read(s->wake[0], drain, sizeof drain) > 0) {
                }
                continue;
            }
            // NOTIFY keeps nothing while we were away: resync in full.
            call_change(s);
        }
        bool pending;
        pthread_mutex_lock(&s->spool_mu);
        pending = s->spooled > 0;
        pthread_mutex_unlock(&s->spool_mu);
        if (pending && !spool_flush(s)) {
            set_down(s);
            continue;
        }
        if (atomic_exchange(&s->poke, false))
            call_change(s);
        struct pollfd p[2] = {{.fd = PQsocket(s->listen), .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        int rc = poll(p, 2, 250);
        if (rc > 0 && (p[1].revents & POLLIN))
            while (read(s->wake[0], drain, sizeof drain) > 0) {
            }
        if (rc > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
            if (!PQconsumeInput(s->listen) || PQstatus(s->listen) != CONNECTION_OK) {
                set_down(s);
                continue;
            }
            PGnotify *nt;
            while ((nt = PQnotifies(s->listen))) {
                if (strcmp(nt->relname, CHANNEL) == 0)
                    on_notify(s, nt->extra);
                PQfreemem(nt);
            }
            if (PQstatus(s->listen) != CONNECTION_OK)
                set_down(s);
        }
    }
    return NULL;
}

// ---- Start and stop ----

static void sync_free(ft_gallery_sync *s)
{
    if (!s)
        return;
    if (s->listen)
        PQfinish(s->listen);
    ft_gallery_close(s->flush_g);
    if (s->spool)
        sqlite3_close(s->spool);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    for (int i = 0; i < SETTINGS_MAX; i++)
        ft_free(s->settings[i].value);
    names_clear(s);
    ft_free(s->names);
    ft_free(s->name_ids);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->spool_mu);
    ft_free((char *)s->o.spool_path);
    ft_free(s->url);
    ft_free(s);
}

ft_status ft_gallery_sync_start(const char *url, const ft_gallery_sync_opts *o,
                                ft_gallery_sync **out, ft_err *err)
{
    ft_gallery_sync_opts def = ft_gallery_sync_opts_default();
    if (!o)
        o = &def;
    *out = NULL;
    if (!url || !ft_store_is_pg_url(url))
        return ft_err_set(err, FT_E_INVALID, "the change feed needs a PostgreSQL gallery");
    if (!o->spool_path || !*o->spool_path)
        return ft_err_set(err, FT_E_INVALID, "the change feed needs a spool file");
    pthread_mutex_lock(&reg_mu);
    bool taken = false;
    for (ft_gallery_sync *x = reg_head; x; x = x->next)
        taken = taken || (!x->stopped && strcmp(x->url, url) == 0);
    pthread_mutex_unlock(&reg_mu);
    if (taken)
        return ft_err_set(err, FT_E_EXISTS, "this process already follows that gallery");
    ft_gallery_sync *s = ft_calloc(1, sizeof *s);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    s->lock_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->spool_mu, NULL);
    s->o = *o;
    if (s->o.retry_ms <= 0)
        s->o.retry_ms = 250;
    s->url = ft_strdup(url);
    s->o.spool_path = ft_strdup(o->spool_path);
    s->refs = 1;
    ft_status st = FT_OK;
    if (!s->url || !s->o.spool_path) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto fail;
    }
    if (pipe(s->wake) != 0) {
        st = ft_err_set(err, FT_E_IO, "cannot make a pipe: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        fcntl(s->wake[i], F_SETFL, O_NONBLOCK), fcntl(s->wake[i], F_SETFD, FD_CLOEXEC);
    if ((st = spool_open(s, err)) != FT_OK)
        goto fail;
    // The replaying handle is opened before the sync is registered: it
    // does not attach to it (its writes go to the database, or fail).
    if ((st = ft_gallery_open(url, NULL, &s->flush_g, err)) != FT_OK)
        goto fail;
    if (!listen_connect(s, err)) {
        st = FT_E_IO;
        goto fail;
    }
    pthread_mutex_lock(&reg_mu);
    for (ft_gallery_sync *x = reg_head; x; x = x->next)
        if (!x->stopped && strcmp(x->url, url) == 0)
            st = ft_err_set(err, FT_E_EXISTS, "this process already follows that gallery");
    if (st == FT_OK) {
        s->next = reg_head;
        reg_head = s;
    }
    pthread_mutex_unlock(&reg_mu);
    if (st != FT_OK)
        goto fail;
    if (pthread_create(&s->thread, NULL, listener_main, s) != 0) {
        s->thread_started = false;
        ft_gallery_sync_stop(s);
        return ft_err_set(err, FT_E_INTERNAL, "cannot start the change feed's thread");
    }
    s->thread_started = true;
    *out = s;
    return FT_OK;
fail:
    sync_free(s);
    return st;
}

void ft_gallery_sync_poke(ft_gallery_sync *s)
{
    if (!s)
        return;
    atomic_store(&s->poke, true);
    ssize_t w = write(s->wake[1], "p", 1);
    (void)w;
}

void ft_gallery_sync_stop(ft_gallery_sync *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    ssize_t w = write(s->wake[1], "s", 1);
    (void)w;
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    pthread_mutex_lock(&reg_mu);
    s->stopped = true;
    for (ft_gallery_sync **p = &reg_head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    // Attached handles no longer fail fast: they see the database directly.
    pthread_mutex_lock(&s->mu);
    s->connected = true;
    pthread_mutex_unlock(&s->mu);
    ft_sync__detach(s);
}

void ft_gallery_sync_status_get(ft_gallery_sync *s, ft_gallery_sync_status *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->spool_mu);
    out->spooled = s->spooled;
    pthread_mutex_unlock(&s->spool_mu);
    pthread_mutex_lock(&s->mu);
    out->connected = s->connected;
    out->down_since = s->down_since;
    out->version = s->version;
    out->generation = s->generation;
    out->notifies = s->notifies;
    out->connects = s->connects;
    out->refused = s->refused;
    out->flushed = s->flushed;
    out->duplicates = s->duplicates;
    out->lag_count = s->lag_count;
    out->lag_last_ms = s->lag_last_ms;
    out->lag_max_ms = s->lag_max_ms;
    out->lag_sum_ms = s->lag_sum_ms;
    pthread_mutex_unlock(&s->mu);
}

// ---- The operations of an attached handle ----
//
// The PostgreSQL backend's table with the reads a door decision makes
// answering from the last-read values while the database is unreachable,
// and events going to the spool when they cannot be stored.

static bool unreachable(ft_status st)
{
    return st == FT_E_IO;
}

static ft_status w_counts_get(ft_gallery *g, ft_gallery_counts *out, ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st = ft_store_pg.counts_get(g, out, err);
    if (st == FT_OK)
        ft_sync__counts_put(s, out);
    else if (unreachable(st) && ft_sync__counts_get(s, out)) {
        ft_err_clear(err);
        st = FT_OK;
    }
    return st;
}

static ft_status w_person_get(ft_gallery *g, int64_t id, ft_person *out, ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st = ft_store_pg.person_get(g, id, out, err);
    if (st == FT_OK) {
        ft_sync__name_put(s, id, out->name);
    } else if (unreachable(st)) {
        char name[FT_GALLERY_NAME_MAX + 1];
        if (ft_sync__name_get(s, id, name, sizeof name)) {
            // What is known of them: the id and the name.
            memset(out, 0, sizeof *out);
            out->id = id;
            snprintf(out->name, sizeof out->name, "%s", name);
            out->created_at = out->updated_at = NAN;
            ft_err_clear(err);
            st = FT_OK;
        }
    }
    return st;
}

static ft_status w_setting_get(ft_gallery *g, const char *key, char *out, size_t cap, ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st = ft_store_pg.setting_get(g, key, out, cap, err);
    if (st == FT_OK) {
        ft_sync__setting_put(s, key, out);
    } else if (st == FT_E_NOT_FOUND) {
        ft_sync__setting_put(s, key, NULL);
    } else if (unreachable(st)) {
        ft_status cached = ft_sync__setting_get(s, key, out, cap);
        if (cached == FT_OK || cached == FT_E_NOT_FOUND) {
            ft_err_clear(err);
            st = cached == FT_OK ? FT_OK
                                 : ft_err_set(err, FT_E_NOT_FOUND, "no setting \"%s\"", key);
        }
    }
    return st;
}

static ft_status w_key_lookup(ft_gallery *g, int64_t id, ft_api_key *k, bool *revoked,
                              char salt[40], char hash[65], ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st = ft_store_pg.key_lookup(g, id, k, revoked, salt, hash, err);
    if (st == FT_OK)
        ft_sync__key_put(s, k, *revoked, salt, hash);
    else if (unreachable(st) && ft_sync__key_get(s, id, k, revoked, salt, hash)) {
        ft_err_clear(err);
        st = FT_OK;
    }
    return st;
}

static ft_status w_generation(ft_gallery *g, int64_t *out, ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st = ft_store_pg.generation(g, out, err);
    if (st == FT_OK)
        ft_sync__generation_put(s, *out);
    else if (unreachable(st) && ft_sync__generation_get(s, out)) {
        ft_err_clear(err);
        st = FT_OK;
    }
    return st;
}

// The matrix, and everyone's name beside it (a granted face's name while
// the database is away).
static ft_status w_matrix_load(ft_gallery *g, const ft_gallery_space *space,
                               ft_match_matrix **out, ft_err *err)
{
    ft_status st = ft_store_pg.matrix_load(g, space, out, err);
    if (st != FT_OK)
        return st;
    PGresult *r = PQexecParams(ft_store__pg_conn(g), "SELECT id, name FROM people ORDER BY id", 0,
                               NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        size_t n = (size_t)PQntuples(r);
        int64_t *ids = n ? ft_malloc(n * sizeof *ids) : NULL;
        char **names = n ? ft_malloc(n * sizeof *names) : NULL;
        if (n && ids && names) {
            for (size_t i = 0; i < n; i++) {
                ids[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
                names[i] = PQgetvalue(r, (int)i, 1);
            }
            ft_sync__names_set(ft_store__pg_sync(g), ids, names, n);
        }
        ft_free(ids);
        ft_free(names);
    }
    PQclear(r); // names are a convenience: a failure here changes nothing
    return FT_OK;
}

// The event's uid and time are fixed before the first attempt, so a
// commit whose acknowledgement was lost and the spooled copy are one
// event (the replay finds the uid and stores nothing).
static ft_status w_event_add_outbox(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                    size_t n_sinks, ft_err *err)
{
    ft_gallery_sync *s = ft_store__pg_sync(g);
    ft_status st;
    if (!ev->uid[0] && (st = ft_gallery__uid_new(ev->uid, err)) != FT_OK)
        return st;
    if (!(ev->time > 0))
        ev->time = ft_wall_s();
    if (!ft_sync__spooling(s)) {
        st = ft_store_pg.event_add_outbox(g, ev, sinks, n_sinks, err);
        if (!unreachable(st))
            return st;
    }
    ft_err_clear(err);
    if ((st = ft_sync__spool_add(s, ev, sinks, n_sinks, err)) != FT_OK)
        return st;
    ev->id = 0; // not in the database yet
    return FT_OK;
}

static ft_store_ops synced_ops;
static pthread_once_t synced_once = PTHREAD_ONCE_INIT;

static void synced_init(void)
{
    synced_ops = ft_store_pg;
    synced_ops.counts_get = w_counts_get;
    synced_ops.person_get = w_person_get;
    synced_ops.setting_get = w_setting_get;
    synced_ops.key_lookup = w_key_lookup;
    synced_ops.generation = w_generation;
    synced_ops.matrix_load = w_matrix_load;
    synced_ops.event_add_outbox = w_event_add_outbox;
}

const ft_store_ops *ft_sync__ops(void)
{
    pthread_once(&synced_once, synced_init);
    return &synced_ops;
}
