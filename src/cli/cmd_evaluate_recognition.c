// `facetracker evaluate-recognition DIR...`: verification accuracy on the
// pairs of each set, the ROC, and open-set identification with strangers,
// on folders in the ../shared/data/recognition_* format.
#include "cli/cli.h"

#include "core/mem.h"
#include "gallery/gallery.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker evaluate-recognition [options] DIR...\n"
    "\n"
    "Each DIR holds a folder per identity, identities.csv (identity,image) and pairs.csv\n"
    "(image_a,image_b,same). Every photo is described: its subject when there are several\n"
    "faces (largest box times closeness to the centre: sets like LFW are portraits), the best candidate\n"
    "above 0.2 when none passes the detector threshold. Several DIRs are evaluated together.\n"
    "\n"
    "Verification (pairs.csv): accuracy at the best threshold and at the stored one,\n"
    "true-accept rate at false-accept 1e-3; pairs whose photo has no face count as errors.\n"
    "Open-set identification: every third identity with >= 2 photos (in name order) and\n"
    "every identity with one photo are strangers; the others enrol their first --enroll\n"
    "photos and probe with the rest. The threshold is calibrated on the enrolled samples\n"
    "(leave one out, false-accept target 0.1%, as `facetracker calibrate` does); reported:\n"
    "rank-1 accuracy, open-set identification rate and stranger false-accept rate.\n"
    "\n"
    "options:\n"
    "  --threshold T         the stored threshold (default: --db's, else the product default 0.5)\n"
    "  --db PATH             gallery whose threshold and margin are the stored ones\n"
    "  --margin M            margin for identification (default: --db's, else 0.05)\n"
    "  --enroll K            photos enrolled per known identity (default 3, at most n-1)\n"
    "  --roc FILE.csv        write the ROC (threshold, far, tar)\n"
    "  --svg FILE.svg        plot the ROC\n"
    "  --pairs-out FILE.csv  write every pair with its distance (empty: a photo without face)\n"
    "  --align-kps           with --align similarity and a detector with five keypoints (yunet):\n"
    "                        fit the chip to the keypoints, skipping the 68-point net\n"
    FT_CLI_FACE_OPTS_HELP;

typedef struct photo {
    char *path;  // full path
    char *key;   // "DIRINDEX:relative path"
    int64_t label;
    bool ok, low;
    float desc[FT_DESCRIPTOR_DIM];
} photo;

typedef struct pair {
    int a, b;
    bool same;
    double d; // NAN when a photo has no face
    int set;
} pair;

static int find_photo(photo *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, key) == 0)
            return (int)i;
    return -1;
}

// Minimal CSV line splitter for the three-column files (no quoting used).
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *s = line;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

typedef struct vstats {
    size_t n, n_same, n_diff, errors_missing;
    double best_acc, best_thr, acc_stored, tar_at_far, tar_thr;
} vstats;

// Verification metrics over pairs (optionally only set `set`, -1 = all).
static void verify_stats(const pair *pr, size_t np, int set, double stored, vstats *v,
                         double **roc_thr, double **roc_far, double **roc_tar, size_t *n_roc)
{
    memset(v, 0, sizeof *v);
    double *cand = ft_malloc(sizeof(double) * (np + 2));
    size_t nc = 0;
    for (size_t i = 0; i < np; i++) {
        if (set >= 0 && pr[i].set != set)
            continue;
        v->n++;
        pr[i].same ? v->n_same++ : v->n_diff++;
        if (isnan(pr[i].d))
            v->errors_missing++;
        else
            cand[nc++] = pr[i].d;
    }
    qsort(cand, nc, sizeof *cand, cmp_double);
    // Thresholds between consecutive distances (accept when d < t).
    size_t nt = nc + 1;
    double *thr = ft_malloc(sizeof(double) * nt);
    for (size_t k = 0; k < nt; k++)
        thr[k] = k == 0 ? 0 : k == nc ? cand[nc - 1] + 1e-6 : (cand[k - 1] + cand[k]) / 2;
    double *far = ft_malloc(sizeof(double) * nt), *tar = ft_malloc(sizeof(double) * nt);
    v->best_acc = -1;
    v->tar_at_far = 0;
    v->tar_thr = 0;
    for (size_t k = 0; k < nt; k++) {
        size_t ta = 0, fa = 0, correct = 0;
        for (size_t i = 0; i < np; i++) {
            if (set >= 0 && pr[i].set != set)
                continue;
            if (isnan(pr[i].d))
                continue; // counted as an error at every threshold
            bool acc = pr[i].d < thr[k];
            ta += pr[i].same && acc;
            fa += !pr[i].same && acc;
            correct += acc == pr[i].same;
        }
        far[k] = v->n_diff ? (double)fa / v->n_diff : 0;
        tar[k] = v->n_same ? (double)ta / v->n_same : 0;
        double accu = v->n ? (double)correct / v->n : 0;
        if (accu > v->best_acc) {
            v->best_acc = accu;
            v->best_thr = thr[k];
        }
        if (far[k] <= 1e-3 && tar[k] >= v->tar_at_far) {
            v->tar_at_far = tar[k];
            v->tar_thr = thr[k];
        }
    }
    size_t correct = 0;
    for (size_t i = 0; i < np; i++) {
        if ((set >= 0 && pr[i].set != set) || isnan(pr[i].d))
            continue;
        correct += (pr[i].d < stored) == pr[i].same;
    }
    v->acc_stored = v->n ? (double)correct / v->n : 0;
    ft_free(cand);
    if (roc_thr) {
        *roc_thr = thr;
        *roc_far = far;
        *roc_tar = tar;
        *n_roc = nt;
    } else {
        ft_free(thr);
        ft_free(far);
        ft_free(tar);
    }
}

