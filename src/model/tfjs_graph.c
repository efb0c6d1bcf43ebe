// tfjs graph-model topology reader (format in tfjs_graph.h). The JSON is
// parsed by jansson; nodes, inputs, attributes and their strings are
// copied into a few large chunks owned by the graph, then inputs are
// resolved to node indices through a name index sorted once.
#include "model/tfjs_graph.h"

#include "core/buf.h"
#include "core/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- Storage: bump chunks ----

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} chunk;

struct ft_tfjs_graph {
    chunk *chunks;
    size_t n_nodes;
    ft_tfg_node *nodes;
    int32_t *by_name; // node indices sorted by name
};

static void *galloc(ft_tfjs_graph *g, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    chunk *c = g->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ((size_t)64 << 10) ? n : ((size_t)64 << 10);
        if (cap > SIZE_MAX - sizeof(chunk))
            return NULL;
        c = ft_malloc(sizeof(chunk) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = g->chunks;
        g->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static void *galloc_array(ft_tfjs_graph *g, size_t count, size_t size)
{
    size_t n;
    if (!ft_size_mul(count, size, &n))
        return NULL;
    return galloc(g, n);
}

static char *gstrdup(ft_tfjs_graph *g, const char *s, size_t len)
{
    char *d = galloc(g, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void ft_tfjs_graph_free(ft_tfjs_graph *g)
{
    if (!g)
        return;
    for (chunk *c = g->chunks, *next; c; c = next) {
        next = c->next;
        ft_free(c);
    }
    ft_free(g->by_name);
    ft_free(g);
}

ft_tfjs_graph_limits ft_tfjs_graph_limits_default(void)
{
    ft_tfjs_graph_limits l;
    l.max_json_bytes = (size_t)16 << 20;
    l.max_nodes = 65536;
    l.max_inputs = 1024;
    l.max_attrs = 64;
    l.max_list = 4096;
    l.max_name_bytes = 4096;
    return l;
}

// ---- Parsing helpers ----

typedef struct pctx {
    const char *file;
    const ft_tfjs_graph_limits *lim;
    ft_tfjs_graph *g;
    ft_err *err;
} pctx;

static ft_status nomem(pctx *p)
{
    return ft_err_set(p->err, FT_E_NOMEM, "%s: out of memory", p->file);
}

static ft_status get_string(pctx *p, json_t *v, const char *node, const char *what,
                            const char **out)
{
    if (!json_is_string(v))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': %s is not a string", p->file,
                          node, what);
    size_t len = json_string_length(v);
    if (len > p->lim->max_name_bytes)
        return ft_err_set(p->err, FT_E_LIMIT, "%s: node '%s': %s is %zu bytes, over the limit of %zu",
                          p->file, node, what, len, p->lim->max_name_bytes);
    if (strlen(json_string_value(v)) != len)
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': %s holds a NUL character", p->file,
                          node, what);
    *out = gstrdup(p->g, json_string_value(v), len);
    return *out ? FT_OK : nomem(p);
}

// An int64 written as a JSON integer or as a decimal string (protobuf's
// JSON mapping writes int64 as strings).
static bool read_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    if (json_string_length(v) == 0 || json_string_length(v) > 20 || strlen(s) != json_string_length(v))
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return false;
    *out = (int64_t)x;
    return true;
}

static bool read_float(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    // protobuf JSON writes non-finite floats as strings.
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == 'N' ? (double)NAN : s[0] == '-' ? -(double)INFINITY : (double)INFINITY;
            return true;
        }
    }
    return false;
}

static int b64val(unsigned char c)
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

// Standard or URL-safe base64, padding optional. NULL on bad input.
static char *b64_decode(pctx *p, const char *s, size_t len, size_t *out_len, bool *bad)
{
    *bad = false;
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1) {
        *bad = true;
        return NULL;
    }
    char *d = galloc(p->g, len / 4 * 3 + 3);
    if (!d)
        return NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            *bad = true;
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    d[n] = '\0';
    *out_len = n;
    return d;
}

