// The delivery threads: one per sink, each with its own gallery
// connection, so a receiver that is slow or down (a webhook timing out, an
// MQTT broker not acknowledging) never delays another sink, above all the
// door hook. A thread reads its sink's due outbox rows oldest first, sends
// them through the sink's ops table (webhook.c, mqtt.c, hook.c) and records
// the outcome in the outbox; a failure stops the batch so the rows stay in
// order, and the row is retried with exponential backoff. See deliver.h.
#include "deliver/deliver_internal.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 32      // rows read per sink and pass
#define POLL_S 1.0    // look at the outbox at least this often
#define MAX_SINKS (FT_DELIVER_MAX_WEBHOOKS + 2)
#define DIRECT_MAX 64 // events waiting to be sent directly, per sink (ft_deliver_direct)
#define SENT_MAX 256  // uids sent directly, remembered per sink

// The sink kinds, in the order their sinks are built: one line per kind.
static const ft_deliver__sink_ops *const sink_kinds[] = {
    &ft_deliver__webhook_ops,
    &ft_deliver__mqtt_ops,
    &ft_deliver__hook_ops,
};

typedef struct sink {
    const ft_deliver__sink_ops *ops;
    void *impl;
    ft_deliver *d;
    ft_gallery *g; // the thread's own connection
    pthread_t thread;
    bool started;
    // Guarded by ft_deliver.mu:
    ft_deliver_sink_stats st;
    bool kicked;
    uint64_t pass_started, pass_done;
    // Events to send before the outbox is read (ft_deliver_direct), and
    // the uids sent that way: their outbox rows, made later, are marked
    // delivered without sending them again.
    ft_event direct[DIRECT_MAX];
    size_t direct_head, direct_n;
    char sent[SENT_MAX][33];
    size_t sent_next;
    int64_t direct_seq; // negative row ids for direct sends (never a stored row's)
} sink;

struct ft_deliver {
    ft_deliver_opts o;
    char *db_path;
    sink sinks[MAX_SINKS];
    size_t n_sinks;
    const char *names_all[MAX_SINKS];    // sinks for granted events
    const char *names_denied[MAX_SINKS]; // sinks for denied events
    size_t n_all, n_denied;

    pthread_mutex_t mu;
    pthread_cond_t wake; // kick / stop -> threads
    pthread_cond_t done; // a thread finished a pass -> flush
    bool stop;
};

ft_deliver_opts ft_deliver_opts_default(void)
{
    ft_deliver_opts o;
    memset(&o, 0, sizeof o);
    o.webhook_timeout_s = 5;
    o.mqtt_prefix = "facetracker";
    o.hook_timeout_s = 5;
    o.hook_max_age_s = 10;
    o.backoff_min_s = 0.5;
    o.backoff_max_s = 60;
    return o;
}

void ft_deliver__real_str(double v, char *out)
{
    if (!isfinite(v)) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 32, "%.17g", v);
}

static ft_status opts_check(const ft_deliver_opts *o, ft_err *err)
{
    if (o->n_webhooks > FT_DELIVER_MAX_WEBHOOKS)
        return ft_err_set(err, FT_E_INVALID, "deliver: at most %d webhooks",
                          FT_DELIVER_MAX_WEBHOOKS);
    if (!(o->webhook_timeout_s > 0 && o->webhook_timeout_s <= 3600) ||
        !(o->hook_timeout_s > 0 && o->hook_timeout_s <= 3600))
        return ft_err_set(err, FT_E_INVALID, "deliver: timeouts must be in (0, 3600] s");
    if (!(o->hook_max_age_s > 0) || !isfinite(o->hook_max_age_s))
        return ft_err_set(err, FT_E_INVALID, "deliver: hook_max_age_s must be > 0");
    if (!(o->backoff_min_s > 0 && o->backoff_max_s >= o->backoff_min_s &&
          o->backoff_max_s <= 86400))
        return ft_err_set(err, FT_E_INVALID,
                          "deliver: backoff needs 0 < backoff_min_s <= backoff_max_s <= 86400");
    if (o->max_attempts < 0)
        return ft_err_set(err, FT_E_INVALID, "deliver: max_attempts must be >= 0");
    return FT_OK;
}

