// The HTTP core: libmicrohttpd with one internal epoll thread, a request
// context per request (body buffer, captured headers, the handler's
// reply), limits and timeouts, and dispatch to the worker pools. A request
// for a pool route suspends its connection, a worker runs the handler and
// resumes it; the HTTP thread never waits for a worker. A sweeper thread
// answers 408 to connections whose request head or body is not complete
// in time (one byte a second would otherwise keep a connection forever:
// MHD's own timeout only measures idleness). Before a request is
// dispatched it is checked against where it comes from (Host, Origin,
// trusted proxies, failed-key blocks; docs/SECURITY.md); HTTPS through
// libmicrohttpd's GnuTLS; one log line per answered request.
#define _GNU_SOURCE
#include "http/http_internal.h"

#include "core/clock.h"
#include "core/pool.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

ft_http_limits ft_http_limits_default(void)
{
    ft_http_limits l;
    memset(&l, 0, sizeof l);
    l.max_body_bytes = 10u << 20;
    l.conn_timeout_s = 30;
    l.header_timeout_ms = 10000;
    l.body_timeout_ms = 60000;
    l.conn_memory = 64u << 10;
    l.max_connections = 256;
    return l;
}

// ---- Connection records (for the request-head deadline) ----

// HEAD: receiving the request head; BODY: receiving the body; BUSY: the
// handler or the response; IDLE: between requests of a kept-alive connection.
enum { PHASE_HEAD, PHASE_BODY, PHASE_BUSY, PHASE_IDLE };

typedef struct conn_rec {
    struct conn_rec *prev, *next;
    int fd;
    int phase;
    double t_start;
    bool killed;
} conn_rec;

// An IP address or CIDR range (trusted proxies).
typedef struct cidr {
    int family;
    uint8_t a[16];
    int bits;
} cidr;

// Failed API keys of one client address (ft_http_limits.auth_fail_*).
#define FAIL_SLOTS 128
typedef struct fail_rec {
    char addr[INET6_ADDRSTRLEN];
    double first, last, blocked_until; // ft_now_ms()
    unsigned count;                    // failures since `first`
} fail_rec;

struct ft_httpd {
    const ft_http_app *app;
    ft_http_limits lim;
    struct MHD_Daemon *d;
    uint16_t port;
    ft_workq *q[FT_POOL_COUNT_];
    ft_metrics metrics;

    pthread_mutex_t dispatch_mu; // guards `stopping` against queue teardown
    bool stopping;
    pthread_mutex_t stream_mu; // guards `streams` (streamed replies in progress)
    ft_http_stream *streams;
    atomic_int n_suspended;

    pthread_mutex_t conn_mu;
    conn_rec *conns;
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool sweeper_stop;

    // Where requests may come from (copies of the limits' lists).
    char bind[INET6_ADDRSTRLEN];
    bool bind_loopback, bind_any;
    char **origins; // normalised scheme://host[:port]
    size_t n_origins;
    char **names; // lowercase
    size_t n_names;
    cidr *proxies;
    size_t n_proxies;
    bool tls;
    char *tls_cert, *tls_key;
    pthread_mutex_t fail_mu;
    fail_rec fails[FAIL_SLOTS];
    atomic_bool running;   // MHD_start_daemon returned
    char mhd_err[400];     // libmicrohttpd's messages while starting
};

// ---- Request contexts ----

enum { ST_RECV, ST_QUEUED, ST_DONE, ST_RESPONDED };

typedef struct req_ctx {
    ft_job job; // first: the worker's job pointer is the context
    ft_http_req r;
    ft_httpd *h;
    struct MHD_Connection *conn;
    ft_buf body;
    atomic_int state;
    int early_status; // an error decided while receiving (413, 404...)
    char early_code[24];
    char early_msg[200];
    bool discard; // the body is being thrown away
    size_t discarded;
    char *api_key;
    int sent_status;
    char client[INET6_ADDRSTRLEN]; // the peer, or the client a trusted proxy names
    bool via_proxy;                // the peer is a trusted proxy
    bool https;                    // TLS here, or X-Forwarded-Proto: https from a trusted proxy
    int64_t key_id;                // the key that authenticated, 0 = none
    unsigned retry_after;          // seconds, for a 429
} req_ctx;

static void fail_note(ft_httpd *h, const char *addr);

static conn_rec *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_rec *)ci->socket_context : NULL;
}

static void set_phase(ft_httpd *h, struct MHD_Connection *c, int phase)
{
    conn_rec *rec = conn_of(c);
    if (!rec)
        return;
    pthread_mutex_lock(&h->conn_mu);
    if ((phase == PHASE_HEAD && rec->phase != PHASE_HEAD) || phase == PHASE_BODY)
        rec->t_start = ft_now_ms();
    rec->phase = phase;
    pthread_mutex_unlock(&h->conn_mu);
}

static void req_free(req_ctx *x)
{
    if (!x)
        return;
    ft_buf_deinit(&x->body);
    ft_buf_deinit(&x->r.out);
    for (size_t i = 0; i < x->r.n_query; i++) {
        ft_free(x->r.query[i].key);
        ft_free(x->r.query[i].val);
    }
    ft_free(x->r.query);
    ft_free((char *)x->r.method);
    ft_free((char *)x->r.path);
    ft_free(x->r.content_type);
    ft_free(x->api_key);
    ft_free(x);
}

// ---- Streamed replies ----

struct ft_http_stream {
    ft_http_stream_ops ops;
    void *arg;
    ft_httpd *h;
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    bool parked, woken, ending, closed;
    ft_http_stream *next; // h->streams
};

