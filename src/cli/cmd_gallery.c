// `facetracker gallery copy SRC DST`: a whole gallery from one store to
// another (a SQLite file and a PostgreSQL database, either way round),
// checked by row counts and checksums (ft_gallery_copy).
// `facetracker gallery reindex --descriptor NAME`: a descriptor space
// added to an existing gallery from the face regions its samples keep.
#include "cli/cli.h"

#include "access/access.h"
#include "core/mem.h"
#include "face/descriptor.h"
#include "face/faceres.h"
#include "gallery/gallery.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker gallery copy SRC DST\n"
    "       facetracker gallery reindex --descriptor NAME [--db PATH] [options]\n"
    "\n"
    "Copies the whole gallery SRC into DST, which must be new or empty: people, samples\n"
    "(descriptors and face images), events (with face images), API keys (tokens keep\n"
    "working), settings and the audit trail, with their ids, in one transaction. Then reads\n"
    "both back and compares each table's row count and SHA-256. SRC and DST are SQLite paths\n"
    "or PostgreSQL connection strings (postgresql://USER@HOST:PORT/DB; the password from\n"
    "PGPASSWORD or ~/.pgpass). The outbox (deliveries still pending on one server) is not\n"
    "copied: let it drain, or stop the server, before moving a site.\n"
    "Prints {\"copied\": {\"people\": N, ...}, \"sha256\": HEX}.\n"
    "\n"
    "Moving a one-door site to PostgreSQL:\n"
    "  facetracker gallery copy ./facetracker.db postgresql://ft@db.example/facetracker\n"
    "  facetracker serve --db postgresql://ft@db.example/facetracker ...\n"
    "\n"
    "reindex adds the space of descriptor network NAME (resnet128, faceres) to an existing\n"
    "gallery: for every photo enrolled (a person's samples sharing a source photo) that has\n"
    "no sample in that space yet, the network describes the face region kept with its samples\n"
    "(the stored box; for resnet128 the 68 landmarks again, from the box as the detector that\n"
    "found the face gives it to the landmark net, as at enrolment and at the door) and a\n"
    "sample is added, recording the same detector. Samples without a region (galleries from\n"
    "before schema 5) cannot be reindexed: they are listed, nothing is guessed. Samples from\n"
    "before schema 6 do not say which detector found the face: resnet128 takes their box as\n"
    "stored (right for the SSD's and the tiny detector's, a slightly different crop for\n"
    "YuNet's, so their vectors may differ from the door's) and lists them in\n"
    "\"detector_unknown\" (to record it, delete those samples and enrol the photos again).\n"
    "Prints {\"network\": N, \"space\": S, \"added\": [{\"person_id\", \"from_sample\",\n"
    "\"sample_id\", \"detector\"}], \"already\": N, \"without_region\": [sample ids],\n"
    "\"detector_unknown\": [sample ids], \"failed\": [{\"sample_id\", \"error\"}]}.\n"
    "reindex options:\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n"
    "  --align faceapi|similarity  resnet128's alignment (default similarity)\n"
    "  --models DIR          folder with the face-api model files\n";

static int copy(const char *src, const char *dst)
{
    ft_gallery *a = NULL, *b = NULL;
    ft_err err = {0};
    // The source read-only: a missing one is an error, not a new empty
    // gallery (an older SQLite schema asks to be opened read-write once).
    if (ft_cli_gallery("gallery copy", src, true, &a) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_cli_gallery("gallery copy", dst, false, &b) != FT_OK) {
        ft_gallery_close(a);
        return FT_EXIT_INPUT;
    }
    ft_gallery_copy_result r;
    ft_status st = ft_gallery_copy(a, b, &r, &err);
    if (st == FT_OK) {
        char actor[FT_AUDIT_ACTOR_MAX + 1], detail[160];
        ft_audit_cli_actor(actor);
        snprintf(detail, sizeof detail, "{\"people\": %lld, \"samples\": %lld, \"events\": %lld}",
                 (long long)r.people, (long long)r.samples, (long long)r.events);
        ft_gallery_audit_add(b, actor, "gallery.copy", "gallery", detail, NULL);
    }
    ft_gallery_close(b);
    ft_gallery_close(a);
    if (st != FT_OK) {
        ft_cli_errorf("gallery copy", "%s", err.msg);
        return FT_EXIT_INPUT;
    }
    printf("{\"copied\": {\"people\": %lld, \"samples\": %lld, \"events\": %lld, \"api_keys\": "
           "%lld, \"settings\": %lld, \"audit\": %lld}, \"sha256\": \"%s\"}\n",
           (long long)r.people, (long long)r.samples, (long long)r.events, (long long)r.api_keys,
           (long long)r.settings, (long long)r.audit, r.sha256);
    return FT_EXIT_OK;
}

