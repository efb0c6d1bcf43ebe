// `facetracker dataset`: labelme import, autolabel, split, augment (+ preview).
#include "cli/cli.h"

#include "core/mem.h"
#include "train/dataset.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

int ft_cmd_dataset(int argc, char **argv);

static const char usage[] =
    "usage: facetracker dataset SUBCOMMAND ...\n"
    "\n"
    "  import-labelme DIR --out DS [--skip-bad] [--force]\n"
    "      Checks every labelme JSON in DIR (rectangle shapes labelled \"face\" or a person's\n"
    "      name; imagePath, or inline imageData) and every photo; photos without a JSON are\n"
    "      face-free samples. Each problem is reported with the file's name; with any problem\n"
    "      nothing is written (exit 2) unless --skip-bad. Prints a JSON summary.\n"
    "  autolabel IMAGE... --out DIR [--min-score S] [--models DIR]\n"
    "      Writes DIR/<stem>.json (labelme) with the pretrained SSD detector's boxes, to be\n"
    "      reviewed in labelme. imagePath is relative to DIR.\n"
    "  split DS [--train 0.7] [--val 0.15] [--test 0.15] [--seed N]\n"
    "      Seeded split, stratified by face / no face. Rewrites DS/dataset.jsonl.\n"
    "  augment DS [--per-image 20] [--seed N] [--crop WxH | --crop-frac 0.85] [--size 120]\n"
    "             [--min-visibility 0.5] [--hflip P] [--vflip P] [--splits train,val]\n"
    "             [--preview OUT.jpg]\n"
    "      The prototype's transforms with boxes moved along: random crop (0.85 of each side by\n"
    "      default; --crop WxH: that size, clamped to the photo), horizontal flip (p 0.5),\n"
    "      brightness/contrast (p 0.2), gamma (p 0.2), RGB shift (p 0.2), vertical flip\n"
    "      (p 0: the prototype's 0.5 loosened the boxes; --vflip P). A box keeps the part inside the crop if at least --min-visibility of its\n"
    "      area is inside, else it is dropped (the sample becomes face-free). Samples are\n"
    "      stored as SIZE x SIZE JPEGs in DS/aug/<split>/ with DS/aug/<split>.jsonl.\n"
    "      --preview draws a grid of augmented training samples with their boxes.\n";

static void print_problem(void *ctx, const char *file, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "facetracker dataset: %s: %s\n", file, msg);
}

static int cmd_import(int argc, char **argv)
{
    const char *src = NULL, *out = NULL;
    ft_import_opts o = ft_import_opts_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--out") == 0) {
            if (!ft_cli_str(argc, argv, &i, &out))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--skip-bad") == 0) {
            o.skip_bad = true;
        } else if (strcmp(a, "--force") == 0) {
            o.force = true;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("dataset import-labelme", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else if (!src) {
            src = a;
        } else {
            ft_cli_errorf("dataset import-labelme", "one folder only (got %s and %s)", src, a);
            return FT_EXIT_USAGE;
        }
    }
    if (!src || !out) {
        ft_cli_errorf("dataset import-labelme", "needs DIR and --out DS (see --help)");
        return FT_EXIT_USAGE;
    }
    ft_import_report r;
    ft_err err = {0};
    ft_status st = ft_labelme_import(src, out, &o, print_problem, NULL, &r, &err);
    fprintf(stdout,
            "{\"json_files\": %zu, \"photos\": %zu, \"with_faces\": %zu, \"face_free\": %zu, "
            "\"boxes\": %zu, \"multi_face\": %zu, \"problems\": %zu, \"imported\": %zu, "
            "\"ok\": %s}\n",
            r.n_json, r.n_photos, r.n_with_faces, r.n_face_free, r.n_boxes, r.n_multi_face,
            r.n_problems, r.n_imported, st == FT_OK ? "true" : "false");
    fflush(stdout);
    if (st != FT_OK) {
        ft_cli_errorf("dataset import-labelme", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    return FT_EXIT_OK;
}

static int cmd_split(int argc, char **argv)
{
    const char *dir = NULL;
    double fr[3] = {0.7, 0.15, 0.15};
    long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--train") == 0 || strcmp(a, "--val") == 0 ||
                   strcmp(a, "--test") == 0) {
            int k = a[3] == 'r' ? 0 : a[2] == 'v' ? 1 : 2;
            if (!ft_cli_double(argc, argv, &i, 0, 1, &fr[k]))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--seed") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 0x7fffffffL, &seed))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("dataset split", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else {
            dir = a;
        }
    }
    if (!dir) {
        ft_cli_errorf("dataset split", "needs DS (see --help)");
        return FT_EXIT_USAGE;
    }
    if (fabs(fr[0] + fr[1] + fr[2] - 1.0) > 1e-6) {
        ft_cli_errorf("dataset split", "--train + --val + --test must be 1 (got %g)",
                      fr[0] + fr[1] + fr[2]);
        return FT_EXIT_USAGE;
    }
    ft_err err = {0};
    ft_dataset *ds = NULL;
    ft_status st = ft_dataset_load(dir, &ds, &err);
    if (st == FT_OK)
        st = ft_dataset_split(ds, fr[0], fr[1], fr[2], (uint64_t)seed, &err);
    if (st == FT_OK)
        st = ft_dataset_save(ds, &err);
    if (st != FT_OK) {
        ft_cli_errorf("dataset split", "%s", ft_err_msg(&err, st));
        ft_dataset_free(ds);
        return FT_EXIT_INPUT;
    }
    size_t n[4][2] = {{0}};
    for (size_t i = 0; i < ds->n; i++)
        n[ds->s[i].split][ds->s[i].n_boxes > 0]++;
    printf("{\"train\": {\"face\": %zu, \"no_face\": %zu}, \"val\": {\"face\": %zu, \"no_face\": "
           "%zu}, \"test\": {\"face\": %zu, \"no_face\": %zu}, \"seed\": %ld}\n",
           n[1][1], n[1][0], n[2][1], n[2][0], n[3][1], n[3][0], seed);
    ft_dataset_free(ds);
    return FT_EXIT_OK;
}