void ft_http_reply_stream(ft_http_req *r, const char *type, const ft_http_stream_ops *ops,
                          void *arg, ft_http_stream **handle)
{
    ft_http_stream *st = ft_calloc(1, sizeof *st);
    if (!st) {
        ft_http_reply_error(r, 503, "E_NOMEM", "out of memory");
        return;
    }
    st->ops = *ops;
    st->arg = arg;
    pthread_mutex_init(&st->mu, NULL);
    r->stream = st;
    r->status = 200;
    r->out_type = type;
    r->out.len = 0;
    *handle = st;
}

void ft_http_stream_wake(ft_http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    if (st->parked) {
        st->parked = false;
        MHD_resume_connection(st->conn);
    } else {
        st->woken = true;
    }
    pthread_mutex_unlock(&st->mu);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    ft_http_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    bool ending = st->ending;
    pthread_mutex_unlock(&st->mu);
    if (ending)
        return MHD_CONTENT_READER_END_OF_STREAM;
    long n = st->ops.read(st->arg, buf, max);
    if (n > 0)
        return (ssize_t)n;
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    // Nothing now: park the connection until the application wakes it (a
    // wake that came in the meantime is not lost: then read again soon).
    pthread_mutex_lock(&st->mu);
    if (st->woken || st->ending) {
        st->woken = false;
    } else {
        st->parked = true;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static void stream_free(void *cls)
{
    ft_http_stream *st = cls;
    ft_httpd *h = st->h;
    pthread_mutex_lock(&h->stream_mu);
    for (ft_http_stream **p = &h->streams; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    pthread_mutex_unlock(&h->stream_mu);
    st->ops.close(st->arg);
    pthread_mutex_destroy(&st->mu);
    ft_free(st);
}

// ---- Responses ----

static enum MHD_Result respond(req_ctx *x, struct MHD_Connection *c)
{
    ft_http_req *r = &x->r;
    set_phase(x->h, c, PHASE_BUSY);
    struct MHD_Response *resp;
    if (r->status == 0)
        ft_http_reply_error(r, 500, "E_INTERNAL", "the handler gave no reply");
    if (r->stream) {
        ft_http_stream *st = r->stream;
        r->stream = NULL;
        st->h = x->h;
        st->conn = c;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_reader, st,
                                                 stream_free);
        if (!resp) {
            st->ops.close(st->arg);
            pthread_mutex_destroy(&st->mu);
            ft_free(st);
            return MHD_NO;
        }
        pthread_mutex_lock(&x->h->stream_mu);
        st->next = x->h->streams;
        x->h->streams = st;
        pthread_mutex_unlock(&x->h->stream_mu);
    } else if (r->out.len) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->out.len, r->out.data,
                                                                 ft_free);
        if (resp)
            ft_buf_init(&r->out, 0); // ownership moved to the response
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    const char *type = r->out_type ? r->out_type : "application/json";
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (x->https)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    if (strncmp(type, "text/html", 9) == 0)
        MHD_add_response_header(
            resp, "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
            "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'");
    bool has_cache = false;
    for (int i = 0; i < r->n_hdr; i++) {
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_val[i]);
        if (strcasecmp(r->hdr_name[i], "Cache-Control") == 0)
            has_cache = true;
    }
    if (!has_cache)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    x->sent_status = r->status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    atomic_store(&x->state, ST_RESPONDED);
    return ret;
}

static enum MHD_Result respond_error(req_ctx *x, struct MHD_Connection *c, int status,
                                     const char *code, const char *msg)
{
    ft_http_reply_error(&x->r, status, code, "%s", msg);
    if (status == 503)
        ft_http_reply_header(&x->r, "Retry-After", "1");
    if (status == 429) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", x->retry_after ? x->retry_after : 1);
        ft_http_reply_header(&x->r, "Retry-After", ra);
    }
    return respond(x, c);
}

// ---- Worker side ----

static void job_finish(req_ctx *x)
{
    struct MHD_Connection *c = x->conn;
    atomic_store(&x->state, ST_DONE);
    MHD_resume_connection(c); // x may be freed from here on
}

static void job_done(ft_job *j)
{
    job_finish((req_ctx *)j);
}

static void job_run(ft_job *j, void *tctx)
{
    req_ctx *x = (req_ctx *)j;
    ft_httpd *h = x->h;
    ft_http_req *r = &x->r;
    const ft_route *rt = r->route;
    r->tctx = tctx;
    if (rt->roles && h->app->auth) {
        unsigned role = 0;
        int64_t key_id = 0;
        ft_err err;
        ft_err_clear(&err);
        ft_status st = h->app->auth(h->app->ctx, tctx, x->api_key, &role, &key_id, &err);
        if (st == FT_OK)
            x->key_id = r->key_id = key_id;
        if (st == FT_E_AUTH && x->api_key)
            fail_note(h, x->client);
        if (st == FT_E_AUTH) {
            ft_http_reply_error(r, 401, "E_AUTH", "%s", ft_err_msg(&err, st));
            ft_http_reply_header(r, "WWW-Authenticate", "Bearer");
        } else if (st != FT_OK) {
            ft_http_reply_status(r, st, &err);
        } else if (!(role & (rt->roles | FT_HTTP_ADMIN))) {
            ft_http_reply_error(r, 403, "E_FORBIDDEN",
                                "this key's role may not call %s %s", rt->method, rt->pattern);
        } else {
            r->role = role;
            rt->fn(r);
        }
    } else {
        r->role = FT_HTTP_ADMIN;
        rt->fn(r);
    }
}