// The photo a sample came from, for grouping: its source SHA-256, or the
// sample itself when unknown.
static bool same_photo(const ft_sample *a, const ft_sample *b)
{
    if (a->person_id != b->person_id)
        return false;
    if (a->source_sha256[0] || b->source_sha256[0])
        return strcmp(a->source_sha256, b->source_sha256) == 0;
    return a->id == b->id;
}

static int reindex(int argc, char **argv)
{
    const char *db = NULL, *models = NULL;
    const ft_descriptor_net *net = NULL;
    ft_align_mode align = ft_align_default();
    for (int i = 2; i < argc; i++) {
        int r = ft_cli_descriptor_parse("gallery reindex", argc, argv, &i, &net);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        const char *v;
        if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &models))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--align") == 0) {
            if (!ft_cli_str(argc, argv, &i, &v))
                return FT_EXIT_USAGE;
            if (!ft_align_parse(v, &align)) {
                ft_cli_errorf("gallery reindex", "--align %s: faceapi or similarity", v);
                return FT_EXIT_USAGE;
            }
        } else {
            ft_cli_errorf("gallery reindex", "unknown argument %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        }
    }
    if (!net) {
        ft_cli_errorf("gallery reindex", "--descriptor NAME is required");
        return FT_EXIT_USAGE;
    }
    ft_gallery *g = NULL;
    ft_face_models *m = NULL;
    ft_faceres *fr = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_sample *all = NULL;
    size_t n = 0;
    ft_err err = {0};
    int rc = FT_EXIT_INPUT;
    if (ft_cli_gallery("gallery reindex", db, false, &g) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_gallery_samples_list(g, 0, &all, &n, &err) != FT_OK) {
        ft_cli_errorf("gallery reindex", "%s", err.msg);
        goto done;
    }
    if (net->needs_landmarks &&
        ft_cli_load_models("gallery reindex", models, false, false, true, false, true, &m) !=
            FT_OK)
        goto done;
    if (ft_cli_descriptor_load("gallery reindex", net, &fr) != FT_OK)
        goto done;
    if (ft_nn_ctx_new(0, &ctx) != FT_OK) {
        ft_cli_errorf("gallery reindex", "out of memory");
        goto done;
    }
    ft_descriptor_models mm = {m, fr};
    ft_describe_opts dopt = ft_describe_opts_default();
    dopt.align = align;
    dopt.align_kps = false;
    const char *space = net->space(align);
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    ft_audit_cli_actor(actor);
    ft_buf added, noreg, failed, region, unk;
    ft_buf_init(&unk, 0);
    ft_buf_init(&added, 0);
    ft_buf_init(&noreg, 0);
    ft_buf_init(&failed, 0);
    ft_buf_init(&region, 0);
    size_t n_added = 0, n_noreg = 0, n_failed = 0, n_already = 0, n_unk = 0;
    static float desc[FT_DESCRIPTOR_DIM_MAX];
    for (size_t i = 0; i < n; i++) {
        const ft_sample *x = &all[i];
        // One sample per photo: the first of its group.
        bool first = true, done_here = false, any_region = false;
        for (size_t j = 0; j < n; j++) {
            if (!same_photo(&all[j], x))
                continue;
            if (j < i)
                first = false;
            if (strcmp(all[j].model, space) == 0)
                done_here = true;
            any_region |= all[j].region_len > 0;
        }
        if (!first)
            continue;
        if (done_here) {
            n_already++;
            continue;
        }
        // The group's sample with a region.
        const ft_sample *src = NULL;
        for (size_t j = 0; j < n && any_region; j++)
            if (same_photo(&all[j], x) && all[j].region_len > 0) {
                src = &all[j];
                break;
            }
        if (!src) {
            ft_buf_printf(&noreg, "%s%lld", n_noreg++ ? ", " : "", (long long)x->id);
            continue;
        }
        float box[4];
        ft_image im = {0, 0, NULL};
        ft_image_limits lim = ft_image_limits_default();
        ft_status st = ft_gallery_sample_region(g, src->id, &region, box, &err);
        if (st == FT_OK)
            st = ft_image_decode(region.data, region.len, &lim, &im, &err);
        ft_face f;
        memset(&f, 0, sizeof f);
        f.box = (ft_face_box){box[0], box[1], box[2], box[3], src->detector_score};
        bool unknown = false;
        if (st == FT_OK && net->needs_landmarks) {
            // The landmark crop as enrolment and the door cut it from a box
            // of the detector that made it (ft_landmark_box moves YuNet's;
            // the SSD's, the tiny detector's and the trained model's are
            // used as they are). Samples from before schema 6 do not say:
            // their box is used as stored, and they are listed.
            ft_face_box lb = f.box;
            ft_detector_kind dk;
            if (ft_detector_parse(src->detector, &dk))
                lb = ft_landmark_box(dk, &f.box);
            unknown = src->detector[0] == '\0';
            st = ft_landmarks(m, ctx, &im, &lb, false, f.landmarks, &err);
            f.has_landmarks = st == FT_OK;
        }
        if (st == FT_OK)
            st = net->describe(&mm, ctx, &im, &f, &dopt, desc, &err);
        int64_t new_id = 0;
        if (st == FT_OK) {
            ft_sample y = *src;
            y.id = 0;
            y.descriptor = desc;
            y.dim = (uint32_t)net->dim;
            snprintf(y.model, sizeof y.model, "%s", space);
            snprintf(y.alignment, sizeof y.alignment, "%s", net->align_name(align));
            y.thumbnail = NULL;
            y.thumbnail_len = 0;
            y.region = region.data;
            y.region_len = region.len;
            memcpy(y.region_box, box, sizeof box);
            st = ft_gallery_enroll(g, src->person_id, NULL, &y, 1, NULL, &new_id, &err);
        }
        ft_image_deinit(&im);
        if (st != FT_OK) {
            ft_buf_printf(&failed, "%s{\"sample_id\": %lld, \"error\": ", n_failed++ ? ", " : "",
                          (long long)src->id);
            ft_buf_json_str(&failed, ft_err_msg(&err, st));
            ft_buf_puts(&failed, "}");
            continue;
        }
        ft_buf_printf(&added,
                      "%s{\"person_id\": %lld, \"from_sample\": %lld, \"sample_id\": %lld, "
                      "\"detector\": \"%s\"}",
                      n_added++ ? ", " : "", (long long)src->person_id, (long long)src->id,
                      (long long)new_id, src->detector);
        if (unknown)
            ft_buf_printf(&unk, "%s%lld", n_unk++ ? ", " : "", (long long)src->id);
    }
    if (n_added) {
        char detail[200];
        snprintf(detail, sizeof detail, "{\"space\": \"%s\", \"added\": %zu}", space, n_added);
        ft_gallery_audit_add(g, actor, "gallery.reindex", "gallery", detail, NULL);
    }
    ft_buf out;
    ft_buf_init(&out, 0);
    ft_buf_printf(&out, "{\"network\": \"%s\", \"space\": ", net->name);
    ft_buf_json_str(&out, space);
    ft_buf_puts(&out, ", \"added\": [");
    ft_buf_append(&out, added.data, added.len);
    ft_buf_printf(&out, "], \"already\": %zu, \"without_region\": [", n_already);
    ft_buf_append(&out, noreg.data, noreg.len);
    ft_buf_puts(&out, "], \"detector_unknown\": [");
    ft_buf_append(&out, unk.data, unk.len);
    ft_buf_puts(&out, "], \"failed\": [");
    ft_buf_append(&out, failed.data, failed.len);
    ft_buf_puts(&out, "]}");
    ft_cli_emit(&out);
    ft_buf_deinit(&out);
    ft_buf_deinit(&added);
    ft_buf_deinit(&noreg);
    ft_buf_deinit(&failed);
    ft_buf_deinit(&region);
    ft_buf_deinit(&unk);
    rc = n_failed ? FT_EXIT_INPUT : FT_EXIT_OK;
done:
    ft_free(all);
    ft_nn_ctx_free(ctx);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    ft_gallery_close(g);
    return rc;
}

int ft_cmd_gallery(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "reindex") == 0) {
        for (int i = 2; i < argc; i++)
            if (ft_cli_is_help(argv[i])) {
                fputs(usage, stdout);
                return FT_EXIT_OK;
            }
        return reindex(argc, argv);
    }
    const char *args[3];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("gallery", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (n < 3) {
            args[n++] = argv[i];
        } else {
            fputs(usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (n != 3 || strcmp(args[0], "copy") != 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    return copy(args[1], args[2]);
}
