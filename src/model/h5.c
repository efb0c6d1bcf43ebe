// Keras .h5 files through libhdf5: reading (Keras 2 and 3 layouts) into an
// ft_graph, writing the Keras 2 layout, and the `model info` listing. The
// layout is described in h5.h; the JSON side lives in keras.c.
#include "model/h5.h"

#include "core/mem.h"
#include "model/model_internal.h"

#include <errno.h>
#include <hdf5.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// Keras splits string-array attributes bigger than this into name0, name1...
#define KERAS_ATTR_LIMIT 64512

// libhdf5's serial build keeps global state and is not thread-safe; this
// lock is the one piece of static mutable state the module needs.
static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct h5_session {
    H5E_auto2_t old_fn;
    void *old_data;
} h5_session;

static void session_begin(h5_session *s)
{
    pthread_mutex_lock(&h5_lock);
    H5Eget_auto2(H5E_DEFAULT, &s->old_fn, &s->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void session_end(h5_session *s)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, s->old_fn, s->old_data);
    pthread_mutex_unlock(&h5_lock);
}

ft_h5_limits ft_h5_limits_default(void)
{
    ft_h5_limits l;
    l.max_config_bytes = (size_t)16 << 20;
    l.max_weight_floats = (size_t)256 << 20;
    l.max_layers = 10000;
    l.max_depth = 8;
    return l;
}

ft_h5_write_opts ft_h5_write_opts_default(void)
{
    ft_h5_write_opts o;
    o.keras_version = "2.15.0";
    o.backend = "tensorflow";
    return o;
}

// ---- HDF5 error text ----

typedef struct h5_msgs {
    char first[160], last[160];
    int n;
} h5_msgs;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_msgs *m = data;
    if (!e->desc || !e->desc[0])
        return 0;
    if (m->n++ == 0)
        snprintf(m->first, sizeof m->first, "%s", e->desc);
    snprintf(m->last, sizeof m->last, "%s", e->desc);
    return 0;
}

// "outermost: innermost" from HDF5's error stack, then clears it.
static const char *h5_detail(char *buf, size_t cap)
{
    h5_msgs m = {{0}, {0}, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &m);
    H5Eclear2(H5E_DEFAULT);
    if (m.n == 0)
        snprintf(buf, cap, "HDF5 error");
    else if (m.n == 1 || strcmp(m.first, m.last) == 0)
        snprintf(buf, cap, "%s", m.first);
    else
        snprintf(buf, cap, "%s: %s", m.first, m.last);
    return buf;
}

// ---- String attributes ----

typedef struct strlist {
    size_t n;
    char **s;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        ft_free(l->s[i]);
    ft_free(l->s);
    l->n = 0;
    l->s = NULL;
}

static ft_status strlist_push(strlist *l, const char *s, size_t len)
{
    char **ns = ft_realloc(l->s, (l->n + 1) * sizeof *ns);
    if (!ns)
        return FT_E_NOMEM;
    l->s = ns;
    l->s[l->n] = ft_strndup(s, len);
    if (!l->s[l->n])
        return FT_E_NOMEM;
    l->n++;
    return FT_OK;
}

typedef struct rd {
    const char *file;
    const ft_h5_limits *lim;
    ft_err *err;
    hid_t f;
} rd;