static void job_cancel(ft_job *j)
{
    req_ctx *x = (req_ctx *)j;
    ft_http_reply_error(&x->r, 503, "E_BUSY", "the server is shutting down");
    ft_http_reply_header(&x->r, "Retry-After", "1");
    job_finish(x);
}

// ---- MHD callbacks ----

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    req_ctx *x = cls;
    if (x->r.n_query >= 64)
        return MHD_NO;
    ft_http_kv *q = ft_realloc(x->r.query, (x->r.n_query + 1) * sizeof *q);
    if (!q)
        return MHD_NO;
    x->r.query = q;
    q[x->r.n_query].key = ft_strdup(key ? key : "");
    q[x->r.n_query].val = value ? ft_strdup(value) : NULL;
    x->r.n_query++;
    return MHD_YES;
}

static void set_early(req_ctx *x, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_early(req_ctx *x, int status, const char *code, const char *fmt, ...)
{
    if (x->early_status)
        return;
    x->early_status = status;
    snprintf(x->early_code, sizeof x->early_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->early_msg, sizeof x->early_msg, fmt, ap);
    va_end(ap);
}

// ---- Where a request comes from (docs/SECURITY.md) ----

static bool cidr_parse(const char *s, cidr *out)
{
    char buf[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->a) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, buf, out->a) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return false;
    }
    if (slash) {
        char *end;
        errno = 0;
        long b = strtol(slash + 1, &end, 10);
        if (errno || *end || end == slash + 1 || b < 0 || b > out->bits)
            return false;
        out->bits = (int)b;
    }
    return true;
}

static bool cidr_has(const cidr *c, const char *ip)
{
    uint8_t a[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (fam != c->family || inet_pton(fam, ip, a) != 1)
        return false;
    size_t full = (size_t)c->bits / 8;
    int rest = c->bits % 8;
    if (memcmp(a, c->a, full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xffu << (8 - rest));
        if ((a[full] & m) != (c->a[full] & m))
            return false;
    }
    return true;
}

static bool proxy_trusted(const ft_httpd *h, const char *ip)
{
    for (size_t i = 0; i < h->n_proxies; i++)
        if (cidr_has(&h->proxies[i], ip))
            return true;
    return false;
}

// The peer's address as text; IPv4-mapped IPv6 addresses as plain IPv4.
static void peer_addr(struct MHD_Connection *c, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)cap);
    }
}

// All values of one request header, joined with ",".
typedef struct hdr_cat {
    const char *name;
    char buf[2048];
    size_t len;
    bool overflow;
} hdr_cat;

static enum MHD_Result cat_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    hdr_cat *hc = cls;
    if (!key || !value || strcasecmp(key, hc->name) != 0)
        return MHD_YES;
    size_t room = sizeof hc->buf - hc->len;
    int n = snprintf(hc->buf + hc->len, room, "%s%s", hc->len ? "," : "", value);
    if (n < 0 || (size_t)n >= room)
        hc->overflow = true;
    else
        hc->len += (size_t)n;
    return MHD_YES;
}

// The first comma-separated element of a header, trimmed, or "".
static void first_elem(const char *v, char *out, size_t cap)
{
    out[0] = 0;
    if (!v)
        return;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strcspn(v, ",");
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        return;
    memcpy(out, v, n);
    out[n] = 0;
}

// x->client, x->via_proxy and x->https. Behind trusted proxies the client
// is the rightmost X-Forwarded-For hop that is not itself a trusted proxy
// (the hops left of it are whatever the client sent, and can be forged).
static void client_of(ft_httpd *h, req_ctx *x, struct MHD_Connection *c)
{
    peer_addr(c, x->client, sizeof x->client);
    x->https = h->tls;
    x->via_proxy = h->n_proxies && proxy_trusted(h, x->client);
    if (!x->via_proxy)
        return;
    char proto[16];
    first_elem(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto"), proto,
               sizeof proto);
    if (strcasecmp(proto, "https") == 0)
        x->https = true;
    hdr_cat xff = {.name = "X-Forwarded-For"};
    MHD_get_connection_values(c, MHD_HEADER_KIND, cat_header, &xff);
    if (xff.overflow)
        return;
    size_t end = xff.len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff.buf[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && (xff.buf[a] == ' ' || xff.buf[a] == '\t'))
            a++;
        while (b > a && (xff.buf[b - 1] == ' ' || xff.buf[b - 1] == '\t'))
            b--;
        char hop[INET6_ADDRSTRLEN];
        uint8_t bin[16];
        if (b - a >= sizeof hop)
            break;
        memcpy(hop, xff.buf + a, b - a);
        hop[b - a] = 0;
        int fam = strchr(hop, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(fam, hop, bin) != 1)
            break; // not an address: stop at the last trusted hop
        inet_ntop(fam, bin, x->client, sizeof x->client);
        if (!proxy_trusted(h, x->client))
            break;
        end = start ? start - 1 : 0;
    }
}

// "host[:port]" or "[v6]:port" -> lowercase host (v6 without brackets, one
// trailing dot dropped); false if malformed.
static bool host_part(const char *hp, char *host, size_t cap)
{
    const char *end;
    if (*hp == '[') {
        hp++;
        end = strchr(hp, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
    } else {
        end = strchr(hp, ':');
        if (!end)
            end = hp + strlen(hp);
    }
    size_t n = (size_t)(end - hp);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)hp[i]);
    if (n > 1 && host[n - 1] == '.')
        n--;
    host[n] = 0;
    return true;
}

