// bench_door: the door pipeline (src/door) measured.
//
//   bench_door speed VIDEO [--runs N]
//       Frames per second of the door on a video file decoded as fast as
//       possible, one thread, for: SSD on every frame, SSD every 2nd and
//       3rd frame (tracker in between), the tiny detector, and YuNet when
//       its model loads. Decoding included (as `facetracker watch` does).
//   bench_door latency VIDEO FACE_FROM_S
//       A live camera simulated at 25 fps (frames arrive on a clock; the
//       door takes the newest and drops the rest, as a live source does):
//       wall time from the arrival of the first frame showing the face
//       (FACE_FROM_S into the video) to the grant event, per detector.
//   bench_door accuracy GALLERY_WORK_DIR SET_DIR...
//       Track decisions on videos made from recognition photos (the same
//       pan/zoom as the test videos, tools/make_test_video.sh): in each
//       set, even-numbered identities (sorted by name) are enrolled from
//       their first photo; every other photo of theirs is a genuine
//       passage, every photo of the odd-numbered identities a stranger's.
//       Each frame is detected and described once; the cached faces are
//       then replayed through the door under each k-of-n setting, so the
//       settings are compared on the very same detections.
// Prints Markdown tables for docs/BENCHMARKS.md. The checks: `speed`
// verifies that every configuration decides the same passages the same
// way (granted person per track) before it reports any number.
#include "core/clock.h"
#include "core/mem.h"
#include "access/access.h"
#include "door/door.h"
#include "face/descriptor.h"
#include "face/faceres.h"
#include "gallery/gallery.h"
#include "source/source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, ft_status st, const ft_err *err)
{
    fprintf(stderr, "bench_door: %s: %s\n", what, ft_err_msg(err, st));
    exit(1);
}

