// `facetracker identify` and `facetracker access`: who is each face, and
// (access) the decision for the door, written to the access log.
#include "cli/cli.h"

#include "access/access.h"
#include "access/fused.h"
#include "core/clock.h"
#include "core/mem.h"
#include "door/door.h"
#include "face/descriptor.h"
#include "face/faceres.h"

#include <math.h>
#include <string.h>

static const char usage_identify[] =
    "usage: facetracker identify [options] IMAGE...\n"
    "\n"
    "For each face: the closest enrolled person, or \"unknown\" when the distance is not under\n"
    "the threshold, or \"ambiguous\" when another person is within the margin. One JSON line\n"
    "per image: {\"image\": P, \"faces\": [{\"box\", \"score\", \"status\", \"person\", \"distance\",\n"
    "\"margin\"}]}. Nothing is written to the gallery.\n"
    "\n"
    "options:\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n" FT_CLI_DESCRIPTOR_HELP
    "  --descriptor fused    both spaces: fused = W*d_resnet128/t_resnet128 +\n"
    "                        (1-W)*d_faceres/t_faceres, known under 1 (people need samples\n"
    "                        in both spaces: gallery reindex); \"distances\" gives each space's\n"
    "  --fuse-weight W       W above, in [0, 1] (default 0.5)\n" FT_CLI_FACE_OPTS_HELP;

static const char usage_access[] =
    "usage: facetracker access [options] IMAGE...\n"
    "\n"
    "The door's decision for each face, through the door pipeline (the rules: src/door/door.h):\n"
    "each face of a photo is one passage, granted (a match) or denied with the reason (unknown,\n"
    "ambiguous, face too small, low detector score). Every decision is one event in the access\n"
    "log, with a thumbnail (`facetracker events` reads it). One JSON line per image: {\"image\",\n"
    "\"faces\": [{\"box\", \"score\", \"event_id\", \"decision\", \"reason\", \"person\": {\"id\",\n"
    "\"name\"} or null, \"distance\", \"margin\", \"nearest\", \"second\", ...}]}. For video and\n"
    "cameras see `facetracker watch`.\n"
    "\n"
    "options:\n"
    "  --source NAME         the door or camera (default \"cli\")\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n" FT_CLI_DESCRIPTOR_HELP
    FT_CLI_FACE_OPTS_HELP;

static void num_or_null(ft_buf *b, double v)
{
    ft_cli_json_num(b, v); // NaN and inf become null
}

// One photo through the door pipeline (a still source: every face is its
// own passage, decided and logged once).
static ft_status access_image(ft_door *door, const ft_door_worker *wk, ft_door_source *ds,
                              const char *path, const ft_image *im, ft_door_result *res,
                              ft_buf *b, ft_err *err)
{
    ft_status st = ft_door_frame(door, wk, ds, im, ft_wall_s(), res, err);
    if (st != FT_OK)
        return st;
    ft_buf_puts(b, "{\"image\": ");
    ft_buf_json_str(b, path);
    ft_buf_printf(b, ", \"width\": %d, \"height\": %d, \"faces\": [", im->w, im->h);
    for (size_t k = 0; k < res->n_faces; k++) {
        const ft_door_face *f = &res->faces[k];
        const ft_event *ev = NULL;
        for (size_t e = 0; e < res->n_events; e++)
            if (res->events[e].track_id == f->track_id)
                ev = &res->events[e];
        ft_buf_puts(b, k ? ", {\"box\": [" : "{\"box\": [");
        const double v[4] = {f->box.x, f->box.y, f->box.w, f->box.h};
        for (int j = 0; j < 4; j++) {
            if (j)
                ft_buf_puts(b, ", ");
            num_or_null(b, v[j]);
        }
        ft_buf_puts(b, "], \"score\": ");
        num_or_null(b, f->box.score);
        if (ev) {
            // The event's own fields (ft_gallery_event_json) after the box.
            ft_buf ej;
            ft_buf_init(&ej, 0);
            ft_gallery_event_json(ev, &ej);
            if (ej.len > 2) {
                ft_buf_puts(b, ", ");
                ft_buf_append(b, ej.data + 1, ej.len - 1); // without its '{'
                b->len--;                                  // reopen
            }
            ft_buf_deinit(&ej);
        }
        ft_buf_puts(b, "}");
    }
    ft_buf_puts(b, "]}");
    return FT_OK;
}

