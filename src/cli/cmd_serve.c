// `facetracker serve`: the web app and REST API (src/http).
#include "cli/cli.h"

#include "face/descriptor.h"

#include "http/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: facetracker serve [options]\n"
    "\n"
    "Serves the page (upload, live webcam tracking, people, access log, settings) and the\n"
    "REST API: POST /api/prediction (multipart field fileImg), /api/v1/... (described at\n"
    "/api/v1/openapi.json), /healthz (liveness), /readyz (models loaded), /metrics. Stops on\n"
    "Ctrl-C or SIGTERM.\n"
    "\n"
    "options:\n"
    "  --bind ADDR           address to listen on (default 127.0.0.1); another address\n"
    "                        needs an API key in the gallery (facetracker keys) or --insecure\n"
    "  --port N              port (default: $PORT if set, else 8080)\n"
    "  --db PATH             the gallery (default ./facetracker.db), or a PostgreSQL one\n"
    "                        shared by many servers: postgresql://USER@HOST:PORT/DB\n"
    "  --spool PATH          with PostgreSQL: this server's event spool, where decisions\n"
    "                        wait while the database is unreachable (default\n"
    "                        ./facetracker-spool.db; docs/DEPLOYMENT.md)\n"
    "  --threads N           inference workers (default: one per core)\n"
    "  --detector yunet|ssd|tiny  face detector (default yunet: YuNet-s from models/yunet;\n"
    "                        ssd and tiny are face-api's)\n"
    "  --descriptor resnet128|faceres  the descriptor space the server matches, enrols and\n"
    "                        decides in (default resnet128; faceres: weights from\n"
    "                        $FT_FACERES_MODEL or .cache/human-3.3.6; its threshold is its own)\n"
    "  --max-upload BYTES    upload limit (default 10000000)\n"
    "  --max-pixels N        decoded image limit (default 40000000)\n"
    "  --models DIR          folder with the model files\n"
    "  --model MODEL.h5      a single-face model trained with `facetracker train` finds the face\n"
    "                        (one per photo, score over 0.5) for /api/prediction, /api/v1/detect,\n"
    "                        the door's decisions (/api/v1/access, Live, cameras); landmarks and\n"
    "                        descriptors stay the pretrained ones; enrolment keeps the detector\n"
    "  --insecure            allow a non-loopback bind without API keys\n"
    "  --verbose             log each request to stderr: time, client address, method, path\n"
    "                        (no query string), status, ms, API key id (never the key)\n"
    "\n"
    "security (docs/SECURITY.md):\n"
    "  --tls-cert FILE       serve HTTPS with this PEM certificate (chain); needs --tls-key;\n"
    "                        responses then carry Strict-Transport-Security\n"
    "  --tls-key FILE        the certificate's PEM private key\n"
    "  --server-name NAME    a host name clients use for this server (repeatable); requests\n"
    "                        with another Host are refused (421), which stops DNS rebinding.\n"
    "                        The bind address, and localhost on loopback, need no flag\n"
    "  --allow-origin URL    a site whose pages may change things here (repeatable), e.g.\n"
    "                        https://door.example; other sites' POST/PUT/PATCH/DELETE get 403.\n"
    "                        Scripts without Origin send X-Requested-With, a key, or JSON\n"
    "  --trusted-proxy ADDR  a reverse proxy (IP or CIDR, repeatable) whose X-Forwarded-For,\n"
    "                        -Proto and -Host are believed\n"
    "  --max-key-failures N  wrong API keys from one address within a minute before it is\n"
    "                        answered 429 for a minute (default 10; 0 = no limit)\n"
    "\n"
    "the door (README \"At the door\"; the rules: src/door/door.h):\n"
    "  --camera NAME=URL     watch a camera (repeatable): rtsp://, rtsps://, http(s):// MJPEG,\n"
    "                        /dev/videoN, or a video file; shown live on the page; cameras can\n"
    "                        also be added and removed at /api/v1/cameras\n"
    "  --k K --n N           a passage is granted when K of its last N frames match (3 of 5)\n"
    "  --gap S               a face unseen for S seconds has left (default 1)\n"
    "  --detect-every N      cameras: detect on every N-th frame, track in between (default 1)\n"
    "  --webhook URL         POST each decision to URL (repeatable), retried until delivered\n"
    "  --webhook-secret S    sign webhook bodies: X-Facetracker-Signature: sha256=HMAC(S, body)\n"
    "                        (default: $FT_WEBHOOK_SECRET, which keeps it out of ps)\n"
    "  --mqtt HOST[:PORT]    publish decisions to facetracker/<source>/access (QoS 1)\n"
    "  --on-grant CMD        run CMD (no shell) for each granted passage, event in FT_* env\n";

#define MAX_LIST 16

static void log_stderr(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line); // one call: stdio's lock keeps lines whole
}

// Appends the next argument to a repeatable option's list.
static bool list_add(const char *flag, int argc, char **argv, int *i, const char **list, size_t *n)
{
    const char *v;
    if (!ft_cli_str(argc, argv, i, &v))
        return false;
    if (*n >= MAX_LIST) {
        ft_cli_errorf("serve", "%s: at most %d", flag, MAX_LIST);
        return false;
    }
    list[(*n)++] = v;
    return true;
}

