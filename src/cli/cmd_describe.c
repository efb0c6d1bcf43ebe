// `facetracker describe`: every face with its box, score, 68 landmarks and
// 128-d descriptor, one JSON line per image.
#include "cli/cli.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker describe [options] IMAGE...\n"
    "\n"
    "Prints one JSON line per image:\n"
    "  {\"image\": P, \"width\": W, \"height\": H, \"align\": A, \"faces\": [{\"box\": [x, y, w, h],\n"
    "   \"score\": S, \"landmarks\": [[x, y] x 68], \"descriptor\": [128 numbers]}]}\n"
    "\n"
    "options:\n" FT_CLI_FACE_OPTS_HELP;

int ft_cmd_describe(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
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
    if (ft_cli_face_setup("describe", &fo, &m, &ctx) != FT_OK)
        return FT_EXIT_INPUT;
    int rc = FT_EXIT_OK;
    static ft_face faces[256];
    ft_image_limits lim = ft_image_limits_default();
    for (int i = first; i < argc; i++) {
        ft_err err = {0};
        ft_image im;
        size_t n = 0;
        ft_status st = ft_image_load(argv[i], &lim, &im, &err);
        if (st == FT_OK) {
            st = ft_faces_describe(m, ctx, &im, &fo.d, faces, 256, &n, NULL, &err);
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
        ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, \"align\": \"%s\", \"faces\": [", im.w,
                      im.h, ft_align_name(fo.d.align));
        for (size_t k = 0; k < n; k++) {
            if (k)
                ft_buf_puts(&b, ", ");
            ft_cli_json_face(&b, &faces[k], true, true);
        }
        ft_buf_puts(&b, "]}");
        ft_cli_emit(&b);
        ft_buf_deinit(&b);
        ft_image_deinit(&im);
    }
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    return rc;
}