// Appends the strings of attribute `name` on `obj` (scalar or 1-D, fixed or
// variable length; an empty attribute of any type counts as no strings).
// FT_E_NOT_FOUND when absent.
static ft_status attr_read_strings(rd *r, hid_t obj, const char *objname, const char *name,
                                   strlist *out)
{
    char detail[400];
    hid_t a = -1, t = -1, sp = -1, mt = -1;
    ft_status st = FT_OK;
    char *buf = NULL;
    char **vl = NULL;
    hssize_t npts;

    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return ft_err_set(r->err, FT_E_FORMAT, "%s: %s: cannot read attributes: %s", r->file,
                          objname, h5_detail(detail, sizeof detail));
    if (ex == 0)
        return FT_E_NOT_FOUND;
    a = H5Aopen(obj, name, H5P_DEFAULT);
    t = a >= 0 ? H5Aget_type(a) : -1;
    sp = a >= 0 ? H5Aget_space(a) : -1;
    if (a < 0 || t < 0 || sp < 0) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s: cannot open attribute '%s': %s", r->file,
                        objname, name, h5_detail(detail, sizeof detail));
        goto done;
    }
    npts = H5Sget_simple_extent_npoints(sp);
    int nd = H5Sget_simple_extent_ndims(sp);
    if (npts < 0 || nd < 0 || nd > 1) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s: attribute '%s' is not a string or a list "
                        "of strings", r->file, objname, name);
        goto done;
    }
    if (npts == 0)
        goto done;
    if (H5Tget_class(t) != H5T_STRING) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s: attribute '%s' is not a string attribute",
                        r->file, objname, name);
        goto done;
    }
    if ((size_t)npts > r->lim->max_config_bytes) {
        st = ft_err_set(r->err, FT_E_LIMIT, "%s: %s: attribute '%s' too large", r->file, objname,
                        name);
        goto done;
    }
    mt = H5Tcopy(H5T_C_S1);
    if (mt < 0 || H5Tset_cset(mt, H5Tget_cset(t)) < 0) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s", r->file, h5_detail(detail, sizeof detail));
        goto done;
    }
    if (H5Tis_variable_str(t) > 0) {
        if (H5Tset_size(mt, H5T_VARIABLE) < 0) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s", r->file,
                            h5_detail(detail, sizeof detail));
            goto done;
        }
        vl = ft_calloc((size_t)npts, sizeof *vl);
        if (!vl) {
            st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
            goto done;
        }
        if (H5Aread(a, mt, vl) < 0) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s: cannot read attribute '%s': %s",
                            r->file, objname, name, h5_detail(detail, sizeof detail));
            goto done;
        }
        for (hssize_t i = 0; i < npts && st == FT_OK; i++) {
            const char *s = vl[i] ? vl[i] : "";
            size_t len = strnlen(s, r->lim->max_config_bytes + 1);
            if (len > r->lim->max_config_bytes)
                st = ft_err_set(r->err, FT_E_LIMIT, "%s: %s: attribute '%s' too large", r->file,
                                objname, name);
            else if (strlist_push(out, s, len) != FT_OK)
                st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        }
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vl);
    } else {
        size_t sz = H5Tget_size(t), total;
        if (sz == 0 || !ft_size_mul(sz, (size_t)npts, &total) ||
            total > r->lim->max_config_bytes) {
            st = ft_err_set(r->err, FT_E_LIMIT, "%s: %s: attribute '%s' too large", r->file,
                            objname, name);
            goto done;
        }
        if (H5Tset_size(mt, sz) < 0 || H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s", r->file,
                            h5_detail(detail, sizeof detail));
            goto done;
        }
        buf = ft_malloc(total + 1);
        if (!buf) {
            st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
            goto done;
        }
        if (H5Aread(a, mt, buf) < 0) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: %s: cannot read attribute '%s': %s",
                            r->file, objname, name, h5_detail(detail, sizeof detail));
            goto done;
        }
        for (hssize_t i = 0; i < npts && st == FT_OK; i++) {
            const char *s = buf + (size_t)i * sz;
            if (strlist_push(out, s, strnlen(s, sz)) != FT_OK)
                st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        }
    }
done:
    ft_free(vl);
    ft_free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return st;
}

// Keras's load_attributes_from_hdf5_group: `name`, else name0, name1...
static ft_status attr_read_keras_list(rd *r, hid_t obj, const char *objname, const char *name,
                                      strlist *out)
{
    ft_status st = attr_read_strings(r, obj, objname, name, out);
    if (st != FT_E_NOT_FOUND)
        return st;
    char chunk[128];
    for (int i = 0;; i++) {
        snprintf(chunk, sizeof chunk, "%s%d", name, i);
        st = attr_read_strings(r, obj, objname, chunk, out);
        if (st == FT_E_NOT_FOUND)
            return i == 0 ? FT_E_NOT_FOUND : FT_OK;
        if (st != FT_OK)
            return st;
    }
}

// One string attribute (first element); NULL-free copy in *out.
static ft_status attr_read_one(rd *r, hid_t obj, const char *objname, const char *name,
                               char **out)
{
    strlist l = {0, NULL};
    ft_status st = attr_read_strings(r, obj, objname, name, &l);
    if (st == FT_OK && l.n == 0)
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: attribute '%s' is empty", r->file, name);
    if (st == FT_OK) {
        *out = l.s[0];
        l.s[0] = NULL;
    }
    strlist_free(&l);
    return st;
}

// ---- Weights ----

typedef struct wslot {
    ft_glayer *layer;
    char *path; // dataset path from the file root
    size_t idx; // index into layer->weights
} wslot;

typedef struct wplan {
    size_t n, cap;
    wslot *v;
    size_t floats;
} wplan;

static void wplan_free(wplan *p)
{
    for (size_t i = 0; i < p->n; i++)
        ft_free(p->v[i].path);
    ft_free(p->v);
}

// Canonical order of a kind's variables; the index is the slot position.
static int var_rank(ft_layer_kind k, const char *var)
{
    static const char *const conv[] = {"kernel", "bias", NULL};
    static const char *const dw[] = {"depthwise_kernel", "bias", NULL};
    static const char *const bn[] = {"gamma", "beta", "moving_mean", "moving_variance", NULL};
    const char *const *names = k == FT_LAYER_CONV2D || k == FT_LAYER_DENSE ? conv
                               : k == FT_LAYER_DWCONV2D                    ? dw
                               : k == FT_LAYER_BATCHNORM                   ? bn
                                                                           : NULL;
    for (int i = 0; names && names[i]; i++)
        if (strcmp(names[i], var) == 0)
            return i;
    return -1;
}

static bool kind_has_weights(ft_layer_kind k)
{
    return k == FT_LAYER_CONV2D || k == FT_LAYER_DWCONV2D || k == FT_LAYER_DENSE ||
           k == FT_LAYER_BATCHNORM || k == FT_LAYER_MODEL;
}