// A shape object {"dim": [{"size": "3"}...]} or {"unknownRank": true}.
static ft_status read_shape(pctx *p, json_t *v, const char *node, const char *an, ft_tfg_attr *a)
{
    if (!json_is_object(v))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': shape is not an object",
                          p->file, node, an);
    json_t *ur = json_object_get(v, "unknownRank");
    if (json_is_true(ur)) {
        a->n = 0;
        a->i = 1;
        return FT_OK;
    }
    json_t *dims = json_object_get(v, "dim");
    if (!dims) {
        a->n = 0; // a scalar
        return FT_OK;
    }
    if (!json_is_array(dims))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': \"dim\" is not an array",
                          p->file, node, an);
    size_t n = json_array_size(dims);
    if (n > p->lim->max_list)
        return ft_err_set(p->err, FT_E_LIMIT, "%s: node '%s': attribute '%s': rank %zu over the limit",
                          p->file, node, an, n);
    a->n = n;
    a->ints = galloc_array(p->g, n, sizeof *a->ints);
    if (!a->ints)
        return nomem(p);
    for (size_t k = 0; k < n; k++) {
        json_t *d = json_array_get(dims, k);
        json_t *sz = json_is_object(d) ? json_object_get(d, "size") : NULL;
        int64_t x = 0; // protobuf omits zero-valued fields: {} is size 0
        if (!json_is_object(d) || (sz && !read_int(sz, &x)) || x < -1)
            return ft_err_set(p->err, FT_E_FORMAT,
                              "%s: node '%s': attribute '%s': dimension %zu is not a size >= -1",
                              p->file, node, an, k);
        a->ints[k] = x;
    }
    return FT_OK;
}

static ft_status read_list(pctx *p, json_t *v, const char *node, const char *an, ft_tfg_attr *a)
{
    if (!json_is_object(v))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': list is not an object",
                          p->file, node, an);
    json_t *li = json_object_get(v, "i"), *lf = json_object_get(v, "f"),
           *ls = json_object_get(v, "s"), *lt = json_object_get(v, "type");
    json_t *arr = li ? li : lf ? lf : ls ? ls : lt;
    a->kind = li ? FT_TFG_LIST_I : lf ? FT_TFG_LIST_F : (ls || lt) ? FT_TFG_LIST_S : FT_TFG_LIST_I;
    if (!arr) { // {} : an empty list (protobuf omits empty fields)
        a->n = 0;
        return FT_OK;
    }
    if (!json_is_array(arr))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': list is not an array",
                          p->file, node, an);
    size_t n = json_array_size(arr);
    if (n > p->lim->max_list)
        return ft_err_set(p->err, FT_E_LIMIT,
                          "%s: node '%s': attribute '%s': list of %zu over the limit of %zu",
                          p->file, node, an, n, p->lim->max_list);
    a->n = n;
    if (a->kind == FT_TFG_LIST_I) {
        if (!(a->ints = galloc_array(p->g, n, sizeof *a->ints)))
            return nomem(p);
        for (size_t k = 0; k < n; k++)
            if (!read_int(json_array_get(arr, k), &a->ints[k]))
                return ft_err_set(p->err, FT_E_FORMAT,
                                  "%s: node '%s': attribute '%s': element %zu is not an integer",
                                  p->file, node, an, k);
    } else if (a->kind == FT_TFG_LIST_F) {
        if (!(a->floats = galloc_array(p->g, n, sizeof *a->floats)))
            return nomem(p);
        for (size_t k = 0; k < n; k++)
            if (!read_float(json_array_get(arr, k), &a->floats[k]))
                return ft_err_set(p->err, FT_E_FORMAT,
                                  "%s: node '%s': attribute '%s': element %zu is not a number",
                                  p->file, node, an, k);
    } else {
        if (!(a->strs = galloc_array(p->g, n, sizeof *a->strs)))
            return nomem(p);
        for (size_t k = 0; k < n; k++) {
            json_t *e = json_array_get(arr, k);
            if (!json_is_string(e) || json_string_length(e) > p->lim->max_name_bytes)
                return ft_err_set(p->err, FT_E_FORMAT,
                                  "%s: node '%s': attribute '%s': element %zu is not a string",
                                  p->file, node, an, k);
            const char *s = json_string_value(e);
            size_t len = json_string_length(e);
            if (ls) { // bytes, base64
                bool bad;
                size_t dl;
                char *d = b64_decode(p, s, len, &dl, &bad);
                if (bad)
                    return ft_err_set(p->err, FT_E_FORMAT,
                                      "%s: node '%s': attribute '%s': element %zu is not base64",
                                      p->file, node, an, k);
                if (!d)
                    return nomem(p);
                a->strs[k] = d;
            } else {
                if (!(a->strs[k] = gstrdup(p->g, s, len)))
                    return nomem(p);
            }
        }
    }
    return FT_OK;
}

