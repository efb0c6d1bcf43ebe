// `facetracker describe`: every face with its box, score, 68 landmarks and
// descriptor (in the space --descriptor names), one JSON line per image.
#include "cli/cli.h"

#include "face/descriptor.h"
#include "face/faceres.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker describe [options] IMAGE...\n"
    "\n"
    "Prints one JSON line per image:\n"
    "  {\"image\": P, \"width\": W, \"height\": H, \"align\": A, \"network\": N, \"space\": S,\n"
    "   \"dim\": D, \"metric\": M, \"faces\": [{\"box\": [x, y, w, h], \"score\": S,\n"
    "   \"landmarks\": [[x, y] x 68], \"descriptor\": [D numbers]}]}\n"
    "The space is the string galleries store with samples of that network; only vectors of\n"
    "one space are compared (resnet128: Euclidean distance, faceres: cosine distance).\n"
    "Landmarks are computed only for networks whose crop needs them (not faceres).\n"
    "\n"
    "options:\n" FT_CLI_DESCRIPTOR_HELP FT_CLI_FACE_OPTS_HELP;

int ft_cmd_describe(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const ft_descriptor_net *net = ft_descriptor_net_default();
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r == 0)
            r = ft_cli_descriptor_parse("describe", argc, argv, &i, &net);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("describe", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        }
        first = i;
        break;
    }
    if (first >= argc) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_face_models *m;
    ft_nn_ctx *ctx;
    ft_faceres *fr = NULL;
    ft_cli_face_opts fo_net = fo;
    fo_net.d = ft_descriptor_net_pipeline(net, &fo.d);
    if (ft_cli_face_setup("describe", &fo_net, &m, &ctx) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_cli_descriptor_load("describe", net, &fr) != FT_OK) {
        ft_nn_ctx_free(ctx);
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    ft_descriptor_models dmm = {m, fr};
    static float desc[FT_DESCRIPTOR_DIM_MAX];
    int rc = FT_EXIT_OK;
    static ft_face faces[256];
    ft_image_limits lim = ft_image_limits_default();
    for (int i = first; i < argc; i++) {
        ft_err err = {0};
        ft_image im;
        size_t n = 0;
        ft_status st = ft_image_load(argv[i], &lim, &im, &err);
        if (st == FT_OK) {
            st = ft_faces_describe(m, ctx, &im, &fo_net.d, faces, 256, &n, NULL, &err);
            if (st != FT_OK)
                ft_image_deinit(&im);
        }
        if (st != FT_OK) {
            ft_cli_errorf("describe", "%s", ft_err_msg(&err, st));
            ft_cli_emit_error(argv[i], st, &err);
            rc = FT_EXIT_INPUT;
            continue;
        }
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"image\": ");
        ft_buf_json_str(&b, argv[i]);
        ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, \"align\": \"%s\", \"network\": ",
                      im.w, im.h, net->align_name(fo.d.align));
        ft_buf_json_str(&b, net->name);
        ft_buf_puts(&b, ", \"space\": ");
        ft_buf_json_str(&b, net->space(fo.d.align));
        ft_buf_printf(&b, ", \"dim\": %zu, \"metric\": \"%s\", \"faces\": [", net->dim,
                      net->metric == FT_DESC_COSINE ? "cosine" : "euclidean");
        for (size_t k = 0; k < n && st == FT_OK; k++) {
            if (k)
                ft_buf_puts(&b, ", ");
            ft_cli_json_face(&b, &faces[k], true, false);
            st = ft_descriptor_net_face(net, &dmm, ctx, &im, &faces[k], &fo.d, desc, &err);
            if (st == FT_E_INVALID) {
                // A box with no crop (outside the image): no descriptor.
                st = FT_OK;
                continue;
            }
            if (st != FT_OK)
                break;
            b.len--; // reopen the face object
            ft_buf_puts(&b, ", \"descriptor\": [");
            for (size_t d = 0; d < net->dim; d++)
                ft_buf_printf(&b, d ? ", %.9g" : "%.9g", desc[d]);
            ft_buf_puts(&b, "]}");
        }
        ft_buf_puts(&b, "]}");
        if (st == FT_OK) {
            ft_cli_emit(&b);
        } else {
            ft_cli_errorf("describe", "%s: %s", argv[i], ft_err_msg(&err, st));
            ft_cli_emit_error(argv[i], st, &err);
            rc = FT_EXIT_INPUT;
        }
        ft_buf_deinit(&b);
        ft_image_deinit(&im);
    }
    ft_nn_ctx_free(ctx);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    return rc;
}
