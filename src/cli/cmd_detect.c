// `facetracker detect`: faces in photos, one JSON line per image.
#include "cli/cli.h"

#include "core/clock.h"
#include "core/mem.h"
#include "model/graph.h"
#include "model/h5.h"
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker detect [options] IMAGE...\n"
    "\n"
    "Finds every face in each image (JPEG, PNG, WebP, HEIC, PPM; '-' = stdin) and prints one\n"
    "JSON line per image:\n"
    "  {\"image\": P, \"width\": W, \"height\": H, \"detector\": D,\n"
    "   \"faces\": [{\"box\": [x, y, w, h], \"score\": S, \"keypoints\": [[x, y] x 5] (yunet)}],\n"
    "   \"ms\": {\"decode\": .., \"detect\": ..}}\n"
    "Boxes are in pixels of the orientation-corrected image, best score first.\n"
    "\n"
    "options:\n"
    "  --detector yunet|ssd|tiny  YuNet-s (default: at the image's own size, boxes carry 5\n"
    "                        keypoints), face-api's SSD MobileNetV1 or its tiny detector (fast)\n"
    "  --min-score S         keep faces scoring above S (default 0.5)\n"
    "  --max-faces N         at most N faces per image (default 100)\n"
    "  --input-size N        tiny detector input, a multiple of 32 (default 416)\n"
    "  --draw OUT            write an annotated copy (.jpg/.png); a directory for several images\n"
    "  --threads N           threads per inference (default: all cores)\n"
    "  --max-pixels N        refuse images over N pixels (default 50000000)\n"
    "  --models DIR          folder with the face-api model files\n"
    "  --model MODEL.h5      use a model trained with `facetracker train` instead: it finds at\n"
    "                        most one face, reported when its face score is over --min-score\n";

// A foreign Keras model in the prototype's layout (one H x W x 3 input
// scaled to [0, 1], outputs [face score (1), box (4: x1, y1, x2, y2 as
// fractions)]), run by the graph runner: for models not trained by
// facetracker, e.g. the original prototype's facetracker.h5.
static ft_status keras_predict(const ft_graph *g, const ft_image *im, ft_fm_pred *pr, ft_err *err)
{
    if (g->n_inputs != 1 || g->n_outputs < 2)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "a single-face model has one image input and [score, box] outputs");
    const ft_glayer *in = &g->layers[g->inputs[0].layer];
    int32_t h = in->input_shape[0], w = in->input_shape[1];
    if (in->input_rank != 3 || in->input_shape[2] != 3 || h <= 0 || w <= 0 || h > 4096 || w > 4096)
        return ft_err_set(err, FT_E_UNSUPPORTED, "the model's input is not a fixed-size RGB image");
    ft_gtensor x = {3, {h, w, 3}, ft_malloc(sizeof(float) * (size_t)h * w * 3)}, out[8];
    size_t n_out = g->n_outputs < 8 ? g->n_outputs : 8;
    if (!x.data)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    ft_map m = {h, w, 3, x.data};
    ft_resize_bilinear_u8(im->rgb, im->h, im->w, (size_t)im->w * 3, 3, &m);
    for (size_t i = 0; i < (size_t)h * w * 3; i++)
        x.data[i] /= 255.0f;
    memset(out, 0, sizeof out);
    ft_status st = n_out == g->n_outputs ? ft_graph_run(g, &x, 1, out, n_out, err)
                                         : ft_err_set(err, FT_E_UNSUPPORTED, "too many outputs");
    if (st == FT_OK && (ft_gtensor_count(&out[0]) != 1 || ft_gtensor_count(&out[1]) != 4))
        st = ft_err_set(err, FT_E_UNSUPPORTED, "outputs are not [score (1), box (4)]");
    if (st == FT_OK) {
        pr->score = out[0].data[0];
        memcpy(pr->box, out[1].data, sizeof pr->box);
        pr->id = -1;
        pr->id_prob = 0;
    }
    for (size_t i = 0; i < n_out; i++)
        ft_gtensor_deinit(&out[i]);
    ft_free(x.data);
    return st;
}

