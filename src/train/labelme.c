// labelme JSON: parsing and checking one document, importing a labelme
// folder into a dataset, and writing labelme files (autolabel).
//
// The labelme format (labelme 4/5), the fields used here:
//   {"version": "5.x", "flags": {},
//    "shapes": [{"label": "face" | name, "points": [[x1, y1], [x2, y2]],
//                "shape_type": "rectangle", "group_id": null, "flags": {}}, ...],
//    "imagePath": "photo.jpg" (relative to the JSON's folder, or absolute),
//    "imageData": null | base64 of the photo file's bytes,
//    "imageHeight": H, "imageWidth": W}
// Rectangle points are two opposite corners in pixels, in either order.
#include "train/dataset.h"

#include "core/buf.h"
#include "core/mem.h"
#include "train/train_internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

// ---- base64 ----

static int b64v(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

// Standard or URL alphabet, '=' padding optional, whitespace ignored.
static ft_status b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *o = ft_malloc(len / 4 * 3 + 3);
    if (!o)
        return FT_E_NOMEM;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    bool pad = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad = true;
            continue;
        }
        int v = b64v(c);
        if (v < 0 || pad) {
            ft_free(o);
            return FT_E_FORMAT;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6) { // a dangling single character
        ft_free(o);
        return FT_E_FORMAT;
    }
    *out = o;
    *out_len = n;
    return FT_OK;
}

// ---- Parse ----

void ft_labelme_doc_deinit(ft_labelme_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_boxes; i++)
        ft_free(d->boxes[i].label);
    ft_free(d->boxes);
    ft_free(d->image_path);
    ft_free(d->image_data);
    memset(d, 0, sizeof *d);
}

ft_status ft_labelme_parse(const char *name, const uint8_t *buf, size_t len, ft_labelme_doc *out,
                           ft_err *err)
{
    ft_status st = FT_OK;
    ft_labelme_doc d = {0};
    json_error_t je;
    json_t *root = json_loadb((const char *)buf, len, 0, &je);
    if (!root)
        return ft_err_set(err, FT_E_FORMAT, "%s: malformed JSON at line %d: %s", name, je.line,
                          je.text);
    if (!json_is_object(root)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: not a labelme file (the top level is not an object)",
                        name);
        goto done;
    }
    json_t *shapes = json_object_get(root, "shapes"), *ip = json_object_get(root, "imagePath"),
           *idata = json_object_get(root, "imageData"), *iw = json_object_get(root, "imageWidth"),
           *ih = json_object_get(root, "imageHeight");
    if (!json_is_array(shapes)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: not a labelme file (no \"shapes\" array)", name);
        goto done;
    }
    if (ip && !json_is_null(ip) && !json_is_string(ip)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: \"imagePath\" is not a string", name);
        goto done;
    }
    if (idata && !json_is_null(idata) && !json_is_string(idata)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: \"imageData\" is neither null nor a string", name);
        goto done;
    }
    if (!json_is_string(ip) && !json_is_string(idata)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: neither \"imagePath\" nor \"imageData\"", name);
        goto done;
    }
    // Bounded before the int32_t casts below: 4294967328 must not become 32
    // (found by tests/fuzz/fuzz_labelme.c).
    if ((iw && !json_is_integer(iw)) || (ih && !json_is_integer(ih)) ||
        (iw && (json_integer_value(iw) <= 0 || json_integer_value(iw) > INT32_MAX)) ||
        (ih && (json_integer_value(ih) <= 0 || json_integer_value(ih) > INT32_MAX))) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: \"imageWidth\"/\"imageHeight\" must be positive "
                        "integers below 2^31", name);
        goto done;
    }
    d.width = iw ? (int32_t)json_integer_value(iw) : 0;
    d.height = ih ? (int32_t)json_integer_value(ih) : 0;
    if (json_is_string(ip) && json_string_length(ip) > 0 &&
        !(d.image_path = ft_strdup(json_string_value(ip)))) {
        st = FT_E_NOMEM;
        goto done;
    }
    if (json_is_string(idata) && json_string_length(idata) > 0) {
        st = b64_decode(json_string_value(idata), json_string_length(idata), &d.image_data,
                        &d.image_data_len);
        if (st != FT_OK) {
            if (st == FT_E_FORMAT)
                ft_err_set(err, st, "%s: \"imageData\" is not valid base64", name);
            goto done;
        }
    }
    if (!d.image_path && !d.image_data) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: empty \"imagePath\" and no \"imageData\"", name);
        goto done;
    }
    size_t n = json_array_size(shapes);
    if (n && !(d.boxes = ft_calloc(n, sizeof *d.boxes))) {
        st = FT_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *sh = json_array_get(shapes, i);
        json_t *lab = json_object_get(sh, "label"), *pts = json_object_get(sh, "points"),
               *type = json_object_get(sh, "shape_type");
        if (!json_is_object(sh) || !json_is_string(lab) || json_string_length(lab) == 0) {
            st = ft_err_set(err, FT_E_FORMAT, "%s: shape %zu has no label", name, i);
            goto done;
        }
        const char *t = json_is_string(type) ? json_string_value(type) : "polygon";
        if (strcmp(t, "rectangle") != 0) {
            st = ft_err_set(err, FT_E_FORMAT,
                            "%s: shape %zu (\"%s\") is a %s; only rectangles are supported", name,
                            i, json_string_value(lab), t);
            goto done;
        }
        double v[4];
        bool ok = json_is_array(pts) && json_array_size(pts) == 2;
        for (size_t k = 0; ok && k < 2; k++) {
            json_t *p = json_array_get(pts, k);
            ok = json_is_array(p) && json_array_size(p) == 2 &&
                 json_is_number(json_array_get(p, 0)) && json_is_number(json_array_get(p, 1));
            if (ok) {
                v[k * 2] = json_number_value(json_array_get(p, 0));
                v[k * 2 + 1] = json_number_value(json_array_get(p, 1));
                ok = isfinite(v[k * 2]) && isfinite(v[k * 2 + 1]);
            }
        }
        if (!ok) {
            st = ft_err_set(err, FT_E_FORMAT,
                            "%s: shape %zu (\"%s\") needs \"points\": [[x1, y1], [x2, y2]]", name,
                            i, json_string_value(lab));
            goto done;
        }
        ft_ds_box *b = &d.boxes[i];
        b->x1 = fmin(v[0], v[2]), b->x2 = fmax(v[0], v[2]);
        b->y1 = fmin(v[1], v[3]), b->y2 = fmax(v[1], v[3]);
        if (!(b->x2 > b->x1 && b->y2 > b->y1)) {
            st = ft_err_set(err, FT_E_FORMAT, "%s: shape %zu (\"%s\") is an empty rectangle", name,
                            i, json_string_value(lab));
            goto done;
        }
        if (!(b->label = ft_strdup(json_string_value(lab)))) {
            st = FT_E_NOMEM;
            goto done;
        }
        d.n_boxes = i + 1;
    }
    *out = d;
    memset(&d, 0, sizeof d);
