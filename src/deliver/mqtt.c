// The MQTT sink: publishes the event JSON with QoS 1 on
// <prefix>/<source>/access through libmosquitto, whose own thread
// (mosquitto_loop_start) connects, keeps the session alive and reconnects
// with backoff. A row counts as delivered only when the broker's PUBACK for
// its message id arrives (on_publish). Retained <prefix>/<source>/status
// messages say whether each source is online; the client's will (and a
// clean stop) set <prefix>/server/<client id>/status to "offline".
//
// Topic levels made from names (source, client id) have '/', '+' and '#'
// replaced by '_': a source name never adds levels or wildcards.
#include "deliver/deliver_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACK_RING 64
#define TOPIC_MAX 512

typedef struct source_state {
    char name[FT_GALLERY_NAME_MAX + 1];
    bool online;
} source_state;

typedef struct mqtt {
    struct mosquitto *m;
    char host[256];
    int port;
    char prefix[128];
    char server_topic[TOPIC_MAX];
    double timeout_s;
    bool loop_started;
    // connect_async itself failed: the delivery thread calls
    // mosquitto_connect_async again, at most once a second.
    bool need_connect;
    double last_try_ms;

    pthread_mutex_t mu; // everything below
    pthread_cond_t cv;
    bool connected;
    uint64_t conn_gen; // bumped on every successful connect
    char conn_error[128];
    int acked[ACK_RING]; // mids the broker acknowledged (ring)
    size_t n_acked;
    // The row whose message is on its way: a retry of that row waits for
    // the same message instead of publishing it again.
    int64_t inflight_row;
    int inflight_mid;
    uint64_t inflight_gen;
    source_state *sources;
    size_t n_sources;
} mqtt;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

// mosquitto_lib_init is process-global and not thread-safe: once.
static void lib_init(void)
{
    mosquitto_lib_init();
}

// Appends `s` to dst as one topic level.
static void topic_level(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    for (; *s && n + 1 < cap; s++)
        dst[n++] = (*s == '/' || *s == '+' || *s == '#') ? '_' : *s;
    dst[n] = '\0';
}

static void topic_for(const mqtt *q, const char *source, const char *leaf, char *out, size_t cap)
{
    snprintf(out, cap, "%s/", q->prefix);
    topic_level(out, cap, source);
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "/%s", leaf);
}

static void publish_state(mqtt *q, const char *source, bool online)
{
    char topic[TOPIC_MAX];
    const char *v = online ? "online" : "offline";
    topic_for(q, source, "status", topic, sizeof topic);
    // QoS 1 and retained: a subscriber arriving later still learns the
    // state. Queued by libmosquitto while disconnected.
    mosquitto_publish(q->m, NULL, topic, (int)strlen(v), v, 1, true);
}

// ---- libmosquitto callbacks (its thread) ----

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    mqtt *q = arg;
    pthread_mutex_lock(&q->mu);
    if (rc == 0) {
        q->connected = true;
        q->conn_gen++;
        q->conn_error[0] = '\0';
    } else {
        q->connected = false;
        snprintf(q->conn_error, sizeof q->conn_error, "broker refused: %s",
                 mosquitto_connack_string(rc));
    }
    size_t n = q->n_sources;
    source_state *copy = n ? ft_malloc(n * sizeof *copy) : NULL;
    if (copy)
        memcpy(copy, q->sources, n * sizeof *copy);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (rc == 0) {
        // Retained states are the broker's memory; a broker restarted
        // without persistence has forgotten them.
        mosquitto_publish(m, NULL, q->server_topic, 6, "online", 1, true);
        for (size_t i = 0; copy && i < n; i++)
            publish_state(q, copy[i].name, copy[i].online);
    }
    ft_free(copy);
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc)
{
    mqtt *q = arg;
    pthread_mutex_lock(&q->mu);
    q->connected = false;
    if (rc != 0)
        snprintf(q->conn_error, sizeof q->conn_error, "disconnected: %s",
                 mosquitto_strerror(rc));
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
    mqtt *q = arg;
    pthread_mutex_lock(&q->mu);
    q->acked[q->n_acked++ % ACK_RING] = mid;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

// Under q->mu: whether `mid` was acknowledged (and forgets it if so).
static bool take_ack(mqtt *q, int mid)
{
    size_t n = q->n_acked < ACK_RING ? q->n_acked : ACK_RING;
    for (size_t i = 0; i < n; i++)
        if (q->acked[i] == mid) {
            q->acked[i] = -1;
            return true;
        }
    return false;
}

// ---- The sink ----

static void mq_close(void *impl)
{
    mqtt *q = impl;
    if (!q)
        return;
    if (q->m) {
        if (q->loop_started) {
            pthread_mutex_lock(&q->mu);
            bool up = q->connected;
            pthread_mutex_unlock(&q->mu);
            if (up) {
                // A clean stop: say so, wait (briefly) for the broker to
                // take it, then disconnect without triggering the will.
                int mid = -1;
                if (mosquitto_publish(q->m, &mid, q->server_topic, 7, "offline", 1, true) ==
                    MOSQ_ERR_SUCCESS) {
                    double end = ft_now_ms() + 1000.0;
                    pthread_mutex_lock(&q->mu);
                    while (!take_ack(q, mid) && q->connected && ft_now_ms() < end) {
                        pthread_mutex_unlock(&q->mu);
                        usleep(5000);
                        pthread_mutex_lock(&q->mu);
                    }
                    pthread_mutex_unlock(&q->mu);
                }
            }
            mosquitto_disconnect(q->m);
            mosquitto_loop_stop(q->m, false);
        }
        mosquitto_destroy(q->m);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    ft_free(q->sources);
    ft_free(q);
}

static ft_status parse_hostport(const char *s, char *host, size_t cap, int *port, ft_err *err)
{
    const char *colon = strrchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    *port = 1883;
    if (n == 0 || n >= cap)
        return ft_err_set(err, FT_E_INVALID, "mqtt \"%s\": host missing or too long", s);
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
            return ft_err_set(err, FT_E_INVALID, "mqtt \"%s\": bad port", s);
        *port = (int)p;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)host[i] <= 0x20 || host[i] == '/')
            return ft_err_set(err, FT_E_INVALID, "mqtt \"%s\": bad host", s);
    return FT_OK;
}

