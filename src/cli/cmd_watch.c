// `facetracker watch`: camera streams, video files and photos through the
// door pipeline (src/door), one JSON line per decided passage on stdout,
// events stored in the gallery and delivered (webhook, MQTT, door hook).
#include "cli/cli.h"

#include "core/clock.h"
#include "core/mem.h"
#include "deliver/deliver.h"
#include "door/door.h"
#include "face/descriptor.h"
#include "face/faceres.h"
#include "gallery/gallery.h"
#include "source/source.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: facetracker watch [options] [NAME=]SOURCE...\n"
    "\n"
    "Runs each SOURCE through the door pipeline: faces are tracked across frames, each passage\n"
    "gets one decision (granted as soon as k of the last n frames match the same person and\n"
    "the track's fused descriptor agrees; denied with the reason when the face leaves), stored\n"
    "in the access log and printed as one JSON line:\n"
    "  {\"event_id\", \"event_uid\", \"source\", \"track\", \"decision\", \"reason\", \"person\":\n"
    "   {\"id\", \"name\"} or null, \"distance\", \"margin\", \"detector_score\", \"frames\",\n"
    "   \"first_seen\", \"decided_at\", \"nearest\", \"second\"}\n"
    "SOURCE: a video file, a photo, - (stdin), rtsp://, rtsps://, http(s):// (MJPEG),\n"
    "/dev/videoN. Live sources hand over their newest frame (older ones are dropped and\n"
    "counted) and reconnect with backoff when lost. One thread per source.\n"
    "\n"
    "options:\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n"
    "  --name NAME           the source's name in events (one SOURCE; else NAME=SOURCE)\n"
    "  --max-frames N        stop each source after N frames\n"
    "  --duration S          stop after S seconds\n"
    "  --realtime            files at their own frame rate (default: as fast as possible)\n"
    "  --detect-every N      detect on every N-th frame, track in between (default 1)\n"
    "  --k K --n N           granted when K of the last N described frames match (3 of 5)\n"
    "  --gap S               a face unseen for S seconds has left: a new passage (default 1)\n"
    "  --frames              also print one {\"frame\": ...} line per frame\n"
    "  --draw DIR            save annotated frames as DIR/<source>-<frame>.jpg\n"
    "  --webhook URL         POST each event to URL (repeatable); signed with\n"
    "  --webhook-secret S    HMAC-SHA256 (header X-Facetracker-Signature) when set\n"
    "                        (default: $FT_WEBHOOK_SECRET, which keeps it out of ps)\n"
    "  --mqtt HOST[:PORT]    publish events to facetracker/<source>/access (QoS 1)\n"
    "  --on-grant CMD        run CMD (no shell) for each granted passage, event in FT_* env\n"
    "  --model MODEL.h5      a single-face model from `facetracker train` finds the face\n"
    "                        (one face per frame, when its score is over --min-score; no\n"
    "                        keypoints); landmarks and descriptors stay the pretrained ones\n"
    "  --threads N           threads per inference (default 1)\n" FT_CLI_DESCRIPTOR_HELP
    FT_CLI_FACE_OPTS_HELP
    "\n"
    "Exit status: 0 when every source ran to its end (or the limits), 2 when a source\n"
    "could not be opened or failed.\n";

#define MAX_SOURCES 16

typedef struct watch_src {
    char name[FT_GALLERY_NAME_MAX + 1];
    const char *url;
    ft_watcher *w;
} watch_src;

typedef struct watch {
    const char *db;
    ft_door *door;
    long threads;
    long max_frames;
    double duration_s;
    bool realtime, frames_out;
    const char *draw_dir;
    pthread_mutex_t out_mu;
    ft_deliver *deliver;
} watch;

static atomic_int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

static void emit_event(watch *w, const ft_event *ev)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_gallery_event_json(ev, &b);
    pthread_mutex_lock(&w->out_mu);
    ft_cli_emit(&b);
    pthread_mutex_unlock(&w->out_mu);
    ft_buf_deinit(&b);
}