static ft_face_models *models_load(bool ssd, bool tiny, bool yunet)
{
    ft_models_opts mo = ft_models_opts_default();
    mo.ssd = ssd;
    mo.tiny = tiny;
    mo.yunet = yunet;
    mo.landmarks_tiny = false;
    ft_face_models *m = NULL;
    ft_err err = {0};
    ft_status st = ft_face_models_load(&mo, &m, &err);
    if (st != FT_OK)
        return NULL;
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---- speed ----

typedef struct run_result {
    double fps, ms_per_frame;
    int64_t frames, granted, denied;
    char granted_names[256];
} run_result;

// faceres's weights for the default door (the default network since issue
// 12); loaded once in main.
static struct ft_faceres *g_faceres;

static void run_video(const ft_face_models *m, ft_detector_kind kind, int every, const char *db,
                      const char *video, run_result *out)
{
    ft_err err = {0};
    ft_door_opts o = ft_door_opts_default();
    o.describe.detect.kind = kind;
    o.detect_every = every;
    o.faceres = g_faceres;
    ft_door *door = NULL;
    ft_gallery *g = NULL;
    ft_nn_ctx *nn = NULL;
    ft_door_source *ds = NULL;
    ft_source *src = NULL;
    ft_status st = ft_door_new(m, &o, NULL, &door, &err);
    if (st == FT_OK)
        st = ft_gallery_open(db, NULL, &g, &err);
    if (st == FT_OK)
        st = ft_nn_ctx_new(1, &nn) == FT_OK ? FT_OK : FT_E_NOMEM;
    if (st == FT_OK)
        st = ft_door_source_new("bench", FT_DOOR_STREAM, &ds, &err);
    if (st == FT_OK)
        st = ft_source_open(video, "bench", NULL, &src, &err);
    if (st != FT_OK)
        die("setup", st, &err);
    ft_door_result *res = ft_malloc(sizeof *res);
    ft_door_worker w = {.nn = nn, .g = g};
    memset(out, 0, sizeof *out);
    double t0 = ft_now_ms(), t_last = 0;
    for (;;) {
        ft_source_frame fr;
        st = ft_source_next(src, &fr, &err);
        if (st == FT_E_NOT_FOUND)
            break;
        if (st != FT_OK)
            die("decode", st, &err);
        t_last = 1e9 + fr.t;
        st = ft_door_frame(door, &w, ds, &fr.im, t_last, res, &err);
        ft_source_frame_deinit(&fr);
        if (st != FT_OK)
            die("door", st, &err);
        for (size_t i = 0; i < res->n_events; i++)
            if (res->events[i].decision == FT_DECISION_GRANTED) {
                size_t l = strlen(out->granted_names);
                snprintf(out->granted_names + l, sizeof out->granted_names - l, "%s%s",
                         l ? "," : "", res->events[i].name_at_time);
            }
        out->frames++;
    }
    double ms = ft_now_ms() - t0;
    st = ft_door_flush(door, &w, ds, t_last, res, &err);
    ft_door_source_stats ss;
    ft_door_source_stats_get(ds, &ss);
    out->granted = ss.granted;
    out->denied = ss.denied;
    out->fps = out->frames * 1000.0 / ms;
    out->ms_per_frame = ms / out->frames;
    ft_free(res);
    ft_source_close(src);
    ft_door_source_free(ds);
    ft_nn_ctx_free(nn);
    ft_gallery_close(g);
    ft_door_free(door);
}

static int cmd_speed(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_door speed VIDEO DB [--runs N]\n");
        return 2;
    }
    const char *video = argv[2], *db = argv[3];
    int runs = argc > 5 && strcmp(argv[4], "--runs") == 0 ? atoi(argv[5]) : 3;
    ft_face_models *m = models_load(true, true, false);
    ft_face_models *my = models_load(false, false, true);
    if (!m) {
        fprintf(stderr, "bench_door: cannot load the face-api models\n");
        return 1;
    }
    struct {
        const char *name;
        ft_detector_kind kind;
        int every;
        const ft_face_models *m;
    } cfg[] = {
        {"ssd, every frame", FT_DETECTOR_SSD, 1, m},
        {"ssd, every 2nd frame", FT_DETECTOR_SSD, 2, m},
        {"ssd, every 3rd frame", FT_DETECTOR_SSD, 3, m},
        {"tiny 416, every frame", FT_DETECTOR_TINY, 1, m},
        {"yunet, every frame", FT_DETECTOR_YUNET, 1, my},
    };
    size_t nc = sizeof cfg / sizeof cfg[0];
    double fps[8][16];
    run_result rr[8];
    // Interleaved rounds: each configuration once per round, so drift in
    // the machine's load hits them alike.
    for (int r = 0; r < runs; r++)
        for (size_t c = 0; c < nc; c++) {
            if (!cfg[c].m)
                continue;
            run_video(cfg[c].m, cfg[c].kind, cfg[c].every, db, video, &rr[c]);
            fps[c][r] = rr[c].fps;
        }
    printf("| door configuration | frames | fps (median of %d) | ms/frame | granted | denied | "
           "granted people |\n|---|---|---|---|---|---|---|\n",
           runs);
    int bad = 0;
    for (size_t c = 0; c < nc; c++) {
        if (!cfg[c].m) {
            printf("| %s | – | model not loaded | | | | |\n", cfg[c].name);
            continue;
        }
        double med = median(fps[c], (size_t)runs);
        printf("| %s | %lld | %.1f | %.1f | %lld | %lld | %s |\n", cfg[c].name,
               (long long)rr[c].frames, med, 1000.0 / med, (long long)rr[c].granted,
               (long long)rr[c].denied, rr[c].granted_names);
        // The check before the numbers mean anything: every configuration
        // lets in the same people as SSD on every frame.
        if (strcmp(rr[c].granted_names, rr[0].granted_names) != 0) {
            fprintf(stderr, "bench_door: %s granted '%s', ssd every frame '%s'\n", cfg[c].name,
                    rr[c].granted_names, rr[0].granted_names);
            bad = 1;
        }
    }
    ft_face_models_free(m);
    ft_face_models_free(my);
    return bad;
}

// ---- latency ----

