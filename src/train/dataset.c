// The dataset folder (dataset.jsonl, aug/<split>.jsonl), the seeded split,
// the random number generator and the area resize. See dataset.h.
#include "train/dataset.h"

#include "core/buf.h"
#include "core/mem.h"
#include "train/train_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- Random numbers ----

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ft_rng_seed(ft_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ft_rng_next(ft_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double ft_rng_uniform(ft_rng *r)
{
    return (double)(ft_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t ft_rng_below(ft_rng *r, uint64_t n)
{
    // Rejection keeps it unbiased.
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t v = ft_rng_next(r);
        if (v < lim)
            return v % n;
    }
}

// ---- Splits ----

const char *ft_split_name(ft_split s)
{
    switch (s) {
    case FT_SPLIT_TRAIN:
        return "train";
    case FT_SPLIT_VAL:
        return "val";
    case FT_SPLIT_TEST:
        return "test";
    case FT_SPLIT_NONE:
        break;
    }
    return NULL;
}

ft_status ft_split_parse(const char *name, ft_split *out)
{
    for (int s = FT_SPLIT_TRAIN; s <= FT_SPLIT_TEST; s++)
        if (strcmp(name, ft_split_name((ft_split)s)) == 0) {
            *out = (ft_split)s;
            return FT_OK;
        }
    return FT_E_INVALID;
}

// ---- Dataset files ----

void ft_ds_sample_deinit(ft_ds_sample *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_boxes; i++)
        ft_free(s->boxes[i].label);
    ft_free(s->boxes);
    ft_free(s->image);
    ft_free(s->source);
    memset(s, 0, sizeof *s);
}

void ft_dataset_free(ft_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        ft_ds_sample_deinit(&ds->s[i]);
    ft_free(ds->s);
    ft_free(ds->dir);
    ft_free(ds);
}

ft_status ft_dataset__push(ft_dataset *ds, size_t *cap, ft_ds_sample *s)
{
    if (ds->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        ft_ds_sample *p = ft_realloc(ds->s, nc * sizeof *p);
        if (!p)
            return FT_E_NOMEM;
        ds->s = p;
        *cap = nc;
    }
    ds->s[ds->n++] = *s;
    memset(s, 0, sizeof *s);
    return FT_OK;
}

ft_status ft_dataset__new(const char *dir, ft_dataset **out)
{
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    if (!ds)
        return FT_E_NOMEM;
    ds->dir = ft_strdup(dir);
    if (!ds->dir) {
        ft_free(ds);
        return FT_E_NOMEM;
    }
    *out = ds;
    return FT_OK;
}

// One line of dataset.jsonl or aug/<split>.jsonl.
static ft_status parse_line(json_t *o, bool aug, ft_ds_sample *s, char *why, size_t why_len)
{
    memset(s, 0, sizeof *s);
    json_t *im = json_object_get(o, "image"), *bx = json_object_get(o, "boxes");
    if (!json_is_object(o) || !json_is_string(im) || !json_is_array(bx)) {
        snprintf(why, why_len, "needs \"image\" (string) and \"boxes\" (array)");
        return FT_E_FORMAT;
    }
    const char *path = json_string_value(im);
    if (strstr(path, "..") || path[0] == '/') {
        snprintf(why, why_len, "image path \"%s\" leaves the dataset", path);
        return FT_E_FORMAT;
    }
    s->image = ft_strdup(path);
    json_t *src = json_object_get(o, "source");
    if (json_is_string(src))
        s->source = ft_strdup(json_string_value(src));
    json_t *w = json_object_get(o, "width"), *h = json_object_get(o, "height");
    s->width = json_is_integer(w) ? (int32_t)json_integer_value(w) : 0;
    s->height = json_is_integer(h) ? (int32_t)json_integer_value(h) : 0;
    if (!aug && (s->width <= 0 || s->height <= 0)) {
        snprintf(why, why_len, "needs positive \"width\" and \"height\"");
        return FT_E_FORMAT;
    }
    json_t *sp = json_object_get(o, "split");
    if (json_is_string(sp) && ft_split_parse(json_string_value(sp), &s->split) != FT_OK) {
        snprintf(why, why_len, "unknown split \"%s\"", json_string_value(sp));
        return FT_E_FORMAT;
    }
    size_t n = json_array_size(bx);
    if (!s->image || (n && !(s->boxes = ft_calloc(n, sizeof *s->boxes))))
        return FT_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(bx, i);
        if (!json_is_array(b) || json_array_size(b) != 5 || !json_is_string(json_array_get(b, 4))) {
            snprintf(why, why_len, "box %zu is not [x1, y1, x2, y2, \"label\"]", i);
            return FT_E_FORMAT;
        }
        double v[4];
        for (int k = 0; k < 4; k++) {
            json_t *e = json_array_get(b, (size_t)k);
            if (!json_is_number(e)) {
                snprintf(why, why_len, "box %zu has a non-numeric coordinate", i);
                return FT_E_FORMAT;
            }
            v[k] = json_number_value(e);
        }
        double lim_w = aug ? 1.0 : s->width, lim_h = aug ? 1.0 : s->height;
        if (!(v[0] < v[2] && v[1] < v[3] && v[0] >= 0 && v[1] >= 0 && v[2] <= lim_w &&
              v[3] <= lim_h)) {
            snprintf(why, why_len, "box %zu is empty or outside the image", i);
            return FT_E_FORMAT;
        }
        s->boxes[i].x1 = v[0], s->boxes[i].y1 = v[1], s->boxes[i].x2 = v[2],
        s->boxes[i].y2 = v[3];
        s->boxes[i].label = ft_strdup(json_string_value(json_array_get(b, 4)));
        s->n_boxes = i + 1;
        if (!s->boxes[i].label)
            return FT_E_NOMEM;
    }
    return FT_OK;
}

static ft_status load_jsonl(const char *dir, const char *rel, bool aug, ft_dataset **out,
                            ft_err *err)
{
    ft_status st;
    ft_buf b;
    ft_dataset *ds = NULL;
    ft_ds_sample s = {0};
    size_t cap = 0;
    char path[4096];
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    st = ft_file_read(path, (size_t)1 << 30, &b, err);
    if (st != FT_OK) {
        if (st == FT_E_NOT_FOUND)
            ft_err_set(err, st, "%s: no dataset here (missing %s)", dir, rel);
        return st;
    }
    st = ft_dataset__new(dir, &ds);
    if (st != FT_OK)
        goto done;
    char *p = (char *)b.data, *end = p + b.len;
    for (size_t line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0) {
            json_error_t je;
            json_t *o = json_loadb(p, len, 0, &je);
            char why[256] = "";
            if (!o) {
                st = ft_err_set(err, FT_E_FORMAT, "%s line %zu: %s", path, line, je.text);
                goto done;
            }
            st = parse_line(o, aug, &s, why, sizeof why);
            json_decref(o);
            if (st == FT_OK)
                st = ft_dataset__push(ds, &cap, &s);
            if (st != FT_OK) {
                ft_ds_sample_deinit(&s);
                if (st == FT_E_NOMEM)
                    ft_err_set(err, st, "out of memory");
                else
                    ft_err_set(err, st, "%s line %zu: %s", path, line, why);
                goto done;
            }
        }
        p += len + 1;
    }
    *out = ds;
    ds = NULL;
done:
    ft_dataset_free(ds);
    ft_buf_deinit(&b);
    return st;
}