// Which sinks of a kind the options ask for.
static size_t sinks_wanted(const ft_deliver_opts *o, const ft_deliver__sink_ops *k)
{
    if (k == &ft_deliver__webhook_ops)
        return o->n_webhooks;
    if (k == &ft_deliver__mqtt_ops)
        return o->mqtt && o->mqtt[0] ? 1 : 0;
    if (k == &ft_deliver__hook_ops)
        return o->on_grant && o->on_grant[0] ? 1 : 0;
    return 0;
}

static double backoff(const ft_deliver_opts *o, int attempts)
{
    double b = o->backoff_min_s * pow(2.0, attempts > 1 ? attempts - 1 : 0);
    return b < o->backoff_max_s ? b : o->backoff_max_s;
}

static void err_copy(char dst[256], const char *s)
{
    snprintf(dst, 256, "%s", s);
}

// ---- One pass over the outbox ----

// Sends one row; returns false if the sink's batch must stop here (the row
// is waiting for a retry), and lowers *wake_at to its retry time.
// Whether uid was sent directly by this sink (d->mu held).
static bool sent_directly(const sink *k, const char *uid)
{
    for (size_t i = 0; i < SENT_MAX; i++)
        if (k->sent[i][0] && strcmp(k->sent[i], uid) == 0)
            return true;
    return false;
}

// The events of ft_deliver_direct, oldest first, each tried once: sent,
// its uid is remembered; not sent, its outbox row (made when the event
// reaches the database) is delivered as any other.
static void deliver_direct(sink *k, ft_buf *json)
{
    ft_deliver *d = k->d;
    for (;;) {
        ft_event ev;
        pthread_mutex_lock(&d->mu);
        bool have = k->direct_n > 0 && !d->stop;
        if (have) {
            ev = k->direct[k->direct_head];
            k->direct_head = (k->direct_head + 1) % DIRECT_MAX;
            k->direct_n--;
        }
        ft_outbox_item row;
        memset(&row, 0, sizeof row);
        row.id = --k->direct_seq;
        pthread_mutex_unlock(&d->mu);
        if (!have)
            return;
        row.created_at = row.next_at = ev.time;
        snprintf(row.sink, sizeof row.sink, "%s", k->st.name);
        char why[512] = "";
        json->len = 0;
        ft_deliver__result r = FT_DELIVER__RETRY;
        if (ft_gallery_event_json(&ev, json) == FT_OK && ft_buf_terminate(json) == FT_OK)
            r = k->ops->send(k->impl, &row, &ev, (const char *)json->data, json->len, why,
                             sizeof why);
        pthread_mutex_lock(&d->mu);
        if (r == FT_DELIVER__SENT) {
            k->st.delivered++;
            k->st.connected = true;
            snprintf(k->sent[k->sent_next], sizeof k->sent[0], "%s", ev.uid);
            k->sent_next = (k->sent_next + 1) % SENT_MAX;
        } else {
            k->st.retries++;
            err_copy(k->st.last_error, why);
        }
        pthread_mutex_unlock(&d->mu);
    }
}