static ft_status read_attr(pctx *p, const char *node, const char *an, json_t *v, ft_tfg_attr *a)
{
    ft_status st;
    if (!json_is_object(v))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s' is not an object",
                          p->file, node, an);
    if (strlen(an) > p->lim->max_name_bytes)
        return ft_err_set(p->err, FT_E_LIMIT, "%s: node '%s': attribute name too long", p->file,
                          node);
    if (!(a->name = gstrdup(p->g, an, strlen(an))))
        return nomem(p);
    json_t *x;
    if ((x = json_object_get(v, "s"))) {
        a->kind = FT_TFG_S;
        if (!json_is_string(x) || json_string_length(x) > 4 * p->lim->max_name_bytes)
            return ft_err_set(p->err, FT_E_FORMAT,
                              "%s: node '%s': attribute '%s': \"s\" is not a string (or too long)",
                              p->file, node, an);
        bool bad;
        char *d = b64_decode(p, json_string_value(x), json_string_length(x), &a->s_len, &bad);
        if (bad)
            return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s' is not base64",
                              p->file, node, an);
        if (!d)
            return nomem(p);
        a->s = d;
    } else if ((x = json_object_get(v, "i"))) {
        a->kind = FT_TFG_I;
        if (!read_int(x, &a->i))
            return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': \"i\" is not an integer",
                              p->file, node, an);
    } else if ((x = json_object_get(v, "f"))) {
        a->kind = FT_TFG_F;
        if (!read_float(x, &a->f))
            return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': \"f\" is not a number",
                              p->file, node, an);
    } else if ((x = json_object_get(v, "b"))) {
        a->kind = FT_TFG_B;
        if (!json_is_boolean(x))
            return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': \"b\" is not a boolean",
                              p->file, node, an);
        a->b = json_is_true(x);
    } else if ((x = json_object_get(v, "type"))) {
        a->kind = FT_TFG_TYPE;
        if ((st = get_string(p, x, node, "a type attribute", &a->s)) != FT_OK)
            return st;
        a->s_len = strlen(a->s);
    } else if ((x = json_object_get(v, "shape"))) {
        a->kind = FT_TFG_SHAPE;
        return read_shape(p, x, node, an, a);
    } else if ((x = json_object_get(v, "tensor"))) {
        a->kind = FT_TFG_TENSOR;
        if (!json_is_object(x))
            return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': attribute '%s': tensor is not an object",
                              p->file, node, an);
        json_t *dt = json_object_get(x, "dtype");
        if (dt) {
            if ((st = get_string(p, dt, node, "a tensor dtype", &a->s)) != FT_OK)
                return st;
            a->s_len = strlen(a->s);
        }
        json_t *ts = json_object_get(x, "tensorShape");
        if (ts)
            return read_shape(p, ts, node, an, a);
    } else if ((x = json_object_get(v, "list"))) {
        return read_list(p, x, node, an, a);
    } else {
        a->kind = FT_TFG_OTHER;
    }
    return FT_OK;
}

