// `facetracker evaluate-recognition DIR...`: verification accuracy on the
// pairs of each set, the ROC, and open-set identification with strangers,
// on folders in the ../shared/data/recognition_* format.
#include "cli/cli.h"

#include "access/access.h"
#include "access/openset.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "face/faceres.h"
#include "gallery/gallery.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker evaluate-recognition [options] DIR...\n"
    "\n"
    "Each DIR holds a folder per identity, identities.csv (identity,image) and pairs.csv\n"
    "(image_a,image_b,same). Every photo is described: its subject when there are several\n"
    "candidates (ft_face_pick_subject over those scoring above 0.2: score first, then score x\n"
    "box area x closeness to the centre; sets like LFW are portraits). Several DIRs are\n"
    "evaluated together.\n"
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
    "  --threshold T         the stored threshold (default: --db's, else the space's shipped one:\n"
    "                        resnet128 0.5, faceres 0.37, fused 1.0)\n"
    "  --db PATH             gallery whose threshold and margin are the stored ones\n"
    "  --margin M            margin for identification (default: --db's, else 0.05; faceres 0.04)\n"
    "  --enroll K            photos enrolled per known identity (default 3, at most n-1)\n"
    "  --roc FILE.csv        write the ROC (threshold, far, tar)\n"
    "  --svg FILE.svg        plot the ROC\n"
    "  --pairs-out FILE.csv  write every pair with its distance (empty: a photo without face)\n"
    "  --align-kps           with --align similarity and a detector with five keypoints (yunet):\n"
    "                        fit the chip to the keypoints, skipping the 68-point net\n"
    "  --descriptor S        the space the reports above use: resnet128 (face-api's 128-d,\n"
    "                        Euclidean; default), faceres (1024-d, cosine) or fused\n"
    "  --fuse-weight W       fused = W*d_resnet/0.5 + (1-W)*d_faceres/0.4 (default 0.5)\n"
    "  --fuse-study LIST     weights studied by leave-one-set-out (default 0.3,0.4,0.5,0.6,0.7)\n"
    "  --faceres PATH        faceres.json or its folder (default $FT_FACERES_MODEL, else\n"
    "                        .cache/human-3.3.6)\n"
    "  --cache FILE          descriptor cache (created; keyed by photo SHA-256, space,\n"
    "                        alignment, detector and subject rule; not by the code's version:\n"
    "                        delete it when the detector or a network changes)\n"
    "  --grey                a study: every photo converted to luma (BT.601) before anything\n"
    "  --fr-scale S          a study: faceres crops the box scaled S (default 1.4, its own)\n"
    "  --fr-flip             a study: faceres descriptor = mean of the photo's and its mirror's\n"
    "  --desc-out FILE       write every photo's descriptors (CSV: set,label,path,ok,space,values)\n"
    "\n"
    "Leave-one-set-out (with several DIRs): for every space and fusion weight, each set is\n"
    "scored at the threshold that is best on all the OTHER sets' pairs; reported per set and\n"
    "pooled, next to the in-sample best. \"strangers\": the open-set protocol for resnet128\n"
    "alone, faceres alone and both spaces agreeing, each with and without per-person\n"
    "thresholds (the product's rules, access/openset.h):\n"
    "one gallery over all sets at the thresholds chosen on all sets, and each set as its own\n"
    "site at the thresholds chosen on the other sets (enrolled photos need both spaces).\n"
    FT_CLI_FACE_OPTS_HELP;

typedef struct photo {
    char *path;  // full path
    char *key;   // "DIRINDEX:relative path"
    int64_t label;
    int set;
    bool ok, low, fr_ok;
    float desc[FT_DESCRIPTOR_DIM];
    float fr[FT_FACERES_DIM];
} photo;

// ---- Descriptor spaces ----

typedef enum space_kind { SP_RESNET, SP_FACERES, SP_FUSED } space_kind;

typedef struct space {
    space_kind kind;
    double w; // SP_FUSED: the ResNet's weight
} space;

// Fixed scales of the fusion (round numbers near each space's threshold,
// set before the study, not fitted): the two distances enter on a
// comparable scale and W alone sets their mix.
#define FUSE_SCALE_RESNET 0.5
#define FUSE_SCALE_FACERES 0.4

static const char *space_name(space_kind k)
{
    return k == SP_RESNET ? "resnet128" : k == SP_FACERES ? "faceres" : "fused";
}

static bool space_ok(const photo *p, space sp)
{
    return sp.kind == SP_RESNET ? p->ok : sp.kind == SP_FACERES ? p->fr_ok : p->ok && p->fr_ok;
}