static bool deliver_row(sink *k, const ft_outbox_item *row, ft_buf *json, double *wake_at)
{
    ft_deliver *d = k->d;
    ft_err err = {0};
    char why[512] = "";
    ft_event ev;
    ft_deliver__result r;
    ft_status st = ft_gallery_event_get(k->g, row->event_id, &ev, &err);
    bool sent_before = false;
    if (st == FT_OK) {
        pthread_mutex_lock(&d->mu);
        sent_before = sent_directly(k, ev.uid);
        pthread_mutex_unlock(&d->mu);
    }
    if (sent_before) {
        r = FT_DELIVER__SENT; // by ft_deliver_direct, while the database was away
    } else if (st == FT_E_NOT_FOUND) {
        r = FT_DELIVER__GIVE_UP;
        snprintf(why, sizeof why, "event %lld no longer exists", (long long)row->event_id);
    } else if (st != FT_OK) {
        r = FT_DELIVER__RETRY;
        snprintf(why, sizeof why, "%s", ft_err_msg(&err, st));
    } else {
        json->len = 0;
        if ((st = ft_gallery_event_json(&ev, json)) == FT_OK)
            st = ft_buf_terminate(json);
        if (st != FT_OK) {
            r = FT_DELIVER__RETRY;
            snprintf(why, sizeof why, "event JSON: %s", ft_status_str(st));
        } else {
            r = k->ops->send(k->impl, row, &ev, (const char *)json->data, json->len, why,
                             sizeof why);
        }
    }
    int attempts = row->attempts + 1;
    if (r == FT_DELIVER__RETRY && k->ops->max_attempts_apply && d->o.max_attempts > 0 &&
        attempts >= d->o.max_attempts) {
        r = FT_DELIVER__GIVE_UP;
        size_t n = strlen(why);
        snprintf(why + n, sizeof why - n, " (gave up after %d attempts)", attempts);
    }
    double next = ft_wall_s() + backoff(&d->o, attempts);
    ft_err werr = {0};
    switch (r) {
    case FT_DELIVER__SENT: st = ft_gallery_outbox_done(k->g, row->id, &werr); break;
    case FT_DELIVER__GIVE_UP: st = ft_gallery_outbox_fail(k->g, row->id, why, &werr); break;
    default: st = ft_gallery_outbox_retry(k->g, row->id, next, why, &werr); break;
    }

    pthread_mutex_lock(&d->mu);
    if (r == FT_DELIVER__SENT) {
        k->st.delivered++;
        k->st.connected = true;
    } else {
        if (r == FT_DELIVER__RETRY)
            k->st.retries++;
        else
            k->st.failed++;
        k->st.connected = false;
        err_copy(k->st.last_error, why);
    }
    if (st != FT_OK) // the outcome could not be recorded: the row is sent again later
        err_copy(k->st.last_error, ft_err_msg(&werr, st));
    pthread_mutex_unlock(&d->mu);

    if (r == FT_DELIVER__RETRY || st != FT_OK) {
        double at = st != FT_OK ? ft_wall_s() + d->o.backoff_min_s : next;
        if (at < *wake_at)
            *wake_at = at;
        return false;
    }
    return true;
}

// One sink: its due rows, oldest first, until the first failure. Returns
// whether a full batch went out (more may be waiting).
static bool deliver_sink(sink *k, ft_buf *json, double *wake_at)
{
    ft_deliver *d = k->d;
    ft_err err = {0};
    ft_outbox_item *rows = NULL;
    size_t n = 0, i = 0;
    ft_status st = ft_gallery_outbox_due(k->g, k->st.name, ft_wall_s(), BATCH, &rows, &n, &err);
    if (st != FT_OK) {
        pthread_mutex_lock(&d->mu);
        err_copy(k->st.last_error, ft_err_msg(&err, st));
        pthread_mutex_unlock(&d->mu);
        ft_free(rows);
        return false;
    }
    for (; i < n; i++) {
        pthread_mutex_lock(&d->mu);
        bool stop = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stop || !deliver_row(k, &rows[i], json, wake_at))
            break;
    }
    ft_free(rows);
    return n == BATCH && i == n;
}