static bool same_ip(const char *a, const char *b)
{
    uint8_t x[16], y[16];
    int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;
    return fa == fb && inet_pton(fa, a, x) == 1 && inet_pton(fb, b, y) == 1 &&
           memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

// Whether `host` (from host_part) names this server. IP literals cannot be
// rebound by DNS, so any that reaches the socket is fine for a wildcard
// bind; names must be localhost (on loopback) or configured.
static bool host_ours(const ft_httpd *h, const char *host)
{
    for (size_t i = 0; i < h->n_names; i++)
        if (strcmp(host, h->names[i]) == 0)
            return true;
    uint8_t a[16];
    if (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1) {
        if (h->bind_any)
            return true;
        if (h->bind_loopback && ft_server_is_loopback(host))
            return true;
        return same_ip(host, h->bind);
    }
    if (strcmp(host, "localhost") == 0)
        return h->bind_loopback || h->bind_any;
    return false;
}

// An origin ("https://Door.example:443/x" -> "https://door.example") in
// `out`: lowercase, default port dropped, path dropped. False if `in` is
// not http(s)://host[:port][/...] (so "null" never matches anything).
static bool origin_norm(const char *in, char *out, size_t cap)
{
    const char *rest;
    bool https;
    if (strncasecmp(in, "http://", 7) == 0) {
        https = false;
        rest = in + 7;
    } else if (strncasecmp(in, "https://", 8) == 0) {
        https = true;
        rest = in + 8;
    } else {
        return false;
    }
    size_t n = strcspn(rest, "/?#");
    if (n == 0 || memchr(rest, '@', n))
        return false;
    char hp[300];
    if (n >= sizeof hp)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)rest[i];
        if (ch <= ' ' || ch >= 0x7f)
            return false;
        hp[i] = (char)tolower(ch);
    }
    hp[n] = 0;
    const char *dport = https ? ":443" : ":80";
    size_t dl = strlen(dport);
    if (n > dl && strcmp(hp + n - dl, dport) == 0 && hp[n - dl - 1] != ':')
        hp[n - dl] = 0;
    int w = snprintf(out, cap, "%s://%s", https ? "https" : "http", hp);
    return w > 0 && (size_t)w < cap;
}

// The three Content-Types a page may send to another origin without a
// CORS preflight (or none at all).
static bool simple_type(const char *ct)
{
    if (!ct)
        return true;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const char *const simple[] = {"multipart/form-data",
                                         "application/x-www-form-urlencoded", "text/plain"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(simple[i]) == n && strncasecmp(ct, simple[i], n) == 0)
            return true;
    return false;
}

static bool safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

// The Host rule (ft_http_limits.check_host) and, with `origin`, the
// Origin rule (check_origin); sets the early answer when the request is
// refused.
static void check_request(ft_httpd *h, req_ctx *x, struct MHD_Connection *c, const char *method,
                          bool with_origin)
{
    char fwd_host[256];
    const char *hosthdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (x->via_proxy) {
        first_elem(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Host"), fwd_host,
                   sizeof fwd_host);
        if (fwd_host[0])
            hosthdr = fwd_host;
    }
    char host[256];
    bool host_ok = hosthdr && host_part(hosthdr, host, sizeof host) && host_ours(h, host);
    if (h->lim.check_host && hosthdr && !host_ok) {
        char shown[64];
        first_elem(hosthdr, shown, sizeof shown);
        for (char *p = shown; *p; p++)
            if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
                *p = '?';
        set_early(x, 421, "E_HOST",
                  "Host '%s' is not a name of this server (a DNS rebinding attempt, or a name "
                  "it was not told about: start it with --server-name NAME)",
                  shown);
        return;
    }
    if (!with_origin || !h->lim.check_origin || safe_method(method))
        return;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *what = "Origin";
    if (!origin) {
        origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Referer");
        what = "Referer";
    }
    if (!origin) {
        // No browser sends a cross-site write without Origin today, but
        // old ones did: accept only what a page could not have sent
        // without a CORS preflight, which this server never grants.
        if (strcmp(method, "POST") != 0 ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Requested-With") ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key") ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") ||
            !simple_type(x->r.content_type))
            return;
        set_early(x, 403, "E_ORIGIN",
                  "a POST with neither Origin nor Referer must carry an X-Requested-With header "
                  "(any value), an API key, or a JSON body, so that no other site's page can "
                  "send it (curl: -H 'X-Requested-With: curl')");
        return;
    }
    char norm[320], own[320];
    if (origin_norm(origin, norm, sizeof norm)) {
        for (size_t i = 0; i < h->n_origins; i++)
            if (strcmp(norm, h->origins[i]) == 0)
                return;
        char ownraw[300];
        if (hosthdr && (host_ok || !h->lim.check_host)) {
            snprintf(ownraw, sizeof ownraw, "%s://%s", x->https ? "https" : "http", hosthdr);
            if (origin_norm(ownraw, own, sizeof own) && strcmp(norm, own) == 0)
                return;
        }
    } else {
        snprintf(norm, sizeof norm, "%s", "(not an http(s) origin)");
    }
    for (char *p = norm; *p; p++)
        if (*p == '"' || *p == '\\')
            *p = '?';
    set_early(x, 403, "E_ORIGIN",
              "cross-site request refused: %s %.200s is not this server's origin; a page of "
              "another site may not change anything here (allow a trusted site with "
              "--allow-origin URL)",
              what, norm);
}

// ---- Failed API keys ----