static ft_status read_node(pctx *p, size_t idx, json_t *jn, ft_tfg_node *n, const char ***in_names)
{
    ft_status st;
    char where[32];
    if (!json_is_object(jn))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node %zu is not an object", p->file, idx);
    snprintf(where, sizeof where, "#%zu", idx);
    if ((st = get_string(p, json_object_get(jn, "name"), where, "\"name\"", &n->name)) != FT_OK)
        return st;
    if (n->name[0] == '\0')
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node %zu has an empty name", p->file, idx);
    if ((st = get_string(p, json_object_get(jn, "op"), n->name, "\"op\"", &n->op)) != FT_OK)
        return st;

    json_t *in = json_object_get(jn, "input");
    if (in && !json_is_array(in))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': \"input\" is not an array", p->file,
                          n->name);
    n->n_inputs = in ? json_array_size(in) : 0;
    if (n->n_inputs > p->lim->max_inputs)
        return ft_err_set(p->err, FT_E_LIMIT, "%s: node '%s': %zu inputs, over the limit of %zu",
                          p->file, n->name, n->n_inputs, p->lim->max_inputs);
    n->inputs = galloc_array(p->g, n->n_inputs, sizeof *n->inputs);
    *in_names = galloc_array(p->g, n->n_inputs, sizeof **in_names);
    if (!n->inputs || !*in_names)
        return nomem(p);
    for (size_t k = 0; k < n->n_inputs; k++)
        if ((st = get_string(p, json_array_get(in, k), n->name, "an input", &(*in_names)[k])) != FT_OK)
            return st;

    json_t *attrs = json_object_get(jn, "attr");
    if (attrs && !json_is_object(attrs))
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': \"attr\" is not an object", p->file,
                          n->name);
    n->n_attrs = attrs ? json_object_size(attrs) : 0;
    if (n->n_attrs > p->lim->max_attrs)
        return ft_err_set(p->err, FT_E_LIMIT, "%s: node '%s': %zu attributes, over the limit of %zu",
                          p->file, n->name, n->n_attrs, p->lim->max_attrs);
    n->attrs = galloc_array(p->g, n->n_attrs, sizeof *n->attrs);
    if (!n->attrs)
        return nomem(p);
    if (attrs) {
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(attrs, key, v)
        {
            if ((st = read_attr(p, n->name, key, v, &n->attrs[k])) != FT_OK)
                return st;
            k++;
        }
    }
    return FT_OK;
}

// ---- Name index ----

static void sort_names(int32_t *idx, int32_t *tmp, size_t n, const ft_tfg_node *nodes)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_names(idx, tmp, h, nodes);
    sort_names(idx + h, tmp, n - h, nodes);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = strcmp(nodes[idx[j]].name, nodes[idx[i]].name) < 0 ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static int32_t find_len(const ft_tfjs_graph *g, const char *name, size_t len)
{
    size_t lo = 0, hi = g->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *nm = g->nodes[g->by_name[mid]].name;
        int c = strncmp(name, nm, len);
        if (c == 0 && nm[len] != '\0')
            c = -1; // name is a proper prefix of nm: it sorts before
        if (c == 0)
            return g->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int32_t ft_tfjs_graph_find(const ft_tfjs_graph *g, const char *name)
{
    return find_len(g, name, strlen(name));
}

// "name", "name:k" or "^name" to a reference.
static ft_status resolve(pctx *p, const ft_tfg_node *n, const char *s, ft_tfg_input *in)
{
    const ft_tfjs_graph *g = p->g;
    bool control = s[0] == '^';
    const char *nm = control ? s + 1 : s;
    size_t len = strlen(nm);
    int64_t out = 0;
    int32_t at = find_len(g, nm, len); // a node name may itself contain ':'
    if (at < 0) {
        const char *colon = strrchr(nm, ':');
        if (colon && !control) {
            char *end;
            errno = 0;
            long v = strtol(colon + 1, &end, 10);
            if (colon[1] >= '0' && colon[1] <= '9' && *end == '\0' && errno == 0 && v <= INT32_MAX) {
                out = v;
                at = find_len(g, nm, (size_t)(colon - nm));
            }
        }
    }
    if (at < 0)
        return ft_err_set(p->err, FT_E_FORMAT, "%s: node '%s': input '%s' names no node", p->file,
                          n->name, s);
    in->node = at;
    in->output = (int32_t)out;
    in->control = control;
    return FT_OK;
}

// ---- Entry points ----

ft_status ft_tfjs_graph_parse(const char *name, const uint8_t *json, size_t json_len,
                              const ft_tfjs_graph_limits *lim, ft_tfjs_graph **out, ft_err *err)
{
    ft_tfjs_graph_limits dl = ft_tfjs_graph_limits_default();
    json_t *root = NULL;
    ft_tfjs_graph *g = NULL;
    int32_t *tmp = NULL;
    const char ***in_names = NULL;
    json_error_t je;
    ft_status st = FT_OK;

    if (!lim)
        lim = &dl;
    if (!name)
        name = "model.json";
    pctx p = {name, lim, NULL, err};
    if (json_len > lim->max_json_bytes) {
        st = ft_err_set(err, FT_E_LIMIT, "%s: %zu bytes, over the limit of %zu", name, json_len,
                        lim->max_json_bytes);
        goto done;
    }
    root = json_loadb((const char *)json, json_len, 0, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')
            st = ft_err_set(err, FT_E_NOMEM, "%s: out of memory", name);
        else
            st = ft_err_set(err, FT_E_FORMAT, "%s: invalid JSON at line %d, column %d: %s", name,
                            je.line, je.column, je.text);
        goto done;
    }
    json_t *fmt = json_is_object(root) ? json_object_get(root, "format") : NULL;
    json_t *topo = json_is_object(root) ? json_object_get(root, "modelTopology") : NULL;
    json_t *nodes = json_is_object(topo) ? json_object_get(topo, "node") : NULL;
    if (fmt && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "graph-model") != 0)) {
        st = ft_err_set(err, FT_E_FORMAT, "%s: format is not \"graph-model\"", name);
        goto done;
    }
    if (!json_is_array(nodes)) {
        st = ft_err_set(err, FT_E_FORMAT,
                        "%s: not a tfjs graph model (no \"modelTopology\".\"node\" array)", name);
        goto done;
    }
    size_t nn = json_array_size(nodes);
    if (nn > lim->max_nodes || nn > INT32_MAX) {
        st = ft_err_set(err, FT_E_LIMIT, "%s: %zu nodes, over the limit of %zu", name, nn,
                        lim->max_nodes);
        goto done;
    }
    g = ft_calloc(1, sizeof *g);
    if (!g) {
        st = ft_err_set(err, FT_E_NOMEM, "%s: out of memory", name);
        goto done;
    }
    p.g = g;
    g->n_nodes = nn;
    g->nodes = galloc_array(g, nn, sizeof *g->nodes);
    g->by_name = ft_calloc(nn ? nn : 1, sizeof *g->by_name);
    tmp = ft_calloc(nn ? nn : 1, sizeof *tmp);
    in_names = ft_calloc(nn ? nn : 1, sizeof *in_names);
    if (!g->nodes || !g->by_name || !tmp || !in_names) {
        st = nomem(&p);
        goto done;
    }
    for (size_t i = 0; i < nn; i++) {
        st = read_node(&p, i, json_array_get(nodes, i), &g->nodes[i], &in_names[i]);
        if (st != FT_OK)
            goto done;
        g->by_name[i] = (int32_t)i;
    }
    sort_names(g->by_name, tmp, nn, g->nodes);
    for (size_t i = 1; i < nn; i++)
        if (strcmp(g->nodes[g->by_name[i - 1]].name, g->nodes[g->by_name[i]].name) == 0) {
            st = ft_err_set(err, FT_E_FORMAT, "%s: node '%s': duplicate name", name,
                            g->nodes[g->by_name[i]].name);
            goto done;
        }
    for (size_t i = 0; i < nn; i++) {
        ft_tfg_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            if ((st = resolve(&p, n, in_names[i][k], &n->inputs[k])) != FT_OK)
                goto done;
    }
    *out = g;
    g = NULL;