static void *run(void *arg)
{
    sink *k = arg;
    ft_deliver *d = k->d;
    ft_buf json;
    ft_buf_init(&json, 0);
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        k->kicked = false;
        uint64_t pass = ++k->pass_started;
        pthread_mutex_unlock(&d->mu);

        double wake_at = ft_wall_s() + POLL_S;
        deliver_direct(k, &json);
        bool more = deliver_sink(k, &json, &wake_at);
        int64_t pending = -1;
        ft_err err = {0};
        if (ft_gallery_outbox_count(k->g, k->st.name, &pending, NULL, &err) != FT_OK)
            pending = -1;

        pthread_mutex_lock(&d->mu);
        k->st.pending = pending;
        k->pass_done = pass;
        pthread_cond_broadcast(&d->done);
        if (more || k->kicked || d->stop)
            continue;
        // Sleep until a kick, the earliest retry or the poll interval. The
        // outbox's times are wall-clock (they survive restarts); the wait
        // is on CLOCK_REALTIME to match.
        struct timespec ts;
        ts.tv_sec = (time_t)floor(wake_at);
        ts.tv_nsec = (long)((wake_at - floor(wake_at)) * 1e9);
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_nsec = 999999999L;
        while (!k->kicked && !d->stop) {
            if (pthread_cond_timedwait(&d->wake, &d->mu, &ts) == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    ft_buf_deinit(&json);
    return NULL;
}

// ---- Lifecycle ----

// Stops the threads that were started, then frees everything.
static void deliver_free(ft_deliver *d)
{
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < d->n_sinks; i++)
        if (d->sinks[i].started)
            pthread_join(d->sinks[i].thread, NULL);
    for (size_t i = 0; i < d->n_sinks; i++) {
        if (d->sinks[i].ops->close)
            d->sinks[i].ops->close(d->sinks[i].impl);
        ft_gallery_close(d->sinks[i].g);
    }
    pthread_cond_destroy(&d->wake);
    pthread_cond_destroy(&d->done);
    pthread_mutex_destroy(&d->mu);
    ft_free(d->db_path);
    ft_free(d);
}

ft_status ft_deliver_start(const ft_deliver_opts *o, ft_deliver **out, ft_err *err)
{
    ft_status st;
    *out = NULL;
    if ((st = opts_check(o, err)) != FT_OK)
        return st;
    ft_deliver *d = ft_calloc(1, sizeof *d);
    if (!d)
        return ft_err_set(err, FT_E_NOMEM, "deliver: out of memory");
    d->o = *o;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->wake, NULL);
    pthread_cond_init(&d->done, NULL);
    if (o->db_path && !(d->db_path = ft_strdup(o->db_path))) {
        st = ft_err_set(err, FT_E_NOMEM, "deliver: out of memory");
        goto fail;
    }
    d->o.db_path = d->db_path;
    // The options' strings are the caller's; only the sinks keep copies.
    // The hooks below read them during open only.
    for (size_t k = 0; k < sizeof sink_kinds / sizeof sink_kinds[0]; k++) {
        size_t want = sinks_wanted(o, sink_kinds[k]);
        for (size_t i = 0; i < want; i++) {
            sink *s = &d->sinks[d->n_sinks];
            s->ops = sink_kinds[k];
            s->d = d;
            if ((st = s->ops->open(o, i, s->st.name, &s->impl, err)) != FT_OK)
                goto fail;
            d->n_sinks++;
            for (size_t j = 0; j + 1 < d->n_sinks; j++)
                if (strcmp(d->sinks[j].st.name, s->st.name) == 0) {
                    st = ft_err_set(err, FT_E_INVALID, "deliver: sink \"%s\" configured twice",
                                    s->st.name);
                    goto fail;
                }
            s->st.pending = -1;
            d->names_all[d->n_all++] = s->st.name;
            if (!s->ops->granted_only)
                d->names_denied[d->n_denied++] = s->st.name;
        }
    }
    // Nothing in the options that outlives this call is borrowed any more.
    memset(d->o.webhooks, 0, sizeof d->o.webhooks);
    d->o.n_webhooks = 0;
    d->o.mqtt = d->o.mqtt_prefix = d->o.mqtt_client_id = d->o.mqtt_username = NULL;
    d->o.on_grant = NULL;

    for (size_t i = 0; i < d->n_sinks; i++) {
        ft_gallery_opts go = ft_gallery_opts_default();
        if ((st = ft_gallery_open(d->db_path, &go, &d->sinks[i].g, err)) != FT_OK)
            goto fail;
    }
    for (size_t i = 0; i < d->n_sinks; i++) {
        if (pthread_create(&d->sinks[i].thread, NULL, run, &d->sinks[i]) != 0) {
            st = ft_err_set(err, FT_E_NOMEM, "deliver: cannot start a delivery thread");
            goto fail;
        }
        d->sinks[i].started = true;
    }
    *out = d;
    return FT_OK;
fail:
    deliver_free(d);
    return st;
}

