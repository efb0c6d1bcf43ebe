// The HTTP core: libmicrohttpd with one internal epoll thread, a request
// context per request (body buffer, captured headers, the handler's
// reply), limits and timeouts, and dispatch to the worker pools. A request
// for a pool route suspends its connection, a worker runs the handler and
// resumes it; the HTTP thread never waits for a worker. A sweeper thread
// answers 408 to connections whose request head or body is not complete
// in time (one byte a second would otherwise keep a connection forever:
// MHD's own timeout only measures idleness).
#define _GNU_SOURCE
#include "http/http_internal.h"

#include "core/clock.h"
#include "core/pool.h"
#include "core/mem.h"

#include <arpa/inet.h>
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

struct ft_httpd {
    const ft_http_app *app;
    ft_http_limits lim;
    struct MHD_Daemon *d;
    uint16_t port;
    ft_workq *q[FT_POOL_COUNT_];
    ft_metrics metrics;

    pthread_mutex_t dispatch_mu; // guards `stopping` against queue teardown
    bool stopping;
    atomic_int n_suspended;

    pthread_mutex_t conn_mu;
    conn_rec *conns;
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool sweeper_stop;
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
} req_ctx;

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

// ---- Responses ----

static enum MHD_Result respond(req_ctx *x, struct MHD_Connection *c)
{
    ft_http_req *r = &x->r;
    set_phase(x->h, c, PHASE_BUSY);
    struct MHD_Response *resp;
    if (r->status == 0)
        ft_http_reply_error(r, 500, "E_INTERNAL", "the handler gave no reply");
    if (r->out.len) {
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
        ft_err err;
        ft_err_clear(&err);
        ft_status st = h->app->auth(h->app->ctx, tctx, x->api_key, &role, &err);
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

    bool path_matched;
    int ri = ft_http__route_match(h->app->routes, h->app->n_routes, method, url, r, &path_matched);
    if (ri < 0) {
        if (path_matched)
            set_early(x, 405, "E_METHOD", "method %s is not allowed on %s", method, url);
        else
            set_early(x, 404, "E_NOT_FOUND", "no route for %s %s", method, url);
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
            ssize_t w = send(rec->fd, msg[k], (size_t)n[k], MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
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
    pthread_mutex_init(&h->conn_mu, NULL);
    pthread_mutex_init(&h->stop_mu, NULL);
    pthread_cond_init(&h->stop_cv, NULL);
    ft_metrics_init(&h->metrics, app->routes, app->n_routes);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    const char *a = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";
    if (strcmp(a, "localhost") == 0)
        a = "127.0.0.1";
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        st = ft_err_set(err, FT_E_INVALID, "bind address '%s' is not an IP address", a);
        goto fail;
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

    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_access, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->lim.conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)h->lim.conn_memory,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->lim.max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_END);
    if (!h->d) {
        st = ft_err_set(err, FT_E_IO, "cannot listen on %s:%u (address in use or not local?)", a,
                        (unsigned)port);
        goto fail;
    }
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
    // Let MHD send the answers of resumed connections before it stops.
    for (int i = 0; i < 200 && h->d && atomic_load(&h->n_suspended) > 0; i++)
        usleep(10000);
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
    pthread_mutex_destroy(&h->conn_mu);
    pthread_mutex_destroy(&h->stop_mu);
    pthread_cond_destroy(&h->stop_cv);
    ft_free(h);
}