static int cmd_latency(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_door latency VIDEO DB FACE_FROM_S\n");
        return 2;
    }
    const char *video = argv[2], *db = argv[3];
    double face_from = atof(argv[4]);
    ft_err err = {0};
    // Decode the whole file first: the camera's frames are ready, and
    // arrive on a 25 fps clock.
    ft_source *src = NULL;
    ft_status st = ft_source_open(video, "bench", NULL, &src, &err);
    if (st != FT_OK)
        die("open", st, &err);
    size_t cap = 1024, n = 0;
    ft_source_frame *frames = ft_malloc(sizeof *frames * cap);
    while (n < cap && (st = ft_source_next(src, &frames[n], &err)) == FT_OK)
        n++;
    ft_source_close(src);
    ft_face_models *m = models_load(true, true, false);
    ft_face_models *my = models_load(false, false, true);
    struct {
        const char *name;
        ft_detector_kind kind;
        const ft_face_models *m;
    } cfg[] = {{"ssd", FT_DETECTOR_SSD, m}, {"tiny 416", FT_DETECTOR_TINY, m},
               {"yunet", FT_DETECTOR_YUNET, my}};
    printf("| detector | frames processed / arrived | first face frame | decided on frame | "
           "latency ms (arrival of the first face frame -> grant) |\n|---|---|---|---|---|\n");
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        if (!cfg[c].m) {
            printf("| %s | – | | | model not loaded |\n", cfg[c].name);
            continue;
        }
        ft_door_opts o = ft_door_opts_default();
        o.describe.detect.kind = cfg[c].kind;
        o.faceres = g_faceres;
        ft_door *door = NULL;
        ft_gallery *g = NULL;
        ft_nn_ctx *nn = NULL;
        ft_door_source *ds = NULL;
        if ((st = ft_door_new(cfg[c].m, &o, NULL, &door, &err)) != FT_OK ||
            (st = ft_gallery_open(db, NULL, &g, &err)) != FT_OK ||
            ft_nn_ctx_new(1, &nn) != FT_OK ||
            (st = ft_door_source_new("bench", FT_DOOR_STREAM, &ds, &err)) != FT_OK)
            die("setup", st, &err);
        ft_door_worker w = {.nn = nn, .g = g};
        ft_door_result *res = ft_malloc(sizeof *res);
        double t0 = ft_now_ms();
        size_t processed = 0, first = (size_t)(face_from * 25 + 0.5), decided = 0;
        double lat = NAN;
        size_t last = (size_t)-1;
        for (;;) {
            // The newest frame that has arrived by now (the live rule).
            double now = ft_now_ms() - t0;
            size_t k = (size_t)(now / 40.0);
            if (k >= n)
                break;
            if (k == last) {
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            last = k;
            st = ft_door_frame(door, &w, ds, &frames[k].im, 1e9 + k * 0.04, res, &err);
            if (st != FT_OK)
                die("door", st, &err);
            processed++;
            for (size_t e = 0; e < res->n_events; e++)
                if (res->events[e].decision == FT_DECISION_GRANTED && isnan(lat)) {
                    lat = ft_now_ms() - t0 - first * 40.0;
                    decided = k;
                }
        }
        printf("| %s | %zu / %zu | %zu | %zu | %.0f |\n", cfg[c].name, processed, n, first,
               decided, lat);
        ft_free(res);
        ft_door_source_free(ds);
        ft_nn_ctx_free(nn);
        ft_gallery_close(g);
        ft_door_free(door);
    }
    for (size_t i = 0; i < n; i++)
        ft_source_frame_deinit(&frames[i]);
    ft_free(frames);
    ft_face_models_free(m);
    ft_face_models_free(my);
    return 0;
}

// ---- accuracy ----

typedef struct photo {
    char path[512];
    char identity[128];
    int set;
} photo;

typedef struct cached_frame {
    size_t n;
    ft_face_box box[8];
    bool has_desc[8];
    float *desc; // n x dim (the network's length), owned
} cached_frame;