size_t ft_deliver_sinks(const ft_deliver *d, ft_decision decision, const char *const **names)
{
    if (!d) {
        *names = NULL;
        return 0;
    }
    if (decision == FT_DECISION_GRANTED) {
        *names = d->names_all;
        return d->n_all;
    }
    *names = d->names_denied;
    return d->n_denied;
}

void ft_deliver_direct(ft_deliver *d, const ft_event *ev)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n_sinks; i++) {
        sink *k = &d->sinks[i];
        if ((k->ops->granted_only && ev->decision != FT_DECISION_GRANTED) ||
            k->direct_n == DIRECT_MAX)
            continue; // full: the outbox row delivers it later
        ft_event *e = &k->direct[(k->direct_head + k->direct_n) % DIRECT_MAX];
        *e = *ev;
        e->thumbnail = NULL; // borrowed; the event JSON has no image
        e->thumbnail_len = 0;
        k->direct_n++;
        k->kicked = true;
    }
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->mu);
}

void ft_deliver_kick(ft_deliver *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n_sinks; i++)
        d->sinks[i].kicked = true;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->mu);
}

void ft_deliver_source_state(ft_deliver *d, const char *source, bool online)
{
    if (!d || !source)
        return;
    for (size_t i = 0; i < d->n_sinks; i++)
        if (d->sinks[i].ops->source_state)
            d->sinks[i].ops->source_state(d->sinks[i].impl, source, online);
}

size_t ft_deliver_stats(ft_deliver *d, ft_deliver_sink_stats *out, size_t cap)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n_sinks && i < cap; i++) {
        out[i] = d->sinks[i].st;
        if (d->sinks[i].ops->connected)
            out[i].connected = d->sinks[i].ops->connected(d->sinks[i].impl);
    }
    pthread_mutex_unlock(&d->mu);
    return d->n_sinks;
}

// Under d->mu: every sink finished a pass that started after targets[i]
// and had nothing pending at its end. *pending gets the sum.
static bool flushed(ft_deliver *d, const uint64_t *targets, int64_t *pending)
{
    bool ok = true;
    *pending = 0;
    for (size_t i = 0; i < d->n_sinks; i++) {
        const sink *k = &d->sinks[i];
        if (k->pass_done < targets[i] || k->st.pending != 0)
            ok = false;
        *pending += k->st.pending > 0 ? k->st.pending : 0;
    }
    return ok;
}

ft_status ft_deliver_flush(ft_deliver *d, double timeout_s, ft_err *err)
{
    if (!d)
        return FT_OK;
    double deadline = ft_wall_s() + (timeout_s > 0 ? timeout_s : 0);
    struct timespec ts;
    ts.tv_sec = (time_t)floor(deadline);
    ts.tv_nsec = (long)((deadline - floor(deadline)) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    uint64_t targets[MAX_SINKS];
    int64_t pending = 0;
    ft_status st = FT_OK;
    pthread_mutex_lock(&d->mu);
    // Only a pass that starts after this call has seen every row committed
    // before it.
    for (size_t i = 0; i < d->n_sinks; i++) {
        targets[i] = d->sinks[i].pass_started + 1;
        d->sinks[i].kicked = true;
    }
    pthread_cond_broadcast(&d->wake);
    // Rows still pending after a pass wait for their retry time: each
    // thread wakes itself for it, no kick needed (or wanted: a kicked
    // thread would spin over rows that are not due).
    while (!flushed(d, targets, &pending)) {
        if (pthread_cond_timedwait(&d->done, &d->mu, &ts) == ETIMEDOUT) {
            if (flushed(d, targets, &pending))
                break;
            st = ft_err_set(err, FT_E_BUSY, "deliver: %lld outbox rows still pending after %.1f s",
                            (long long)pending, timeout_s);
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return st;
}

void ft_deliver_stop(ft_deliver *d)
{
    if (d)
        deliver_free(d);
}