// Distance in a space; NAN when a photo has no descriptor there.
static double space_dist(const photo *a, const photo *b, space sp)
{
    if (!space_ok(a, sp) || !space_ok(b, sp))
        return NAN;
    if (sp.kind == SP_RESNET)
        return ft_descriptor_distance(a->desc, b->desc);
    if (sp.kind == SP_FACERES)
        return ft_faceres_distance(a->fr, b->fr);
    return sp.w * ft_descriptor_distance(a->desc, b->desc) / FUSE_SCALE_RESNET +
           (1 - sp.w) * ft_faceres_distance(a->fr, b->fr) / FUSE_SCALE_FACERES;
}

// ---- Descriptor cache ----
// A text file, one line per photo and space:
//   SHA256 KEY OK LOW DIM v1 ... vDIM
// KEY = space/alignment/detector@min_score/subject-rule (no spaces). A
// photo without a face is stored with OK 0 and DIM 0, so it is not tried
// again. Lines are appended; a later line wins.

#define SUBJECT_RULE "subject3"

typedef struct centry {
    char sha[65];
    char *key;
    bool ok, low;
    float *v;
    size_t dim;
} centry;

typedef struct cache {
    centry *e;
    size_t n, cap;
    FILE *out;
} cache;

static void cache_load(cache *c, const char *path)
{
    memset(c, 0, sizeof *c);
    if (!path)
        return;
    FILE *f = fopen(path, "r");
    if (f) {
        size_t lcap = 1 << 16;
        char *line = ft_malloc(lcap);
        size_t len = 0;
        int ch;
        for (;;) {
            len = 0;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
                if (len + 1 >= lcap)
                    line = ft_realloc(line, lcap *= 2);
                line[len++] = (char)ch;
            }
            line[len] = '\0';
            if (len == 0 && ch == EOF)
                break;
            char sha[65], key[256];
            int ok, low, off = 0;
            size_t dim;
            if (sscanf(line, "%64s %255s %d %d %zu %n", sha, key, &ok, &low, &dim, &off) != 5 ||
                dim > FT_FACERES_DIM || strlen(sha) != 64)
                continue;
            float *v = dim ? ft_malloc(dim * sizeof *v) : NULL;
            char *p = line + off, *end;
            size_t k = 0;
            for (; k < dim; k++, p = end) {
                v[k] = strtof(p, &end);
                if (end == p)
                    break;
            }
            if (k < dim) {
                ft_free(v);
                continue; // a truncated line (interrupted run)
            }
            if (c->n == c->cap)
                c->e = ft_realloc(c->e, (c->cap = c->cap ? 2 * c->cap : 256) * sizeof *c->e);
            centry *e = &c->e[c->n++];
            memcpy(e->sha, sha, 65);
            e->key = ft_strdup(key);
            e->ok = ok != 0;
            e->low = low != 0;
            e->v = v;
            e->dim = dim;
        }
        ft_free(line);
        fclose(f);
    }
    c->out = fopen(path, "a");
}

static const centry *cache_get(const cache *c, const char *sha, const char *key, size_t dim)
{
    for (size_t i = c->n; i-- > 0;)
        if (strcmp(c->e[i].sha, sha) == 0 && strcmp(c->e[i].key, key) == 0 &&
            (!c->e[i].ok || c->e[i].dim == dim))
            return &c->e[i];
    return NULL;
}

static void cache_put(cache *c, const char *sha, const char *key, bool ok, bool low,
                      const float *v, size_t dim)
{
    if (!c->out)
        return;
    fprintf(c->out, "%s %s %d %d %zu", sha, key, ok, low, ok ? dim : 0);
    for (size_t k = 0; ok && k < dim; k++)
        fprintf(c->out, " %.9g", v[k]);
    fputc('\n', c->out);
    fflush(c->out);
}

static void cache_free(cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        ft_free(c->e[i].key);
        ft_free(c->e[i].v);
    }
    ft_free(c->e);
    if (c->out)
        fclose(c->out);
}

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

// Pair selection: set >= 0 only that set, -1 all, -(s + 2) all but set s.
static bool in_sel(const pair *p, int set)
{
    return set == -1 || (set >= 0 ? p->set == set : p->set != -(set + 2));
}