static void emit_frame(watch *w, const char *name, int64_t index, double t,
                       const ft_door_result *r)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_buf_puts(&b, "{\"frame\": {\"source\": ");
    ft_buf_json_str(&b, name);
    ft_buf_printf(&b, ", \"index\": %lld, \"t\": ", (long long)index);
    ft_cli_json_num(&b, t);
    ft_buf_printf(&b, ", \"detected\": %s, \"faces\": [", r->detected ? "true" : "false");
    for (size_t i = 0; i < r->n_faces; i++) {
        const ft_door_face *f = &r->faces[i];
        ft_buf_puts(&b, i ? ", {\"box\": [" : "{\"box\": [");
        ft_cli_json_num(&b, f->box.x);
        ft_buf_puts(&b, ", ");
        ft_cli_json_num(&b, f->box.y);
        ft_buf_puts(&b, ", ");
        ft_cli_json_num(&b, f->box.w);
        ft_buf_puts(&b, ", ");
        ft_cli_json_num(&b, f->box.h);
        ft_buf_printf(&b, "], \"track\": %lld, \"state\": \"%s\", \"described\": %s",
                      (long long)f->track_id, ft_track_state_str(f->state),
                      f->described ? "true" : "false");
        if (f->state == FT_TRACK_GRANTED) {
            ft_buf_printf(&b, ", \"person\": {\"id\": %lld, \"name\": ", (long long)f->person_id);
            ft_buf_json_str(&b, f->name);
            ft_buf_puts(&b, "}");
        }
        if (f->described) {
            ft_buf_printf(&b, ", \"frame_reason\": \"%s\", \"distance\": ",
                          ft_access_reason_str(f->frame.reason));
            ft_cli_json_num(&b, f->frame.distance);
        }
        ft_buf_puts(&b, "}");
    }
    ft_buf_printf(&b, "], \"ms\": ");
    ft_cli_json_num(&b, round(r->total_ms * 100) / 100);
    ft_buf_puts(&b, "}}");
    pthread_mutex_lock(&w->out_mu);
    ft_cli_emit(&b);
    pthread_mutex_unlock(&w->out_mu);
    ft_buf_deinit(&b);
}

static void draw_frame(watch *w, const char *name, const ft_image *im, int64_t index,
                       const ft_door_result *r)
{
    ft_image copy;
    if (ft_image_copy(im, &copy) != FT_OK)
        return;
    ft_door_draw(&copy, r);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%06lld.jpg", w->draw_dir, name, (long long)index);
    ft_err err = {0};
    if (ft_image_save(&copy, path, &err) != FT_OK)
        ft_cli_errorf("watch", "%s", err.msg);
    ft_image_deinit(&copy);
}

static void on_event(void *arg, const char *source, const ft_event *ev)
{
    (void)source;
    emit_event(arg, ev);
}

static void on_frame(void *arg, const char *source, const ft_source_frame *f, double t,
                     const ft_door_result *res)
{
    watch *w = arg;
    if (w->frames_out)
        emit_frame(w, source, f->index, t, res);
    if (w->draw_dir)
        draw_frame(w, source, &f->im, f->index, res);
}