typedef struct passage {
    int photo;
    bool genuine;
    int64_t person; // enrolled id for genuine passages
    cached_frame *frames;
    size_t n_frames;
} passage;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// identities.csv (identity,image) of one set: photos in file order.
static size_t read_set(const char *dir, int set, photo *out, size_t cap)
{
    char p[600];
    snprintf(p, sizeof p, "%s/identities.csv", dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    char line[1024];
    size_t n = 0;
    bool header = true;
    while (fgets(line, sizeof line, f) && n < cap) {
        line[strcspn(line, "\r\n")] = 0;
        if (header) {
            header = false;
            continue;
        }
        char *comma = strchr(line, ',');
        if (!comma)
            continue;
        *comma = 0;
        snprintf(out[n].identity, sizeof out[n].identity, "%s", line);
        snprintf(out[n].path, sizeof out[n].path, "%s/%s", dir, comma + 1);
        out[n].set = set;
        n++;
    }
    fclose(f);
    return n;
}

static int cmd_accuracy(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_door accuracy WORK_DIR [--descriptor resnet128|faceres] "
                        "[--detector ssd|yunet] SET_DIR...\n");
        return 2;
    }
    const char *work = argv[2];
    const char *net_name = "resnet128", *det_name = "ssd";
    int a = 3;
    while (a + 1 < argc && strncmp(argv[a], "--", 2) == 0) {
        if (strcmp(argv[a], "--descriptor") == 0)
            net_name = argv[a + 1];
        else if (strcmp(argv[a], "--detector") == 0)
            det_name = argv[a + 1];
        else {
            fprintf(stderr, "bench_door: unknown option %s\n", argv[a]);
            return 2;
        }
        a += 2;
    }
    const ft_descriptor_net *net = ft_descriptor_net_find(net_name);
    ft_detector_kind det;
    if (!net || !ft_detector_parse(det_name, &det)) {
        fprintf(stderr, "bench_door: unknown network %s or detector %s\n", net_name, det_name);
        return 2;
    }
    const size_t dim = net->dim;
    mkdir(work, 0777);
    static photo ph[1024];
    size_t np = 0;
    int n_sets = argc - a;
    for (int s = 0; s < n_sets; s++)
        np += read_set(argv[a + s], s, ph + np, 1024 - np);
    ft_err err = {0};
    ft_face_models *m = models_load(true, true, det == FT_DETECTOR_YUNET);
    ft_nn_ctx *nn = NULL;
    if (!m || ft_nn_ctx_new(1, &nn) != FT_OK) {
        fprintf(stderr, "bench_door: cannot load the models\n");
        return 1;
    }
    struct ft_faceres *frn = NULL;
    if (strcmp(net->name, "faceres") == 0 &&
        ft_faceres_load(ft_descriptor_faceres_path(), NULL, &frn, &err) != FT_OK) {
        fprintf(stderr, "bench_door: faceres: %s\n", err.msg);
        return 1;
    }
    ft_descriptor_models dmm = {m, frn};
    ft_describe_opts base = ft_describe_opts_default();
    base.detect.kind = det;
    ft_describe_opts dopt = ft_descriptor_net_pipeline(net, &base);
    float *qd = ft_malloc(dim * sizeof *qd);
    char db[700];
    snprintf(db, sizeof db, "%s/door-accuracy.db", work);
    unlink(db);
    ft_gallery *g = NULL;
    ft_status st = ft_gallery_open(db, NULL, &g, &err);
    if (st != FT_OK)
        die("gallery", st, &err);
    // Identities per set, sorted; even ones enrolled (first photo), odd
    // ones strangers.
    passage *pas = ft_calloc(np, sizeof *pas);
    size_t npas = 0;
    int64_t *person_of = ft_calloc(np, sizeof *person_of);
    int enrolled = 0, strangers = 0;
    for (int s = 0; s < n_sets; s++) {
        char *ids[256];
        size_t nid = 0;
        for (size_t i = 0; i < np; i++) {
            if (ph[i].set != s)
                continue;
            bool seen = false;
            for (size_t j = 0; j < nid; j++)
                seen |= strcmp(ids[j], ph[i].identity) == 0;
            if (!seen && nid < 256)
                ids[nid++] = ph[i].identity;
        }
        qsort(ids, nid, sizeof ids[0], cmp_str);
        for (size_t k = 0; k < nid; k++) {
            bool enrol = k % 2 == 0;
            bool first = true;
            int64_t pid = 0;
            for (size_t i = 0; i < np; i++) {
                if (ph[i].set != s || strcmp(ph[i].identity, ids[k]) != 0)
                    continue;
                if (enrol && first) {
                    first = false;
                    ft_image im;
                    ft_face f;
                    bool below;
                    if (ft_image_load(ph[i].path, NULL, &im, &err) != FT_OK)
                        continue;
                    st = ft_face_single(m, nn, &im, &dopt, FT_SINGLE_FACE_FLOOR, true, &f, &below,
                                        &err);
                    if (st == FT_OK)
                        st = ft_descriptor_net_face(net, &dmm, nn, &im, &f, &dopt, qd, &err);
                    ft_image_deinit(&im);
                    if (st != FT_OK) {
                        fprintf(stderr, "bench_door: %s: not enrolled: %s\n", ph[i].path,
                                ft_err_msg(&err, st));
                        enrol = false; // then a stranger
                        continue;
                    }
                    ft_sample sm;
                    memset(&sm, 0, sizeof sm);
                    sm.descriptor = qd;
                    sm.dim = dim;
                    snprintf(sm.model, sizeof sm.model, "%s", net->space(dopt.align));
                    snprintf(sm.alignment, sizeof sm.alignment, "%s",
                             net->align_name(dopt.align));
                    char name[300];
                    snprintf(name, sizeof name, "%d/%s", s, ids[k]);
                    if ((st = ft_gallery_enroll(g, 0, name, &sm, 1, &pid, NULL, &err)) != FT_OK)
                        die("enrol", st, &err);
                    enrolled++;
                    continue;
                }
                pas[npas].photo = (int)i;
                pas[npas].genuine = enrol && pid > 0;
                pas[npas].person = pas[npas].genuine ? pid : 0;
                npas++;
            }
            if (!enrol)
                strangers++;
        }
    }
    // Videos and the cached faces of every frame.
    fprintf(stderr, "bench_door: %d enrolled, %d strangers, %zu passages; describing...\n",
            enrolled, strangers, npas);
    for (size_t p = 0; p < npas; p++) {
        char video[800], cmd[2600];
        // Named by photo: which photos are passages depends on which ones
        // enrolled, which depends on the detector.
        snprintf(video, sizeof video, "%s/photo-%d.mp4", work, pas[p].photo);
        // 2 s of pan/zoom over the photo (make_test_video.sh), as the
        // door's test videos.
        snprintf(cmd, sizeof cmd, "'%s' '%s' 2 '%s' >/dev/null", FT_MAKE_VIDEO, video,
                 ph[pas[p].photo].path);
        if (access(video, R_OK) != 0 && system(cmd) != 0) {
            fprintf(stderr, "bench_door: cannot make %s\n", video);
            return 1;
        }
        pas[p].frames = ft_calloc(64, sizeof *pas[p].frames);
        // The faces of a passage are kept beside its video (raw structs,
        // this build's layout), so a rerun replays without describing.
        char cache[820];
        snprintf(cache, sizeof cache, "%s/photo-%d-%s-%s.faces", work, pas[p].photo, det_name,
                 net->name);
        FILE *cf_in = fopen(cache, "rb");
        if (cf_in) {
            size_t nfr = 0;
            bool ok = fread(&nfr, sizeof nfr, 1, cf_in) == 1 && nfr <= 64;
            for (size_t f = 0; ok && f < nfr; f++) {
                cached_frame *cf = &pas[p].frames[f];
                ok = fread(&cf->n, sizeof cf->n, 1, cf_in) == 1 && cf->n <= 8 &&
                     fread(cf->box, sizeof cf->box, 1, cf_in) == 1 &&
                     fread(cf->has_desc, sizeof cf->has_desc, 1, cf_in) == 1;
                cf->desc = ok ? ft_malloc((cf->n ? cf->n : 1) * dim * sizeof(float)) : NULL;
                ok = ok && fread(cf->desc, sizeof(float) * dim, cf->n, cf_in) == cf->n;
                pas[p].n_frames = f + 1;
            }
            fclose(cf_in);
            if (ok)
                continue;
            for (size_t f = 0; f < pas[p].n_frames; f++)
                ft_free(pas[p].frames[f].desc);
            memset(pas[p].frames, 0, 64 * sizeof *pas[p].frames);
            pas[p].n_frames = 0;
        }
        ft_source *src = NULL;
        if ((st = ft_source_open(video, "acc", NULL, &src, &err)) != FT_OK)
            die(video, st, &err);
        ft_source_frame fr;
        while (pas[p].n_frames < 64 && ft_source_next(src, &fr, &err) == FT_OK) {
            cached_frame *cf = &pas[p].frames[pas[p].n_frames++];
            ft_face faces[8];
            size_t nf = 0;
            if ((st = ft_faces_describe(m, nn, &fr.im, &dopt, faces, 8, &nf, NULL, &err)) !=
                FT_OK)
                die("describe", st, &err);
            cf->n = nf;
            cf->desc = ft_calloc((nf ? nf : 1) * dim, sizeof(float));
            for (size_t i = 0; i < nf; i++) {
                cf->box[i] = faces[i].box;
                // As the door describes: every face its network can take.
                cf->has_desc[i] = ft_descriptor_net_face(net, &dmm, nn, &fr.im, &faces[i], &dopt,
                                                         cf->desc + i * dim, &err) == FT_OK;
            }
            ft_source_frame_deinit(&fr);
        }
        ft_source_close(src);
        FILE *cf_out = fopen(cache, "wb");
        if (cf_out) {
            fwrite(&pas[p].n_frames, sizeof pas[p].n_frames, 1, cf_out);
            for (size_t f = 0; f < pas[p].n_frames; f++) {
                const cached_frame *cf = &pas[p].frames[f];
                fwrite(&cf->n, sizeof cf->n, 1, cf_out);
                fwrite(cf->box, sizeof cf->box, 1, cf_out);
                fwrite(cf->has_desc, sizeof cf->has_desc, 1, cf_out);
                fwrite(cf->desc, sizeof(float) * dim, cf->n, cf_out);
            }
            fclose(cf_out);
        }
    }
    // Replay under each setting: the thresholds (the policy's, per run) and
    // k of n.
    // The network's shipped threshold, with per-person thresholds (the
    // policy's person_cap) off and at the default, under each k of n.
    static const int kn[][2] = {{1, 1}, {2, 3}, {2, 5}, {3, 5}, {4, 5}, {3, 7}, {5, 7}};
    static const double caps[] = {0.0, FT_GALLERY_DEFAULT_PERSON_CAP};
    printf("Network %s, detector %s.\n\n", net->name, det_name);
    printf("| threshold | person cap | k of n | genuine passages granted (right person) | wrong "
           "person granted | genuine denied | strangers granted | strangers denied | median "
           "frames to grant |\n|---|---|---|---|---|---|---|---|---|\n");
    for (size_t ti = 0; ti < sizeof caps / sizeof caps[0]; ti++)
    for (size_t c = 0; c < sizeof kn / sizeof kn[0]; c++) {
        ft_gallery_policy pol;
        if ((st = ft_access_policy_load(g, net, &pol, &err)) != FT_OK)
            die("policy", st, &err);
        pol.person_cap = caps[ti];
        ft_policy_space sp = ft_access_policy_space(net);
        if ((st = ft_gallery_policy_save_for(g, &sp, &pol, &err)) != FT_OK)
            die("policy", st, &err);
        ft_door_opts o = ft_door_opts_default();
        o.k = kn[c][0];
        o.n = kn[c][1];
        o.descriptor = net;
        o.faceres = frn;
        o.describe = base; // the door derives its network's pipeline itself
        ft_door *door = NULL;
        ft_door_source *ds = NULL;
        if ((st = ft_door_new(m, &o, NULL, &door, &err)) != FT_OK ||
            (st = ft_door_source_new("acc", FT_DOOR_STREAM, &ds, &err)) != FT_OK)
            die("door", st, &err);
        ft_door_source_set_record(ds, false);
        ft_door_worker w = {.nn = nn, .g = g};
        ft_door_result *res = ft_malloc(sizeof *res);
        int right = 0, wrong = 0, gen_denied = 0, str_granted = 0, str_denied = 0;
        double lat[1024];
        size_t nlat = 0;
        double t = 1e9;
        for (size_t p = 0; p < npas; p++) {
            bool granted_right = false, granted_wrong = false;
            for (size_t f = 0; f <= pas[p].n_frames; f++) {
                ft_door_face_in in[8];
                size_t nin = 0;
                if (f < pas[p].n_frames) {
                    const cached_frame *cf = &pas[p].frames[f];
                    for (size_t i = 0; i < cf->n; i++)
                        in[nin++] = (ft_door_face_in){
                            cf->box[i], cf->has_desc[i] ? cf->desc + i * dim : NULL};
                    st = ft_door_frame_faces(door, &w, ds, NULL, 640, 480, in, nin, t, res, &err);
                } else {
                    // The passage is over: a frame with nobody, past the gap.
                    t += o.gap_s + 0.1;
                    st = ft_door_frame_faces(door, &w, ds, NULL, 640, 480, in, 0, t, res, &err);
                }
                if (st != FT_OK)
                    die("replay", st, &err);
                t += 0.04;
                for (size_t e = 0; e < res->n_events; e++) {
                    const ft_event *ev = &res->events[e];
                    if (ev->decision != FT_DECISION_GRANTED)
                        continue;
                    if (pas[p].genuine && ev->person_id == pas[p].person) {
                        granted_right = true;
                        lat[nlat++] = ev->frames;
                    } else
                        granted_wrong = true;
                }
            }
            if (pas[p].genuine) {
                right += granted_right;
                wrong += granted_wrong;
                gen_denied += !granted_right && !granted_wrong;
            } else {
                str_granted += granted_wrong;
                str_denied += !granted_wrong;
                if (granted_wrong)
                    fprintf(stderr, "bench_door: cap %.2f, %d of %d: stranger granted: %s\n",
                            caps[ti], kn[c][0], kn[c][1], ph[pas[p].photo].path);
            }
        }
        int ngen = right + wrong + gen_denied, nstr = str_granted + str_denied;
        printf("| %.3g | %.2g | %d of %d | %d / %d (%.1f %%) | %d | %d | %d / %d | %d | %.0f |\n",
               pol.threshold, caps[ti], kn[c][0], kn[c][1], right, ngen,
               100.0 * right / (ngen ? ngen : 1), wrong, gen_denied, str_granted, nstr,
               str_denied, median(lat, nlat));
        fflush(stdout);
        ft_free(res);
        ft_door_source_free(ds);
        ft_door_free(door);
    }
    for (size_t p = 0; p < npas; p++) {
        for (size_t f = 0; f < pas[p].n_frames; f++)
            ft_free(pas[p].frames[f].desc);
        ft_free(pas[p].frames);
    }
    ft_free(pas);
    ft_free(person_of);
    ft_free(qd);
    ft_faceres_free(frn);
    ft_gallery_close(g);
    ft_nn_ctx_free(nn);
    ft_face_models_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    ft_nn_init();
    if (argc >= 2 && (strcmp(argv[1], "speed") == 0 || strcmp(argv[1], "latency") == 0)) {
        ft_err err = {0};
        ft_status st = ft_faceres_load(ft_descriptor_faceres_path(), NULL, &g_faceres, &err);
        if (st != FT_OK)
            die("faceres (the default network; tools/setup.sh fetches it)", st, &err);
    }
    if (argc >= 2 && strcmp(argv[1], "speed") == 0)
        return cmd_speed(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "latency") == 0)
        return cmd_latency(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "accuracy") == 0)
        return cmd_accuracy(argc, argv);
    fprintf(stderr, "usage: bench_door speed|latency|accuracy ... (see the top of bench_door.c)\n");
    return 2;
}