static int cmd_augment(int argc, char **argv)
{
    const char *dir = NULL, *preview = NULL, *crop = NULL, *splits = NULL;
    ft_augment_opts o = ft_augment_opts_default();
    long v;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--per-image") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100000, &v))
                return FT_EXIT_USAGE;
            o.per_image = (int32_t)v;
        } else if (strcmp(a, "--seed") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 0x7fffffffL, &v))
                return FT_EXIT_USAGE;
            o.seed = (uint64_t)v;
        } else if (strcmp(a, "--size") == 0) {
            if (!ft_cli_int(argc, argv, &i, 8, 4096, &v))
                return FT_EXIT_USAGE;
            o.out_size = (int32_t)v;
        } else if (strcmp(a, "--crop") == 0) {
            if (!ft_cli_str(argc, argv, &i, &crop))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--crop-frac") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.01, 1, &d))
                return FT_EXIT_USAGE;
            o.crop_frac = d;
        } else if (strcmp(a, "--vflip") == 0 || strcmp(a, "--hflip") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &d))
                return FT_EXIT_USAGE;
            *(a[2] == 'v' ? &o.p_vflip : &o.p_hflip) = d;
        } else if (strcmp(a, "--min-visibility") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &d))
                return FT_EXIT_USAGE;
            o.min_visibility = d;
        } else if (strcmp(a, "--splits") == 0) {
            if (!ft_cli_str(argc, argv, &i, &splits))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--preview") == 0) {
            if (!ft_cli_str(argc, argv, &i, &preview))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("dataset augment", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else {
            dir = a;
        }
    }
    if (!dir) {
        ft_cli_errorf("dataset augment", "needs DS (see --help)");
        return FT_EXIT_USAGE;
    }
    if (crop) {
        int w, h;
        char tail;
        if (sscanf(crop, "%dx%d%c", &w, &h, &tail) != 2 || w <= 0 || h <= 0) {
            ft_cli_errorf("dataset augment", "--crop %s: expected WxH, e.g. 450x450", crop);
            return FT_EXIT_USAGE;
        }
        o.crop_w = w, o.crop_h = h;
        o.crop_frac = 0; // a fixed size replaces the default fraction
    }
    if (splits) {
        memset(o.splits, 0, sizeof o.splits);
        char buf[64];
        snprintf(buf, sizeof buf, "%s", splits);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            ft_split s;
            if (ft_split_parse(t, &s) != FT_OK) {
                ft_cli_errorf("dataset augment", "--splits: unknown split %s", t);
                return FT_EXIT_USAGE;
            }
            o.splits[s] = true;
        }
    }
    ft_err err = {0};
    ft_dataset *ds = NULL;
    ft_augment_report r;
    ft_image_limits lim = ft_image_limits_default();
    ft_status st = ft_dataset_load(dir, &ds, &err);
    if (st == FT_OK)
        st = ft_dataset_augment(ds, &o, &lim, &r, &err);
    ft_dataset_free(ds);
    if (st == FT_OK && preview)
        st = ft_augment_preview(dir, FT_SPLIT_TRAIN, 6, 4, o.seed, preview, &lim, &err);
    if (st != FT_OK) {
        ft_cli_errorf("dataset augment", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    printf("{\"train\": {\"samples\": %zu, \"face\": %zu}, \"val\": {\"samples\": %zu, \"face\": "
           "%zu}, \"test\": {\"samples\": %zu, \"face\": %zu}, \"dropped_boxes\": %zu}\n",
           r.n_samples[1], r.n_face[1], r.n_samples[2], r.n_face[2], r.n_samples[3], r.n_face[3],
           r.n_dropped_boxes);
    return FT_EXIT_OK;
}

// `to` relative to the folder `from_dir` ("../photos/a.jpg"); both are
// resolved first. Falls back to to's absolute path (or `to` itself).
static void relative_path(const char *from_dir, const char *to, char *out, size_t cap)
{
    char *a = realpath(from_dir, NULL), *b = realpath(to, NULL);
    if (!a || !b) {
        snprintf(out, cap, "%s", b ? b : to);
        free(a);
        free(b);
        return;
    }
    // Longest common prefix ending at a '/' boundary of both.
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        i++;
        if (a[i] == '/' || (a[i] == '\0' && b[i] == '/'))
            common = i;
    }
    const char *rest = strcmp(a, "/") == 0 ? "" : a + common; // from's part below the prefix
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = rest; *p; p++)
        if (*p == '/' && n + 4 < cap) {
            memcpy(out + n, "../", 4);
            n += 3;
        }
    snprintf(out + n, cap - n, "%s", b + common + 1);
    free(a);
    free(b);
}

