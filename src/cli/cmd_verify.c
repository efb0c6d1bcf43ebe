// `facetracker verify A B`: are the faces in two photos the same person?
#include "cli/cli.h"

#include "access/access.h"
#include "face/descriptor.h"
#include "face/faceres.h"
#include "gallery/gallery.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker verify [options] IMAGE_A IMAGE_B\n"
    "\n"
    "Each photo must show one face. Prints\n"
    "  {\"distance\": d, \"same\": bool, \"threshold\": t, \"a\": {face}, \"b\": {face}}\n"
    "where a face below the detector threshold (the best candidate above the floor of 0.2)\n"
    "is marked \"below_threshold\": true.\n"
    "\n"
    "options:\n"
    "  --threshold T         distance under which the faces match (default: the threshold of\n"
    "                        --db, else the gallery's default 0.5; face-api uses 0.6; for\n"
    "                        another --descriptor, that network's default, faceres 0.38)\n"
    "  --db PATH             gallery whose settings give the threshold\n" FT_CLI_DESCRIPTOR_HELP
    FT_CLI_FACE_OPTS_HELP;

// The photo's one face, and its descriptor in net's space into desc.
static ft_status one_face(const char *cmd, const char *path, const ft_descriptor_net *net,
                          const ft_descriptor_models *mm, ft_nn_ctx *ctx,
                          const ft_describe_opts *o, ft_face *f, float *desc, bool *low)
{
    ft_image_limits lim = ft_image_limits_default();
    ft_image im;
    ft_err err = {0};
    ft_describe_opts po = ft_descriptor_net_pipeline(net, o);
    ft_status st = ft_image_load(path, &lim, &im, &err);
    if (st == FT_OK) {
        st = ft_face_single(mm->face, ctx, &im, &po, FT_SINGLE_FACE_FLOOR, false, f, low, &err);
        if (st == FT_OK)
            st = ft_descriptor_net_face(net, mm, ctx, &im, f, o, desc, &err);
        ft_image_deinit(&im);
    }
    if (st != FT_OK)
        ft_cli_errorf(cmd, "%s: %s", path, ft_err_msg(&err, st));
    return st;
}

int ft_cmd_verify(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const char *paths[2] = {NULL, NULL}, *db = NULL;
    double thr = -1;
    const ft_descriptor_net *net = ft_descriptor_net_default();
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r == 0)
            r = ft_cli_descriptor_parse("verify", argc, argv, &i, &net);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--threshold") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 10, &thr))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("verify", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            ft_cli_errorf("verify", "two photos are expected");
            return FT_EXIT_USAGE;
        }
    }
    if (np != 2) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    if (thr < 0 && db) {
        ft_gallery *g = NULL;
        ft_gallery_opts go = ft_gallery_opts_default();
        go.flags = FT_GALLERY_READONLY | FT_GALLERY_NO_CREATE;
        ft_err err = {0};
        ft_gallery_policy pol;
        if (ft_gallery_open(db, &go, &g, &err) == FT_OK &&
            ft_access_policy_load(g, net, &pol, &err) == FT_OK)
            thr = pol.threshold;
        else {
            ft_cli_errorf("verify", "--db %s: %s", db, err.msg);
            ft_gallery_close(g);
            return FT_EXIT_INPUT;
        }
        ft_gallery_close(g);
    }
    if (thr < 0)
        thr = net->threshold; // the network's own default (resnet128: 0.5, as the gallery's)
    ft_face_models *m;
    ft_nn_ctx *ctx;
    ft_faceres *fr = NULL;
    ft_cli_face_opts fo_net = fo;
    fo_net.d = ft_descriptor_net_pipeline(net, &fo.d);
    if (ft_cli_face_setup("verify", &fo_net, &m, &ctx) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_cli_descriptor_load("verify", net, &fr) != FT_OK) {
        ft_nn_ctx_free(ctx);
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    ft_descriptor_models dmm = {m, fr};
    static float da[FT_DESCRIPTOR_DIM_MAX], db2[FT_DESCRIPTOR_DIM_MAX];
    ft_face fa, fb;
    bool la = false, lb = false;
    int rc = FT_EXIT_OK;
    if (one_face("verify", paths[0], net, &dmm, ctx, &fo.d, &fa, da, &la) != FT_OK ||
        one_face("verify", paths[1], net, &dmm, ctx, &fo.d, &fb, db2, &lb) != FT_OK) {
        rc = FT_EXIT_INPUT;
    } else {
        double d = ft_descriptor_net_distance(net, da, db2);
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"distance\": ");
        ft_cli_json_num(&b, d);
        ft_buf_printf(&b, ", \"same\": %s, \"threshold\": ", d < thr ? "true" : "false");
        ft_cli_json_num(&b, thr);
        ft_buf_printf(&b, ", \"align\": \"%s\", \"network\": \"%s\", \"a\": ",
                      net->align_name(fo.d.align), net->name);
        ft_cli_json_face(&b, &fa, false, false);
        if (la) {
            b.len--;
            ft_buf_puts(&b, ", \"below_threshold\": true}");
        }
        ft_buf_puts(&b, ", \"b\": ");
        ft_cli_json_face(&b, &fb, false, false);
        if (lb) {
            b.len--;
            ft_buf_puts(&b, ", \"below_threshold\": true}");
        }
        ft_buf_puts(&b, "}");
        ft_cli_emit(&b);
        ft_buf_deinit(&b);
    }
    ft_nn_ctx_free(ctx);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    return rc;
}
