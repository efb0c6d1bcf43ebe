// `facetracker evaluate-detection`: runs a detector over an annotated set
// (../shared/data/detection_*/annotations.jsonl format) and reports
// precision, recall, average precision and the mean IoU of matched faces.
#include "cli/cli.h"

#include "core/mem.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker evaluate-detection [options] ANNOTATIONS.jsonl\n"
    "\n"
    "Each line: {\"image\": PATH, \"boxes\": [[x, y, w, h], ...]} (paths relative to the file),\n"
    "or \"points\": [[x, y], ...] (one point per face, e.g. the nose tip: a detection whose\n"
    "box contains the point matches it). Detections are matched greedily, best score\n"
    "first, to the unmatched face with the highest IoU >= --iou.\n"
    "Prints one JSON object: precision, recall, average_precision (VOC all-point, over the\n"
    "detections above --min-score), mean_iou of matched faces, and per-image misses.\n"
    "\n"
    "options:\n"
    "  --iou T               overlap needed for a match (default 0.5)\n"
    "  --detector yunet|ssd|tiny  (default yunet)\n"
    "  --min-score S         detector threshold (default 0.5)\n"
    "  --input-size N        tiny detector input size (default 416)\n"
    "  --threads N           threads per inference (default: all cores)\n"
    "  --models DIR          folder with the model files\n";

typedef struct det_rec {
    double score;
    bool tp;
} det_rec;

static double box_iou(const double *a, const double *b)
{
    double ix = fmax(0, fmin(a[0] + a[2], b[0] + b[2]) - fmax(a[0], b[0]));
    double iy = fmax(0, fmin(a[1] + a[3], b[1] + b[3]) - fmax(a[1], b[1]));
    double inter = ix * iy, uni = a[2] * a[3] + b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0;
}

static int det_cmp(const void *pa, const void *pb)
{
    const det_rec *a = pa, *b = pb;
    return a->score > b->score ? -1 : a->score < b->score ? 1 : 0;
}

// VOC all-point interpolated AP.
static double average_precision(det_rec *d, size_t n, size_t n_gt)
{
    if (n_gt == 0)
        return 0;
    qsort(d, n, sizeof *d, det_cmp);
    double *prec = ft_malloc(sizeof(double) * (n + 1)), *rec = ft_malloc(sizeof(double) * (n + 1));
    if (!prec || !rec) {
        ft_free(prec);
        ft_free(rec);
        return NAN;
    }
    size_t tp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += d[i].tp;
        prec[i] = (double)tp / (double)(i + 1);
        rec[i] = (double)tp / (double)n_gt;
    }
    for (size_t i = n; i-- > 1;)
        if (prec[i] > prec[i - 1])
            prec[i - 1] = prec[i];
    double ap = 0, last_r = 0;
    for (size_t i = 0; i < n; i++) {
        ap += (rec[i] - last_r) * prec[i];
        last_r = rec[i];
    }
    ft_free(prec);
    ft_free(rec);
    return ap;
}