static int cmd_autolabel(int argc, char **argv)
{
    const char *out = NULL, *models = NULL;
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = FT_DETECTOR_SSD; // the pretrained SSD's boxes, as the usage says
    ft_image_limits lim = ft_image_limits_default();
    double d;
    int n_img = 0;
    const char **imgs = ft_calloc((size_t)argc, sizeof *imgs);
    if (!imgs)
        return FT_EXIT_INPUT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            ft_free(imgs);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--out") == 0) {
            if (!ft_cli_str(argc, argv, &i, &out))
                goto usage_err;
        } else if (strcmp(a, "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &models))
                goto usage_err;
        } else if (strcmp(a, "--min-score") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &d))
                goto usage_err;
            o.min_score = d;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("dataset autolabel", "unknown option %s (see --help)", a);
            goto usage_err;
        } else {
            imgs[n_img++] = a;
        }
    }
    if (!out || n_img == 0) {
        ft_cli_errorf("dataset autolabel", "needs IMAGE... and --out DIR (see --help)");
        goto usage_err;
    }
    ft_face_models *m = NULL;
    if (ft_cli_load_models("dataset autolabel", models, true, false, false, false, false, &m) !=
        FT_OK) {
        ft_free(imgs);
        return FT_EXIT_INPUT;
    }
    ft_nn_ctx *ctx = NULL;
    int rc = FT_EXIT_OK;
    if (ft_nn_ctx_new(0, &ctx) != FT_OK) {
        ft_face_models_free(m);
        ft_free(imgs);
        return FT_EXIT_INPUT;
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        ft_cli_errorf("dataset autolabel", "%s: cannot create: %s", out, strerror(errno));
        ft_nn_ctx_free(ctx);
        ft_face_models_free(m);
        ft_free(imgs);
        return FT_EXIT_INPUT;
    }
    ft_face_box boxes[100];
    for (int k = 0; k < n_img; k++) {
        ft_err err = {0};
        ft_image im = {0};
        size_t n = 0;
        ft_status st = ft_image_load(imgs[k], &lim, &im, &err);
        if (st == FT_OK)
            st = ft_detect(m, ctx, &im, &o, boxes, 100, &n, NULL, &err);
        if (st == FT_OK) {
            if (n > 100)
                n = 100;
            ft_ds_box b[100];
            for (size_t j = 0; j < n; j++) {
                b[j].x1 = boxes[j].x < 0 ? 0 : boxes[j].x;
                b[j].y1 = boxes[j].y < 0 ? 0 : boxes[j].y;
                b[j].x2 = boxes[j].x + boxes[j].w > im.w ? im.w : boxes[j].x + boxes[j].w;
                b[j].y2 = boxes[j].y + boxes[j].h > im.h ? im.h : boxes[j].y + boxes[j].h;
                b[j].label = (char *)"face";
            }
            // imagePath relative to DIR, as labelme writes it (absolute if
            // either path cannot be resolved).
            char rel[4096], json[4096], stem[1024];
            const char *base = strrchr(imgs[k], '/');
            base = base ? base + 1 : imgs[k];
            snprintf(stem, sizeof stem, "%s", base);
            char *dot = strrchr(stem, '.');
            if (dot)
                *dot = '\0';
            relative_path(out, imgs[k], rel, sizeof rel);
            snprintf(json, sizeof json, "%s/%s.json", out, stem);
            st = ft_labelme_write(json, rel, im.w, im.h, b, n, &err);
            if (st == FT_OK)
                printf("{\"image\": \"%s\", \"labelme\": \"%s\", \"faces\": %zu}\n", imgs[k],
                       json, n);
        }
        if (st != FT_OK) {
            ft_cli_errorf("dataset autolabel", "%s", ft_err_msg(&err, st));
            rc = FT_EXIT_INPUT;
        }
        ft_image_deinit(&im);
    }
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    ft_free(imgs);
    return rc;
usage_err:
    ft_free(imgs);
    return FT_EXIT_USAGE;
}

int ft_cmd_dataset(int argc, char **argv)
{
    if (argc < 2 || ft_cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? FT_EXIT_USAGE : FT_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "import-labelme") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(sub, "autolabel") == 0)
        return cmd_autolabel(argc - 1, argv + 1);
    if (strcmp(sub, "split") == 0)
        return cmd_split(argc - 1, argv + 1);
    if (strcmp(sub, "augment") == 0)
        return cmd_augment(argc - 1, argv + 1);
    ft_cli_errorf("dataset", "unknown subcommand '%s' (see --help)", sub);
    return FT_EXIT_USAGE;
}
