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
    "With --descriptor fused: every face in both spaces, \"descriptors\": {\"resnet128\": [128],\n"
    "\"faceres\": [1024]}, and \"spaces\" lists both (identify --descriptor fused matches them).\n"
    "\n"
    "options:\n" FT_CLI_DESCRIPTOR_HELP FT_CLI_FACE_OPTS_HELP;

int ft_cmd_describe(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const ft_descriptor_net *net = ft_descriptor_net_default();
    bool fused = false;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        if (strcmp(argv[i], "--descriptor") == 0 && i + 1 < argc &&
            strcmp(argv[i + 1], "fused") == 0) {
            fused = true;
            net = ft_descriptor_net_find("resnet128");
            i++;
            continue;
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
    const ft_descriptor_net *nets[2] = {net, ft_descriptor_net_find("faceres")};
    size_t n_nets = fused ? 2 : 1;
    if (ft_cli_descriptor_load("describe", nets[n_nets - 1], &fr) != FT_OK) {
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
        if (fused) {
            ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, \"align\": \"%s\", "
                              "\"network\": \"fused\", \"spaces\": [",
                          im.w, im.h, ft_align_name(fo.d.align));
            for (size_t j = 0; j < n_nets; j++) {
                ft_buf_printf(&b, "%s{\"network\": \"%s\", \"space\": ", j ? ", " : "",
                              nets[j]->name);
                ft_buf_json_str(&b, nets[j]->space(fo.d.align));
                ft_buf_printf(&b, ", \"dim\": %zu, \"metric\": \"%s\"}", nets[j]->dim,
                              nets[j]->metric == FT_DESC_COSINE ? "cosine" : "euclidean");
            }
            ft_buf_puts(&b, "], \"faces\": [");
        } else {
            ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, \"align\": \"%s\", \"network\": ",
                          im.w, im.h, net->align_name(fo.d.align));
            ft_buf_json_str(&b, net->name);
            ft_buf_puts(&b, ", \"space\": ");
            ft_buf_json_str(&b, net->space(fo.d.align));
            ft_buf_printf(&b, ", \"dim\": %zu, \"metric\": \"%s\", \"faces\": [", net->dim,
                          net->metric == FT_DESC_COSINE ? "cosine" : "euclidean");
        }
        for (size_t k = 0; k < n && st == FT_OK; k++) {
            if (k)
                ft_buf_puts(&b, ", ");
            ft_cli_json_face(&b, &faces[k], true, false);
            for (size_t j = 0; j < n_nets && st == FT_OK; j++) {
                st = ft_descriptor_net_face(nets[j], &dmm, ctx, &im, &faces[k], &fo.d, desc,
                                            &err);
                if (st == FT_E_INVALID) {
                    // A box with no crop (outside the image): no descriptor.
                    ft_err_clear(&err);
                    st = FT_OK;
                    break;
                }
                if (st != FT_OK)
                    break;
                b.len--; // reopen the face (or descriptors) object
                if (!fused)
                    ft_buf_puts(&b, ", \"descriptor\": [");
                else
                    ft_buf_printf(&b, "%s\"%s\": [", j ? ", " : ", \"descriptors\": {",
                                  nets[j]->name);
                for (size_t d = 0; d < nets[j]->dim; d++)
                    ft_buf_printf(&b, d ? ", %.9g" : "%.9g", desc[d]);
                ft_buf_puts(&b, fused ? "]}}" : "]}");
                if (fused && j + 1 < n_nets)
                    b.len--; // reopen "descriptors" for the next space
            }
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