int ft_cmd_evaluate_detection(int argc, char **argv)
{
    ft_detect_opts o = ft_detect_opts_default();
    double iou_thr = 0.5, d;
    long threads = 0, v;
    const char *models = NULL, *ann = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--iou") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.01, 1, &iou_thr))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--detector") == 0) {
            const char *k;
            if (!ft_cli_str(argc, argv, &i, &k))
                return FT_EXIT_USAGE;
            if (!ft_detector_parse(k, &o.kind)) {
                ft_cli_errorf("evaluate-detection", "--detector %s: expected ssd, tiny or yunet",
                              k);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--min-score") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &d))
                return FT_EXIT_USAGE;
            o.min_score = d;
        } else if (strcmp(a, "--input-size") == 0) {
            if (!ft_cli_int(argc, argv, &i, 32, 2048, &v) || v % 32) {
                ft_cli_errorf("evaluate-detection", "--input-size: a multiple of 32 is needed");
                return FT_EXIT_USAGE;
            }
            o.input_size = (int32_t)v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 256, &threads))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &models))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-') {
            ft_cli_errorf("evaluate-detection", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else if (!ann) {
            ann = a;
        } else {
            ft_cli_errorf("evaluate-detection", "one annotation file only");
            return FT_EXIT_USAGE;
        }
    }
    if (!ann) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    FILE *f = fopen(ann, "r");
    if (!f) {
        ft_cli_errorf("evaluate-detection", "cannot open %s", ann);
        return FT_EXIT_INPUT;
    }
    char base[4096];
    snprintf(base, sizeof base, "%s", ann);
    char *slash = strrchr(base, '/');
    if (slash)
        slash[1] = '\0';
    else
        base[0] = '\0';

    ft_face_models *m = NULL;
    ft_nn_ctx *ctx = NULL;
    if (ft_cli_load_detector("evaluate-detection", models, o.kind, false, false, false, &m) !=
        FT_OK) {
        fclose(f);
        return FT_EXIT_INPUT;
    }
    if (ft_nn_ctx_new((int)threads, &ctx) != FT_OK) {
        fclose(f);
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    size_t cap = 1000, n_dets = 0, dets_cap = 1024, n_gt = 0, n_img = 0, n_tp = 0, n_fp = 0;
    size_t n_iou = 0, n_err = 0;
    double iou_sum = 0;
    bool any_points = false;
    ft_face_box *boxes = ft_malloc(sizeof *boxes * cap);
    det_rec *dets = ft_malloc(sizeof *dets * dets_cap);
    ft_buf per;
    ft_buf_init(&per, 0);
    char line[1 << 16];
    int rc = FT_EXIT_OK, lineno = 0;
    while (boxes && dets && fgets(line, sizeof line, f)) {
        lineno++;
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j) {
            if (strspn(line, " \t\r\n") == strlen(line))
                continue;
            ft_cli_errorf("evaluate-detection", "%s:%d: bad JSON: %s", ann, lineno, je.text);
            rc = FT_EXIT_INPUT;
            break;
        }
        const char *img = json_string_value(json_object_get(j, "image"));
        json_t *gtb = json_object_get(j, "boxes"), *gtp = json_object_get(j, "points");
        if (!img || (!json_is_array(gtb) && !json_is_array(gtp))) {
            ft_cli_errorf("evaluate-detection", "%s:%d: needs \"image\" and \"boxes\" or \"points\"",
                          ann, lineno);
            json_decref(j);
            rc = FT_EXIT_INPUT;
            break;
        }
        bool points = !json_is_array(gtb);
        any_points |= points;
        json_t *gt = points ? gtp : gtb;
        size_t g = json_array_size(gt);
        char path[8192];
        snprintf(path, sizeof path, "%s%s", img[0] == '/' ? "" : base, img);
        ft_image im;
        ft_err err = {0};
        ft_image_limits lim = ft_image_limits_default();
        size_t n = 0;
        ft_status st = ft_image_load(path, &lim, &im, &err);
        if (st == FT_OK) {
            st = ft_detect(m, ctx, &im, &o, boxes, cap, &n, NULL, &err);
            ft_image_deinit(&im);
        }
        if (st != FT_OK) {
            ft_cli_errorf("evaluate-detection", "%s: %s", path, ft_err_msg(&err, st));
            n_err++;
            json_decref(j);
            continue;
        }
        if (n > cap)
            n = cap;
        n_img++;
        n_gt += g;
        bool *used = ft_calloc(g ? g : 1, sizeof(bool));
        size_t fp = 0, tp = 0;
        for (size_t k = 0; k < n && used; k++) {
            double db[4] = {boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h};
            double best = -1;
            size_t bi = 0;
            for (size_t q = 0; q < g; q++) {
                if (used[q])
                    continue;
                json_t *e = json_array_get(gt, q);
                double s;
                if (points) {
                    double px = json_number_value(json_array_get(e, 0));
                    double py = json_number_value(json_array_get(e, 1));
                    bool inside = px >= db[0] && px <= db[0] + db[2] && py >= db[1] &&
                                  py <= db[1] + db[3];
                    // Prefer the point nearest the box centre.
                    double dx = px - (db[0] + db[2] / 2), dy = py - (db[1] + db[3] / 2);
                    s = inside ? 1.0 / (1.0 + hypot(dx, dy)) : -1;
                } else {
                    double gb[4];
                    for (int c = 0; c < 4; c++)
                        gb[c] = json_number_value(json_array_get(e, (size_t)c));
                    s = box_iou(db, gb);
                    if (s < iou_thr)
                        s = -1;
                }
                if (s > best) {
                    best = s;
                    bi = q;
                }
            }
            bool hit = best >= 0;
            if (hit) {
                used[bi] = true;
                tp++;
                if (!points) {
                    iou_sum += best;
                    n_iou++;
                }
            } else {
                fp++;
            }
            if (n_dets == dets_cap) {
                det_rec *nd = ft_realloc(dets, sizeof *dets * dets_cap * 2);
                if (!nd)
                    break;
                dets = nd;
                dets_cap *= 2;
            }
            dets[n_dets++] = (det_rec){boxes[k].score, hit};
        }
        ft_free(used);
        n_tp += tp;
        n_fp += fp;
        if (tp < g || fp > 0) {
            ft_buf_puts(&per, per.len ? ", {\"image\": " : "{\"image\": ");
            ft_buf_json_str(&per, img);
            ft_buf_printf(&per,
                          ", \"faces\": %zu, \"detections\": %zu, \"missed\": %zu, "
                          "\"false_positives\": %zu}",
                          g, n, g - tp, fp);
        }
        json_decref(j);
    }
    fclose(f);
    if (rc == FT_EXIT_OK) {
        double ap = average_precision(dets, n_dets, n_gt);
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"annotations\": ");
        ft_buf_json_str(&b, ann);
        ft_buf_printf(&b, ", \"detector\": \"%s\", \"min_score\": ", ft_detector_name(o.kind));
        ft_cli_json_num(&b, o.min_score);
        if (o.kind == FT_DETECTOR_TINY)
            ft_buf_printf(&b, ", \"input_size\": %d", o.input_size);
        ft_buf_puts(&b, ", \"iou\": ");
        ft_cli_json_num(&b, iou_thr);
        ft_buf_printf(&b,
                      ", \"match\": \"%s\", \"images\": %zu, \"unreadable\": %zu, \"faces\": %zu, "
                      "\"detections\": %zu, \"true_positives\": %zu, \"false_positives\": %zu, "
                      "\"missed\": %zu, \"precision\": ",
                      any_points ? "point-in-box" : "iou", n_img, n_err, n_gt, n_tp + n_fp, n_tp,
                      n_fp, n_gt - n_tp);
        ft_cli_json_num(&b, n_tp + n_fp ? (double)n_tp / (double)(n_tp + n_fp) : 0);
        ft_buf_puts(&b, ", \"recall\": ");
        ft_cli_json_num(&b, n_gt ? (double)n_tp / (double)n_gt : 0);
        ft_buf_puts(&b, ", \"average_precision\": ");
        ft_cli_json_num(&b, ap);
        ft_buf_puts(&b, ", \"mean_iou\": ");
        ft_cli_json_num(&b, n_iou ? iou_sum / (double)n_iou : NAN);
        ft_buf_puts(&b, ", \"per_image\": [");
        if (per.len)
            ft_buf_append(&b, per.data, per.len);
        ft_buf_puts(&b, "]}");
        ft_cli_emit(&b);
        ft_buf_deinit(&b);
        if (n_err)
            rc = FT_EXIT_INPUT;
    }
    ft_buf_deinit(&per);
    ft_free(boxes);
    ft_free(dets);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    return rc;
}