static ft_status mq_open(const ft_deliver_opts *o, size_t index, char *name, void **impl,
                         ft_err *err)
{
    ft_status st;
    char client_id[128];
    mqtt *q = ft_calloc(1, sizeof *q);
    if (!q)
        return ft_err_set(err, FT_E_NOMEM, "mqtt: out of memory");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->timeout_s = o->webhook_timeout_s;
    if ((st = parse_hostport(o->mqtt, q->host, sizeof q->host, &q->port, err)) != FT_OK)
        goto fail;
    const char *prefix = o->mqtt_prefix && o->mqtt_prefix[0] ? o->mqtt_prefix : "facetracker";
    if (strlen(prefix) >= sizeof q->prefix || strpbrk(prefix, "+#") ||
        prefix[strlen(prefix) - 1] == '/') {
        st = ft_err_set(err, FT_E_INVALID,
                        "mqtt prefix \"%s\": at most %zu bytes, no + or #, no trailing /", prefix,
                        sizeof q->prefix - 1);
        goto fail;
    }
    snprintf(q->prefix, sizeof q->prefix, "%s", prefix);
    if (o->mqtt_client_id && o->mqtt_client_id[0]) {
        if (strlen(o->mqtt_client_id) >= sizeof client_id) {
            st = ft_err_set(err, FT_E_INVALID, "mqtt client id longer than %zu bytes",
                            sizeof client_id - 1);
            goto fail;
        }
        snprintf(client_id, sizeof client_id, "%s", o->mqtt_client_id);
    } else {
        char hn[64] = "host";
        gethostname(hn, sizeof hn);
        hn[sizeof hn - 1] = '\0';
        snprintf(client_id, sizeof client_id, "facetracker-%s-%ld", hn, (long)getpid());
    }
    snprintf(q->server_topic, sizeof q->server_topic, "%s/server/", q->prefix);
    topic_level(q->server_topic, sizeof q->server_topic, client_id);
    snprintf(q->server_topic + strlen(q->server_topic),
             sizeof q->server_topic - strlen(q->server_topic), "/status");
    snprintf(name, FT_OUTBOX_SINK_MAX + 1, "mqtt %s:%d", q->host, q->port);

    pthread_once(&lib_once, lib_init);
    if (!(q->m = mosquitto_new(client_id, true, q))) {
        st = ft_err_set(err, errno == ENOMEM ? FT_E_NOMEM : FT_E_INVALID,
                        "mqtt: cannot create the client: %s", strerror(errno));
        goto fail;
    }
    mosquitto_int_option(q->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    int rc = mosquitto_will_set(q->m, q->server_topic, 7, "offline", 1, true);
    if (rc == MOSQ_ERR_SUCCESS && o->mqtt_username && o->mqtt_username[0])
        rc = mosquitto_username_pw_set(q->m, o->mqtt_username, getenv("FT_MQTT_PASSWORD"));
    if (rc != MOSQ_ERR_SUCCESS) {
        st = ft_err_set(err, FT_E_INVALID, "mqtt: %s", mosquitto_strerror(rc));
        goto fail;
    }
    mosquitto_connect_callback_set(q->m, on_connect);
    mosquitto_disconnect_callback_set(q->m, on_disconnect);
    mosquitto_publish_callback_set(q->m, on_publish);
    // Every second while the broker is away: cheap, and a door's events
    // should not wait for an exponential backoff to expire.
    mosquitto_reconnect_delay_set(q->m, 1, 1, false);
    // The client thread first, then the connection: started this way,
    // libmosquitto keeps retrying a broker that is down now (started the
    // other way round, a refused first connect ends its thread). A broker
    // that is away is not an error: rows wait in the outbox meanwhile.
    if ((rc = mosquitto_loop_start(q->m)) != MOSQ_ERR_SUCCESS) {
        st = ft_err_set(err, FT_E_INTERNAL, "mqtt: cannot start the client thread: %s",
                        mosquitto_strerror(rc));
        goto fail;
    }
    q->loop_started = true;
    rc = mosquitto_connect_async(q->m, q->host, q->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        // E.g. the name does not resolve yet: mq_send tries again.
        q->need_connect = true;
        q->last_try_ms = ft_now_ms();
        snprintf(q->conn_error, sizeof q->conn_error, "connect: %s",
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    }
    *impl = q;
    return FT_OK;
fail:
    mq_close(q);
    return st;
}

// Waits (with q->mu held) until `mid` is acknowledged, the connection that
// carried it drops, or the deadline passes.
static bool wait_ack(mqtt *q, int mid, uint64_t gen, double deadline_ms)
{
    for (;;) {
        if (take_ack(q, mid))
            return true;
        if (!q->connected || q->conn_gen != gen)
            return false;
        double left = deadline_ms - ft_now_ms();
        if (left <= 0)
            return false;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + (left < 50 ? left : 50) * 1e-3;
        ts.tv_sec = (time_t)floor(t);
        ts.tv_nsec = (long)((t - floor(t)) * 1e9);
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_nsec = 999999999L;
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
}

static ft_deliver__result mq_send(void *impl, const ft_outbox_item *row, const ft_event *ev,
                                  const char *json, size_t len, char *error, size_t cap)
{
    mqtt *q = impl;
    char topic[TOPIC_MAX];
    int mid = -1;
    double deadline = ft_now_ms() + q->timeout_s * 1000.0;
    pthread_mutex_lock(&q->mu);
    // The same row's message from an earlier attempt, still on the same
    // connection: wait for its PUBACK rather than send it twice. After a
    // reconnect it is published again (receivers dedupe by event uid).
    bool reuse = q->inflight_row == row->id && q->inflight_gen == q->conn_gen && q->connected;
    if (reuse) {
        mid = q->inflight_mid;
    } else {
        if (!q->connected && q->need_connect && ft_now_ms() - q->last_try_ms >= 1000.0) {
            q->last_try_ms = ft_now_ms();
            int rc = mosquitto_connect_async(q->m, q->host, q->port, 30);
            if (rc == MOSQ_ERR_SUCCESS)
                q->need_connect = false;
            else
                snprintf(q->conn_error, sizeof q->conn_error, "connect: %s",
                         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        }
        if (!q->connected) {
            snprintf(error, cap, "not connected to %s:%d%s%s", q->host, q->port,
                     q->conn_error[0] ? ": " : "", q->conn_error);
            pthread_mutex_unlock(&q->mu);
            return FT_DELIVER__RETRY;
        }
        uint64_t gen = q->conn_gen;
        pthread_mutex_unlock(&q->mu);
        topic_for(q, ev->source, "access", topic, sizeof topic);
        int rc = mosquitto_publish(q->m, &mid, topic, (int)len, json, 1, false);
        pthread_mutex_lock(&q->mu);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(error, cap, "publish: %s", mosquitto_strerror(rc));
            pthread_mutex_unlock(&q->mu);
            return FT_DELIVER__RETRY;
        }
        q->inflight_row = row->id;
        q->inflight_mid = mid;
        q->inflight_gen = gen;
    }
    bool ok = wait_ack(q, mid, q->inflight_gen, deadline);
    if (ok)
        q->inflight_row = 0;
    else
        snprintf(error, cap, "no PUBACK from %s:%d within %.1f s%s", q->host, q->port,
                 q->timeout_s, q->connected ? "" : " (connection lost)");
    pthread_mutex_unlock(&q->mu);
    return ok ? FT_DELIVER__SENT : FT_DELIVER__RETRY;
}

static bool mq_connected(void *impl)
{
    mqtt *q = impl;
    pthread_mutex_lock(&q->mu);
    bool c = q->connected;
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void mq_source_state(void *impl, const char *source, bool online)
{
    mqtt *q = impl;
    pthread_mutex_lock(&q->mu);
    size_t i = 0;
    while (i < q->n_sources && strcmp(q->sources[i].name, source) != 0)
        i++;
    if (i == q->n_sources) {
        source_state *s = ft_realloc(q->sources, (q->n_sources + 1) * sizeof *s);
        if (s) {
            q->sources = s;
            snprintf(s[i].name, sizeof s[i].name, "%s", source);
            q->n_sources++;
        }
    }
    if (i < q->n_sources)
        q->sources[i].online = online;
    pthread_mutex_unlock(&q->mu);
    publish_state(q, source, online);
}

const ft_deliver__sink_ops ft_deliver__mqtt_ops = {
    .kind = "mqtt",
    .granted_only = false,
    .max_attempts_apply = true,
    .open = mq_open,
    .send = mq_send,
    .connected = mq_connected,
    .source_state = mq_source_state,
    .close = mq_close,
};
