// Declarations shared by the files of src/http and by its tests: the
// request a handler sees, the route table, the HTTP core (libmicrohttpd
// glue: limits, timeouts, suspend/resume around the worker queues), the
// worker queue, metrics and reply helpers. No other module includes this.
#ifndef FT_HTTP_INTERNAL_H
#define FT_HTTP_INTERNAL_H

#include "core/buf.h"
#include "core/status.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---- Roles ----

// Bits of a route's `roles` mask. Admin is allowed everywhere; a mask of 0
// marks a public route (no key needed even when keys exist).
enum {
    FT_HTTP_VIEWER = 1u << 0,
    FT_HTTP_DEVICE = 1u << 1,
    FT_HTTP_ADMIN = 1u << 2,
};
#define FT_HTTP_READ (FT_HTTP_VIEWER | FT_HTTP_DEVICE | FT_HTTP_ADMIN)

// Which thread runs a route's handler.
typedef enum ft_route_pool {
    FT_POOL_INLINE = 0, // the HTTP thread itself: cheap, no I/O, no locks held long
    FT_POOL_DB,         // the database worker(s): SQLite reads and writes
    FT_POOL_INFER,      // the inference workers: decoding and networks (bounded queue)
    FT_POOL_COUNT_
} ft_route_pool;

// ---- Requests ----

#define FT_ROUTE_MAX_PARAMS 4
#define FT_PARAM_MAX 128

typedef struct ft_http_kv {
    char *key, *val;
} ft_http_kv;

typedef struct ft_route ft_route;

typedef struct ft_http_req {
    // Set by the core before the handler runs; read-only for handlers.
    const char *method;
    const char *path;
    const ft_route *route;
    int route_index;
    char params[FT_ROUTE_MAX_PARAMS][FT_PARAM_MAX];
    size_t n_params;
    ft_http_kv *query; // decoded query arguments
    size_t n_query;
    char *content_type; // NULL if absent
    const uint8_t *body;
    size_t body_len;
    unsigned role;  // the caller's role bit (FT_HTTP_*), 0 for public access
    int64_t key_id; // the API key that authenticated the request; 0 = none (key-less server)
    void *app;      // the application's context (ft_http_app.ctx)
    void *tctx;     // the running thread's context (worker_init), NULL inline
    double t_start; // ft_now_ms() when the headers were complete

    // Filled by the handler.
    int status;
    ft_buf out;
    struct ft_http_stream *stream; // ft_http_reply_stream: the body is streamed
    const char *out_type; // default application/json
    char hdr_name[2][32];
    char hdr_val[2][256];
    int n_hdr;
} ft_http_req;

typedef void (*ft_route_fn)(ft_http_req *r);

// ---- Streamed replies ----
//
// A reply whose body is produced while it is sent (an MJPEG camera view):
// the handler calls ft_http_reply_stream instead of filling r->out. The
// core then asks ops->read for bytes whenever the socket can take them:
// it returns how many it wrote (> 0), 0 when it has nothing now — the
// connection is then parked (no busy loop) until ft_http_stream_wake —,
// or -1 to end the body. ops->close is called once, when the client is
// gone or the body ended; after it the stream handle is invalid. read and
// close run on the HTTP thread: they must not block.
typedef struct ft_http_stream ft_http_stream;
typedef struct ft_http_stream_ops {
    long (*read)(void *arg, char *buf, size_t max);
    void (*close)(void *arg);
} ft_http_stream_ops;

// Sets a 200 streamed reply of media type `type`; *handle receives the
// stream for ft_http_stream_wake (valid until ops->close).
void ft_http_reply_stream(ft_http_req *r, const char *type, const ft_http_stream_ops *ops,
                          void *arg, ft_http_stream **handle);
// Un-parks a stream whose read returned 0 (from any thread; a no-op when
// it is not parked; the next read may again return 0).
void ft_http_stream_wake(ft_http_stream *st);

// Body kinds, for the OpenAPI document and the core's Content-Type check.
typedef enum ft_body_kind {
    FT_BODY_NONE = 0,
    FT_BODY_JSON,
    FT_BODY_MULTIPART,
} ft_body_kind;

