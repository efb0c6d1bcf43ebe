// The facetracker HTTP server: the page (embedded web/ files), the
// prototype's POST /api/prediction, the REST API under /api/v1/ (described
// by /api/v1/openapi.json), /healthz and /metrics, on libmicrohttpd with a
// fixed pool of inference workers and a bounded queue (503 + Retry-After
// when full). `facetracker serve` is a thin wrapper around this.
#ifndef FT_HTTP_SERVER_H
#define FT_HTTP_SERVER_H

#include "core/status.h"
#include "face/face.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_SERVER_MAX_CAMERAS 16

typedef struct ft_server_opts {
    const char *bind;       // IP address; default "127.0.0.1"
    uint16_t port;          // 0 = pick a free port (see ft_server_port)
    const char *db_path;    // NULL = FT_GALLERY_DEFAULT_PATH
    const char *models_dir; // NULL = ft_models_default_dir()
    int threads;            // inference workers; <= 0 = one per core
    ft_detector_kind detector;
    // The descriptor network the server describes, matches and enrols in
    // (face/descriptor.h: "resnet128", "faceres"); NULL = the default.
    const char *descriptor;
    bool insecure;          // allow a non-loopback bind with no API key defined
    size_t max_body_bytes;  // upload limit; default 10 MiB
    uint64_t max_pixels;    // decoded image limit; default 40 megapixels
    size_t queue_max;       // inference jobs waiting beyond the running ones; 0 = 16 a worker, >= 32
    unsigned header_timeout_ms; // request head deadline; default 10 s
    unsigned body_timeout_ms;   // request body deadline; default 60 s
    unsigned conn_timeout_s;    // idle keep-alive timeout; default 30 s
    // The door pipeline (src/door/door.h): k of n frames, the track gap
    // (a face unseen this long has left; the only cooldown), detection
    // every N-th frame of a stream.
    int door_k, door_n;         // default 3 of 5 (ft_door_opts_default)
    double door_gap_s;          // default 1.0
    int detect_every;           // default 1
    // Event delivery (src/deliver/deliver.h).
    const char *webhooks[FT_SERVER_MAX_CAMERAS];
    size_t n_webhooks;
    const char *webhook_secret;
    const char *mqtt;           // host[:port]
    const char *on_grant;       // door hook command line
    // Cameras watched from the start: "NAME=URL".
    const char *cameras[FT_SERVER_MAX_CAMERAS];
    size_t n_cameras;
    bool verbose;               // log each request to stderr
    // The server applies the gallery's retention settings (events and
    // thumbnails older than N days) this many seconds after start, then
    // every hour; <= 0 = 60 s. Tests set it short.
    double retention_first_s;
    bool load_in_background;    // listen first, load the models after; default true
    // A model trained with `facetracker train` (MODEL.h5), or NULL. When set,
    // POST /api/prediction and /api/v1/detect find faces with it instead of
    // the detector, as the prototype's real-time loop did: at most one box,
    // when its face score is over 0.5 (/api/prediction still describes and
    // identifies that face). Each inference worker loads its own copy at
    // start; a file that does not load fails ft_server_start.
    const char *trained_model;

    // ---- Security (docs/SECURITY.md) ----
    // HTTPS: PEM files of the certificate (chain) and its private key, both
    // or neither. Unreadable, not PEM, or a key that is not the
    // certificate's: ft_server_start fails saying which. Responses then
    // carry Strict-Transport-Security: max-age=31536000.
    const char *tls_cert, *tls_key;
    // State-changing requests from pages of these origins are accepted
    // besides the server's own ("https://door.example:8443"); copied.
    const char *const *allow_origins;
    size_t n_allow_origins;
    // Host names the server answers to besides its bind address (and
    // localhost on a loopback bind); any other Host gets 421 (DNS
    // rebinding); copied.
    const char *const *server_names;
    size_t n_server_names;
    // Reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For,
    // -Proto and -Host are believed; copied.
    const char *const *trusted_proxies;
    size_t n_trusted_proxies;
    // Failed API keys: after auth_fail_max (default 10) within
    // auth_fail_window_s (60) from one client address, its requests are
    // answered 429 + Retry-After for auth_block_s (60).
    unsigned auth_fail_max, auth_fail_window_s, auth_block_s;
    // The server's logger (NULL = silent): startup notes and, with
    // `verbose`, one line per request (format in http_internal.h's
    // ft_httpd_start: time, client, method, path, status, ms, key id).
    // Called from the server's threads, one complete line (no newline) per
    // call; must be thread-safe.
    void (*log)(void *log_ctx, const char *line);
    void *log_ctx;

    // ---- Many servers on one PostgreSQL gallery (docs/DEPLOYMENT.md) ----
    // With a PostgreSQL db_path the server follows the gallery's change
    // feed (src/gallery/sync.h): templates reload when another server
    // changes them, and while the database is unreachable doors keep
    // deciding and events wait in this local SQLite file (one per server;
    // NULL = "./facetracker-spool.db"), flushed in order when it is back.
    const char *spool_path;
} ft_server_opts;

ft_server_opts ft_server_opts_default(void);

typedef struct ft_server ft_server;

// Opens (or creates) the gallery, checks the bind rule (a non-loopback
// address needs at least one API key in the gallery, or `insecure`), starts
// the workers and the listener, and loads the models. Errors: FT_E_AUTH
// (bind refused), FT_E_IO (cannot listen), FT_E_NOT_FOUND (a model file is
// missing), gallery and model errors as they come. Strings in `o` are copied.
//
// With `load_in_background` (the default) the models load on their own
// thread after the server listens, so /healthz answers within a few
// milliseconds of start (loading takes a few hundred more). Until they are
// loaded:
//   GET /healthz  200 {"status": "loading", "ready": false, ...}: liveness;
//                 "ok" and true once loaded, "error" (+ "error") on failure.
//   GET /readyz   503 + Retry-After: 1 (200 {"ready": true} once loaded):
//                 readiness, for load balancers and systemd-style probes.
//   routes that run a network (POST /api/prediction, /api/v1/detect,
//   identify, verify, access, samples): 503 E_LOADING + Retry-After: 1.
// Everything else (the page, people, events, settings, keys, /metrics)
// works at once. Missing model files are still reported here; a file
// that exists but fails to parse is reported by ft_server_wait_ready and
// by /healthz. Without `load_in_background`, this returns once the models
// are loaded (ready at once).
//
// Process-wide (glibc): fixes malloc's mmap threshold at 128 KiB, so the
// large per-request buffers go back to the system (see server.c).
ft_status ft_server_start(const ft_server_opts *o, ft_server **out, ft_err *err);

typedef enum ft_server_state {
    FT_SERVER_LOADING = 0, // listening, the models are loading
    FT_SERVER_READY,       // everything works
    FT_SERVER_FAILED,      // the models failed to load: network routes answer 503
} ft_server_state;

ft_server_state ft_server_state_get(const ft_server *s);
// Blocks until the models are loaded: FT_OK, or the load's error (the same
// every time it is called). Thread-safe.
ft_status ft_server_wait_ready(ft_server *s, ft_err *err);
// The port actually bound (useful with port 0).
uint16_t ft_server_port(const ft_server *s);
// Stops listening, answers queued requests 503, waits for running ones and
// frees everything. NULL is a no-op.
void ft_server_stop(ft_server *s);

// True for 127.0.0.0/8, ::1 and "localhost".
bool ft_server_is_loopback(const char *addr);

#endif