done:
    ft_free(in_names);
    ft_free(tmp);
    ft_tfjs_graph_free(g);
    json_decref(root);
    return st;
}

ft_status ft_tfjs_graph_load(const char *path, const ft_tfjs_graph_limits *lim,
                             ft_tfjs_graph **out, ft_err *err)
{
    ft_tfjs_graph_limits dl = ft_tfjs_graph_limits_default();
    ft_buf b;
    if (!lim)
        lim = &dl;
    const char *slash = strrchr(path, '/');
    const char *file = slash ? slash + 1 : path;
    ft_buf_init(&b, 0);
    size_t limit = lim->max_json_bytes == SIZE_MAX ? SIZE_MAX : lim->max_json_bytes + 1;
    ft_status st = ft_file_read(path, limit, &b, err);
    if (st == FT_OK)
        st = ft_tfjs_graph_parse(file, b.data, b.len, lim, out, err);
    else if (st == FT_E_LIMIT)
        st = ft_err_set(err, FT_E_LIMIT, "%s: over the limit of %zu bytes", file,
                        lim->max_json_bytes);
    ft_buf_deinit(&b);
    return st;
}

size_t ft_tfjs_graph_count(const ft_tfjs_graph *g)
{
    return g->n_nodes;
}

const ft_tfg_node *ft_tfjs_graph_node(const ft_tfjs_graph *g, size_t i)
{
    return i < g->n_nodes ? &g->nodes[i] : NULL;
}

const ft_tfg_attr *ft_tfg_node_attr(const ft_tfg_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}