static ft_glayer *find_layer_deep(ft_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i].name, name) == 0)
            return &g->layers[i];
    for (size_t i = 0; i < g->n_layers; i++)
        if (g->layers[i].sub) {
            ft_glayer *l = find_layer_deep(g->layers[i].sub, name);
            if (l)
                return l;
        }
    return NULL;
}

// Adds weight `wname` (as in weight_names) of top-level layer `top` to the
// plan: opens the dataset to learn its shape and dtype.
static ft_status plan_weight(rd *r, ft_glayer *top, hid_t grp, const char *gpath,
                             const char *wname, wplan *p)
{
    char detail[400], var[128], lname[256];
    ft_status st = FT_OK;
    hid_t d = -1, t = -1, sp = -1;
    ft_glayer *l = top;

    // "<scope.../>layer/var[:0]": the variable is the last component, its
    // layer the one before (for a nested model, a layer inside it).
    const char *slash = strrchr(wname, '/');
    const char *v = slash ? slash + 1 : wname;
    size_t vlen = strcspn(v, ":");
    if (vlen == 0 || vlen >= sizeof var)
        return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': bad weight name '%s'", r->file,
                          top->name, wname);
    memcpy(var, v, vlen);
    var[vlen] = '\0';
    if (top->kind == FT_LAYER_MODEL) {
        const char *start = wname;
        if (!slash)
            return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': weight '%s' names no layer",
                              r->file, top->name, wname);
        for (const char *q = wname; q < slash; q++)
            if (*q == '/')
                start = q + 1;
        size_t ln = (size_t)(slash - start);
        if (ln == 0 || ln >= sizeof lname)
            return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': bad weight name '%s'",
                              r->file, top->name, wname);
        memcpy(lname, start, ln);
        lname[ln] = '\0';
        l = find_layer_deep(top->sub, lname);
        if (!l)
            return ft_err_set(r->err, FT_E_FORMAT,
                              "%s: layer '%s': weight '%s' belongs to no layer of the nested "
                              "model", r->file, top->name, wname);
    }
    int idx = var_rank(l->kind, var);
    if (idx < 0)
        return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s' (%s): unexpected weight '%s'",
                          r->file, l->name, ft_layer_kind_name(l->kind), wname);
    for (size_t i = 0; i < l->n_weights; i++)
        if (strcmp(l->weights[i].name, var) == 0)
            return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': weight '%s' given twice",
                              r->file, l->name, var);

    htri_t ex = H5Lexists(grp, wname, H5P_DEFAULT);
    if (ex > 0)
        d = H5Dopen2(grp, wname, H5P_DEFAULT);
    if (d < 0) {
        h5_detail(detail, sizeof detail);
        return ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': dataset '%s/%s' missing",
                          r->file, l->name, gpath, wname);
    }
    t = H5Dget_type(d);
    sp = H5Dget_space(d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[4] = {0};
    if (t < 0 || H5Tget_class(t) != H5T_FLOAT) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': weight '%s' is not a float dataset",
                        r->file, l->name, wname);
        goto done;
    }
    if (rank < 1 || rank > 4 || H5Sget_simple_extent_dims(sp, dims, NULL) != rank) {
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': weight '%s' has rank %d (1 to 4 "
                        "expected)", r->file, l->name, wname, rank);
        goto done;
    }
    ft_gweight *nw = ft_realloc(l->weights, (l->n_weights + 1) * sizeof *nw);
    if (!nw) {
        st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        goto done;
    }
    l->weights = nw;
    ft_gweight *w = &l->weights[l->n_weights];
    memset(w, 0, sizeof *w);
    w->name = ft_strdup(var);
    if (!w->name) {
        st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        goto done;
    }
    l->n_weights++;
    w->rank = rank;
    w->n_elems = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0 || dims[i] > INT32_MAX ||
            !ft_size_mul(w->n_elems, (size_t)dims[i], &w->n_elems)) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': weight '%s' has a bad shape",
                            r->file, l->name, wname);
            goto done;
        }
        w->shape[i] = (int32_t)dims[i];
    }
    // Keep tensors 16-float (64-byte) aligned in the block.
    size_t padded = (w->n_elems + 15) / 16 * 16;
    if (!ft_size_add(p->floats, padded, &p->floats) || p->floats > r->lim->max_weight_floats) {
        st = ft_err_set(r->err, FT_E_LIMIT, "%s: weights exceed the limit of %zu floats",
                        r->file, r->lim->max_weight_floats);
        goto done;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        wslot *nv = ft_realloc(p->v, nc * sizeof *nv);
        if (!nv) {
            st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
            goto done;
        }
        p->v = nv;
        p->cap = nc;
    }
    size_t plen = strlen(gpath) + strlen(wname) + 2;
    char *path = ft_malloc(plen);
    if (!path) {
        st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        goto done;
    }
    snprintf(path, plen, "%s/%s", gpath, wname);
    p->v[p->n].layer = l;
    p->v[p->n].path = path;
    p->v[p->n].idx = l->n_weights - 1;
    p->n++;
done:
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
    return st;
}

static int cmp_weight(const void *a, const void *b, ft_layer_kind k)
{
    return var_rank(k, ((const ft_gweight *)a)->name) - var_rank(k, ((const ft_gweight *)b)->name);
}