static void write_svg(const char *path, const double *far, const double *tar, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        ft_cli_errorf("evaluate-recognition", "cannot write %s", path);
        return;
    }
    // Log-scale FAR from 1e-4 to 1 on x, TAR 0..1 on y.
    const double W = 640, H = 480, L = 70, R = 20, T = 30, B = 60;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%g\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">ROC: true-accept vs "
               "false-accept rate</text>\n", W / 2);
    for (int e = -4; e <= 0; e++) {
        double x = L + (e + 4) / 4.0 * (W - L - R);
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", x, T, x, H - B);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">1e%d</text>\n", x, H - B + 18, e);
    }
    for (int k = 0; k <= 10; k += 2) {
        double y = H - B - k / 10.0 * (H - T - B);
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", L, y, W - R, y);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.1f</text>\n", L - 6, y + 4, k / 10.0);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">false-accept rate (log)</text>\n",
            (L + W - R) / 2, H - 20);
    fprintf(f, "<text x=\"18\" y=\"%g\" transform=\"rotate(-90 18 %g)\" text-anchor=\"middle\">"
               "true-accept rate</text>\n", (T + H - B) / 2, (T + H - B) / 2);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"");
    for (size_t i = 0; i < n; i++) {
        double fr = far[i] < 1e-4 ? 1e-4 : far[i];
        double x = L + (log10(fr) + 4) / 4.0 * (W - L - R);
        double y = H - B - tar[i] * (H - T - B);
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "\"/>\n</svg>\n");
    fclose(f);
}