ft_status ft_dataset_load(const char *dir, ft_dataset **out, ft_err *err)
{
    return load_jsonl(dir, "dataset.jsonl", false, out, err);
}

ft_status ft_dataset_load_aug(const char *dir, ft_split split, ft_dataset **out, ft_err *err)
{
    char rel[64];
    snprintf(rel, sizeof rel, "aug/%s.jsonl", ft_split_name(split));
    ft_status st = load_jsonl(dir, rel, true, out, err);
    if (st == FT_OK)
        for (size_t i = 0; i < (*out)->n; i++)
            (*out)->s[i].split = split;
    return st;
}

ft_status ft_ds__append_line(ft_buf *b, const ft_ds_sample *s, bool aug)
{
    ft_status st = ft_buf_puts(b, "{\"image\":");
    if (st == FT_OK)
        st = ft_buf_json_str(b, s->image);
    if (st == FT_OK && s->source) {
        st = ft_buf_puts(b, ",\"source\":");
        if (st == FT_OK)
            st = ft_buf_json_str(b, s->source);
    }
    if (st == FT_OK && s->width > 0)
        st = ft_buf_printf(b, ",\"width\":%d,\"height\":%d", s->width, s->height);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",\"boxes\":[");
    for (size_t i = 0; st == FT_OK && i < s->n_boxes; i++) {
        const ft_ds_box *x = &s->boxes[i];
        st = aug ? ft_buf_printf(b, "%s[%.6f,%.6f,%.6f,%.6f,", i ? "," : "", x->x1, x->y1, x->x2,
                                 x->y2)
                 : ft_buf_printf(b, "%s[%.3f,%.3f,%.3f,%.3f,", i ? "," : "", x->x1, x->y1, x->x2,
                                 x->y2);
        if (st == FT_OK)
            st = ft_buf_json_str(b, x->label);
        if (st == FT_OK)
            st = ft_buf_puts(b, "]");
    }
    if (st == FT_OK)
        st = ft_buf_puts(b, "]");
    if (st == FT_OK && !aug) {
        const char *sn = ft_split_name(s->split);
        st = sn ? ft_buf_printf(b, ",\"split\":\"%s\"", sn) : ft_buf_puts(b, ",\"split\":null");
    }
    if (st == FT_OK)
        st = ft_buf_puts(b, "}\n");
    return st;
}