// One line of the route table: method + path pattern ("/api/v1/people/{id}",
// each {name} one path segment) -> handler, allowed roles, thread pool. The
// same table produces /api/v1/openapi.json.
struct ft_route {
    const char *method;
    const char *pattern;
    ft_route_fn fn;
    unsigned roles; // 0 = public
    ft_route_pool pool;
    ft_body_kind body;
    const char *produces; // response media type; NULL = application/json
    const char *tag;
    const char *summary;
    const char *query_doc; // "name:type:description|..." for OpenAPI parameters
};

// Matches `method` + `path` against the table. Returns the index, or -1;
// *path_matched tells whether some route had the path but not the method
// (405). Params are copied into r->params (segments longer than
// FT_PARAM_MAX - 1 do not match).
int ft_http__route_match(const ft_route *routes, size_t n, const char *method, const char *path,
                         ft_http_req *r, bool *path_matched);

// The OpenAPI 3 document for a table (new reference).
json_t *ft_http__openapi(const ft_route *routes, size_t n, const char *version);

// ---- Replies ----

// Sets r->status and the JSON body; steals the reference to `j`.
void ft_http_reply_json(ft_http_req *r, int status, json_t *j);
// {"error": {"code": code, "message": ...}} with `status`.
void ft_http_reply_error(ft_http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// The HTTP status for a failure status (400, 404, 413, 415, 422, 500...).
int ft_http_status_for(ft_status st);
// An error reply for `st`, with the message from `err`.
void ft_http_reply_status(ft_http_req *r, ft_status st, const ft_err *err);
// Adds a response header (at most two per response).
void ft_http_reply_header(ft_http_req *r, const char *name, const char *val);
// The decoded query argument `key`, or NULL.
const char *ft_http_query(const ft_http_req *r, const char *key);
// Parses the body as a JSON object (FT_E_FORMAT with the parser's message
// and position, FT_E_UNSUPPORTED if the Content-Type is not JSON).
ft_status ft_http_body_json(const ft_http_req *r, json_t **out, ft_err *err);

// ---- Worker queues ----

// A fixed pool of threads, each with its own context, taking jobs from a
// bounded FIFO. ft_workq_reserve() claims a slot without blocking (false
// when the queue is full); the claimed slot is then used by exactly one
// ft_workq_push(), which never fails. A worker calls run(), frees the
// slot, then calls done(): whoever done() wakes (a client getting its
// answer and sending the next request) finds the slot free again.
typedef struct ft_workq ft_workq;
typedef struct ft_job ft_job;
struct ft_job {
    void (*run)(ft_job *job, void *tctx); // the work; must not free the job
    void (*done)(ft_job *job);            // after run, slot released; may free the job
    void (*cancel)(ft_job *job);          // queued but never run (shutdown)
    ft_job *next;
};
typedef ft_status (*ft_workq_init_fn)(void *ctx, int pool, int index, void **tctx, ft_err *err);
typedef void (*ft_workq_deinit_fn)(void *ctx, int pool, void *tctx);

ft_status ft_workq_new(int pool, int n_threads, size_t max_queued, ft_workq_init_fn init,
                       ft_workq_deinit_fn deinit, void *ctx, ft_workq **out, ft_err *err);
bool ft_workq_reserve(ft_workq *q);
void ft_workq_push(ft_workq *q, ft_job *job);
// Jobs waiting (not yet running) and running right now.
size_t ft_workq_depth(ft_workq *q);
size_t ft_workq_threads(const ft_workq *q);
// Stops the threads after the running jobs; queued jobs are cancelled.
void ft_workq_free(ft_workq *q);

// ---- Metrics (Prometheus text exposition) ----

#define FT_HIST_BUCKETS 14
extern const double ft_hist_bounds[FT_HIST_BUCKETS]; // seconds, ascending

typedef struct ft_hist {
    _Atomic uint64_t bucket[FT_HIST_BUCKETS + 1]; // last = +Inf
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
} ft_hist;

void ft_hist_observe(ft_hist *h, double seconds);

#define FT_METRICS_MAX_ROUTES 64
#define FT_METRICS_CODES 6 // 1xx..5xx, and other
#define FT_METRICS_OUTCOMES 8
#define FT_METRICS_NETS 6

typedef struct ft_metrics {
    size_t n_routes;
    const char *route_method[FT_METRICS_MAX_ROUTES + 1];
    const char *route_name[FT_METRICS_MAX_ROUTES + 1]; // last: "unmatched"
    _Atomic uint64_t requests[FT_METRICS_MAX_ROUTES + 1][FT_METRICS_CODES];
    ft_hist latency[FT_METRICS_MAX_ROUTES + 1];
    _Atomic uint64_t faces_detected;
    _Atomic uint64_t rejected_busy; // 503 from a full queue
    _Atomic uint64_t timeouts;      // 408
    const char *outcome_name[FT_METRICS_OUTCOMES];
    _Atomic uint64_t decisions[FT_METRICS_OUTCOMES];
    const char *net_name[FT_METRICS_NETS];
    ft_hist inference[FT_METRICS_NETS];
    double started_ms;
} ft_metrics;

// Names come from static storage (the route table, string literals).
void ft_metrics_init(ft_metrics *m, const ft_route *routes, size_t n_routes);
// route -1 = unmatched.
void ft_metrics_request(ft_metrics *m, int route, int status, double seconds);
void ft_metrics_decision(ft_metrics *m, const char *outcome);
void ft_metrics_inference(ft_metrics *m, const char *net, double seconds);
// Appends the exposition text; `gauges` (may be NULL) adds preformatted
// lines (queue depths and the like).
ft_status ft_metrics_render(ft_metrics *m, const char *gauges, ft_buf *out);

// ---- The HTTP core ----

typedef struct ft_http_app {
    const ft_route *routes;
    size_t n_routes;
    void *ctx;
    // Thread contexts for the pools (called on each worker thread).
    ft_workq_init_fn worker_init;
    ft_workq_deinit_fn worker_deinit;
    // Authenticates a request for a non-public route, on a pool thread
    // (tctx is that thread's context; inline routes are public). `key` is
    // the presented key or NULL. Sets *role to one FT_HTTP_* bit; FT_E_AUTH
    // means 401 (missing or wrong key).
    // *key_id gets the key's id (0 = no key: key-less mode) for the log.
    ft_status (*auth)(void *ctx, void *tctx, const char *key, unsigned *role, int64_t *key_id,
                      ft_err *err);
    // Extra gauge lines for /metrics (may be NULL).
    void (*gauges)(void *ctx, ft_buf *out);
    // Whether a pool's routes can run now (may be NULL = always): NULL if
    // so, else why not; the request is then answered 503 E_LOADING with
    // Retry-After: 1 without queueing it (the models are still loading).
    const char *(*unavailable)(void *ctx, ft_route_pool pool);
    // The request log (may be NULL = none): one line per answered request,
    // no newline, called on the HTTP thread with `ctx` (see ft_httpd_start
    // for the format); also gets libmicrohttpd's own error messages.
    void (*log)(void *ctx, const char *line);
} ft_http_app;

typedef struct ft_http_limits {
    size_t max_body_bytes;       // default 10 MiB
    unsigned conn_timeout_s;     // idle connection timeout; default 30
    unsigned header_timeout_ms;  // whole request head; default 10000
    unsigned body_timeout_ms;    // whole body after the head; default 60000
    size_t conn_memory;          // per-connection header memory; default 64 KiB
    unsigned max_connections;    // default 256
    size_t queue_max[FT_POOL_COUNT_]; // per pool; 0 = default
    int threads[FT_POOL_COUNT_];      // per pool; 0 = default (infer: cores, db: 1)

    // ---- Requests from elsewhere (docs/SECURITY.md); off by default ----
    // check_host: a Host (or trusted X-Forwarded-Host) that is not one of
    // ours is answered 421 E_HOST, which stops DNS rebinding. Ours: an IP
    // literal equal to the bind address (any IP literal for a 0.0.0.0/::
    // bind; any loopback one for a loopback bind), "localhost" for a
    // loopback or wildcard bind, and `server_names`.
    bool check_host;
    // check_origin: a state-changing request (any method but GET, HEAD,
    // OPTIONS) whose Origin, or without it Referer, is not the server's own
    // origin (scheme://Host) nor one of `allowed_origins` is answered 403
    // E_ORIGIN. With neither header, a POST that a page of another site
    // could send without a CORS preflight (no X-Requested-With, X-API-Key
    // or Authorization header, and a Content-Type that is absent or
    // multipart/form-data, application/x-www-form-urlencoded or text/plain)
    // is answered 403 E_ORIGIN too.
    bool check_origin;
    const char *const *allowed_origins; // "https://door.example:8443"; copied at start
    size_t n_allowed_origins;
    const char *const *server_names; // extra Host names ("door.example"); copied
    size_t n_server_names;
    // Peers whose X-Forwarded-For/-Proto/-Host are believed: IP addresses
    // or CIDR ranges ("10.0.0.0/8", "::1"); copied. The client address (log,
    // failed-key limit) is then the rightmost untrusted X-Forwarded-For hop.
    const char *const *trusted_proxies;
    size_t n_trusted_proxies;
    // Failed API keys: after auth_fail_max wrong keys within
    // auth_fail_window_s from one client address, that address's requests
    // to non-public routes are answered 429 + Retry-After for auth_block_s.
    // auth_fail_max 0 = off (the default).
    unsigned auth_fail_max, auth_fail_window_s, auth_block_s;
    // HTTPS: the PEM text of the certificate (chain) and its private key,
    // both or neither; copied. Adds Strict-Transport-Security to every
    // response. FT_E_UNSUPPORTED when libmicrohttpd has no TLS.
    const char *tls_cert_pem, *tls_key_pem;
} ft_http_limits;

ft_http_limits ft_http_limits_default(void);

typedef struct ft_httpd ft_httpd;

// Starts the daemon on bind_addr:port (port 0 = a free one, see
// ft_httpd_port) and the worker pools. `app` and the route table must
// outlive the daemon. With app->log, each answered request is logged as
//   2026-12-04T23:59:01.123Z 127.0.0.1 POST /api/v1/people/6/samples 201 153.2ms key=3
// (UTC time, client address, method, path without the query string, with
// bytes outside printable ASCII as \xHH, status, milliseconds, the id of
// the API key that authenticated, or "-"). Never the key, the query or the body.
ft_status ft_httpd_start(const ft_http_app *app, const char *bind_addr, uint16_t port,
                         const ft_http_limits *lim, ft_httpd **out, ft_err *err);
uint16_t ft_httpd_port(const ft_httpd *h);
ft_metrics *ft_httpd_metrics(ft_httpd *h);
size_t ft_httpd_queue_depth(ft_httpd *h, ft_route_pool pool);
void ft_httpd_stop(ft_httpd *h);

// ---- The facetracker application (server.c, api.c) ----

#include "access/access.h"
#include "face/descriptor.h"
#include "face/face.h"
#include "gallery/gallery.h"
#include "http/server.h"
#include "train/model.h"

#include <pthread.h>

struct ft_server {
    ft_server_opts o;
    char *bind, *db_path, *models_dir, *trained_model;
    ft_face_models *models;
    // The descriptor network (serve --descriptor; face/descriptor.h) and,
    // for faceres, its weights (loaded with the models).
    const struct ft_descriptor_net *net;
    struct ft_faceres *faceres;
    ft_httpd *httpd;
    ft_http_app app;
    double t_start_ms;
    pthread_rwlock_t mx_lock; // guards `matrix` (readers match, the writer reloads)
    ft_match_matrix *matrix;
    // Model loading (ft_server_start): `state` (ft_server_state) is
    // published with release order after `models` is set, so a reader that
    // sees FT_SERVER_READY sees the models.
    atomic_int state;
    pthread_t loader;
    bool loader_started;
    pthread_mutex_t load_mu; // guards load_st/load_err; load_cv signals the end
    pthread_cond_t load_cv;
    ft_status load_st;
    ft_err load_err;
    // The door pipeline (api_door.c): made once the models are loaded,
    // published before `state` turns READY.
    struct ft_door *door;
    struct ft_deliver *deliver;
    bool door_started;
    // MJPEG viewers of the cameras (api_door.c).
    pthread_mutex_t view_mu;
    struct ft_viewer *viewers;
    int n_viewers;
    // Housekeeping (retention, hourly), api_door.c.
    pthread_t hk_thread;
    bool hk_started, hk_stop;
    pthread_mutex_t hk_mu;
    pthread_cond_t hk_cv;
    // The Live tab's stream sources, by name (one tracker each), and the
    // cameras' watchers.
    pthread_mutex_t live_mu;
    struct ft_live {
        char name[FT_GALLERY_NAME_MAX + 1];
        struct ft_door_source *src;
        pthread_mutex_t mu; // held around each frame
        double last_ms;
    } live[16];
    // A PostgreSQL gallery's change feed and spool (gallery/sync.h), and
    // the connection its listener thread reloads the door's matrix on.
    struct ft_gallery_sync *sync;
    ft_gallery *sync_g;
    char *spool_path;
    pthread_mutex_t cam_mu;
    struct ft_camera {
        char name[FT_GALLERY_NAME_MAX + 1];
        struct ft_watcher *w;
    } cams[FT_SERVER_MAX_CAMERAS];
    size_t n_cams;
};

// A pool thread's context: its own inference context (inference pool
// only) and its own gallery connection.
typedef struct ft_wctx {
    int pool;
    ft_nn_ctx *nn;
    ft_gallery *g;
    ft_fmodel *fm; // the trained model (opts.trained_model), inference pool only
} ft_wctx;

extern const ft_route ft_http__routes[];
extern const size_t ft_http__n_routes;

// ---- Shared by the handler files (api.c, api_door.c) ----

struct ft_multipart;
// The image bytes of a request: the multipart part `field` (NULL: the
// first of photo/fileImg/image or any file part; `mp` receives the parsed
// form, deinit it after), or a raw image/* body.
ft_status ft_http__image_input(ft_http_req *r, const char *field, struct ft_multipart *mp,
                               const uint8_t **data, size_t *len, ft_err *err);
// Decodes under the server's pixel and byte limits.
ft_status ft_http__decode(ft_http_req *r, const uint8_t *data, size_t len, ft_image *im,
                          ft_err *err);
// A form text field, or NULL; copies at most cap-1 bytes.
const char *ft_http__form_text(const struct ft_multipart *mp, const char *name, char *buf,
                               size_t cap);
json_t *ft_http__num(double v); // null for NaN and infinities
json_t *ft_http__box_json(const ft_face_box *b); // {"x", "y", "width", "height"}
// One audit row (ft_gallery_audit_add) for the request's actor ("key:ID:NAME",
// or "local" on a key-less server): action "camera.add", target
// "camera:NAME", detail a JSON object (NULL = {}; the reference is stolen).
// Call after the action succeeded, on a DB-pool or inference thread.
ft_status ft_http__audit(ft_http_req *r, const char *action, const char *target, json_t *detail,
                         ft_err *err);

// The door's handlers (api_door.c): decisions, the Live tab's stream
// sources and the cameras.
void ft_http__h_access(ft_http_req *r);
void ft_http__h_prediction(ft_http_req *r);
void ft_http__h_cameras_list(ft_http_req *r);
void ft_http__h_camera_add(ft_http_req *r);
void ft_http__h_camera_remove(ft_http_req *r);
void ft_http__h_camera_frame(ft_http_req *r);
void ft_http__h_camera_stream(ft_http_req *r);
#define FT_SERVER_MAX_VIEWERS 32
// Starts the door (after the models loaded), its delivery and the
// configured cameras; stops them (server.c calls these).
ft_status ft_http__door_start(ft_server *s, ft_err *err);
ft_status ft_http__door_models_ready(ft_server *s, ft_err *err); // the door and its cameras
void ft_http__door_stop(ft_server *s);
// /metrics and /readyz detail for cameras and delivery.
void ft_http__door_gauges(ft_server *s, ft_buf *out);
json_t *ft_http__cameras_json(ft_server *s);
// Adds "cameras" ({name, state, running, last_error}) and "delivery" ({sink,
// connected, pending, last_error}) to a /readyz answer.
void ft_http__door_ready_detail(ft_server *s, json_t *j);
// Adds the event and access-result schemas to an OpenAPI document.
void ft_http__openapi_door(json_t *doc);

// The embedded page: the asset called `name` ("index.html"), or NULL.
const uint8_t *ft_http__asset(const char *name, size_t *len);
const char *ft_http__mime(const char *name);

#endif