int ft_cmd_evaluate_recognition(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const char *db = NULL, *roc = NULL, *svg = NULL, *pairs_out = NULL, *dirs[64];
    int n_dirs = 0;
    double stored = -1, margin = -1;
    long enroll_k = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(a, "--threshold") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 10, &stored))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--margin") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 10, &margin))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--enroll") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 100, &enroll_k))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--roc") == 0) {
            if (!ft_cli_str(argc, argv, &i, &roc))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--pairs-out") == 0) {
            if (!ft_cli_str(argc, argv, &i, &pairs_out))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--align-kps") == 0) {
            fo.d.align_kps = true;
        } else if (strcmp(a, "--svg") == 0) {
            if (!ft_cli_str(argc, argv, &i, &svg))
                return FT_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            ft_cli_errorf("evaluate-recognition", "unknown option %s (see --help)", a);
            return FT_EXIT_USAGE;
        } else if (n_dirs < 64) {
            dirs[n_dirs++] = a;
        }
    }
    if (n_dirs == 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    if (db && (stored < 0 || margin < 0)) {
        ft_gallery *g = NULL;
        ft_gallery_opts go = ft_gallery_opts_default();
        go.flags = FT_GALLERY_READONLY | FT_GALLERY_NO_CREATE;
        ft_gallery_policy pol;
        ft_err err = {0};
        if (ft_gallery_open(db, &go, &g, &err) != FT_OK ||
            ft_gallery_policy_load(g, &pol, &err) != FT_OK) {
            ft_cli_errorf("evaluate-recognition", "--db %s: %s", db, err.msg);
            ft_gallery_close(g);
            return FT_EXIT_INPUT;
        }
        if (stored < 0)
            stored = pol.threshold;
        if (margin < 0)
            margin = pol.margin;
        ft_gallery_close(g);
    }
    if (stored < 0)
        stored = FT_GALLERY_DEFAULT_THRESHOLD;
    if (margin < 0)
        margin = FT_GALLERY_DEFAULT_MARGIN;

    // ---- Read the sets ----
    size_t np = 0, cap = 256, npr = 0, cap_pr = 1024;
    photo *ph = ft_calloc(cap, sizeof *ph);
    pair *pr = ft_calloc(cap_pr, sizeof *pr);
    int64_t next_label = 1;
    char line[8192];
    int rc = FT_EXIT_OK;
    for (int s = 0; s < n_dirs && rc == FT_EXIT_OK; s++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/identities.csv", dirs[s]);
        FILE *f = fopen(p, "r");
        if (!f) {
            ft_cli_errorf("evaluate-recognition", "cannot open %s", p);
            rc = FT_EXIT_INPUT;
            break;
        }
        char prev[512] = "";
        int64_t label = 0;
        bool header = true;
        while (fgets(line, sizeof line, f)) {
            char *fl[3];
            if (split_csv(line, fl, 3) < 2 || !fl[0][0])
                continue;
            if (header) {
                header = false;
                if (strcmp(fl[0], "identity") == 0)
                    continue;
            }
            if (strcmp(prev, fl[0]) != 0) {
                snprintf(prev, sizeof prev, "%s", fl[0]);
                label = next_label++;
            }
            if (np == cap) {
                cap *= 2;
                ph = ft_realloc(ph, cap * sizeof *ph);
            }
            memset(&ph[np], 0, sizeof ph[np]);
            char full[8192], key[8192];
            snprintf(full, sizeof full, "%s/%s", dirs[s], fl[1]);
            snprintf(key, sizeof key, "%d:%s", s, fl[1]);
            ph[np].path = ft_strdup(full);
            ph[np].key = ft_strdup(key);
            ph[np].label = label;
            np++;
        }
        fclose(f);
        snprintf(p, sizeof p, "%s/pairs.csv", dirs[s]);
        f = fopen(p, "r");
        if (!f) {
            ft_cli_errorf("evaluate-recognition", "cannot open %s", p);
            rc = FT_EXIT_INPUT;
            break;
        }
        header = true;
        while (fgets(line, sizeof line, f)) {
            char *fl[3];
            if (split_csv(line, fl, 3) < 3)
                continue;
            if (header) {
                header = false;
                if (strcmp(fl[0], "image_a") == 0)
                    continue;
            }
            char ka[8192], kb[8192];
            snprintf(ka, sizeof ka, "%d:%s", s, fl[0]);
            snprintf(kb, sizeof kb, "%d:%s", s, fl[1]);
            int ia = find_photo(ph, np, ka), ib = find_photo(ph, np, kb);
            if (ia < 0 || ib < 0) {
                ft_cli_errorf("evaluate-recognition", "%s: pair names a photo not in identities.csv: %s",
                              p, ia < 0 ? fl[0] : fl[1]);
                rc = FT_EXIT_INPUT;
                break;
            }
            if (npr == cap_pr) {
                cap_pr *= 2;
                pr = ft_realloc(pr, cap_pr * sizeof *pr);
            }
            pr[npr++] = (pair){ia, ib, atoi(fl[2]) == 1, NAN, s};
        }
        fclose(f);
    }

    // ---- Describe every photo ----
    ft_face_models *m = NULL;
    ft_nn_ctx *ctx = NULL;
    size_t n_failed = 0, n_low = 0;
    if (rc == FT_EXIT_OK && ft_cli_face_setup("evaluate-recognition", &fo, &m, &ctx) != FT_OK)
        rc = FT_EXIT_INPUT;
    ft_progress prog;
    ft_progress_start(&prog, (int)np);
    for (size_t i = 0; i < np && rc == FT_EXIT_OK; i++) {
        ft_image_limits lim = ft_image_limits_default();
        ft_image im;
        ft_err err = {0};
        ft_face face;
        ft_status st = ft_image_load(ph[i].path, &lim, &im, &err);
        if (st == FT_OK) {
            st = ft_face_single(m, ctx, &im, &fo.d, FT_SINGLE_FACE_FLOOR, true, &face, &ph[i].low, &err);
            ft_image_deinit(&im);
        }
        if (st == FT_OK) {
            ph[i].ok = true;
            memcpy(ph[i].desc, face.descriptor, sizeof face.descriptor);
            n_low += ph[i].low;
        } else {
            n_failed++;
            fprintf(stderr, "facetracker evaluate-recognition: %s: %s\n", ph[i].path,
                    ft_err_msg(&err, st));
        }
        char extra[64];
        snprintf(extra, sizeof extra, "%zu without a face", n_failed);
        ft_progress_step(&prog, (int)i + 1, extra);
    }
    ft_progress_end(&prog);
    for (size_t i = 0; i < npr; i++)
        if (ph[pr[i].a].ok && ph[pr[i].b].ok)
            pr[i].d = ft_descriptor_distance(ph[pr[i].a].desc, ph[pr[i].b].desc);

    if (rc == FT_EXIT_OK && pairs_out) {
        FILE *f = fopen(pairs_out, "w");
        if (f) {
            fprintf(f, "image_a,image_b,same,distance\n");
            for (size_t i = 0; i < npr; i++) {
                fprintf(f, "%s,%s,%d,", ph[pr[i].a].path, ph[pr[i].b].path, pr[i].same);
                if (!isnan(pr[i].d))
                    fprintf(f, "%.6f", pr[i].d);
                fputc('\n', f);
            }
            fclose(f);
        } else {
            ft_cli_errorf("evaluate-recognition", "cannot write %s", pairs_out);
        }
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    if (rc == FT_EXIT_OK) {
        ft_buf_printf(&b, "{\"align\": \"%s\", \"align_kps\": %s, \"detector\": \"%s\", "
                          "\"photos\": %zu, \"photos_without_face\": %zu, "
                          "\"photos_below_threshold\": %zu, \"sets\": [",
                      ft_align_name(fo.d.align), fo.d.align_kps ? "true" : "false",
                      fo.d.detect.kind == FT_DETECTOR_TINY    ? "tiny"
                      : fo.d.detect.kind == FT_DETECTOR_YUNET ? "yunet"
                                                              : "ssd",
                      np, n_failed, n_low);
        for (int s = 0; s < n_dirs; s++) {
            vstats v;
            verify_stats(pr, npr, s, stored, &v, NULL, NULL, NULL, NULL);
            ft_buf_puts(&b, s ? ", {\"dir\": " : "{\"dir\": ");
            ft_buf_json_str(&b, dirs[s]);
            ft_buf_printf(&b, ", \"pairs\": %zu, \"pairs_missing_face\": %zu, \"accuracy_best\": %.4f, "
                              "\"best_threshold\": %.4f, \"accuracy_stored\": %.4f}",
                          v.n, v.errors_missing, v.best_acc, v.best_thr, v.acc_stored);
        }
        vstats v;
        double *rt = NULL, *rf = NULL, *rtar = NULL;
        size_t nr = 0;
        verify_stats(pr, npr, -1, stored, &v, &rt, &rf, &rtar, &nr);
        ft_buf_printf(&b, "], \"verification\": {\"pairs\": %zu, \"same\": %zu, \"different\": %zu, "
                          "\"pairs_missing_face\": %zu, \"accuracy_best\": %.4f, \"best_threshold\": "
                          "%.4f, \"stored_threshold\": %.4f, \"accuracy_stored\": %.4f, "
                          "\"tar_at_far_1e-3\": %.4f, \"far_resolution\": %.2g}",
                      v.n, v.n_same, v.n_diff, v.errors_missing, v.best_acc, v.best_thr, stored,
                      v.acc_stored, v.tar_at_far, v.n_diff ? 1.0 / v.n_diff : NAN);
        if (roc) {
            FILE *f = fopen(roc, "w");
            if (f) {
                fprintf(f, "threshold,far,tar\n");
                for (size_t k = 0; k < nr; k++)
                    fprintf(f, "%.6f,%.6f,%.6f\n", rt[k], rf[k], rtar[k]);
                fclose(f);
            } else {
                ft_cli_errorf("evaluate-recognition", "cannot write %s", roc);
            }
        }
        if (svg)
            write_svg(svg, rf, rtar, nr);
        ft_free(rt);
        ft_free(rf);
        ft_free(rtar);

        // ---- Open-set identification ----
        // Identities in label order; photos of one label are contiguous.
        size_t n_enr = 0, n_known = 0, n_str = 0, rank1 = 0, ident = 0, str_fa = 0, id_idx = 0;
        float *edesc = ft_malloc(sizeof(float) * FT_DESCRIPTOR_DIM * (np ? np : 1));
        int64_t *elab = ft_malloc(sizeof(int64_t) * (np ? np : 1));
        char *role = ft_calloc(np ? np : 1, 1); // 'e' enrolled, 'k' known probe, 's' stranger
        for (size_t i = 0; i < np;) {
            size_t j = i;
            while (j < np && ph[j].label == ph[i].label)
                j++;
            size_t cnt = j - i;
            bool stranger = cnt < 2 || id_idx % 3 == 2;
            if (cnt >= 2)
                id_idx++;
            size_t k_enr = (size_t)enroll_k < cnt - 1 ? (size_t)enroll_k : cnt - 1;
            size_t taken = 0;
            for (size_t q = i; q < j; q++) {
                if (stranger)
                    role[q] = 's';
                else if (taken < k_enr && ph[q].ok) {
                    role[q] = 'e';
                    memcpy(edesc + n_enr * FT_DESCRIPTOR_DIM, ph[q].desc, sizeof ph[q].desc);
                    elab[n_enr++] = ph[q].label;
                    taken++;
                } else
                    role[q] = 'k';
            }
            i = j;
        }
        ft_calib_result cr = {0};
        ft_calib_opts co = ft_calib_opts_default();
        ft_err err = {0};
        double cal_thr = NAN;
        const char *cal_rule = "target FAR 0.1%";
        if (ft_calibrate(edesc, elab, n_enr, &co, &cr, &err) == FT_OK) {
            cal_thr = cr.threshold;
            if (isnan(cal_thr)) {
                // Fewer impostor trials than 1/target: 0.1 % is below the
                // resolution, so take the largest grid threshold with no
                // false accept at all (FAR 0 at resolution 1/n_impostor).
                for (size_t q = 0; q < cr.n_rows; q++)
                    if (cr.rows[q].far == 0)
                        cal_thr = cr.rows[q].threshold;
                cal_rule = "no false accept (FAR 0.1% is below the resolution)";
            }
        }
        ft_match_matrix *mm = NULL;
        if (n_enr && ft_match_matrix_new(edesc, elab, NULL, n_enr, &mm, &err) == FT_OK) {
            double use_thr = isnan(cal_thr) ? stored : cal_thr;
            for (size_t q = 0; q < np; q++) {
                if (role[q] != 'k' && role[q] != 's')
                    continue;
                ft_match_result r;
                bool has = ph[q].ok && ft_match(mm, ph[q].desc, use_thr, margin, &r, &err) == FT_OK;
                if (role[q] == 'k') {
                    n_known++;
                    if (has && r.person_id == ph[q].label) {
                        rank1++;
                        ident += r.status == FT_MATCH_KNOWN;
                    }
                } else {
                    n_str++;
                    str_fa += has && r.status == FT_MATCH_KNOWN;
                }
            }
            ft_buf_printf(&b, ", \"identification\": {\"enrolled_samples\": %zu, \"enrolled_people\": "
                              "%zu, \"known_probes\": %zu, \"stranger_probes\": %zu, "
                              "\"calibrated_threshold\": ",
                          n_enr, ft_match_matrix_people(mm), n_known, n_str);
            ft_cli_json_num(&b, cal_thr);
            ft_buf_puts(&b, ", \"calibration_rule\": ");
            ft_buf_json_str(&b, cal_rule);
            ft_buf_printf(&b, ", \"impostor_trials\": %zu", cr.n_impostor);
            ft_buf_printf(&b, ", \"threshold_used\": %.4f, \"margin\": %.4f, \"rank1_accuracy\": %.4f, "
                              "\"open_set_identification_rate\": %.4f, \"stranger_false_accept\": %.4f, "
                              "\"stranger_false_accepts\": %zu}",
                          use_thr, margin, n_known ? (double)rank1 / n_known : 0,
                          n_known ? (double)ident / n_known : 0, n_str ? (double)str_fa / n_str : 0,
                          str_fa);
        }
        ft_match_matrix_free(mm);
        ft_calib_result_deinit(&cr);
        ft_free(edesc);
        ft_free(elab);
        ft_free(role);
        ft_buf_puts(&b, "}");
        ft_cli_emit(&b);
    }
    ft_buf_deinit(&b);
    for (size_t i = 0; i < np; i++) {
        ft_free(ph[i].path);
        ft_free(ph[i].key);
    }
    ft_free(ph);
    ft_free(pr);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    return rc;
}