// Verification metrics over pairs (optionally only set `set`, -1 = all).
// The best threshold is the middle of the first run of grid thresholds
// that reach the best accuracy (a plateau's middle, not its lower edge,
// so a threshold chosen on some sets is not biased toward rejecting).
static void verify_stats(const pair *pr, size_t np, int set, double stored, vstats *v,
                         double **roc_thr, double **roc_far, double **roc_tar, size_t *n_roc)
{
    memset(v, 0, sizeof *v);
    double *cand = ft_malloc(sizeof(double) * (np + 2));
    size_t nc = 0;
    for (size_t i = 0; i < np; i++) {
        if (!in_sel(&pr[i], set))
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
    size_t run_lo = 0, run_hi = 0;
    bool in_run = false;
    for (size_t k = 0; k < nt; k++) {
        size_t ta = 0, fa = 0, correct = 0;
        for (size_t i = 0; i < np; i++) {
            if (!in_sel(&pr[i], set))
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
            run_lo = run_hi = k;
            in_run = true;
        } else if (accu == v->best_acc && in_run) {
            run_hi = k;
        } else {
            in_run = false;
        }
        if (far[k] <= 1e-3 && tar[k] >= v->tar_at_far) {
            v->tar_at_far = tar[k];
            v->tar_thr = thr[k];
        }
    }
    v->best_thr = nt ? (thr[run_lo] + thr[run_hi]) / 2 : 0;
    size_t correct = 0;
    for (size_t i = 0; i < np; i++) {
        if (!in_sel(&pr[i], set) || isnan(pr[i].d))
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

// ---- Open-set agreement study ----

// Roles of the open-set protocol (see usage): 'e' enrolled, 'k' known
// probe, 's' stranger. With per_set, the "every third identity" counter
// runs per set (each set is its own site); else over all sets at once.
static void openset_roles(const photo *ph, size_t np, long enroll_k, bool per_set, char *role)
{
    size_t id_idx[64] = {0};
    for (size_t i = 0; i < np;) {
        size_t j = i;
        while (j < np && ph[j].label == ph[i].label)
            j++;
        size_t cnt = j - i, *c = &id_idx[per_set ? ph[i].set : 0];
        bool stranger = cnt < 2 || *c % 3 == 2;
        if (cnt >= 2)
            (*c)++;
        size_t k_enr = (size_t)enroll_k < cnt - 1 ? (size_t)enroll_k : cnt - 1, taken = 0;
        for (size_t q = i; q < j; q++) {
            if (stranger)
                role[q] = 's';
            else if (taken < k_enr && ph[q].ok && ph[q].fr_ok) {
                role[q] = 'e';
                taken++;
            } else
                role[q] = 'k';
        }
        i = j;
    }
}

// ft_match's answer by brute force over the enrolled photos of `set`
// (-1 = all) in one space: nearest person, next other person.
static ft_match_result nearest(const photo *ph, size_t np, const char *role, int set, size_t q,
                               space sp)
{
    ft_match_result r = {FT_MATCH_UNKNOWN, 0, 0, INFINITY, 0, INFINITY, INFINITY};
    // Per person minimum: photos of one label are contiguous.
    for (size_t i = 0; i < np;) {
        size_t j = i;
        double best = INFINITY;
        while (j < np && ph[j].label == ph[i].label) {
            if (role[j] == 'e' && (set < 0 || ph[j].set == set)) {
                double d = space_dist(&ph[q], &ph[j], sp);
                if (d < best)
                    best = d;
            }
            j++;
        }
        if (best < r.distance) {
            r.second_person_id = r.person_id;
            r.second_distance = r.distance;
            r.person_id = ph[i].label;
            r.distance = best;
        } else if (best < r.second_distance) {
            r.second_person_id = ph[i].label;
            r.second_distance = best;
        }
        i = j;
    }
    r.margin = r.second_distance - r.distance;
    return r;
}

typedef struct oscount {
    size_t known, ident, strangers, accepted;
} oscount;

// One gallery (set, or -1 for all) under `rules`: spaces = 1 resnet128
// alone, 2 faceres alone, 3 both must agree (ft_openset_decide); with
// per_person, each space's per-person thresholds
// (ft_openset_person_thresholds over the gallery's enrolled photos).
static oscount openset_run(const photo *ph, size_t np, const char *role, int set, int spaces,
                           bool per_person, const ft_openset_rule rules[2])
{
    oscount c = {0, 0, 0, 0};
    space sps[2] = {{SP_RESNET, 0}, {SP_FACERES, 0}};
    ft_openset_person *tab[2] = {NULL, NULL};
    size_t ntab[2] = {0, 0};
    if (per_person) {
        float *rows = ft_malloc(sizeof(float) * FT_FACERES_DIM * (np ? np : 1));
        int64_t *ids = ft_malloc(sizeof(int64_t) * (np ? np : 1));
        for (int s = 0; s < 2; s++) {
            size_t n = 0, dim = s ? FT_FACERES_DIM : FT_DESCRIPTOR_DIM;
            for (size_t i = 0; i < np; i++)
                if (role[i] == 'e' && (set < 0 || ph[i].set == set)) {
                    memcpy(rows + n * dim, s ? ph[i].fr : ph[i].desc, dim * sizeof(float));
                    ids[n++] = ph[i].label;
                }
            ft_err err = {0};
            if (ft_openset_person_thresholds(rows, dim, s ? FT_METRIC_COSINE : FT_METRIC_EUCLIDEAN,
                                             ids, n, rules[s].threshold, rules[s].alpha,
                                             &tab[s], &ntab[s], &err) != FT_OK)
                tab[s] = NULL, ntab[s] = 0; // no table: the rule's threshold
        }
        ft_free(rows);
        ft_free(ids);
    }
    for (size_t q = 0; q < np; q++) {
        if ((set >= 0 && ph[q].set != set) || role[q] == 'e')
            continue;
        ft_openset_result o = {FT_OPENSET_UNKNOWN, 0, 0};
        if (ph[q].ok && ph[q].fr_ok) {
            ft_match_result r[2];
            double tp[2];
            for (int s = 0; s < 2; s++) {
                r[s] = nearest(ph, np, role, set, q, sps[s]);
                tp[s] = ft_openset_person_threshold(tab[s], ntab[s], r[s].person_id,
                                                    rules[s].threshold);
            }
            if (spaces == 3)
                ft_openset_decide(r, rules, tp, 2, &o);
            else
                ft_openset_decide(&r[spaces - 1], &rules[spaces - 1], &tp[spaces - 1], 1, &o);
        }
        bool granted = o.status == FT_OPENSET_GRANTED;
        if (role[q] == 'k') {
            c.known++;
            c.ident += granted && o.person_id == ph[q].label;
        } else {
            c.strangers++;
            c.accepted += granted;
        }
    }
    ft_free(tab[0]);
    ft_free(tab[1]);
    return c;
}

static void openset_json(ft_buf *b, oscount c)
{
    ft_buf_printf(b, "\"known_probes\": %zu, \"identified\": %zu, \"open_set_identification_rate\": "
                     "%.4f, \"stranger_probes\": %zu, \"strangers_accepted\": %zu, "
                     "\"stranger_false_accept\": %.4f",
                  c.known, c.ident, c.known ? (double)c.ident / c.known : 0, c.strangers,
                  c.accepted, c.strangers ? (double)c.accepted / c.strangers : 0);
}

// ---- Leave-one-set-out ----

// For one space: the in-sample best threshold over all pairs, then for
// every set the threshold that is best on all the other sets' pairs and
// the accuracy it gives on that set; pooled = all sets' correct pairs
// over all pairs. Appends a JSON object to b and returns the pooled
// leave-one-set-out accuracy.
static double loso_study(const photo *ph, pair *pr, size_t npr, int n_dirs, const char **dirs,
                         space sp, ft_buf *b, double *t_all, double *t_loso)
{
    for (size_t i = 0; i < npr; i++)
        pr[i].d = space_dist(&ph[pr[i].a], &ph[pr[i].b], sp);
    vstats all;
    verify_stats(pr, npr, -1, 0, &all, NULL, NULL, NULL, NULL);
    *t_all = all.best_thr;
    ft_buf_printf(b, "{\"space\": \"%s\"", space_name(sp.kind));
    if (sp.kind == SP_FUSED)
        ft_buf_printf(b, ", \"weight_resnet128\": %.2f", sp.w);
    ft_buf_printf(b, ", \"in_sample\": {\"accuracy\": %.4f, \"threshold\": %.4f}, \"sets\": [",
                  all.best_acc, all.best_thr);
    size_t correct = 0, total = 0;
    for (int s = 0; s < n_dirs; s++) {
        vstats others, own, here;
        verify_stats(pr, npr, -(s + 2), 0, &others, NULL, NULL, NULL, NULL);
        verify_stats(pr, npr, s, 0, &own, NULL, NULL, NULL, NULL);
        verify_stats(pr, npr, s, others.best_thr, &here, NULL, NULL, NULL, NULL);
        t_loso[s] = others.best_thr;
        size_t c = (size_t)llround(here.acc_stored * (double)here.n);
        correct += c;
        total += here.n;
        ft_buf_puts(b, s ? ", {\"dir\": " : "{\"dir\": ");
        ft_buf_json_str(b, dirs[s]);
        ft_buf_printf(b, ", \"pairs\": %zu, \"threshold_from_others\": %.4f, \"accuracy\": %.4f, "
                         "\"errors\": %zu, \"own_best_threshold\": %.4f, \"own_best_accuracy\": %.4f}",
                      here.n, others.best_thr, here.acc_stored, here.n - c, own.best_thr,
                      own.best_acc);
    }
    double pooled = total ? (double)correct / (double)total : 0;
    ft_buf_printf(b, "], \"loso_pooled\": %.4f, \"loso_errors\": %zu}", pooled, total - correct);
    return pooled;
}

int ft_cmd_evaluate_recognition(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const char *db = NULL, *roc = NULL, *svg = NULL, *pairs_out = NULL, *dirs[64];
    const char *cache_path = NULL, *desc_out = NULL, *fr_path = NULL;
    const char *fuse_study = "0.3,0.4,0.5,0.6,0.7";
    space primary = {SP_RESNET, 0.5};
    bool grey = false, fr_flip = false;
    double fr_scale = FT_FACERES_SCALE;
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
        } else if (strcmp(a, "--descriptor") == 0) {
            const char *v;
            if (!ft_cli_str(argc, argv, &i, &v))
                return FT_EXIT_USAGE;
            if (strcmp(v, "resnet128") == 0)
                primary.kind = SP_RESNET;
            else if (strcmp(v, "faceres") == 0)
                primary.kind = SP_FACERES;
            else if (strcmp(v, "fused") == 0)
                primary.kind = SP_FUSED;
            else {
                ft_cli_errorf("evaluate-recognition",
                              "--descriptor %s: expected resnet128, faceres or fused", v);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--fuse-weight") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0, 1, &primary.w))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--fuse-study") == 0) {
            if (!ft_cli_str(argc, argv, &i, &fuse_study))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--faceres") == 0) {
            if (!ft_cli_str(argc, argv, &i, &fr_path))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--cache") == 0) {
            if (!ft_cli_str(argc, argv, &i, &cache_path))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--grey") == 0) {
            grey = true;
        } else if (strcmp(a, "--fr-flip") == 0) {
            fr_flip = true;
        } else if (strcmp(a, "--fr-scale") == 0) {
            if (!ft_cli_double(argc, argv, &i, 0.5, 3, &fr_scale))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--desc-out") == 0) {
            if (!ft_cli_str(argc, argv, &i, &desc_out))
                return FT_EXIT_USAGE;
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
        // The stored threshold and margin of the primary space (a fusion
        // has none of its own: the ResNet's, as before).
        if (ft_gallery_open(db, &go, &g, &err) != FT_OK ||
            ft_access_policy_load(g,
                                  ft_descriptor_net_find(primary.kind == SP_FACERES ? "faceres"
                                                                                    : "resnet128"),
                                  &pol, &err) != FT_OK) {
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
    // Without --threshold/--db: the primary space's shipped rule
    // (access/openset.h); a fusion has none (its scale is ~1 at the
    // threshold, so 1.0 stands in).
    ft_openset_rule shipped = {FT_GALLERY_DEFAULT_THRESHOLD, FT_GALLERY_DEFAULT_MARGIN, 0};
    if (primary.kind == SP_FACERES)
        ft_openset_rule_default("faceres", &shipped);
    else if (primary.kind == SP_FUSED)
        shipped.threshold = 1.0;
    if (stored < 0)
        stored = shipped.threshold;
    if (margin < 0)
        margin = shipped.margin;

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
            ph[np].set = s;
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

    // ---- Describe every photo (through the cache) ----
    ft_face_models *m = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_faceres *frnet = NULL;
    size_t n_failed = 0, n_low = 0, n_cached = 0;
    char det_key[64], k128[256], kfr[256];
    snprintf(det_key, sizeof det_key, "%s@%.2f",
             fo.d.detect.kind == FT_DETECTOR_TINY    ? "tiny"
             : fo.d.detect.kind == FT_DETECTOR_YUNET ? "yunet"
                                                     : "ssd",
             fo.d.detect.min_score);
    snprintf(k128, sizeof k128, "resnet128/%s%s/%s/" SUBJECT_RULE "%s", ft_align_name(fo.d.align),
             fo.d.align_kps ? "+kps" : "", det_key, grey ? "/grey" : "");
    char fr_var[64] = "";
    if (fr_scale != FT_FACERES_SCALE || fr_flip)
        snprintf(fr_var, sizeof fr_var, "/s%.2f%s", fr_scale, fr_flip ? "+flip" : "");
    snprintf(kfr, sizeof kfr, "faceres/%s%s/%s/" SUBJECT_RULE "%s%s", ft_align_name(fo.d.align),
             fo.d.align_kps ? "+kps" : "", det_key, grey ? "/grey" : "", fr_var);
    cache dc;
    cache_load(&dc, cache_path);
    if (!fr_path)
        fr_path = getenv("FT_FACERES_MODEL");
    if (!fr_path)
        fr_path = ".cache/human-3.3.6";
    bool want_fr = true;
    ft_progress prog;
    ft_progress_start(&prog, (int)np);
    for (size_t i = 0; i < np && rc == FT_EXIT_OK; i++) {
        ft_err err = {0};
        ft_buf fb;
        ft_buf_init(&fb, 0);
        char sha[65] = "";
        ft_status st = ft_file_read(ph[i].path, 0, &fb, &err);
        if (st == FT_OK)
            ft_sha256_hex(fb.data, fb.len, sha);
        ft_buf_deinit(&fb);
        const centry *c1 = st == FT_OK ? cache_get(&dc, sha, k128, FT_DESCRIPTOR_DIM) : NULL;
        const centry *c2 = st == FT_OK ? cache_get(&dc, sha, kfr, FT_FACERES_DIM) : NULL;
        if (c1 && (c2 || !want_fr)) {
            n_cached++;
            ph[i].ok = c1->ok;
            ph[i].low = c1->low;
            if (c1->ok)
                memcpy(ph[i].desc, c1->v, sizeof ph[i].desc);
            if (c2 && c2->ok) {
                ph[i].fr_ok = true;
                memcpy(ph[i].fr, c2->v, sizeof ph[i].fr);
            }
        } else if (st == FT_OK) {
            if (!m && ft_cli_face_setup("evaluate-recognition", &fo, &m, &ctx) != FT_OK) {
                rc = FT_EXIT_INPUT;
                break;
            }
            if (want_fr && !frnet) {
                ft_err e2 = {0};
                ft_status s2 = ft_faceres_load(fr_path, NULL, &frnet, &e2);
                if (s2 != FT_OK) {
                    // Without the weights only the ResNet is evaluated.
                    fprintf(stderr, "facetracker evaluate-recognition: faceres: %s (run "
                                    "tools/setup.sh); only resnet128 is evaluated\n",
                            ft_err_msg(&e2, s2));
                    want_fr = false;
                }
            }
            ft_image_limits lim = ft_image_limits_default();
            ft_image im;
            ft_face face;
            st = ft_image_load(ph[i].path, &lim, &im, &err);
            if (st == FT_OK && grey) {
                for (size_t k = 0; k < (size_t)im.w * (size_t)im.h; k++) {
                    uint8_t *px = im.rgb + 3 * k;
                    double y = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                    px[0] = px[1] = px[2] = (uint8_t)lround(y);
                }
            }
            if (st == FT_OK) {
                st = ft_face_single(m, ctx, &im, &fo.d, FT_SINGLE_FACE_FLOOR, true, &face,
                                    &ph[i].low, &err);
                if (st == FT_OK) {
                    ph[i].ok = true;
                    memcpy(ph[i].desc, face.descriptor, sizeof face.descriptor);
                    if (frnet) {
                        ft_err e2 = {0};
                        // The box rescaled so that faceres's own 1.4x gives fr_scale.
                        ft_face_box frb = face.box;
                        double k = fr_scale / FT_FACERES_SCALE;
                        frb.x += frb.w * (1 - k) / 2;
                        frb.y += frb.h * (1 - k) / 2;
                        frb.w *= k;
                        frb.h *= k;
                        ph[i].fr_ok =
                            ft_faceres_describe(frnet, ctx, &im, &frb, ph[i].fr, &e2) == FT_OK;
                        if (ph[i].fr_ok && fr_flip) {
                            // Mirror the photo and the box; average the unit vectors.
                            ft_image mir;
                            float f2[FT_FACERES_DIM];
                            if (ft_image_new(im.w, im.h, &mir) == FT_OK) {
                                for (int32_t y = 0; y < im.h; y++)
                                    for (int32_t x = 0; x < im.w; x++)
                                        memcpy(mir.rgb + ((size_t)y * im.w + (im.w - 1 - x)) * 3,
                                               im.rgb + ((size_t)y * im.w + x) * 3, 3);
                                ft_face_box mb = frb;
                                mb.x = im.w - frb.x - frb.w;
                                if (ft_faceres_describe(frnet, ctx, &mir, &mb, f2, &e2) == FT_OK) {
                                    double n1 = 0, n2 = 0;
                                    for (int q = 0; q < FT_FACERES_DIM; q++) {
                                        n1 += (double)ph[i].fr[q] * ph[i].fr[q];
                                        n2 += (double)f2[q] * f2[q];
                                    }
                                    for (int q = 0; q < FT_FACERES_DIM; q++)
                                        ph[i].fr[q] = (float)(ph[i].fr[q] / sqrt(n1) + f2[q] / sqrt(n2));
                                }
                                ft_image_deinit(&mir);
                            }
                        }
                    }
                }
                ft_image_deinit(&im);
            }
            if (st == FT_OK || st == FT_E_NO_FACE) {
                cache_put(&dc, sha, k128, ph[i].ok, ph[i].low, ph[i].desc, FT_DESCRIPTOR_DIM);
                if (frnet && (ph[i].fr_ok || !ph[i].ok))
                    cache_put(&dc, sha, kfr, ph[i].fr_ok, ph[i].low, ph[i].fr, FT_FACERES_DIM);
            }
        }
        if (ph[i].ok) {
            n_low += ph[i].low;
        } else {
            n_failed++;
            fprintf(stderr, "facetracker evaluate-recognition: %s: %s\n", ph[i].path,
                    err.msg[0] ? err.msg : "no face found (cached)");
        }
        char extra[64];
        snprintf(extra, sizeof extra, "%zu without a face", n_failed);
        ft_progress_step(&prog, (int)i + 1, extra);
    }
    ft_progress_end(&prog);
    cache_free(&dc);
    bool have_fr = false;
    for (size_t i = 0; i < np; i++)
        have_fr |= ph[i].fr_ok;
    if (rc == FT_EXIT_OK && primary.kind != SP_RESNET && !have_fr) {
        ft_cli_errorf("evaluate-recognition", "--descriptor %s needs the faceres weights (%s)",
                      space_name(primary.kind), fr_path);
        rc = FT_EXIT_INPUT;
    }
    for (size_t i = 0; i < npr; i++)
        pr[i].d = space_dist(&ph[pr[i].a], &ph[pr[i].b], primary);

    if (rc == FT_EXIT_OK && desc_out) {
        FILE *f = fopen(desc_out, "w");
        if (f) {
            for (size_t i = 0; i < np; i++) {
                fprintf(f, "%d,%lld,%s,%d,resnet128", ph[i].set, (long long)ph[i].label,
                        ph[i].path, ph[i].ok);
                for (int k = 0; ph[i].ok && k < FT_DESCRIPTOR_DIM; k++)
                    fprintf(f, ",%.9g", ph[i].desc[k]);
                fprintf(f, "\n%d,%lld,%s,%d,faceres", ph[i].set, (long long)ph[i].label,
                        ph[i].path, ph[i].fr_ok);
                for (int k = 0; ph[i].fr_ok && k < FT_FACERES_DIM; k++)
                    fprintf(f, ",%.9g", ph[i].fr[k]);
                fputc('\n', f);
            }
            fclose(f);
        } else {
            ft_cli_errorf("evaluate-recognition", "cannot write %s", desc_out);
        }
    }
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
                          "\"photos_below_threshold\": %zu, \"photos_from_cache\": %zu, "
                          "\"descriptor\": \"%s\", \"fuse_weight\": %.2f, \"sets\": [",
                      ft_align_name(fo.d.align), fo.d.align_kps ? "true" : "false",
                      fo.d.detect.kind == FT_DETECTOR_TINY    ? "tiny"
                      : fo.d.detect.kind == FT_DETECTOR_YUNET ? "yunet"
                                                              : "ssd",
                      np, n_failed, n_low, n_cached, space_name(primary.kind), primary.w);
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

        // ---- Leave-one-set-out over every space ----
        if (n_dirs >= 2) {
            space sps[32];
            size_t nsp = 0;
            sps[nsp++] = (space){SP_RESNET, 0};
            if (have_fr) {
                sps[nsp++] = (space){SP_FACERES, 0};
                const char *p = fuse_study;
                while (*p && nsp < 32) {
                    char *end;
                    double w = strtod(p, &end);
                    if (end == p)
                        break;
                    if (w >= 0 && w <= 1)
                        sps[nsp++] = (space){SP_FUSED, w};
                    p = *end == ',' ? end + 1 : end;
                }
            }
            ft_buf_puts(&b, ", \"leave_one_set_out\": [");
            double best = -1, t_all[2] = {NAN, NAN}, t_loso[2][64], ta, tl[64];
            size_t best_i = 0;
            for (size_t k = 0; k < nsp; k++) {
                if (k)
                    ft_buf_puts(&b, ", ");
                double acc = loso_study(ph, pr, npr, n_dirs, dirs, sps[k], &b, &ta, tl);
                if (k < 2) {
                    t_all[k] = ta;
                    memcpy(t_loso[k], tl, sizeof tl);
                }
                if (acc > best) {
                    best = acc;
                    best_i = k;
                }
            }
            ft_buf_printf(&b, "], \"best_by_leave_one_set_out\": {\"space\": \"%s\", "
                              "\"weight_resnet128\": %.2f, \"loso_pooled\": %.4f}",
                          space_name(sps[best_i].kind),
                          sps[best_i].kind == SP_FUSED ? sps[best_i].w
                          : sps[best_i].kind == SP_RESNET ? 1.0 : 0.0,
                          best);
            for (size_t i = 0; i < npr; i++)
                pr[i].d = space_dist(&ph[pr[i].a], &ph[pr[i].b], primary);

            // Strangers: each space alone and both agreeing
            // (ft_openset_decide), margins as shipped
            // (ft_openset_rule_default). One gallery over all sets at the
            // thresholds chosen on all sets; and each set as its own site
            // at the thresholds chosen on the OTHER sets.
            if (have_fr) {
                char *rg = ft_calloc(np ? np : 1, 1), *rs = ft_calloc(np ? np : 1, 1);
                openset_roles(ph, np, enroll_k, false, rg);
                openset_roles(ph, np, enroll_k, true, rs);
                static const char *space_names[4] = {"", "resnet128", "faceres", "both_agree"};
                ft_buf_puts(&b, ", \"strangers\": [");
                for (int mode = 0; mode < 6; mode++) {
                    int spaces = mode % 3 + 1;
                    bool pp = mode >= 3;
                    ft_openset_rule rules[2];
                    ft_openset_rule_default("resnet128", &rules[0]);
                    ft_openset_rule_default("faceres", &rules[1]);
                    rules[0].threshold = t_all[0];
                    rules[1].threshold = t_all[1];
                    oscount c = openset_run(ph, np, rg, -1, spaces, pp, rules);
                    ft_buf_printf(&b, "%s{\"rule\": \"%s\", \"per_person\": %s, \"alpha\": "
                                      "[%.2f, %.2f], \"thresholds\": [%.4f, %.4f], "
                                      "\"one_gallery\": {",
                                  mode ? ", " : "", space_names[spaces], pp ? "true" : "false",
                                  rules[0].alpha, rules[1].alpha, t_all[0], t_all[1]);
                    openset_json(&b, c);
                    ft_buf_puts(&b, "}, \"per_set_loso\": [");
                    oscount sum = {0, 0, 0, 0};
                    for (int s = 0; s < n_dirs; s++) {
                        rules[0].threshold = t_loso[0][s];
                        rules[1].threshold = t_loso[1][s];
                        c = openset_run(ph, np, rs, s, spaces, pp, rules);
                        sum.known += c.known;
                        sum.ident += c.ident;
                        sum.strangers += c.strangers;
                        sum.accepted += c.accepted;
                        ft_buf_puts(&b, s ? ", {\"dir\": " : "{\"dir\": ");
                        ft_buf_json_str(&b, dirs[s]);
                        ft_buf_printf(&b, ", \"thresholds\": [%.4f, %.4f], ", t_loso[0][s],
                                      t_loso[1][s]);
                        openset_json(&b, c);
                        ft_buf_puts(&b, "}");
                    }
                    ft_buf_puts(&b, "], \"per_set_loso_sum\": {");
                    openset_json(&b, sum);
                    ft_buf_puts(&b, "}}");
                }
                ft_buf_puts(&b, "]");
                ft_free(rg);
                ft_free(rs);
            }
        }

        // ---- Open-set identification ----
        // Identities in label order; photos of one label are contiguous.
        // The calibrated-threshold protocol runs in the primary space when
        // it is one network's (a fusion has no single matrix).
        size_t n_enr = 0, n_known = 0, n_str = 0, rank1 = 0, ident = 0, str_fa = 0, id_idx = 0;
        bool is_fr = primary.kind == SP_FACERES;
        size_t dim = is_fr ? FT_FACERES_DIM : FT_DESCRIPTOR_DIM;
        ft_metric metric = is_fr ? FT_METRIC_COSINE : FT_METRIC_EUCLIDEAN;
        float *edesc = ft_malloc(sizeof(float) * dim * (np ? np : 1));
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
                else if (taken < k_enr && space_ok(&ph[q], primary)) {
                    role[q] = 'e';
                    memcpy(edesc + n_enr * dim, is_fr ? ph[q].fr : ph[q].desc, dim * sizeof(float));
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
        if (primary.kind != SP_FUSED &&
            ft_calibrate(edesc, dim, metric, elab, n_enr, &co, &cr, &err) == FT_OK) {
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
        if (n_enr && primary.kind != SP_FUSED &&
            ft_match_matrix_new(edesc, dim, metric, elab, NULL, n_enr, &mm, &err) == FT_OK) {
            double use_thr = isnan(cal_thr) ? stored : cal_thr;
            for (size_t q = 0; q < np; q++) {
                if (role[q] != 'k' && role[q] != 's')
                    continue;
                ft_match_result r;
                bool has = space_ok(&ph[q], primary) &&
                           ft_match(mm, is_fr ? ph[q].fr : ph[q].desc, dim, use_thr, margin, &r,
                                    &err) == FT_OK;
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
    ft_faceres_free(frnet);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    return rc;
}