// Puts a layer's weights into the canonical order (kernel, bias / gamma,
// beta, moving_mean, moving_variance) and fixes the plan's indices.
static void order_weights(ft_graph *g, wplan *p)
{
    for (size_t i = 0; i < g->n_layers; i++) {
        ft_glayer *l = &g->layers[i];
        if (l->sub)
            order_weights(l->sub, p);
        // Insertion sort: at most four weights.
        for (size_t a = 1; a < l->n_weights; a++)
            for (size_t b = a; b > 0 && cmp_weight(&l->weights[b - 1], &l->weights[b], l->kind) > 0;
                 b--) {
                ft_gweight tmp = l->weights[b];
                l->weights[b] = l->weights[b - 1];
                l->weights[b - 1] = tmp;
                for (size_t s = 0; s < p->n; s++)
                    if (p->v[s].layer == l) {
                        if (p->v[s].idx == b)
                            p->v[s].idx = b - 1;
                        else if (p->v[s].idx == b - 1)
                            p->v[s].idx = b;
                    }
            }
    }
}

static ft_status load_weights(rd *r, ft_graph *g)
{
    char detail[400], gpath[512];
    wplan p = {0, 0, NULL, 0};
    strlist names = {0, NULL};
    ft_status st = FT_OK;
    hid_t mw = -1, lg = -1;

    if (H5Lexists(r->f, "model_weights", H5P_DEFAULT) <= 0 ||
        (mw = H5Gopen2(r->f, "model_weights", H5P_DEFAULT)) < 0) {
        h5_detail(detail, sizeof detail);
        return ft_err_set(r->err, FT_E_FORMAT, "%s: not a Keras model file: no 'model_weights' "
                          "group", r->file);
    }
    st = attr_read_keras_list(r, mw, "model_weights", "layer_names", &names);
    if (st == FT_E_NOT_FOUND)
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: not a Keras model file: 'model_weights' has no "
                        "'layer_names' attribute", r->file);
    if (st != FT_OK)
        goto done;
    for (size_t i = 0; i < g->n_layers; i++) {
        ft_glayer *l = &g->layers[i];
        strlist wn = {0, NULL};
        if (!kind_has_weights(l->kind))
            continue;
        snprintf(gpath, sizeof gpath, "/model_weights/%s", l->name);
        if (strchr(l->name, '/') || strcmp(l->name, ".") == 0 ||
            H5Lexists(mw, l->name, H5P_DEFAULT) <= 0 ||
            (lg = H5Gopen2(mw, l->name, H5P_DEFAULT)) < 0) {
            h5_detail(detail, sizeof detail);
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': no weight group '%s'", r->file,
                            l->name, gpath);
            goto done;
        }
        st = attr_read_keras_list(r, lg, gpath, "weight_names", &wn);
        if (st == FT_E_NOT_FOUND)
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': group has no 'weight_names'",
                            r->file, l->name);
        for (size_t k = 0; st == FT_OK && k < wn.n; k++)
            st = plan_weight(r, l, lg, gpath, wn.s[k], &p);
        strlist_free(&wn);
        H5Gclose(lg);
        lg = -1;
        if (st != FT_OK)
            goto done;
    }
    order_weights(g, &p);
    g->block = ft_aligned_alloc(p.floats * sizeof(float));
    if (!g->block) {
        st = ft_err_set(r->err, FT_E_NOMEM, "%s: out of memory", r->file);
        goto done;
    }
    g->block_floats = p.floats;
    size_t at = 0;
    for (size_t i = 0; i < p.n; i++) {
        ft_gweight *w = &p.v[i].layer->weights[p.v[i].idx];
        hid_t d = H5Dopen2(r->f, p.v[i].path, H5P_DEFAULT);
        w->data = g->block + at;
        at += (w->n_elems + 15) / 16 * 16;
        if (d < 0 || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data) < 0) {
            st = ft_err_set(r->err, FT_E_FORMAT, "%s: layer '%s': cannot read '%s': %s", r->file,
                            p.v[i].layer->name, p.v[i].path, h5_detail(detail, sizeof detail));
            if (d >= 0)
                H5Dclose(d);
            goto done;
        }
        H5Dclose(d);
    }
done:
    if (lg >= 0)
        H5Gclose(lg);
    strlist_free(&names);
    wplan_free(&p);
    H5Gclose(mw);
    return st;
}

// ---- Loading ----

typedef struct file_meta {
    char *keras_version, *backend;
    int layout; // 2 or 3
} file_meta;

static void meta_free(file_meta *m)
{
    ft_free(m->keras_version);
    ft_free(m->backend);
}