// Seconds left of `addr`'s block, 0 if it is not blocked.
static unsigned fail_blocked(ft_httpd *h, const char *addr)
{
    if (!h->lim.auth_fail_max)
        return 0;
    double now = ft_now_ms();
    unsigned left = 0;
    pthread_mutex_lock(&h->fail_mu);
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        fail_rec *f = &h->fails[i];
        if (f->addr[0] && strcmp(f->addr, addr) == 0 && f->blocked_until > now) {
            left = (unsigned)((f->blocked_until - now) / 1000.0) + 1;
            break;
        }
    }
    pthread_mutex_unlock(&h->fail_mu);
    return left;
}

// Counts one wrong key from `addr`; the auth_fail_max-th within the
// window blocks the address. A full table forgets the entry idle longest,
// preferring one that is not blocked.
static void fail_note(ft_httpd *h, const char *addr)
{
    if (!h->lim.auth_fail_max)
        return;
    double now = ft_now_ms();
    double window = 1000.0 * (h->lim.auth_fail_window_s ? h->lim.auth_fail_window_s : 60);
    double block = 1000.0 * (h->lim.auth_block_s ? h->lim.auth_block_s : 60);
    pthread_mutex_lock(&h->fail_mu);
    fail_rec *f = NULL, *victim = NULL;
    for (size_t i = 0; i < FAIL_SLOTS && !f; i++) {
        fail_rec *e = &h->fails[i];
        if (e->addr[0] && strcmp(e->addr, addr) == 0)
            f = e;
        else if (!victim || !e->addr[0] ||
                 (victim->addr[0] && (victim->blocked_until > now) > (e->blocked_until > now)) ||
                 (victim->addr[0] && (victim->blocked_until > now) == (e->blocked_until > now) &&
                  e->last < victim->last))
            victim = e;
    }
    if (!f) {
        f = victim;
        memset(f, 0, sizeof *f);
        snprintf(f->addr, sizeof f->addr, "%s", addr);
        f->first = now;
    }
    if (now - f->first > window) {
        f->first = now;
        f->count = 0;
    }
    f->count++;
    f->last = now;
    if (f->count >= h->lim.auth_fail_max) {
        f->blocked_until = now + block;
        f->first = now;
        f->count = 0;
    }
    pthread_mutex_unlock(&h->fail_mu);
}

// ---- The request log ----

static void log_request(ft_httpd *h, req_ctx *x)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%03ldZ", ts.tv_nsec / 1000000L);
    // Method and path as the client sent them, bytes outside printable
    // ASCII (and spaces, backslashes) escaped so one request is one line.
    char mp[2][300];
    const char *src[2] = {x->r.method ? x->r.method : "-", x->r.path ? x->r.path : "-"};
    for (int k = 0; k < 2; k++) {
        size_t o = 0, lim = k ? 256 : 24;
        for (const unsigned char *p = (const unsigned char *)src[k]; *p && o + 5 < sizeof mp[k];
             p++) {
            if (o >= lim) {
                memcpy(mp[k] + o, "...", 3);
                o += 3;
                break;
            }
            if (*p <= ' ' || *p >= 0x7f || *p == '\\')
                o += (size_t)snprintf(mp[k] + o, sizeof mp[k] - o, "\\x%02x", *p);
            else
                mp[k][o++] = (char)*p;
        }
        mp[k][o] = 0;
    }
    char key[24] = "-";
    if (x->key_id > 0)
        snprintf(key, sizeof key, "%lld", (long long)x->key_id);
    char line[800];
    snprintf(line, sizeof line, "%s %s %s %s %d %.1fms key=%s", when, x->client, mp[0], mp[1],
             x->sent_status, ft_now_ms() - x->r.t_start, key);
    h->app->log(h->app->ctx, line);
}

// libmicrohttpd's messages: kept while starting (for the start error),
// then passed to the request log.
__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt,
                                                             va_list ap)
{
    ft_httpd *h = cls;
    char msg[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = 0;
    if (!atomic_load(&h->running)) {
        size_t l = strlen(h->mhd_err);
        snprintf(h->mhd_err + l, sizeof h->mhd_err - l, "%s%s", l ? "; " : "", msg);
    } else if (h->app->log) {
        char line[340];
        snprintf(line, sizeof line, "libmicrohttpd: %s", msg);
        h->app->log(h->app->ctx, line);
    }
}

static enum MHD_Result begin(ft_httpd *h, req_ctx *x, struct MHD_Connection *c, const char *url,
                             const char *method)
{
    ft_http_req *r = &x->r;
    r->method = ft_strdup(method);
    r->path = ft_strdup(url);
    r->app = h->app->ctx;
    r->route_index = -1;
    r->t_start = ft_now_ms();
    if (!r->method || !r->path)
        return MHD_NO;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ct && !(r->content_type = ft_strdup(ct)))
        return MHD_NO;
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!key && authz && strncasecmp(authz, "Bearer ", 7) == 0)
        key = authz + 7;
    if (key && !(x->api_key = ft_strdup(key)))
        return MHD_NO;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, x);

    // Host first (a rebinding page learns nothing, not even 404s), then
    // the route (a request that matches none changes nothing), then the
    // Origin and the failed-key block.
    client_of(h, x, c);
    check_request(h, x, c, method, false);
    bool path_matched;
    int ri = ft_http__route_match(h->app->routes, h->app->n_routes, method, url, r, &path_matched);
    if (ri < 0) {
        if (path_matched)
            set_early(x, 405, "E_METHOD", "method %s is not allowed on %s", method, url);
        else
            set_early(x, 404, "E_NOT_FOUND", "no route for %s %s", method, url);
    } else {
        check_request(h, x, c, method, true);
    }
    if (ri >= 0 && r->route->roles && (x->retry_after = fail_blocked(h, x->client)) > 0) {
        set_early(x, 429, "E_RATE_LIMIT",
                  "too many wrong API keys from %s; retry in %u s", x->client, x->retry_after);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || end == cl)
            set_early(x, 400, "E_FORMAT", "bad Content-Length");
        else if (n > h->lim.max_body_bytes)
            set_early(x, 413, "E_LIMIT", "request body of %llu bytes is over the limit of %zu bytes",
                      n, h->lim.max_body_bytes);
    }
    if (x->early_status) {
        // Answer before the body is read; MHD closes the connection after.
        return respond_error(x, c, x->early_status, x->early_code, x->early_msg);
    }
    return MHD_YES;
}