done:
    if (st == FT_E_NOMEM)
        ft_err_set(err, st, "%s: out of memory", name);
    ft_labelme_doc_deinit(&d);
    json_decref(root);
    return st;
}

// ---- Import ----

ft_import_opts ft_import_opts_default(void)
{
    ft_import_opts o = {false, false, ft_image_limits_default()};
    return o;
}

static bool has_ext(const char *name, const char *const *exts)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    for (size_t i = 0; exts[i]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return true;
    return false;
}

static const char *const photo_exts[] = {"jpg", "jpeg", "png", "webp", "heic", "heif", "ppm",
                                         NULL};
static const char *const json_exts[] = {"json", NULL};

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Sorted regular-file names of a folder.
static ft_status list_dir(const char *dir, char ***names, size_t *n, ft_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ft_err_set(err, errno == ENOENT ? FT_E_NOT_FOUND : FT_E_IO, "%s: %s", dir,
                          strerror(errno));
    size_t cap = 0, k = 0;
    char **v = NULL;
    struct dirent *e;
    ft_status st = FT_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (k == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = ft_realloc(v, cap * sizeof *nv);
            if (!nv) {
                st = FT_E_NOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[k] = ft_strdup(e->d_name))) {
            st = FT_E_NOMEM;
            break;
        }
        k++;
    }
    closedir(d);
    if (st != FT_OK) {
        for (size_t i = 0; i < k; i++)
            ft_free(v[i]);
        ft_free(v);
        return ft_err_set(err, st, "out of memory");
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_cstr);
    *names = v;
    *n = k;
    return FT_OK;
}

ft_status ft_train__mkdirs(const char *path, ft_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return ft_err_set(err, FT_E_INVALID, "path too long");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ft_err_set(err, FT_E_IO, "%s: cannot create: %s", buf, strerror(errno));
            buf[i] = c;
        }
    return FT_OK;
}