static ft_status load_from(rd *r, ft_graph **out, file_meta *meta)
{
    char *cfg = NULL;
    ft_graph *g = NULL;
    ft_status st;

    st = attr_read_one(r, r->f, "/", "model_config", &cfg);
    if (st == FT_E_NOT_FOUND)
        st = ft_err_set(r->err, FT_E_FORMAT, "%s: not a Keras model file: no 'model_config' "
                        "attribute (a weights-only file?)", r->file);
    if (st != FT_OK)
        goto done;
    if (meta) {
        // Optional: Keras 1-era files lack them.
        if (attr_read_one(r, r->f, "/", "keras_version", &meta->keras_version) != FT_OK)
            meta->keras_version = NULL;
        if (attr_read_one(r, r->f, "/", "backend", &meta->backend) != FT_OK)
            meta->backend = NULL;
        meta->layout = meta->keras_version && meta->keras_version[0] == '3' ? 3 : 2;
        ft_err_clear(r->err);
    }
    st = ft_model__graph_from_config(cfg, strlen(cfg), r->lim, &g, r->err);
    if (st != FT_OK) {
        ft_err_prefix(r->err, "%s: ", r->file);
        goto done;
    }
    st = load_weights(r, g);
    if (st != FT_OK)
        goto done;
    st = ft_graph_check(g, r->err);
    if (st != FT_OK) {
        ft_err_prefix(r->err, "%s: ", r->file);
        goto done;
    }
    *out = g;
    g = NULL;
done:
    ft_free(cfg);
    ft_graph_free(g);
    return st;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static ft_status open_and_load(const char *path, const uint8_t *image, size_t image_len,
                               const char *name, const ft_h5_limits *lim, ft_graph **out,
                               file_meta *meta, ft_err *err)
{
    ft_h5_limits dl = ft_h5_limits_default();
    h5_session s;
    char detail[400];
    hid_t fapl = -1;
    ft_status st;
    rd r = {name, lim ? lim : &dl, err, -1};

    if (!image && access(path, F_OK) != 0)
        return ft_err_set(err, errno == ENOENT ? FT_E_NOT_FOUND : FT_E_IO, "%s: %s", name,
                          strerror(errno));
    session_begin(&s);
    // A strong close degree makes H5Fclose close whatever a failed read
    // left open, so a damaged file cannot leak HDF5 objects.
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        st = ft_err_set(err, FT_E_NOMEM, "%s: cannot set up HDF5: %s", name,
                        h5_detail(detail, sizeof detail));
        goto done;
    }
    if (image) {
        if (H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
            H5Pset_file_image(fapl, (void *)image, image_len) < 0) {
            st = ft_err_set(err, FT_E_NOMEM, "%s: cannot set up the file image: %s", name,
                            h5_detail(detail, sizeof detail));
            goto done;
        }
        r.f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    } else {
        htri_t is = H5Fis_hdf5(path);
        if (is <= 0) {
            st = ft_err_set(err, FT_E_FORMAT, "%s: not an HDF5 file (or a damaged one)", name);
            goto done;
        }
        r.f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    }
    if (r.f < 0) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: cannot open as HDF5 (truncated or damaged?): %s",
                        name, h5_detail(detail, sizeof detail));
        goto done;
    }
    st = load_from(&r, out, meta);
done:
    if (r.f >= 0)
        H5Fclose(r.f);
    if (fapl >= 0)
        H5Pclose(fapl);
    session_end(&s);
    return st;
}

ft_status ft_h5_model_load(const char *path, const ft_h5_limits *lim, ft_graph **out,
                           ft_err *err)
{
    return open_and_load(path, NULL, 0, base_name(path), lim, out, NULL, err);
}

ft_status ft_h5_model_parse(const char *name, const uint8_t *buf, size_t len,
                            const ft_h5_limits *lim, ft_graph **out, ft_err *err)
{
    if (!buf || len == 0)
        return ft_err_set(err, FT_E_FORMAT, "%s: empty file", name ? name : "model.h5");
    return open_and_load(NULL, buf, len, name ? name : "model.h5", lim, out, NULL, err);
}

// ---- Writing ----

typedef struct wr {
    const char *file;
    ft_err *err;
    hid_t f;
} wr;

static ft_status wfail(wr *w, const char *what)
{
    char detail[400];
    return ft_err_set(w->err, FT_E_IO, "%s: cannot write %s: %s", w->file, what,
                      h5_detail(detail, sizeof detail));
}

// A scalar string attribute: variable-length UTF-8 (h5py's str) or
// fixed-length ASCII (h5py's bytes).
static ft_status attr_write_str(wr *w, hid_t obj, const char *name, const char *val, bool vlen)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    herr_t e = t < 0 || sp < 0 ? -1 : 0;
    size_t len = strlen(val);
    if (e == 0 && vlen)
        e = H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ? -1 : 0;
    else if (e == 0)
        e = H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ? -1 : 0;
    if (e == 0)
        a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0)
        e = vlen ? H5Awrite(a, t, &val) : H5Awrite(a, t, val);
    else
        e = -1;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return e < 0 ? wfail(w, name) : FT_OK;
}