static enum MHD_Result dispatch(ft_httpd *h, req_ctx *x, struct MHD_Connection *c)
{
    ft_http_req *r = &x->r;
    set_phase(h, c, PHASE_BUSY);
    const ft_route *rt = r->route;
    r->body = x->body.data;
    r->body_len = x->body.len;
    if (rt->pool == FT_POOL_INLINE) {
        r->role = 0;
        rt->fn(r);
        return respond(x, c);
    }
    const char *why = h->app->unavailable ? h->app->unavailable(h->app->ctx, rt->pool) : NULL;
    if (why)
        return respond_error(x, c, 503, "E_LOADING", why);
    pthread_mutex_lock(&h->dispatch_mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->dispatch_mu);
        return respond_error(x, c, 503, "E_BUSY", "the server is shutting down");
    }
    ft_workq *q = h->q[rt->pool];
    if (!ft_workq_reserve(q)) {
        pthread_mutex_unlock(&h->dispatch_mu);
        atomic_fetch_add(&h->metrics.rejected_busy, 1);
        return respond_error(x, c, 503, "E_BUSY",
                             "the server is busy (work queue full); retry in a second");
    }
    // Suspend before the job can run, so the worker's resume always finds
    // a suspended connection.
    x->conn = c;
    x->job.run = job_run;
    x->job.done = job_done;
    x->job.cancel = job_cancel;
    atomic_store(&x->state, ST_QUEUED);
    atomic_fetch_add(&h->n_suspended, 1);
    MHD_suspend_connection(c);
    ft_workq_push(q, &x->job);
    pthread_mutex_unlock(&h->dispatch_mu);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    ft_httpd *h = cls;
    req_ctx *x = *con_cls;
    if (!x) {
        x = ft_calloc(1, sizeof *x);
        if (!x)
            return MHD_NO;
        x->h = h;
        ft_buf_init(&x->body, h->lim.max_body_bytes);
        ft_buf_init(&x->r.out, 0);
        atomic_store(&x->state, ST_RECV);
        *con_cls = x;
        set_phase(h, c, PHASE_BODY);
        return begin(h, x, c, url, method);
    }
    int state = atomic_load(&x->state);
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (state != ST_RECV)
            return MHD_YES;
        if (x->discard) {
            x->discarded += n;
            return x->discarded > 4 * h->lim.max_body_bytes ? MHD_NO : MHD_YES;
        }
        if (ft_buf_append(&x->body, upload_data, n) != FT_OK) {
            set_early(x, 413, "E_LIMIT", "request body is over the limit of %zu bytes",
                      h->lim.max_body_bytes);
            x->discard = true;
            ft_buf_deinit(&x->body);
        }
        return MHD_YES;
    }
    switch (state) {
    case ST_RECV:
        if (x->early_status)
            return respond_error(x, c, x->early_status, x->early_code, x->early_msg);
        return dispatch(h, x, c);
    case ST_DONE:
        atomic_fetch_sub(&h->n_suspended, 1);
        return respond(x, c);
    case ST_QUEUED: // spurious call while suspended: nothing to do yet
    default:
        return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ft_httpd *h = cls;
    req_ctx *x = *con_cls;
    if (!x)
        return;
    *con_cls = NULL;
    if (x->sent_status)
        ft_metrics_request(&h->metrics, x->r.route_index, x->sent_status,
                           (ft_now_ms() - x->r.t_start) / 1000.0);
    if (x->sent_status && h->app->log)
        log_request(h, x);
    set_phase(h, c, PHASE_IDLE);
    req_free(x);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    ft_httpd *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_rec *rec = ft_calloc(1, sizeof *rec);
        if (!rec)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        rec->fd = ci ? ci->connect_fd : -1;
        rec->phase = PHASE_HEAD;
        rec->t_start = ft_now_ms();
        pthread_mutex_lock(&h->conn_mu);
        rec->next = h->conns;
        if (h->conns)
            h->conns->prev = rec;
        h->conns = rec;
        pthread_mutex_unlock(&h->conn_mu);
        *socket_ctx = rec;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_rec *rec = *socket_ctx;
        if (!rec)
            return;
        pthread_mutex_lock(&h->conn_mu);
        if (rec->prev)
            rec->prev->next = rec->next;
        else
            h->conns = rec->next;
        if (rec->next)
            rec->next->prev = rec->prev;
        pthread_mutex_unlock(&h->conn_mu);
        ft_free(rec);
        *socket_ctx = NULL;
    }
}

// Called when the request line arrives: a new request head starts here on
// a kept-alive connection.
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    set_phase(cls, c, PHASE_HEAD);
    return NULL;
}