// A photo to import: where its bytes come from and its labels.
typedef struct pending {
    char *src_path;  // file to copy, or NULL
    uint8_t *inline_data; // labelme imageData, or NULL
    size_t inline_len;
    char *base;      // output file name
    ft_ds_sample s;  // image path filled at write time
} pending;

static void report(ft_problem_fn fn, void *ctx, ft_import_report *rep, const char *file,
                   const char *msg)
{
    rep->n_problems++;
    if (fn)
        fn(ctx, file, msg);
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// The photo a JSON in `dir` names: imagePath relative to that folder, or
// absolute.
static void photo_path(const char *dir, const char *image_path, char *out, size_t cap)
{
    if (image_path[0] == '/')
        snprintf(out, cap, "%s", image_path);
    else
        snprintf(out, cap, "%s/%s", dir, image_path);
}

// Decodes to check the photo and learn its size.
static ft_status check_photo(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             int32_t *w, int32_t *h, ft_err *err)
{
    ft_image im;
    ft_status st = ft_image_decode(buf, len, lim, &im, err);
    if (st != FT_OK)
        return st;
    *w = im.w;
    *h = im.h;
    ft_image_deinit(&im);
    return FT_OK;
}

static const char *ext_for(const uint8_t *buf, size_t len)
{
    switch (ft_image_sniff(buf, len)) {
    case FT_IMG_JPEG:
        return "jpg";
    case FT_IMG_PNG:
        return "png";
    case FT_IMG_WEBP:
        return "webp";
    case FT_IMG_HEIC:
        return "heic";
    case FT_IMG_PPM:
        return "ppm";
    default:
        return "bin";
    }
}

ft_status ft_labelme_import(const char *src_dir, const char *out_dir, const ft_import_opts *o,
                            ft_problem_fn fn, void *ctx, ft_import_report *rep, ft_err *err)
{
    ft_status st = FT_OK;
    char **names = NULL;
    size_t n_names = 0, n_pend = 0;
    pending *pend = NULL;
    bool *used = NULL;
    ft_dataset *ds = NULL;
    ft_buf fb = {0};
    char path[4096], msg[600];
    ft_import_report r = {0};
    ft_import_opts def = ft_import_opts_default();
    if (!o)
        o = &def;

    st = list_dir(src_dir, &names, &n_names, err);
    if (st != FT_OK)
        goto done;
    used = ft_calloc(n_names + 1, sizeof *used);
    pend = ft_calloc(n_names + 1, sizeof *pend);
    if (!used || !pend) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    // Pass 1: every JSON, then every photo no JSON claimed.
    for (size_t i = 0; i < n_names; i++) {
        if (!has_ext(names[i], json_exts))
            continue;
        used[i] = true;
        r.n_json++;
        ft_labelme_doc d = {0};
        ft_err e = {0};
        snprintf(path, sizeof path, "%s/%s", src_dir, names[i]);
        ft_buf_deinit(&fb);
        st = ft_file_read(path, (size_t)256 << 20, &fb, &e);
        if (st == FT_OK)
            st = ft_labelme_parse(names[i], fb.data, fb.len, &d, &e);
        if (st == FT_E_NOMEM)
            goto nomem;
        if (st != FT_OK) {
            report(fn, ctx, &r, names[i], ft_err_msg(&e, st));
            st = FT_OK;
            continue;
        }
        pending *p = &pend[n_pend];
        const uint8_t *bytes;
        size_t nbytes;
        ft_buf pb = {0};
        bool have = false;
        if (d.image_data) {
            bytes = d.image_data, nbytes = d.image_data_len;
            have = true;
        } else {
            photo_path(src_dir, d.image_path, path, sizeof path);
            ft_status rs = ft_file_read(path, o->limits.max_bytes, &pb, &e);
            if (rs == FT_E_NOT_FOUND) {
                snprintf(msg, sizeof msg, "the photo \"%s\" is missing", d.image_path);
                report(fn, ctx, &r, names[i], msg);
            } else if (rs != FT_OK) {
                report(fn, ctx, &r, names[i], ft_err_msg(&e, rs));
            } else {
                have = true;
            }
            bytes = pb.data, nbytes = pb.len;
            // The photo belongs to this JSON, whatever happens next.
            for (size_t j = 0; j < n_names; j++)
                if (strcmp(names[j], basename_of(d.image_path)) == 0 &&
                    strchr(d.image_path, '/') == NULL)
                    used[j] = true;
        }
        int32_t w = 0, h = 0;
        bool ok = have;
        if (ok) {
            ft_status ds_ = check_photo(bytes, nbytes, &o->limits, &w, &h, &e);
            if (ds_ == FT_E_NOMEM) {
                ft_buf_deinit(&pb);
                ft_labelme_doc_deinit(&d);
                goto nomem;
            }
            if (ds_ != FT_OK) {
                snprintf(msg, sizeof msg, "the photo %s cannot be read: %s",
                         d.image_path ? d.image_path : "(imageData)", ft_err_msg(&e, ds_));
                report(fn, ctx, &r, names[i], msg);
                ok = false;
            }
        }
        if (ok && ((d.width && d.width != w) || (d.height && d.height != h))) {
            snprintf(msg, sizeof msg, "imageWidth x imageHeight is %d x %d but the photo is %d x %d",
                     d.width, d.height, w, h);
            report(fn, ctx, &r, names[i], msg);
            ok = false;
        }
        for (size_t b = 0; ok && b < d.n_boxes; b++) {
            const ft_ds_box *x = &d.boxes[b];
            if (x->x1 < 0 || x->y1 < 0 || x->x2 > w || x->y2 > h) {
                snprintf(msg, sizeof msg,
                         "shape %zu (\"%s\") [%g, %g]-[%g, %g] is outside the %d x %d photo", b,
                         x->label, x->x1, x->y1, x->x2, x->y2, w, h);
                report(fn, ctx, &r, names[i], msg);
                ok = false;
            }
        }
        if (ok) {
            char stem[512];
            snprintf(stem, sizeof stem, "%s", names[i]);
            char *dot = strrchr(stem, '.');
            if (dot)
                *dot = '\0';
            p->s.width = w, p->s.height = h;
            p->s.n_boxes = d.n_boxes;
            p->s.boxes = d.boxes;
            d.boxes = NULL;
            d.n_boxes = 0;
            if (d.image_data) {
                p->inline_data = d.image_data;
                p->inline_len = d.image_data_len;
                d.image_data = NULL;
                snprintf(path, sizeof path, "%s.%s", stem, ext_for(p->inline_data, p->inline_len));
                p->base = ft_strdup(path);
            } else {
                photo_path(src_dir, d.image_path, path, sizeof path);
                p->src_path = ft_strdup(path);
                p->base = ft_strdup(basename_of(d.image_path));
            }
            if (!p->base || (!p->inline_data && !p->src_path)) {
                ft_buf_deinit(&pb);
                ft_labelme_doc_deinit(&d);
                n_pend++;
                goto nomem;
            }
            n_pend++;
            r.n_photos++;
            r.n_boxes += p->s.n_boxes;
            if (p->s.n_boxes)
                r.n_with_faces++;
            else
                r.n_face_free++;
            if (p->s.n_boxes > 1)
                r.n_multi_face++;
        }
        ft_buf_deinit(&pb);
        ft_labelme_doc_deinit(&d);
    }
    for (size_t i = 0; i < n_names; i++) {
        if (used[i] || !has_ext(names[i], photo_exts))
            continue;
        ft_err e = {0};
        int32_t w, h;
        snprintf(path, sizeof path, "%s/%s", src_dir, names[i]);
        ft_buf_deinit(&fb);
        st = ft_file_read(path, o->limits.max_bytes, &fb, &e);
        if (st == FT_OK)
            st = check_photo(fb.data, fb.len, &o->limits, &w, &h, &e);
        if (st == FT_E_NOMEM)
            goto nomem;
        if (st != FT_OK) {
            snprintf(msg, sizeof msg, "cannot be read: %s", ft_err_msg(&e, st));
            report(fn, ctx, &r, names[i], msg);
            st = FT_OK;
            continue;
        }
        pending *p = &pend[n_pend++];
        p->src_path = ft_strdup(path);
        p->base = ft_strdup(names[i]);
        p->s.width = w, p->s.height = h;
        if (!p->src_path || !p->base)
            goto nomem;
        r.n_photos++;
        r.n_face_free++;
    }
    if (r.n_problems && !o->skip_bad) {
        st = ft_err_set(err, FT_E_FORMAT,
                        "%s: %zu problem(s) found; nothing written (--skip-bad imports the rest)",
                        src_dir, r.n_problems);
        goto done;
    }
    if (n_pend == 0) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "%s: no photos or labelme files to import (empty "
                        "dataset); nothing written", src_dir);
        goto done;
    }
    // Pass 2: write.
    snprintf(path, sizeof path, "%s/dataset.jsonl", out_dir);
    struct stat sb;
    if (!o->force && stat(path, &sb) == 0) {
        st = ft_err_set(err, FT_E_EXISTS, "%s already exists (use --force to replace it)", path);
        goto done;
    }
    snprintf(path, sizeof path, "%s/images", out_dir);
    st = ft_train__mkdirs(path, err);
    if (st != FT_OK)
        goto done;
    st = ft_dataset__new(out_dir, &ds);
    if (st != FT_OK)
        goto nomem;
    size_t cap = 0;
    for (size_t i = 0; i < n_pend; i++) {
        pending *p = &pend[i];
        // Unique output names: a clash gets the import index in front.
        bool clash = false;
        for (size_t j = 0; j < i && !clash; j++)
            clash = strcmp(pend[j].base, p->base) == 0;
        char rel[600];
        if (clash)
            snprintf(rel, sizeof rel, "images/%zu_%s", i, p->base);
        else
            snprintf(rel, sizeof rel, "images/%s", p->base);
        snprintf(path, sizeof path, "%s/%s", out_dir, rel);
        if (p->inline_data) {
            st = ft_file_write_atomic(path, p->inline_data, p->inline_len, err);
        } else {
            ft_buf_deinit(&fb);
            st = ft_file_read(p->src_path, o->limits.max_bytes, &fb, err);
            if (st == FT_OK)
                st = ft_file_write_atomic(path, fb.data, fb.len, err);
        }
        if (st != FT_OK)
            goto done;
        if (!(p->s.image = ft_strdup(rel)))
            goto nomem;
        st = ft_dataset__push(ds, &cap, &p->s);
        if (st != FT_OK)
            goto nomem;
        r.n_imported++;
    }
    st = ft_dataset_save(ds, err);
    goto done;