// A 1-D fixed-length string array attribute, as numpy's array of bytes;
// no strings: an empty float64 array (what np.asarray([]) gives). Split as
// Keras does past KERAS_ATTR_LIMIT bytes.
static ft_status attr_write_list(wr *w, hid_t obj, const char *name, char *const *s, size_t n)
{
    size_t width = 1;
    ft_status st = FT_OK;

    if (n == 0) {
        hsize_t d0 = 0;
        hid_t sp = H5Screate_simple(1, &d0, NULL), a = -1;
        if (sp >= 0)
            a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0)
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        return a < 0 ? wfail(w, name) : FT_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(s[i]) > width)
            width = strlen(s[i]);
    size_t total = width * n, chunks = 1;
    // np.array_split into the fewest chunks that each fit.
    while ((n + chunks - 1) / chunks * width > KERAS_ATTR_LIMIT && chunks < n)
        chunks++;
    (void)total;
    char *buf = ft_calloc(n, width);
    if (!buf)
        return ft_err_set(w->err, FT_E_NOMEM, "%s: out of memory", w->file);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * width, s[i], strlen(s[i]));
    size_t at = 0;
    for (size_t c = 0; c < chunks && st == FT_OK; c++) {
        // array_split: the first n % chunks parts get one extra element.
        size_t cnt = n / chunks + (c < n % chunks ? 1 : 0);
        char an[160];
        if (chunks == 1)
            snprintf(an, sizeof an, "%s", name);
        else
            snprintf(an, sizeof an, "%s%zu", name, c);
        hsize_t d0 = cnt;
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, &d0, NULL), a = -1;
        if (t >= 0 && sp >= 0 && H5Tset_size(t, width) >= 0 &&
            H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0)
            a = H5Acreate2(obj, an, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, t, buf + at * width) < 0)
            st = wfail(w, an);
        at += cnt;
        if (a >= 0)
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
    }
    ft_free(buf);
    return st;
}

static bool var_trainable(const ft_glayer *l, const char *var)
{
    if (!l->trainable)
        return false;
    return strcmp(var, "moving_mean") != 0 && strcmp(var, "moving_variance") != 0;
}

// Keras's _legacy_weights order for a layer or a nested model: every
// trainable weight (layers in order), then every non-trainable one.
typedef struct wlist {
    size_t n, cap;
    const ft_gweight **w;
    char **names; // "<layer>/<var>:0"
} wlist;

static void wlist_free(wlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        ft_free(l->names[i]);
    ft_free(l->names);
    ft_free(l->w);
}

static ft_status wlist_add(wlist *wl, const ft_glayer *l, const ft_gweight *w)
{
    if (wl->n == wl->cap) {
        size_t nc = wl->cap ? wl->cap * 2 : 16;
        const ft_gweight **nw = ft_realloc(wl->w, nc * sizeof *nw);
        if (!nw)
            return FT_E_NOMEM;
        wl->w = nw;
        char **nn = ft_realloc(wl->names, nc * sizeof *nn);
        if (!nn)
            return FT_E_NOMEM;
        wl->names = nn;
        wl->cap = nc;
    }
    size_t len = strlen(l->name) + strlen(w->name) + 4;
    char *s = ft_malloc(len);
    if (!s)
        return FT_E_NOMEM;
    snprintf(s, len, "%s/%s:0", l->name, w->name);
    wl->w[wl->n] = w;
    wl->names[wl->n] = s;
    wl->n++;
    return FT_OK;
}

static ft_status collect(wlist *wl, const ft_glayer *l, bool trainable_pass, bool parent_trainable)
{
    ft_status st = FT_OK;
    if (l->kind == FT_LAYER_MODEL) {
        for (size_t i = 0; st == FT_OK && i < l->sub->n_layers; i++)
            st = collect(wl, &l->sub->layers[i], trainable_pass, parent_trainable && l->trainable);
        return st;
    }
    for (size_t k = 0; st == FT_OK && k < l->n_weights; k++) {
        bool tr = parent_trainable && var_trainable(l, l->weights[k].name);
        if (tr == trainable_pass)
            st = wlist_add(wl, l, &l->weights[k]);
    }
    return st;
}

