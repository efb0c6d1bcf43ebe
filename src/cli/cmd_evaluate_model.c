// `facetracker evaluate-model`: accuracy and IoU of a trained model.
#include "cli/cli.h"

#include "train/model.h"

#include <string.h>

int ft_cmd_evaluate_model(int argc, char **argv);

static const char usage[] =
    "usage: facetracker evaluate-model MODEL.h5 DS [--split test] [--augmented] [--no-flip]\n"
    "                                  [--draw DIR]\n"
    "\n"
    "Runs a trained face tracker model on the split's photos (or, with --augmented, its\n"
    "augmented samples) and prints JSON: face/no-face accuracy, precision and recall (score\n"
    "> 0.5), mean IoU of the predicted box with the first human box over photos with a face,\n"
    "and a 10-bin IoU histogram. Predictions average the photo and its mirror image\n"
    "(test-time flip; --no-flip: the photo only).\n"
    "\n"
    "  --draw DIR   also write DIR/contact.jpg: the split's samples (first 96) with the human\n"
    "               box in green, the predicted box in red, score and IoU under each\n";

int ft_cmd_evaluate_model(int argc, char **argv)
{
    const char *model = NULL, *ds = NULL, *split = "test";
    ft_eval_opts eo = ft_eval_opts_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--split") == 0) {
            if (!ft_cli_str(argc, argv, &i, &split))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--augmented") == 0) {
            eo.augmented = true;
        } else if (strcmp(a, "--no-flip") == 0) {
            eo.flip = false;
        } else if (strcmp(a, "--draw") == 0) {
            if (!ft_cli_str(argc, argv, &i, &eo.draw_dir))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("evaluate-model", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else if (!model) {
            model = a;
        } else if (!ds) {
            ds = a;
        } else {
            ft_cli_errorf("evaluate-model", "unexpected argument %s", a);
            return FT_EXIT_USAGE;
        }
    }
    ft_split sp;
    if (!model || !ds) {
        ft_cli_errorf("evaluate-model", "needs MODEL.h5 and DS (see --help)");
        return FT_EXIT_USAGE;
    }
    if (ft_split_parse(split, &sp) != FT_OK) {
        ft_cli_errorf("evaluate-model", "--split %s: expected train, val or test", split);
        return FT_EXIT_USAGE;
    }
    ft_err err = {0};
    ft_fmodel *m = NULL;
    ft_eval_result r;
    ft_status st = ft_fmodel_load(model, &m, &err);
    if (st == FT_OK)
        st = ft_fmodel_evaluate(m, ds, sp, &eo, &r, &err);
    ft_fmodel_free(m);
    if (st != FT_OK) {
        ft_cli_errorf("evaluate-model", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    printf("{\"split\": \"%s\", \"augmented\": %s, \"samples\": %zu, \"with_face\": %zu, "
           "\"accuracy\": %.4f, \"precision\": %.4f, \"recall\": %.4f, \"tp\": %zu, \"fp\": %zu, "
           "\"tn\": %zu, \"fn\": %zu, \"mean_iou\": %.4f, \"iou_histogram\": [",
           split, eo.augmented ? "true" : "false", r.n, r.n_face, r.accuracy, r.precision, r.recall, r.tp,
           r.fp, r.tn, r.fn, r.mean_iou);
    for (int i = 0; i < 10; i++)
        printf("%s%zu", i ? ", " : "", r.iou_hist[i]);
    printf("], \"flip\": %s", eo.flip ? "true" : "false");
    if (r.n_id)
        printf(", \"identity_accuracy\": %.4f", (double)r.id_correct / r.n_id);
    printf("}\n");
    return FT_EXIT_OK;
}