int ft_cmd_detect(int argc, char **argv)
{
    ft_detect_opts o = ft_detect_opts_default();
    ft_image_limits lim = ft_image_limits_default();
    const char *draw = NULL, *models = NULL, *trained = NULL;
    long threads = 0, v;
    double d;
    int first = argc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--detector") == 0) {
            const char *k;
            if (!ft_cli_str(argc, argv, &i, &k))
                return FT_EXIT_USAGE;
            if (!ft_detector_parse(k, &o.kind)) {
                ft_cli_errorf("detect", "--detector %s: expected ssd, tiny or yunet", k);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--min-score") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &d))
                return FT_EXIT_USAGE;
            o.min_score = d;
        } else if (strcmp(a, "--max-faces") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100000, &v))
                return FT_EXIT_USAGE;
            o.max_faces = (int32_t)v;
        } else if (strcmp(a, "--input-size") == 0) {
            if (!ft_cli_int(argc, argv, &i, 32, 2048, &v))
                return FT_EXIT_USAGE;
            if (v % 32) {
                ft_cli_errorf("detect", "--input-size %ld: must be a multiple of 32", v);
                return FT_EXIT_USAGE;
            }
            o.input_size = (int32_t)v;
        } else if (strcmp(a, "--draw") == 0) {
            if (!ft_cli_str(argc, argv, &i, &draw))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 256, &threads))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--max-pixels") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 4000000000L, &v))
                return FT_EXIT_USAGE;
            lim.max_pixels = (uint64_t)v;
        } else if (strcmp(a, "--models") == 0) {
            if (!ft_cli_str(argc, argv, &i, &models))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--model") == 0) {
            if (!ft_cli_str(argc, argv, &i, &trained))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            ft_cli_errorf("detect", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else {
            first = i;
            break;
        }
    }
    if (first >= argc) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    for (int i = first; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            ft_cli_errorf("detect", "options go before the images: %s", argv[i]);
            return FT_EXIT_USAGE;
        }

    ft_face_models *m = NULL;
    ft_fmodel *fm = NULL;
    ft_graph *kg = NULL;
    if (trained) {
        ft_err e = {0};
        ft_status s2 = ft_fmodel_load(trained, &fm, &e);
        if (s2 == FT_E_UNSUPPORTED || s2 == FT_E_FORMAT) {
            // Not facetracker's architecture: any Keras model of the
            // prototype's shape runs through the graph runner.
            ft_err e2 = {0};
            if (ft_h5_model_load(trained, NULL, &kg, &e2) == FT_OK)
                s2 = FT_OK;
        }
        if (s2 != FT_OK) {
            ft_cli_errorf("detect", "--model %s: %s", trained, ft_err_msg(&e, s2));
            return FT_EXIT_INPUT;
        }
    } else if (ft_cli_load_detector("detect", models, o.kind, false, false, false, &m) != FT_OK)
        return FT_EXIT_INPUT;
    ft_nn_ctx *ctx = NULL;
    if (ft_nn_ctx_new((int)threads, &ctx) != FT_OK) {
        ft_cli_errorf("detect", "out of memory");
        ft_face_models_free(m);
        return FT_EXIT_INPUT;
    }
    size_t cap = (size_t)(o.max_faces > 0 ? o.max_faces : 1000);
    ft_face_box *boxes = ft_malloc(sizeof *boxes * cap);
    ft_face_kps *kps = ft_calloc(cap, sizeof *kps);
    int rc = FT_EXIT_OK, total_faces = 0;
    ft_progress prog;
    ft_progress_start(&prog, argc - first);
    for (int i = first; i < argc && boxes && kps; i++) {
        const char *path = argv[i];
        ft_err err = {0};
        ft_image im = {0};
        double t0 = ft_now_ms();
        ft_status st = ft_image_load(path, &lim, &im, &err);
        double t1 = ft_now_ms();
        size_t n = 0;
        ft_detect_timing tm;
        if (st == FT_OK && (fm || kg)) {
            ft_fm_pred pr;
            st = fm ? ft_fmodel_predict(fm, &im, &pr, &err) : keras_predict(kg, &im, &pr, &err);
            if (st == FT_OK && pr.score > o.min_score && cap > 0) {
                boxes[0] = (ft_face_box){pr.box[0] * im.w, pr.box[1] * im.h,
                                         (pr.box[2] - pr.box[0]) * im.w,
                                         (pr.box[3] - pr.box[1]) * im.h, pr.score};
                n = 1;
            }
        } else if (st == FT_OK)
            st = ft_detect_kps(m, ctx, &im, &o, boxes, kps, cap, &n, &tm, &err);
        double t2 = ft_now_ms();
        if (st != FT_OK) {
            ft_cli_errorf("detect", "%s", ft_err_msg(&err, st));
            ft_cli_emit_error(path, st, &err);
            rc = FT_EXIT_INPUT;
            ft_image_deinit(&im);
            continue;
        }
        if (n > cap)
            n = cap;
        total_faces += (int)n;
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"image\": ");
        ft_buf_json_str(&b, path);
        ft_buf_printf(&b, ", \"width\": %d, \"height\": %d, ", im.w, im.h);
        if (!fm && !kg) // which detector found these boxes (yunet unless --detector says)
            ft_buf_printf(&b, "\"detector\": \"%s\", ", ft_detector_name(o.kind));
        ft_buf_puts(&b, "\"faces\": [");
        for (size_t k = 0; k < n; k++) {
            ft_buf_puts(&b, k ? ", {\"box\": [" : "{\"box\": [");
            ft_cli_json_num(&b, boxes[k].x);
            ft_buf_puts(&b, ", ");
            ft_cli_json_num(&b, boxes[k].y);
            ft_buf_puts(&b, ", ");
            ft_cli_json_num(&b, boxes[k].w);
            ft_buf_puts(&b, ", ");
            ft_cli_json_num(&b, boxes[k].h);
            ft_buf_puts(&b, "], \"score\": ");
            ft_cli_json_num(&b, boxes[k].score);
            if (!fm && !kg && kps[k].n > 0) {
                ft_buf_puts(&b, ", \"keypoints\": [");
                for (int j = 0; j < kps[k].n; j++) {
                    ft_buf_puts(&b, j ? ", [" : "[");
                    ft_cli_json_num(&b, kps[k].p[j].x);
                    ft_buf_puts(&b, ", ");
                    ft_cli_json_num(&b, kps[k].p[j].y);
                    ft_buf_puts(&b, "]");
                }
                ft_buf_puts(&b, "]");
            }
            ft_buf_puts(&b, "}");
        }
        ft_buf_printf(&b, "], \"ms\": {\"decode\": %.2f, \"detect\": %.2f}}", t1 - t0, t2 - t1);
        ft_cli_emit(&b);
        ft_buf_deinit(&b);
        if (draw) {
            char out[4096];
            ft_cli_draw_path(draw, path, out, sizeof out);
            st = ft_cli_draw(&im, boxes, NULL, NULL, n, out, &err);
            if (st != FT_OK) {
                ft_cli_errorf("detect", "--draw %s: %s", out, ft_err_msg(&err, st));
                rc = FT_EXIT_INPUT;
            }
        }
        ft_image_deinit(&im);
        char extra[64];
        snprintf(extra, sizeof extra, "%d faces", total_faces);
        ft_progress_step(&prog, i - first + 1, extra);
    }
    ft_progress_end(&prog);
    if (!boxes || !kps) {
        ft_cli_errorf("detect", "out of memory");
        rc = FT_EXIT_INPUT;
    }
    ft_free(boxes);
    ft_free(kps);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    ft_fmodel_free(fm);
    ft_graph_free(kg);
    return rc;
}
