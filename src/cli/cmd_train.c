// `facetracker train`: trains the face tracker model on a dataset.
#include "cli/cli.h"

#include "core/mem.h"
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

int ft_cmd_train(int argc, char **argv);

// The progress bar on stderr (the library reports, the CLI draws).
static void on_progress(void *ctx, const ft_train_progress *p)
{
    (void)ctx;
    switch (p->ev) {
    case FT_TRAIN_EV_CACHE:
        if (p->from >= FT_FM_CONVS)
            fprintf(stderr, "computing backbone features of %zu + %zu samples...\n", p->n_train,
                    p->n_val);
        else
            fprintf(stderr, "computing frozen convs 0..%d of %zu + %zu samples...\n",
                    p->from - 1, p->n_train, p->n_val);
        break;
    case FT_TRAIN_EV_BATCH: {
        int w = 30, f = p->total ? (int)(w * p->done / p->total) : w;
        char bar[40];
        for (int i = 0; i < w; i++)
            bar[i] = i < f ? '#' : '.';
        bar[w] = '\0';
        double left = p->done ? p->elapsed / p->done * (p->total - p->done) : 0;
        fprintf(stderr, "\repoch %d/%d [%s] %zu/%zu loss %.4f class %.4f box %.4f  %.0fs left   ",
                p->epoch, p->epochs, bar, p->done, p->total, p->loss, p->class_loss, p->box_loss,
                left);
        break;
    }
    case FT_TRAIN_EV_EPOCH: {
        const ft_epoch_stats *h = p->stats;
        fprintf(stderr, "\repoch %d/%d loss %.4f class %.4f box %.4f | val %.4f class %.4f box "
                "%.4f | %.1fs%*s\n", p->epoch, p->epochs, h->loss, h->class_loss, h->box_loss,
                h->val_loss, h->val_class_loss, h->val_box_loss, h->seconds, 20, "");
        break;
    }
    case FT_TRAIN_EV_STOP:
        fprintf(stderr, "early stop: no better validation loss for %d epochs\n", p->patience);
        break;
    }
    fflush(stderr);
}

static const char usage[] =
    "usage: facetracker train DS --out MODEL.h5 [options]\n"
    "\n"
    "Trains the face tracker model (MobileNetV1 backbone from the SSD detector, a face/no-face\n"
    "head and a box head; see docs/TRAINING.md) on DS's augmented train split (or its photos),\n"
    "validating every epoch on the val split. Keeps the best validation weights. Writes\n"
    "MODEL.h5 (Keras layout), MODEL.h5.history.csv and MODEL.h5.history.svg; prints a JSON\n"
    "summary.\n"
    "\n"
    "options:\n"
    "The defaults are the settings chosen on validation in docs/TRAINING.md: the last backbone\n"
    "block fine-tuned, GIoU box loss weighted 0.25, box head started at the mean training box,\n"
    "at most 15 epochs, patience 5.\n"
    "  --epochs N          at most N epochs (default 15)\n"
    "  --patience P        stop after P epochs without a better validation loss (default 5)\n"
    "  --freeze-backbone   train the heads only, backbone features computed once\n"
    "  --fine-tune         backpropagate into the backbone too (default, from conv 25)\n"
    "  --fine-tune-from K  train backbone convs K..26 only (default 25 = the last block;\n"
    "                      23 = the last two, 0 = all); the frozen convs' output is computed\n"
    "                      once per sample and kept in memory when it fits (4 GiB)\n"
    "  --identities        add a softmax head over the person names used as labels\n"
    "  --seed N            same seed, same model (default 1)\n"
    "  --threads N         threads (default: all cores); the result does not depend on it\n"
    "  --lr X              Adam learning rate (default 1e-4)\n"
    "  --lr-schedule S     inverse-time (the prototype's lr / (1 + d t), d = 1/3 an epoch),\n"
    "                      cosine (lr to 0 over --epochs) or constant (default inverse-time)\n"
    "  --batch N           batch size (default 10)\n"
    "  --box-loss L        prototype (corner + size squared error), giou, diou or ciou\n"
    "                      (default giou)\n"
    "  --box-weight W      weight of the box loss (summed over the batch's faces) against\n"
    "                      0.5 x the mean face/no-face cross-entropy (default 0.25)\n"
    "  --box-prior         start the box head at the mean training box (last kernel zero,\n"
    "                      bias its logit) instead of Glorot's random start (default)\n"
    "  --no-box-prior      Glorot's random start (Keras's default)\n"
    "  --models DIR        folder with ssd_mobilenetv1_model-weights_manifest.json\n"
    "  --quiet             no progress bar\n";