// ---- The request-head deadline ----

static void *sweeper_main(void *p)
{
    ft_httpd *h = p;
    char msg[2][512];
    int n[2];
    for (int i = 0; i < 2; i++) {
        char body[160];
        int bl = snprintf(body, sizeof body,
                          "{\"error\":{\"code\":\"E_TIMEOUT\",\"message\":\"request %s not "
                          "received in time\"}}\n",
                          i == 0 ? "head" : "body");
        n[i] = snprintf(msg[i], sizeof msg[i],
                        "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                        bl, body);
    }
    pthread_mutex_lock(&h->stop_mu);
    while (!h->sweeper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->stop_cv, &h->stop_mu, &ts);
        if (h->sweeper_stop)
            break;
        double now = ft_now_ms();
        pthread_mutex_lock(&h->conn_mu);
        for (conn_rec *rec = h->conns; rec; rec = rec->next) {
            int k = rec->phase == PHASE_HEAD ? 0 : rec->phase == PHASE_BODY ? 1 : -1;
            if (k < 0 || rec->killed || rec->fd < 0 ||
                now - rec->t_start <= (k == 0 ? h->lim.header_timeout_ms : h->lim.body_timeout_ms))
                continue;
            // MHD only reads on this socket until the request is complete,
            // so writing the answer here cannot interleave with its output.
            // The fd stays open while we hold conn_mu (MHD notifies CLOSED,
            // which takes the lock, before it closes the socket).
            // Over TLS a plain answer would only garble the stream: just close.
            if (!h->tls) {
                ssize_t w = send(rec->fd, msg[k], (size_t)n[k], MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
            }
            shutdown(rec->fd, SHUT_RDWR);
            rec->killed = true;
            ft_metrics_request(&h->metrics, -1, 408, (now - rec->t_start) / 1000.0);
        }
        pthread_mutex_unlock(&h->conn_mu);
    }
    pthread_mutex_unlock(&h->stop_mu);
    return NULL;
}

// ---- Start and stop ----

// Copies the limits' lists (checked and normalised) into h.
static ft_status lists_copy(ft_httpd *h, const ft_http_limits *lim, ft_err *err)
{
    if (lim->n_allowed_origins &&
        !(h->origins = ft_calloc(lim->n_allowed_origins, sizeof *h->origins)))
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < lim->n_allowed_origins; i++) {
        char norm[320];
        const char *o = lim->allowed_origins[i];
        if (!o || !origin_norm(o, norm, sizeof norm) || strchr(norm + 8, '/'))
            return ft_err_set(err, FT_E_INVALID,
                              "allowed origin '%s' is not of the form http(s)://host[:port]",
                              o ? o : "(null)");
        if (!(h->origins[h->n_origins++] = ft_strdup(norm)))
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    if (lim->n_server_names && !(h->names = ft_calloc(lim->n_server_names, sizeof *h->names)))
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < lim->n_server_names; i++) {
        char host[256];
        const char *n = lim->server_names[i];
        bool ok = n && host_part(n, host, sizeof host) && strlen(n) < sizeof host;
        for (const char *p = host; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == ':';
        if (!ok)
            return ft_err_set(err, FT_E_INVALID, "server name '%s' is not a host name",
                              n ? n : "(null)");
        if (!(h->names[h->n_names++] = ft_strdup(host)))
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    if (lim->n_trusted_proxies &&
        !(h->proxies = ft_calloc(lim->n_trusted_proxies, sizeof *h->proxies)))
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < lim->n_trusted_proxies; i++) {
        const char *t = lim->trusted_proxies[i];
        if (!t || !cidr_parse(t, &h->proxies[h->n_proxies]))
            return ft_err_set(err, FT_E_INVALID,
                              "trusted proxy '%s' is not an IP address or CIDR range",
                              t ? t : "(null)");
        h->n_proxies++;
    }
    return FT_OK;
}

ft_status ft_httpd_start(const ft_http_app *app, const char *bind_addr, uint16_t port,
                         const ft_http_limits *lim, ft_httpd **out, ft_err *err)
{
    ft_status st = FT_OK;
    ft_httpd *h = ft_calloc(1, sizeof *h);
    if (!h)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    h->app = app;
    h->lim = lim ? *lim : ft_http_limits_default();
    pthread_mutex_init(&h->dispatch_mu, NULL);
    pthread_mutex_init(&h->stream_mu, NULL);
    pthread_mutex_init(&h->conn_mu, NULL);
    pthread_mutex_init(&h->stop_mu, NULL);
    pthread_cond_init(&h->stop_cv, NULL);
    pthread_mutex_init(&h->fail_mu, NULL);
    atomic_init(&h->running, false);
    ft_metrics_init(&h->metrics, app->routes, app->n_routes);
    // The limits keep pointers only until here.
    h->lim.allowed_origins = h->lim.server_names = h->lim.trusted_proxies = NULL;
    h->lim.tls_cert_pem = h->lim.tls_key_pem = NULL;
    if (lim && (st = lists_copy(h, lim, err)) != FT_OK)
        goto fail;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    const char *a = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";
    if (strcmp(a, "localhost") == 0)
        a = "127.0.0.1";
    snprintf(h->bind, sizeof h->bind, "%s", a);
    h->bind_loopback = ft_server_is_loopback(a);
    h->bind_any = strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
        uint8_t any6[16] = {0};
        h->bind_any = memcmp(&s6->sin6_addr, any6, 16) == 0;
    } else {
        st = ft_err_set(err, FT_E_INVALID, "bind address '%s' is not an IP address", a);
        goto fail;
    }
    if (!s4->sin_addr.s_addr && ss.ss_family == AF_INET)
        h->bind_any = true;

    // HTTPS: GnuTLS inside libmicrohttpd, the PEM text kept for its lifetime.
    struct MHD_OptionItem tls_opts[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL},
                                         {MHD_OPTION_END, 0, NULL}};
    if (lim && (lim->tls_cert_pem || lim->tls_key_pem)) {
        if (!lim->tls_cert_pem || !lim->tls_key_pem) {
            st = ft_err_set(err, FT_E_INVALID, "HTTPS needs both a certificate and its key");
            goto fail;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            st = ft_err_set(err, FT_E_UNSUPPORTED,
                            "this libmicrohttpd was built without TLS support: use a build "
                            "with GnuTLS (Debian's libmicrohttpd12 has it) or a reverse proxy "
                            "(docs/SECURITY.md)");
            goto fail;
        }
        h->tls_cert = ft_strdup(lim->tls_cert_pem);
        h->tls_key = ft_strdup(lim->tls_key_pem);
        if (!h->tls_cert || !h->tls_key) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto fail;
        }
        h->tls = true;
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    }

    for (int p = FT_POOL_DB; p < FT_POOL_COUNT_; p++) {
        int n = h->lim.threads[p];
        if (n <= 0)
            n = p == FT_POOL_INFER ? ft_cpu_count() : 1;
        size_t qmax = h->lim.queue_max[p];
        if (qmax == 0)
            qmax = p == FT_POOL_INFER ? 2 * (size_t)n + 2 : 64;
        st = ft_workq_new(p, n, qmax, app->worker_init, app->worker_deinit, app->ctx, &h->q[p],
                          err);
        if (st != FT_OK)
            goto fail;
    }

    // The logger first, so that libmicrohttpd's checks of the options after
    // it already go to it.
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->lim.conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)h->lim.conn_memory,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->lim.max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!h->d) {
        if (h->tls)
            st = ft_err_set(err, FT_E_INVALID,
                            "cannot start HTTPS on %s:%u: %s (is the key the certificate's, "
                            "and are both PEM?)",
                            a, (unsigned)port, h->mhd_err[0] ? h->mhd_err : "libmicrohttpd refused");
        else
            st = ft_err_set(err, FT_E_IO, "cannot listen on %s:%u (address in use or not local?)%s%s",
                            a, (unsigned)port, h->mhd_err[0] ? ": " : "", h->mhd_err);
        goto fail;
    }
    atomic_store(&h->running, true);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    if (pthread_create(&h->sweeper, NULL, sweeper_main, h) != 0) {
        st = ft_err_set(err, FT_E_INTERNAL, "cannot start the sweeper thread");
        goto fail;
    }
    h->sweeper_started = true;
    *out = h;
    return FT_OK;