static ft_status write_layer_group(wr *w, hid_t mw, const ft_glayer *l)
{
    wlist wl = {0, 0, NULL, NULL};
    ft_status st = collect(&wl, l, true, true);
    if (st == FT_OK)
        st = collect(&wl, l, false, true);
    if (st != FT_OK) {
        wlist_free(&wl);
        return ft_err_set(w->err, FT_E_NOMEM, "%s: out of memory", w->file);
    }
    hid_t g = H5Gcreate2(mw, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (g < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        st = wfail(w, l->name);
    if (st == FT_OK)
        st = attr_write_list(w, g, "weight_names", wl.names, wl.n);
    for (size_t i = 0; st == FT_OK && i < wl.n; i++) {
        const ft_gweight *wt = wl.w[i];
        hsize_t dims[4];
        for (int32_t k = 0; k < wt->rank; k++)
            dims[k] = (hsize_t)wt->shape[k];
        hid_t sp = H5Screate_simple(wt->rank, dims, NULL), d = -1;
        if (sp >= 0)
            d = H5Dcreate2(g, wl.names[i], H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, wt->data) < 0)
            st = wfail(w, wl.names[i]);
        if (d >= 0)
            H5Dclose(d);
        if (sp >= 0)
            H5Sclose(sp);
    }
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (g >= 0)
        H5Gclose(g);
    wlist_free(&wl);
    return st;
}

static int cmp_layer_name(const void *a, const void *b)
{
    return strcmp((*(const ft_glayer *const *)a)->name, (*(const ft_glayer *const *)b)->name);
}

static ft_status write_file(wr *w, const ft_graph *g, const ft_h5_write_opts *o, const char *cfg)
{
    ft_status st;
    hid_t mw = -1;
    const ft_glayer **sorted = NULL;
    char **names = NULL;

    st = attr_write_str(w, w->f, "keras_version", o->keras_version, true);
    if (st == FT_OK)
        st = attr_write_str(w, w->f, "backend", o->backend, true);
    if (st == FT_OK)
        st = attr_write_str(w, w->f, "model_config", cfg, false);
    if (st != FT_OK)
        return st;
    mw = H5Gcreate2(w->f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mw < 0)
        return wfail(w, "model_weights");
    sorted = ft_calloc(g->n_layers ? g->n_layers : 1, sizeof *sorted);
    names = ft_calloc(g->n_layers ? g->n_layers : 1, sizeof *names);
    if (!sorted || !names) {
        st = ft_err_set(w->err, FT_E_NOMEM, "%s: out of memory", w->file);
        goto done;
    }
    for (size_t i = 0; i < g->n_layers; i++) {
        sorted[i] = &g->layers[i];
        names[i] = g->layers[i].name;
    }
    st = attr_write_list(w, mw, "layer_names", names, g->n_layers);
    if (st == FT_OK)
        st = attr_write_str(w, mw, "backend", o->backend, false);
    if (st == FT_OK)
        st = attr_write_str(w, mw, "keras_version", o->keras_version, false);
    // Keras creates the layer groups sorted by name.
    qsort(sorted, g->n_layers, sizeof *sorted, cmp_layer_name);
    for (size_t i = 0; st == FT_OK && i < g->n_layers; i++)
        st = write_layer_group(w, mw, sorted[i]);
done:
    ft_free(sorted);
    ft_free(names);
    H5Gclose(mw);
    return st;
}

static bool names_ok(const ft_graph *g, ft_err *err)
{
    for (size_t i = 0; i < g->n_layers; i++) {
        const char *n = g->layers[i].name;
        if (!n[0] || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0) {
            ft_err_set(err, FT_E_INVALID, "layer name '%s' cannot be an HDF5 group name", n);
            return false;
        }
        if (g->layers[i].sub && !names_ok(g->layers[i].sub, err))
            return false;
    }
    return true;
}

ft_status ft_h5_model_save(const char *path, const ft_graph *g, const ft_h5_write_opts *opts,
                           ft_err *err)
{
    ft_h5_write_opts o = opts ? *opts : ft_h5_write_opts_default();
    ft_buf cfg;
    h5_session s;
    char *tmp = NULL;
    ft_status st;
    wr w = {base_name(path), err, -1};

    if (!o.keras_version)
        o.keras_version = "2.15.0";
    if (!o.backend)
        o.backend = "tensorflow";
    if (!names_ok(g, err))
        return FT_E_INVALID;
    ft_buf_init(&cfg, 0);
    st = ft_graph_to_keras_json(g, &cfg, err);
    if (st == FT_OK)
        st = ft_buf_terminate(&cfg);
    if (st != FT_OK) {
        ft_buf_deinit(&cfg);
        return st;
    }
    size_t len = strlen(path) + 32;
    tmp = ft_malloc(len);
    if (!tmp) {
        ft_buf_deinit(&cfg);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
    session_begin(&s);
    w.f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w.f < 0)
        st = wfail(&w, "the file");
    else
        st = write_file(&w, g, &o, (const char *)cfg.data);
    if (w.f >= 0 && H5Fclose(w.f) < 0 && st == FT_OK)
        st = wfail(&w, "the file");
    session_end(&s);
    if (st == FT_OK && rename(tmp, path) != 0)
        st = ft_err_set(err, FT_E_IO, "%s: cannot rename into place: %s", w.file,
                        strerror(errno));
    if (st != FT_OK)
        remove(tmp);
    ft_free(tmp);
    ft_buf_deinit(&cfg);
    return st;
}

// ---- model info ----

static ft_status info_graph(ft_buf *b, const ft_graph *g, size_t *total);

static size_t layer_params(const ft_glayer *l)
{
    size_t n = 0;
    for (size_t k = 0; k < l->n_weights; k++)
        n += l->weights[k].n_elems;
    return n;
}

static ft_status info_ref(ft_buf *b, const ft_graph *g, const ft_gref *r)
{
    const ft_glayer *src = &g->layers[r->layer];
    if (r->tensor == 0 && (src->kind != FT_LAYER_MODEL || src->sub->n_outputs == 1))
        return ft_buf_json_str(b, src->name);
    char s[400];
    snprintf(s, sizeof s, "%s[%d]", src->name, (int)r->tensor);
    return ft_buf_json_str(b, s);
}

static ft_status info_layer(ft_buf *b, const ft_graph *g, const ft_glayer *l, size_t *total)
{
    ft_status st = ft_buf_puts(b, "{\"name\":");
    size_t params = layer_params(l);
    if (st == FT_OK)
        st = ft_buf_json_str(b, l->name);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",\"class_name\":");
    if (st == FT_OK)
        st = ft_buf_json_str(b, ft_layer_kind_name(l->kind));
    if (st == FT_OK)
        st = ft_buf_puts(b, ",\"inbound\":[");
    for (size_t k = 0; st == FT_OK && k < l->n_nodes; k++)
        for (size_t i = 0; st == FT_OK && i < l->nodes[k].n_inputs; i++) {
            if (k + i > 0)
                st = ft_buf_puts(b, ",");
            if (st == FT_OK)
                st = info_ref(b, g, &l->nodes[k].inputs[i]);
        }
    if (st == FT_OK && l->kind != FT_LAYER_MODEL) {
        json_t *c = ft_model__layer_config(l);
        char *s = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(9)) : NULL;
        json_decref(c);
        if (!s)
            return FT_E_NOMEM;
        st = ft_buf_printf(b, "],\"config\":%s", s);
        json_free_t jfree;
        json_malloc_t jmalloc;
        json_get_alloc_funcs(&jmalloc, &jfree);
        jfree(s);
    } else if (st == FT_OK) {
        st = ft_buf_puts(b, "]");
    }
    if (st == FT_OK)
        st = ft_buf_puts(b, ",\"weights\":[");
    for (size_t k = 0; st == FT_OK && k < l->n_weights; k++) {
        const ft_gweight *w = &l->weights[k];
        st = ft_buf_printf(b, "%s{\"name\":", k ? "," : "");
        if (st == FT_OK)
            st = ft_buf_json_str(b, w->name);
        if (st == FT_OK)
            st = ft_buf_puts(b, ",\"shape\":[");
        for (int32_t i = 0; st == FT_OK && i < w->rank; i++)
            st = ft_buf_printf(b, "%s%d", i ? "," : "", (int)w->shape[i]);
        if (st == FT_OK)
            st = ft_buf_puts(b, "]}");
    }
    if (st == FT_OK)
        st = ft_buf_puts(b, "]");
    if (st == FT_OK && l->kind == FT_LAYER_MODEL) {
        size_t sub_total = 0;
        st = ft_buf_puts(b, ",\"model\":");
        if (st == FT_OK)
            st = info_graph(b, l->sub, &sub_total);
        params = sub_total;
    }
    *total += params;
    if (st == FT_OK)
        st = ft_buf_printf(b, ",\"params\":%zu}", params);
    return st;
}