// NAME=SOURCE, unless NAME= would make a URL's scheme a name.
static void split_name(const char *arg, const char *name_opt, watch_src *ws)
{
    const char *eq = strchr(arg, '=');
    const char *colon = strchr(arg, ':');
    const char *slash = strchr(arg, '/');
    if (eq && eq > arg && (!colon || eq < colon) && (!slash || eq < slash) &&
        (size_t)(eq - arg) <= FT_GALLERY_NAME_MAX) {
        snprintf(ws->name, sizeof ws->name, "%.*s", (int)(eq - arg), arg);
        ws->url = eq + 1;
        return;
    }
    ws->url = arg;
    if (name_opt) {
        snprintf(ws->name, sizeof ws->name, "%s", name_opt);
        return;
    }
    // The file's name without folders, or the URL's host and path without
    // credentials (user:pass@).
    const char *p = arg;
    const char *scheme = strstr(arg, "://");
    if (scheme) {
        p = scheme + 3;
        const char *at = strchr(p, '@');
        const char *sl = strchr(p, '/');
        if (at && (!sl || at < sl))
            p = at + 1;
    } else if (strrchr(arg, '/')) {
        p = strrchr(arg, '/') + 1;
    }
    snprintf(ws->name, sizeof ws->name, "%s", *p ? p : "camera");
    for (char *c = ws->name; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '_';
}

int ft_cmd_watch(int argc, char **argv)
{
    const char *cmd = "watch";
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    fo.threads = 1;
    watch w;
    memset(&w, 0, sizeof w);
    w.threads = 1;
    ft_door_opts dopt = ft_door_opts_default();
    const ft_descriptor_net *net = ft_descriptor_net_default();
    ft_deliver_opts delo = ft_deliver_opts_default();
    const char *name_opt = NULL, *trained = NULL;
    const char *secret = NULL;
    const char *webhooks[FT_DELIVER_MAX_WEBHOOKS];
    size_t n_webhooks = 0;
    watch_src srcs[MAX_SOURCES];
    size_t n_src = 0;
    memset(srcs, 0, sizeof srcs);
    const char *urls[MAX_SOURCES];
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r == 0)
            r = ft_cli_descriptor_parse(cmd, argc, argv, &i, &net);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        long v;
        const char *a = argv[i];
        if (strcmp(a, "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &w.db))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--name") == 0) {
            if (!ft_cli_str(argc, argv, &i, &name_opt))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--max-frames") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 1000000000L, &w.max_frames))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--duration") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.001, 1e9, &w.duration_s))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--realtime") == 0) {
            w.realtime = true;
        } else if (strcmp(a, "--frames") == 0) {
            w.frames_out = true;
        } else if (strcmp(a, "--detect-every") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100, &v))
                return FT_EXIT_USAGE;
            dopt.detect_every = (int)v;
        } else if (strcmp(a, "--k") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, FT_DOOR_MAX_N, &v))
                return FT_EXIT_USAGE;
            dopt.k = (int)v;
        } else if (strcmp(a, "--n") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, FT_DOOR_MAX_N, &v))
                return FT_EXIT_USAGE;
            dopt.n = (int)v;
        } else if (strcmp(a, "--gap") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.01, 3600, &dopt.gap_s))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--model") == 0) {
            if (!ft_cli_str(argc, argv, &i, &trained))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--draw") == 0) {
            if (!ft_cli_str(argc, argv, &i, &w.draw_dir))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--webhook") == 0) {
            if (n_webhooks >= FT_DELIVER_MAX_WEBHOOKS) {
                ft_cli_errorf(cmd, "at most %d webhooks", FT_DELIVER_MAX_WEBHOOKS);
                return FT_EXIT_USAGE;
            }
            if (!ft_cli_str(argc, argv, &i, &webhooks[n_webhooks++]))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--webhook-secret") == 0) {
            if (!ft_cli_str(argc, argv, &i, &secret))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--mqtt") == 0) {
            if (!ft_cli_str(argc, argv, &i, &delo.mqtt))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--on-grant") == 0) {
            if (!ft_cli_str(argc, argv, &i, &delo.on_grant))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf(cmd, "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else {
            if (n_src >= MAX_SOURCES) {
                ft_cli_errorf(cmd, "at most %d sources", MAX_SOURCES);
                return FT_EXIT_USAGE;
            }
            urls[n_src++] = a;
        }
    }
    if (n_src == 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    if (name_opt && n_src > 1) {
        ft_cli_errorf(cmd, "--name names one source; give several as NAME=SOURCE");
        return FT_EXIT_USAGE;
    }
    for (size_t i = 0; i < n_src; i++) {
        split_name(urls[i], name_opt, &srcs[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(srcs[i].name, srcs[j].name) == 0) {
                ft_cli_errorf(cmd, "two sources are called '%s': name them (NAME=SOURCE)",
                              srcs[i].name);
                return FT_EXIT_USAGE;
            }
    }
    if (w.draw_dir && mkdir(w.draw_dir, 0777) != 0 && errno != EEXIST) {
        ft_cli_errorf(cmd, "--draw %s: %s", w.draw_dir, strerror(errno));
        return FT_EXIT_INPUT;
    }
    dopt.describe = fo.d;
    dopt.describe.landmarks = net->needs_landmarks;
    dopt.describe.descriptors = true;
    dopt.descriptor = net;
    w.threads = fo.threads > 0 ? fo.threads : 1;
    ft_err err = {0};
    if (ft_door_opts_check(&dopt, &err) != FT_OK) {
        ft_cli_errorf(cmd, "%s", err.msg);
        return FT_EXIT_USAGE;
    }
    // The gallery must exist and be current before the threads open it.
    ft_gallery *g0 = NULL;
    if (ft_cli_gallery(cmd, w.db, false, &g0) != FT_OK)
        return FT_EXIT_INPUT;
    ft_gallery_close(g0);
    ft_face_models *m = NULL;
    ft_faceres *fr = NULL;
    // The landmark and ResNet nets only for a network that needs them.
    bool lm = net->needs_landmarks, resnet = net == ft_descriptor_net_resnet();
    if (ft_cli_load_detector(cmd, fo.models, fo.d.detect.kind, lm && !fo.d.tiny_landmarks,
                             lm && fo.d.tiny_landmarks, resnet, &m) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_cli_descriptor_load(cmd, net, &fr) != FT_OK) {
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    dopt.faceres = fr;
    int rc = FT_EXIT_OK;
    delo.db_path = w.db;
    if (!secret && getenv("FT_WEBHOOK_SECRET") && *getenv("FT_WEBHOOK_SECRET"))
        secret = getenv("FT_WEBHOOK_SECRET"); // kept out of ps
    for (size_t i = 0; i < n_webhooks; i++)
        delo.webhooks[i] = (ft_deliver_webhook){webhooks[i], secret};
    delo.n_webhooks = n_webhooks;
    if ((n_webhooks || delo.mqtt || delo.on_grant) &&
        ft_deliver_start(&delo, &w.deliver, &err) != FT_OK) {
        ft_cli_errorf(cmd, "%s", err.msg);
        ft_faceres_free(fr);
        ft_face_models_free(m);
        return FT_EXIT_USAGE;
    }
    if (ft_door_new(m, &dopt, w.deliver, &w.door, &err) != FT_OK) {
        ft_cli_errorf(cmd, "%s", err.msg);
        ft_deliver_stop(w.deliver);
        ft_faceres_free(fr);
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    pthread_mutex_init(&w.out_mu, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ft_watcher_opts wo = ft_watcher_opts_default();
    wo.db_path = w.db;
    wo.threads = (int)w.threads;
    wo.max_frames = w.max_frames;
    wo.duration_s = w.duration_s;
    wo.realtime = w.realtime;
    wo.trained_model = trained;
    wo.on_event = on_event;
    wo.on_frame = (w.frames_out || w.draw_dir) ? on_frame : NULL;
    wo.arg = &w;
    for (size_t i = 0; i < n_src; i++) {
        if (ft_watcher_start(w.door, srcs[i].name, srcs[i].url, &wo, &srcs[i].w, &err) !=
            FT_OK) {
            ft_cli_errorf(cmd, "%s: %s", srcs[i].name, err.msg);
            rc = FT_EXIT_INPUT;
        }
    }
    // Wait for every source to end; a signal stops them all (their tracks
    // are flushed: whoever is in view is logged as having left).
    for (;;) {
        bool any = false;
        for (size_t i = 0; i < n_src; i++) {
            if (!srcs[i].w)
                continue;
            ft_watcher_health h;
            ft_watcher_health_get(srcs[i].w, &h);
            any |= h.running;
        }
        if (!any || atomic_load(&g_stop))
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n_src; i++) {
        if (!srcs[i].w)
            continue;
        ft_watcher_health h;
        if (atomic_load(&g_stop))
            ft_watcher_stop(srcs[i].w), srcs[i].w = NULL;
        else if (ft_watcher_wait(srcs[i].w, &err) != FT_OK) {
            ft_cli_errorf(cmd, "%s: %s", srcs[i].name, err.msg);
            rc = FT_EXIT_INPUT;
        }
        if (!srcs[i].w)
            continue;
        ft_watcher_health_get(srcs[i].w, &h);
        fprintf(stderr,
                "facetracker watch: %s: %lld frames (%lld detected), %lld dropped, %lld "
                "reconnects, %lld tracks, %lld granted, %lld denied\n",
                h.name, (long long)h.door.frames, (long long)h.door.detected_frames,
                (long long)h.frames_dropped, (long long)h.reconnects, (long long)h.door.tracks,
                (long long)h.door.granted, (long long)h.door.denied);
        ft_watcher_stop(srcs[i].w);
    }
    if (w.deliver) {
        // Give receivers a moment; what is left stays in the outbox and goes
        // out on the next run.
        if (ft_deliver_flush(w.deliver, 10.0, &err) != FT_OK)
            ft_cli_errorf(cmd, "%s (kept in the outbox for the next run)", err.msg);
        ft_deliver_stop(w.deliver);
    }
    ft_door_free(w.door);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    pthread_mutex_destroy(&w.out_mu);
    return rc;
}