fail:
    ft_httpd_stop(h);
    return st;
}

uint16_t ft_httpd_port(const ft_httpd *h)
{
    return h->port;
}

ft_metrics *ft_httpd_metrics(ft_httpd *h)
{
    return &h->metrics;
}

size_t ft_httpd_queue_depth(ft_httpd *h, ft_route_pool pool)
{
    return pool > FT_POOL_INLINE && pool < FT_POOL_COUNT_ && h->q[pool]
               ? ft_workq_depth(h->q[pool])
               : 0;
}

void ft_httpd_stop(ft_httpd *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->dispatch_mu);
    h->stopping = true;
    pthread_mutex_unlock(&h->dispatch_mu);
    // Running jobs finish, queued ones are answered 503; all resume.
    for (int p = 0; p < FT_POOL_COUNT_; p++) {
        ft_workq_free(h->q[p]);
        h->q[p] = NULL;
    }
    // Streams end: parked ones are resumed to read their end.
    pthread_mutex_lock(&h->stream_mu);
    for (ft_http_stream *st = h->streams; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        st->ending = true;
        if (st->parked) {
            st->parked = false;
            MHD_resume_connection(st->conn);
        }
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&h->stream_mu);
    // Let MHD send the answers of resumed connections before it stops.
    for (int i = 0; i < 200 && h->d && atomic_load(&h->n_suspended) > 0; i++)
        usleep(10000);
    for (int i = 0; i < 100 && h->d; i++) {
        pthread_mutex_lock(&h->stream_mu);
        bool any = h->streams != NULL;
        pthread_mutex_unlock(&h->stream_mu);
        if (!any)
            break;
        usleep(10000);
    }
    if (h->sweeper_started) {
        pthread_mutex_lock(&h->stop_mu);
        h->sweeper_stop = true;
        pthread_cond_broadcast(&h->stop_cv);
        pthread_mutex_unlock(&h->stop_mu);
        pthread_join(h->sweeper, NULL);
    }
    if (h->d)
        MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->dispatch_mu);
    pthread_mutex_destroy(&h->stream_mu);
    pthread_mutex_destroy(&h->conn_mu);
    pthread_mutex_destroy(&h->stop_mu);
    pthread_cond_destroy(&h->stop_cv);
    pthread_mutex_destroy(&h->fail_mu);
    for (size_t i = 0; i < h->n_origins; i++)
        ft_free(h->origins[i]);
    ft_free(h->origins);
    for (size_t i = 0; i < h->n_names; i++)
        ft_free(h->names[i]);
    ft_free(h->names);
    ft_free(h->proxies);
    ft_free(h->tls_cert);
    ft_free(h->tls_key);
    ft_free(h);
}