ft_status ft_dataset_save(const ft_dataset *ds, ft_err *err)
{
    ft_buf b;
    ft_status st = FT_OK;
    char path[4096];
    ft_buf_init(&b, 0);
    for (size_t i = 0; st == FT_OK && i < ds->n; i++)
        st = ft_ds__append_line(&b, &ds->s[i], false);
    if (st != FT_OK)
        st = ft_err_set(err, st, "out of memory");
    else {
        snprintf(path, sizeof path, "%s/dataset.jsonl", ds->dir);
        st = ft_file_write_atomic(path, b.data, b.len, err);
    }
    ft_buf_deinit(&b);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

ft_status ft_dataset_identities(const ft_dataset *ds, const char ***names, size_t *n)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < ds->n; i++)
        total += ds->s[i].n_boxes;
    const char **all = ft_calloc(total ? total : 1, sizeof *all);
    if (!all)
        return FT_E_NOMEM;
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->s[i].n_boxes; j++)
            if (strcmp(ds->s[i].boxes[j].label, "face") != 0)
                all[k++] = ds->s[i].boxes[j].label;
    qsort(all, k, sizeof *all, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
            all[u++] = all[i];
    *names = all;
    *n = u;
    return FT_OK;
}

// ---- Split ----

ft_status ft_dataset_split(ft_dataset *ds, double train, double val, double test, uint64_t seed,
                           ft_err *err)
{
    if (train < 0 || val < 0 || test < 0 || fabs(train + val + test - 1.0) > 1e-6)
        return ft_err_set(err, FT_E_INVALID,
                          "split fractions must be >= 0 and sum to 1 (got %g + %g + %g)", train,
                          val, test);
    if (ds->n == 0)
        return ft_err_set(err, FT_E_INVALID, "%s: the dataset is empty", ds->dir);
    size_t *idx = ft_malloc(ds->n * sizeof *idx);
    if (!idx)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    ft_rng r;
    ft_rng_seed(&r, seed);
    // Two strata: photos with faces, face-free photos.
    for (int face = 1; face >= 0; face--) {
        size_t n = 0;
        for (size_t i = 0; i < ds->n; i++)
            if ((ds->s[i].n_boxes > 0) == (bool)face)
                idx[n++] = i;
        for (size_t i = n; i > 1; i--) { // Fisher-Yates
            size_t j = (size_t)ft_rng_below(&r, i);
            size_t t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        size_t n_train = (size_t)llround(train * (double)n);
        size_t n_val = (size_t)llround(val * (double)n);
        if (n_train + n_val > n)
            n_val = n - n_train;
        for (size_t i = 0; i < n; i++)
            ds->s[idx[i]].split = i < n_train ? FT_SPLIT_TRAIN
                                  : i < n_train + n_val ? FT_SPLIT_VAL
                                                        : FT_SPLIT_TEST;
    }
    ft_free(idx);
    return FT_OK;
}

// ---- Area resize ----

// Per output index: the source span [lo, hi) it covers and the weights of
// its source pixels (fractional at both ends), summing to 1.
typedef struct span {
    int32_t lo, n;
    float *wt;
} span;

static ft_status make_spans(int32_t in, int32_t out, span **sp, float **wbuf)
{
    double scale = (double)in / out;
    int32_t maxn = (int32_t)ceil(scale) + 2;
    *sp = ft_calloc((size_t)out, sizeof **sp);
    *wbuf = ft_calloc((size_t)out * (size_t)maxn, sizeof **wbuf);
    if (!*sp || !*wbuf)
        return FT_E_NOMEM;
    for (int32_t o = 0; o < out; o++) {
        span *s = &(*sp)[o];
        s->wt = *wbuf + (size_t)o * maxn;
        if (scale <= 1.0) {
            // Upscaling: bilinear with half-pixel centres.
            double c = (o + 0.5) * scale - 0.5;
            int32_t i0 = (int32_t)floor(c);
            double f = c - i0;
            if (i0 < 0)
                i0 = 0, f = 0;
            if (i0 >= in - 1)
                i0 = in - 1, f = 0;
            s->lo = i0;
            s->n = f > 0 ? 2 : 1;
            s->wt[0] = (float)(1 - f);
            if (s->n == 2)
                s->wt[1] = (float)f;
            continue;
        }
        double a = o * scale, b = (o + 1) * scale;
        int32_t lo = (int32_t)floor(a), hi = (int32_t)ceil(b);
        if (hi > in)
            hi = in;
        s->lo = lo;
        s->n = hi - lo;
        for (int32_t i = lo; i < hi; i++) {
            double l = i > a ? i : a, r = i + 1 < b ? i + 1 : b;
            s->wt[i - lo] = (float)((r - l) / scale);
        }
    }
    return FT_OK;
}

ft_status ft_train_resize(const ft_image *src, int32_t out_w, int32_t out_h, ft_image *out)
{
    ft_status st;
    span *sx = NULL, *sy = NULL;
    float *wx = NULL, *wy = NULL, *tmp = NULL;
    ft_image im = {0};
    if (out_w <= 0 || out_h <= 0 || src->w <= 0 || src->h <= 0)
        return FT_E_INVALID;
    st = make_spans(src->w, out_w, &sx, &wx);
    if (st == FT_OK)
        st = make_spans(src->h, out_h, &sy, &wy);
    if (st == FT_OK && !(tmp = ft_malloc((size_t)src->h * out_w * 3 * sizeof *tmp)))
        st = FT_E_NOMEM;
    if (st == FT_OK)
        st = ft_image_new(out_w, out_h, &im);
    if (st != FT_OK)
        goto done;
    // Horizontal pass into float rows, then vertical pass with rounding.
    for (int32_t y = 0; y < src->h; y++) {
        const uint8_t *row = src->rgb + (size_t)y * src->w * 3;
        for (int32_t x = 0; x < out_w; x++) {
            float acc[3] = {0, 0, 0};
            for (int32_t k = 0; k < sx[x].n; k++) {
                const uint8_t *px = row + (size_t)(sx[x].lo + k) * 3;
                for (int c = 0; c < 3; c++)
                    acc[c] += sx[x].wt[k] * px[c];
            }
            for (int c = 0; c < 3; c++)
                tmp[((size_t)y * out_w + x) * 3 + c] = acc[c];
        }
    }
    for (int32_t y = 0; y < out_h; y++)
        for (int32_t x = 0; x < out_w; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int32_t k = 0; k < sy[y].n; k++)
                    acc += sy[y].wt[k] * tmp[((size_t)(sy[y].lo + k) * out_w + x) * 3 + c];
                long v = lrintf(acc);
                im.rgb[((size_t)y * out_w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    *out = im;
    im.rgb = NULL;
done:
    ft_image_deinit(&im);
    ft_free(sx), ft_free(sy), ft_free(wx), ft_free(wy), ft_free(tmp);
    return st;
}