nomem:
    st = ft_err_set(err, FT_E_NOMEM, "out of memory");
done:
    if (rep)
        *rep = r;
    for (size_t i = 0; pend && i < n_names + 1; i++) {
        ft_free(pend[i].src_path);
        ft_free(pend[i].inline_data);
        ft_free(pend[i].base);
        ft_ds_sample_deinit(&pend[i].s);
    }
    ft_free(pend);
    ft_free(used);
    for (size_t i = 0; i < n_names; i++)
        ft_free(names[i]);
    ft_free(names);
    ft_buf_deinit(&fb);
    ft_dataset_free(ds);
    return st;
}

// ---- Write ----

ft_status ft_labelme_write(const char *json_path, const char *image_path, int32_t width,
                           int32_t height, const ft_ds_box *boxes, size_t n_boxes, ft_err *err)
{
    ft_status st = FT_OK;
    json_t *root = json_object(), *shapes = json_array();
    char *text = NULL;
    if (!root || !shapes) {
        json_decref(shapes);
        st = FT_E_NOMEM;
        goto done;
    }
    json_object_set_new(root, "version", json_string("5.2.1"));
    json_object_set_new(root, "flags", json_object());
    for (size_t i = 0; i < n_boxes; i++) {
        json_t *sh = json_pack("{s:s, s:[[f,f],[f,f]], s:n, s:s, s:s, s:{}}", "label",
                               boxes[i].label ? boxes[i].label : "face", "points", boxes[i].x1,
                               boxes[i].y1, boxes[i].x2, boxes[i].y2, "group_id", "description",
                               "", "shape_type", "rectangle", "flags");
        if (!sh || json_array_append_new(shapes, sh) != 0) {
            json_decref(shapes);
            st = FT_E_NOMEM;
            goto done;
        }
    }
    json_object_set_new(root, "shapes", shapes);
    json_object_set_new(root, "imagePath", json_string(image_path));
    json_object_set_new(root, "imageData", json_null());
    json_object_set_new(root, "imageHeight", json_integer(height));
    json_object_set_new(root, "imageWidth", json_integer(width));
    text = json_dumps(root, JSON_INDENT(2));
    if (!text) {
        st = FT_E_NOMEM;
        goto done;
    }
    st = ft_file_write_atomic(json_path, text, strlen(text), err);
done:
    if (st == FT_E_NOMEM)
        ft_err_set(err, st, "out of memory");
    free(text);
    json_decref(root);
    return st;
}