// A comma-separated list of graph references.
static ft_status info_refs(ft_buf *b, const ft_graph *g, const ft_gref *refs, size_t n)
{
    ft_status st = FT_OK;
    for (size_t i = 0; st == FT_OK && i < n; i++) {
        if (i)
            st = ft_buf_puts(b, ",");
        if (st == FT_OK)
            st = info_ref(b, g, &refs[i]);
    }
    return st;
}

static ft_status info_graph(ft_buf *b, const ft_graph *g, size_t *total)
{
    ft_status st = ft_buf_puts(b, "{\"name\":");
    if (st == FT_OK)
        st = ft_buf_json_str(b, g->name);
    if (st == FT_OK)
        st = ft_buf_puts(b, ",\"inputs\":[");
    if (st == FT_OK)
        st = info_refs(b, g, g->inputs, g->n_inputs);
    if (st == FT_OK)
        st = ft_buf_puts(b, "],\"outputs\":[");
    if (st == FT_OK)
        st = info_refs(b, g, g->outputs, g->n_outputs);
    if (st == FT_OK)
        st = ft_buf_puts(b, "],\"layers\":[");
    for (size_t i = 0; st == FT_OK && i < g->n_layers; i++) {
        if (i)
            st = ft_buf_puts(b, ",");
        if (st == FT_OK)
            st = info_layer(b, g, &g->layers[i], total);
    }
    if (st == FT_OK)
        st = ft_buf_printf(b, "],\"total_params\":%zu}", *total);
    return st;
}

ft_status ft_h5_model_info(const char *path, ft_buf *out, ft_err *err)
{
    ft_graph *g = NULL;
    file_meta meta = {NULL, NULL, 2};
    size_t total = 0;
    ft_status st = open_and_load(path, NULL, 0, base_name(path), NULL, &g, &meta, err);
    if (st != FT_OK)
        goto done;
    st = ft_buf_puts(out, "{\"file\":");
    if (st == FT_OK)
        st = ft_buf_json_str(out, path);
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"keras_version\":");
    if (st == FT_OK)
        st = meta.keras_version ? ft_buf_json_str(out, meta.keras_version)
                                : ft_buf_puts(out, "null");
    if (st == FT_OK)
        st = ft_buf_puts(out, ",\"backend\":");
    if (st == FT_OK)
        st = meta.backend ? ft_buf_json_str(out, meta.backend) : ft_buf_puts(out, "null");
    if (st == FT_OK)
        st = ft_buf_printf(out, ",\"layout\":%d,\"model\":", meta.layout);
    if (st == FT_OK)
        st = info_graph(out, g, &total);
    if (st == FT_OK)
        st = ft_buf_puts(out, "}");
    if (st != FT_OK)
        st = ft_err_set(err, st, "%s: %s", base_name(path), ft_status_str(st));
done:
    meta_free(&meta);
    ft_graph_free(g);
    return st;
}