static volatile sig_atomic_t stop_flag = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int ft_cmd_serve(int argc, char **argv)
{
    ft_server_opts o = ft_server_opts_default();
    long v;
    bool port_set = false;
    const char *origins[MAX_LIST], *names[MAX_LIST], *proxies[MAX_LIST];
    o.allow_origins = origins;
    o.server_names = names;
    o.trusted_proxies = proxies;
    o.log = log_stderr;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *s;
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--bind") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.bind))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--port") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 65535, &v))
                return FT_EXIT_USAGE;
            o.port = (uint16_t)v;
            port_set = true;
        } else if (strcmp(a, "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.db_path))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--spool") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.spool_path))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 256, &v))
                return FT_EXIT_USAGE;
            o.threads = (int)v;
        } else if (strcmp(a, "--detector") == 0) {
            if (!ft_cli_str(argc, argv, &i, &s))
                return FT_EXIT_USAGE;
            if (!ft_detector_parse(s, &o.detector)) {
                ft_cli_errorf("serve", "--detector %s: expected ssd, tiny or yunet", s);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--descriptor") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.descriptor))
                return FT_EXIT_USAGE;
            if (!ft_descriptor_net_find(o.descriptor)) {
                ft_cli_errorf("serve", "--descriptor %s: expected resnet128 or faceres",
                              o.descriptor);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-upload") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1024, 1L << 30, &v))
                return FT_EXIT_USAGE;
            o.max_body_bytes = (size_t)v;
        } else if (strcmp(a, "--max-pixels") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 1000000000L, &v))
                return FT_EXIT_USAGE;
            o.max_pixels = (uint64_t)v;
        } else if (strcmp(a, "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.models_dir))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--model") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.trained_model))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--insecure") == 0) {
            o.insecure = true;
        } else if (strcmp(a, "--verbose") == 0) {
            o.verbose = true;
        } else if (strcmp(a, "--tls-cert") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.tls_cert))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--tls-key") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.tls_key))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--server-name") == 0) {
            if (!list_add(a, argc, argv, &i, names, &o.n_server_names))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--allow-origin") == 0) {
            if (!list_add(a, argc, argv, &i, origins, &o.n_allow_origins))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--trusted-proxy") == 0) {
            if (!list_add(a, argc, argv, &i, proxies, &o.n_trusted_proxies))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--camera") == 0) {
            if (!list_add(a, argc, argv, &i, o.cameras, &o.n_cameras))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--k") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 32, &v))
                return FT_EXIT_USAGE;
            o.door_k = (int)v;
        } else if (strcmp(a, "--n") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 32, &v))
                return FT_EXIT_USAGE;
            o.door_n = (int)v;
        } else if (strcmp(a, "--gap") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.01, 3600, &o.door_gap_s))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--detect-every") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100, &v))
                return FT_EXIT_USAGE;
            o.detect_every = (int)v;
        } else if (strcmp(a, "--webhook") == 0) {
            if (!list_add(a, argc, argv, &i, o.webhooks, &o.n_webhooks))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--webhook-secret") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.webhook_secret))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--mqtt") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.mqtt))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--on-grant") == 0) {
            if (!ft_cli_str(argc, argv, &i, &o.on_grant))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--max-key-failures") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 100000, &v))
                return FT_EXIT_USAGE;
            o.auth_fail_max = (unsigned)v;
        } else {
            ft_cli_errorf("serve", "unknown argument %s (see --help)", a);
            return FT_EXIT_USAGE;
        }
    }
    if (!o.webhook_secret && getenv("FT_WEBHOOK_SECRET") && *getenv("FT_WEBHOOK_SECRET"))
        o.webhook_secret = getenv("FT_WEBHOOK_SECRET"); // kept out of ps
    if (!port_set) {
        const char *p = getenv("PORT");
        o.port = 8080;
        if (p && *p) {
            char *end;
            long pv = strtol(p, &end, 10);
            if (*end || pv < 0 || pv > 65535) {
                ft_cli_errorf("serve", "PORT=%s: not a port number", p);
                return FT_EXIT_USAGE;
            }
            o.port = (uint16_t)pv;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ft_server *srv = NULL;
    ft_err err = {0};
    ft_status st = ft_server_start(&o, &srv, &err);
    if (st != FT_OK) {
        ft_cli_errorf("serve", "%s", ft_err_msg(&err, st));
        return st == FT_E_AUTH || st == FT_E_INVALID ? FT_EXIT_USAGE : FT_EXIT_INPUT;
    }
    const char *host = o.bind ? o.bind : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "facetracker: serving on %s://%s%s%s:%u/\n", o.tls_cert ? "https" : "http",
            v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)ft_server_port(srv));
    // The models load in the background (/healthz answers meanwhile, see
    // src/http/server.h); a model that fails to load still stops `serve`.
    st = ft_server_wait_ready(srv, &err);
    if (st != FT_OK) {
        ft_cli_errorf("serve", "%s", ft_err_msg(&err, st));
        ft_server_stop(srv);
        return FT_EXIT_INPUT;
    }
    while (!stop_flag)
        pause();
    fprintf(stderr, "facetracker: stopping\n");
    ft_server_stop(srv);
    return FT_EXIT_OK;
}