static int run(int argc, char **argv, bool access)
{
    const char *cmd = access ? "access" : "identify";
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const char *db = NULL, *source = "cli";
    const ft_descriptor_net *net = ft_descriptor_net_default();
    bool fused = false;
    double fuse_w = FT_FUSED_DEFAULT_WEIGHT;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(access ? usage_access : usage_identify, stdout);
            return FT_EXIT_OK;
        }
        if (!access && strcmp(argv[i], "--descriptor") == 0 && i + 1 < argc &&
            strcmp(argv[i + 1], "fused") == 0) {
            fused = true;
            net = ft_descriptor_net_find("resnet128");
            i++;
            continue;
        }
        if (!access && strcmp(argv[i], "--fuse-weight") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &fuse_w))
                return FT_EXIT_USAGE;
            continue;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r == 0)
            r = ft_cli_descriptor_parse(cmd, argc, argv, &i, &net);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (access && strcmp(argv[i], "--source") == 0) {
            if (!ft_cli_str(argc, argv, &i, &source))
                return FT_EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf(cmd, "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else {
            first = i;
            break;
        }
    }
    if (first >= argc) {
        fputs(access ? usage_access : usage_identify, stderr);
        return FT_EXIT_USAGE;
    }
    ft_gallery *g = NULL;
    ft_err err = {0};
    if (ft_cli_gallery(cmd, db, !access, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_gallery_policy pol, pol_fr;
    ft_match_matrix *mm = NULL;
    ft_face_models *m = NULL;
    ft_faceres *fr = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_gallery_space sp = ft_access_space(net, fo.d.align);
    // Each network's own stored threshold and margin (fused: both).
    if (ft_access_policy_load(g, net, &pol, &err) != FT_OK ||
        ft_access_policy_load(g, fused ? ft_descriptor_net_find("faceres") : net, &pol_fr,
                              &err) != FT_OK ||
        ft_gallery_matrix_load(g, &sp, &mm, &err) != FT_OK) {
        ft_cli_errorf(cmd, "%s", err.msg);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    // The face-api nets the pipeline needs for this network (no landmark
    // or ResNet weights for faceres), then the network's own.
    ft_cli_face_opts fo_net = fo;
    fo_net.d = ft_descriptor_net_pipeline(net, &fo.d);
    const ft_descriptor_net *net_fr = ft_descriptor_net_find("faceres");
    ft_sample *all = NULL; // fused: every sample, both spaces
    size_t n_all = 0;
    if (fused && ft_gallery_samples_list(g, 0, &all, &n_all, &err) != FT_OK) {
        ft_cli_errorf(cmd, "%s", err.msg);
        ft_match_matrix_free(mm);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    if (ft_cli_face_setup(cmd, &fo_net, &m, &ctx) != FT_OK ||
        ft_cli_descriptor_load(cmd, fused ? net_fr : net, &fr) != FT_OK) {
        ft_free(all);
        ft_nn_ctx_free(ctx);
        ft_face_models_free(m);
        ft_match_matrix_free(mm);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    ft_descriptor_models dmm = {m, fr};
    static float qdesc[FT_DESCRIPTOR_DIM_MAX], qfr[FT_DESCRIPTOR_DIM_MAX];
    int rc = FT_EXIT_OK;
    static ft_face faces[256];
    ft_door *door = NULL;
    ft_door_source *ds = NULL;
    ft_door_result *res = NULL;
    ft_door_worker wk = {.nn = ctx, .g = g};
    if (access) {
        ft_door_opts dopt = ft_door_opts_default();
        dopt.describe = fo.d;
        dopt.describe.landmarks = net->needs_landmarks;
        dopt.describe.descriptors = true;
        dopt.descriptor = net;
        dopt.faceres = fr;
        res = ft_malloc(sizeof *res);
        ft_status st = res ? FT_OK : ft_err_set(&err, FT_E_NOMEM, "out of memory");
        if (st == FT_OK)
            st = ft_door_new(m, &dopt, NULL, &door, &err);
        if (st == FT_OK)
            st = ft_door_source_new(source, FT_DOOR_STILL, &ds, &err);
        if (st != FT_OK) {
            ft_cli_errorf(cmd, "%s", ft_err_msg(&err, st));
            argc = first; // nothing to do
            rc = FT_EXIT_USAGE;
        }
    }
    for (int i = first; i < argc; i++) {
        ft_image_limits lim = ft_image_limits_default();
        ft_image im;
        size_t n = 0;
        ft_status st = ft_image_load(argv[i], &lim, &im, &err);
        if (st == FT_OK && access) {
            ft_buf b;
            ft_buf_init(&b, 0);
            st = access_image(door, &wk, ds, argv[i], &im, res, &b, &err);
            if (st == FT_OK) {
                ft_cli_emit(&b);
            } else {
                // Fail closed: a decision that could not be logged is not
                // reported.
                ft_cli_errorf(cmd, "%s: %s", argv[i], ft_err_msg(&err, st));
                ft_cli_emit_error(argv[i], st, &err);
                rc = FT_EXIT_INPUT;
            }
            ft_buf_deinit(&b);
            ft_image_deinit(&im);
            continue;
        }
        if (st == FT_OK) {
            st = ft_faces_describe(m, ctx, &im, &fo_net.d, faces, 256, &n, NULL, &err);
            if (st != FT_OK)
                ft_image_deinit(&im);
        }
        if (st != FT_OK) {
            ft_cli_errorf(cmd, "%s", ft_err_msg(&err, st));
            ft_cli_emit_error(argv[i], st, &err);
            rc = FT_EXIT_INPUT;
            continue;
        }
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"image\": ");
        ft_buf_json_str(&b, argv[i]);
        ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, \"faces\": [", im.w, im.h);
        for (size_t k = 0; k < n && st == FT_OK; k++) {
            if (k)
                ft_buf_puts(&b, ", ");
            ft_cli_json_face(&b, &faces[k], false, false);
            b.len--; // reopen the face object
            {
                ft_match_result r;
                ft_fused_result fz;
                st = ft_descriptor_net_face(net, &dmm, ctx, &im, &faces[k], &fo.d, qdesc, &err);
                if (st == FT_OK && fused)
                    st = ft_descriptor_net_face(net_fr, &dmm, ctx, &im, &faces[k], &fo.d, qfr,
                                                &err);
                if (st == FT_OK && fused) {
                    st = ft_access_fused_match(all, n_all, qdesc, qfr, fo.d.align, &pol, &pol_fr,
                                               fuse_w, &fz, &err);
                    // The fused verdict in ft_match_result's terms.
                    r.status = fz.status;
                    r.person_id = fz.person_id;
                    r.distance = fz.distance;
                    r.margin = fz.margin;
                } else if (st == FT_OK) {
                    ft_gallery_policy eff;
                    st = ft_access_match(mm, qdesc, net->dim, &pol, &r, &eff, &err);
                }
                if (st != FT_OK)
                    break;
                const char *status = r.status == FT_MATCH_KNOWN       ? "known"
                                     : r.status == FT_MATCH_AMBIGUOUS ? "ambiguous"
                                                                      : "unknown";
                ft_buf_printf(&b, ", \"status\": \"%s\", \"person\": ", status);
                ft_person p;
                if (r.status == FT_MATCH_KNOWN &&
                    ft_gallery_person_get(g, r.person_id, &p, NULL) == FT_OK) {
                    ft_buf_printf(&b, "{\"id\": %lld, \"name\": ", (long long)p.id);
                    ft_buf_json_str(&b, p.name);
                    ft_buf_puts(&b, "}");
                } else
                    ft_buf_puts(&b, "\"unknown\"");
                ft_buf_puts(&b, ", \"distance\": ");
                num_or_null(&b, r.distance);
                ft_buf_puts(&b, ", \"margin\": ");
                num_or_null(&b, r.margin);
                if (fused) {
                    ft_buf_printf(&b, ", \"fuse_weight\": %g, \"distances\": {\"resnet128\": ",
                                  fuse_w);
                    num_or_null(&b, fz.d_resnet);
                    ft_buf_puts(&b, ", \"faceres\": ");
                    num_or_null(&b, fz.d_faceres);
                    ft_buf_puts(&b, "}");
                }
                ft_buf_puts(&b, "}");
            }
        }
        ft_buf_puts(&b, "]}");
        if (st == FT_OK)
            ft_cli_emit(&b);
        else {
            // Fail closed: an access decision that could not be logged is
            // not reported as granted.
            ft_cli_errorf(cmd, "%s: %s", argv[i], ft_err_msg(&err, st));
            ft_cli_emit_error(argv[i], st, &err);
            rc = FT_EXIT_INPUT;
        }
        ft_buf_deinit(&b);
        ft_image_deinit(&im);
    }
    ft_door_source_free(ds);
    ft_door_free(door);
    ft_free(res);
    ft_match_matrix_free(mm);
    ft_free(all);
    ft_nn_ctx_free(ctx);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    ft_gallery_close(g);
    return rc;
}

int ft_cmd_identify(int argc, char **argv)
{
    return run(argc, argv, false);
}

int ft_cmd_access(int argc, char **argv)
{
    return run(argc, argv, true);
}