int ft_cmd_train(int argc, char **argv)
{
    const char *ds = NULL, *out = NULL, *models = NULL;
    ft_train_opts o = ft_train_opts_default();
    bool quiet = false;
    long v;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--out") == 0) {
            if (!ft_cli_str(argc, argv, &i, &out))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &models))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100000, &v))
                return FT_EXIT_USAGE;
            o.epochs = (int32_t)v;
        } else if (strcmp(a, "--patience") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 100000, &v))
                return FT_EXIT_USAGE;
            o.patience = (int32_t)v;
        } else if (strcmp(a, "--batch") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 64, &v))
                return FT_EXIT_USAGE;
            o.batch = (int32_t)v;
        } else if (strcmp(a, "--seed") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 0x7fffffffL, &v))
                return FT_EXIT_USAGE;
            o.seed = (uint64_t)v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 256, &v))
                return FT_EXIT_USAGE;
            o.threads = (int)v;
        } else if (strcmp(a, "--lr") == 0) {
            if (!ft_cli_double(argc, argv, &i, 1e-9, 1, &d))
                return FT_EXIT_USAGE;
            o.lr = d;
        } else if (strcmp(a, "--fine-tune-from") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, FT_FM_CONVS - 1, &v))
                return FT_EXIT_USAGE;
            o.fine_tune_from = (int32_t)v;
        } else if (strcmp(a, "--box-weight") == 0) {
            if (!ft_cli_double(argc, argv, &i, 1e-6, 1e6, &d))
                return FT_EXIT_USAGE;
            o.box_weight = d;
        } else if (strcmp(a, "--box-loss") == 0) {
            const char *bl;
            if (!ft_cli_str(argc, argv, &i, &bl))
                return FT_EXIT_USAGE;
            if (ft_box_loss_parse(bl, &o.box_loss) != FT_OK) {
                ft_cli_errorf("train", "--box-loss %s: expected prototype, giou, diou or ciou", bl);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--lr-schedule") == 0) {
            const char *ls;
            if (!ft_cli_str(argc, argv, &i, &ls))
                return FT_EXIT_USAGE;
            if (ft_lr_schedule_parse(ls, &o.lr_schedule) != FT_OK) {
                ft_cli_errorf("train", "--lr-schedule %s: expected inverse-time, cosine or constant",
                              ls);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--box-prior") == 0) {
            o.box_prior = true;
        } else if (strcmp(a, "--no-box-prior") == 0) {
            o.box_prior = false;
        } else if (strcmp(a, "--freeze-backbone") == 0) {
            o.fine_tune = false;
        } else if (strcmp(a, "--fine-tune") == 0) {
            o.fine_tune = true;
        } else if (strcmp(a, "--identities") == 0) {
            o.identities = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("train", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else if (!ds) {
            ds = a;
        } else {
            ft_cli_errorf("train", "one dataset only (got %s and %s)", ds, a);
            return FT_EXIT_USAGE;
        }
    }
    if (!ds || !out) {
        ft_cli_errorf("train", "needs DS and --out MODEL.h5 (see --help)");
        return FT_EXIT_USAGE;
    }
    if (!quiet)
        o.on_progress = on_progress;
    char manifest[4096], p2[4200];
    snprintf(manifest, sizeof manifest, "%s/ssd_mobilenetv1_model-weights_manifest.json",
             models ? models : ft_models_default_dir());
    ft_err err = {0};
    ft_fmodel *m = NULL;
    ft_train_result r;
    memset(&r, 0, sizeof r);
    ft_status st = ft_train_run(ds, manifest, &o, &m, &r, &err);
    if (st == FT_OK)
        st = ft_fmodel_save(m, out, &err);
    if (st == FT_OK) {
        snprintf(p2, sizeof p2, "%s.history.csv", out);
        st = ft_train_history_csv(&r, p2, &err);
    }
    if (st == FT_OK) {
        snprintf(p2, sizeof p2, "%s.history.svg", out);
        st = ft_train_history_svg(&r, p2, &err);
    }
    if (st != FT_OK) {
        ft_cli_errorf("train", "%s", ft_err_msg(&err, st));
        ft_fmodel_free(m);
        ft_free(r.history);
        return st == FT_E_INVALID || st == FT_E_NOT_FOUND || st == FT_E_FORMAT ||
                       st == FT_E_UNSUPPORTED || st == FT_E_IO || st == FT_E_NOMEM
                   ? FT_EXIT_INPUT
                   : FT_EXIT_INPUT;
    }
    const ft_epoch_stats *b = &r.history[r.best_epoch > 0 ? r.best_epoch - 1 : 0];
    printf("{\"model\": \"%s\", \"epochs\": %d, \"best_epoch\": %d, \"val_loss\": %.6f, "
           "\"val_class_loss\": %.6f, \"val_box_loss\": %.6f, \"train_samples\": %zu, "
           "\"val_samples\": %zu, \"seconds\": %.1f, \"feature_seconds\": %.1f, "
           "\"train_images_per_s\": %.1f, \"mode\": \"%s\", \"fine_tune_from\": %d, "
           "\"box_loss\": \"%s\", \"box_weight\": %g, \"lr\": %g, \"lr_schedule\": \"%s\", "
           "\"box_prior\": %s, \"params\": %zu",
           out, r.n_epochs, r.best_epoch, b->val_loss, b->val_class_loss, b->val_box_loss,
           r.n_train, r.n_val, r.seconds, r.feature_seconds, r.images_per_s,
           o.fine_tune ? "fine-tune" : "frozen", o.fine_tune ? o.fine_tune_from : FT_FM_CONVS,
           ft_box_loss_name(o.box_loss), o.box_weight, o.lr, ft_lr_schedule_name(o.lr_schedule),
           o.box_prior ? "true" : "false", ft_fmodel_n_params(m));
    if (r.has_val_eval)
        printf(", \"val_photos_accuracy\": %.4f, \"val_photos_mean_iou\": %.4f",
               r.val_accuracy, r.val_mean_iou);
    printf("}\n");
    ft_fmodel_free(m);
    ft_free(r.history);
    return FT_EXIT_OK;
}
