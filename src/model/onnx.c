// ONNX model reader: a protobuf wire-format decoder of our own for the
// messages listed in onnx.h (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto/TypeProto). Every count is
// checked against the bytes left and the caller's limits before anything
// is allocated; everything the result holds lives in a few blocks freed at
// once.
//
// Wire format: a message is a sequence of (key, value); key = varint
// (field << 3 | wire type); wire types 0 varint, 1 fixed 8 bytes, 2 length
// + bytes, 5 fixed 4 bytes (3/4, groups, are not used by ONNX and are
// rejected). Repeated numeric fields come packed (one type-2 field) or as
// one field per element; both are accepted.
#include "model/onnx.h"

#include "core/mem.h"
#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx.c reads little-endian floats with memcpy"
#endif

ft_onnx_limits ft_onnx_limits_default(void)
{
    return (ft_onnx_limits){
        .max_bytes = (size_t)64 << 20,
        .max_nodes = 4096,
        .max_tensors = 4096,
        .max_values = 4096,
        .max_attrs = 64,
        .max_rank = FT_ONNX_MAX_RANK,
        .max_elems = (size_t)16 << 20,
        .max_total_elems = (size_t)32 << 20,
    };
}

// ---- Storage: a chain of blocks ----

struct ft_onnx_block {
    struct ft_onnx_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define BLOCK_MIN ((size_t)64 << 10)

static void *balloc(ft_onnx *m, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct ft_onnx_block *b = m->mem;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        b = ft_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = m->mem;
        m->mem = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void ft_onnx_free(ft_onnx *m)
{
    if (!m)
        return;
    struct ft_onnx_block *b = m->mem;
    while (b) {
        struct ft_onnx_block *nx = b->next;
        ft_free(b);
        b = nx;
    }
    ft_free(m);
}

// ---- Protobuf wire format ----

typedef struct pb {
    const uint8_t *p, *end;
} pb;

typedef struct pbf {
    uint32_t field;
    int wt;
    uint64_t u;         // wire types 0, 1, 5
    const uint8_t *ptr; // wire type 2
    size_t len;
} pbf;

typedef struct rd {
    ft_onnx *m;
    const ft_onnx_limits *lim;
    ft_err *err;
    size_t n_tensors, total_elems;
} rd;

static bool varint(pb *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (r->p >= r->end)
            return false;
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; // more than 10 bytes
}

// 1: a field was read into *f; 0: end of message; -1: malformed.
static int next(pb *r, pbf *f)
{
    f->u = 0;
    f->ptr = NULL;
    f->len = 0;
    if (r->p >= r->end)
        return 0;
    uint64_t key;
    if (!varint(r, &key))
        return -1;
    f->field = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return -1;
    switch (f->wt) {
    case 0:
        return varint(r, &f->u) ? 1 : -1;
    case 1:
        if (r->end - r->p < 8)
            return -1;
        memcpy(&f->u, r->p, 8);
        r->p += 8;
        return 1;
    case 5: {
        if (r->end - r->p < 4)
            return -1;
        uint32_t v;
        memcpy(&v, r->p, 4);
        f->u = v;
        r->p += 4;
        return 1;
    }
    case 2: {
        uint64_t n;
        if (!varint(r, &n) || n > (uint64_t)(r->end - r->p))
            return -1;
        f->ptr = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        return -1;
    }
}

static ft_status bad(rd *c, const char *what)
{
    return ft_err_set(c->err, FT_E_FORMAT, "onnx: malformed %s", what);
}

// Copies a string field, NUL-terminated; names may not contain NUL.
static ft_status str(rd *c, const pbf *f, const char *what, const char **out, size_t *len)
{
    if (f->wt != 2)
        return bad(c, what);
    if (memchr(f->ptr, 0, f->len))
        return ft_err_set(c->err, FT_E_FORMAT, "onnx: %s contains a NUL byte", what);
    char *s = balloc(c->m, f->len + 1);
    if (!s)
        return ft_err_set(c->err, FT_E_NOMEM, "out of memory");
    memcpy(s, f->ptr, f->len);
    s[f->len] = 0;
    *out = s;
    if (len)
        *len = f->len;
    return FT_OK;
}

// Counts the elements of a repeated numeric field occurrence: a packed
// slice (wt 2) of varints (esize 0) or fixed esize-byte values, or a
// single unpacked value of the matching wire type.
static bool count_rep(const pbf *f, int esize, size_t *n)
{
    int want = esize == 0 ? 0 : esize == 4 ? 5 : 1;
    if (f->wt == want) {
        (*n)++;
        return true;
    }
    if (f->wt != 2)
        return false;
    if (esize) {
        if (f->len % (size_t)esize)
            return false;
        *n += f->len / (size_t)esize;
        return true;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->len; i++)
        k += !(f->ptr[i] & 0x80);
    if (f->len && (f->ptr[f->len - 1] & 0x80))
        return false; // the last varint does not end
    *n += k;
    return true;
}

// Appends the values of one occurrence (already validated by count_rep)
// to `out` as int64 (varints), float (4 bytes) or double -> float (8).
static bool read_ints(const pbf *f, int64_t *out, size_t *k, size_t cap)
{
    if (f->wt == 0) {
        if (*k >= cap)
            return false;
        out[(*k)++] = (int64_t)f->u;
        return true;
    }
    pb r = {f->ptr, f->ptr + f->len};
    while (r.p < r.end) {
        uint64_t v;
        if (!varint(&r, &v) || *k >= cap)
            return false;
        out[(*k)++] = (int64_t)v;
    }
    return true;
}

static bool read_fixed(const pbf *f, int esize, float *out, size_t *k, size_t cap)
{
    if (f->wt != 2) {
        if (*k >= cap)
            return false;
        if (esize == 4) {
            uint32_t u = (uint32_t)f->u;
            memcpy(&out[(*k)++], &u, 4);
        } else {
            double d;
            memcpy(&d, &f->u, 8);
            out[(*k)++] = (float)d;
        }
        return true;
    }
    size_t n = f->len / (size_t)esize;
    if (n > cap - *k)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (esize == 4) {
            memcpy(&out[*k + i], f->ptr + 4 * i, 4);
        } else {
            double d;
            memcpy(&d, f->ptr + 8 * i, 8);
            out[*k + i] = (float)d;
        }
    }
    *k += n;
    return true;
}

static void *arr(rd *c, size_t n, size_t size)
{
    size_t b;
    if (!ft_size_mul(n, size, &b))
        return NULL;
    void *p = balloc(c->m, b);
    if (p)
        memset(p, 0, b);
    return p;
}

#define NOMEM(c) ft_err_set((c)->err, FT_E_NOMEM, "out of memory")

// ---- TensorProto ----

static ft_status parse_tensor(rd *c, const uint8_t *p, size_t len, ft_onnx_tensor *t)
{
    pb r = {p, p + len};
    pbf f;
    int k;
    size_t n_dims = 0, n_float = 0, n_i32 = 0, n_i64 = 0, n_dbl = 0;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    bool has_raw = false;
    ft_status st;

    if (c->n_tensors >= c->lim->max_tensors)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: more than %zu tensors",
                          c->lim->max_tensors);
    c->n_tensors++;
    *t = (ft_onnx_tensor){.name = ""};
    // Pass 1: scalars, the name, counts.
    while ((k = next(&r, &f)) == 1) {
        switch (f.field) {
        case 1:
            if (!count_rep(&f, 0, &n_dims))
                return bad(c, "tensor dims");
            break;
        case 2:
            if (f.wt != 0)
                return bad(c, "tensor data_type");
            t->data_type = (int32_t)f.u;
            break;
        case 4:
            if (!count_rep(&f, 4, &n_float))
                return bad(c, "tensor float_data");
            break;
        case 5:
            if (!count_rep(&f, 0, &n_i32))
                return bad(c, "tensor int32_data");
            break;
        case 7:
            if (!count_rep(&f, 0, &n_i64))
                return bad(c, "tensor int64_data");
            break;
        case 8:
            if ((st = str(c, &f, "tensor name", &t->name, NULL)) != FT_OK)
                return st;
            break;
        case 9:
            if (f.wt != 2)
                return bad(c, "tensor raw_data");
            raw = f.ptr;
            raw_len = f.len;
            has_raw = true;
            break;
        case 10:
            if (!count_rep(&f, 8, &n_dbl))
                return bad(c, "tensor double_data");
            break;
        case 14:
            if (f.wt != 0)
                return bad(c, "tensor data_location");
            t->external = f.u == 1;
            break;
        default:
            break;
        }
    }
    if (k < 0)
        return ft_err_set(c->err, FT_E_FORMAT, "onnx: tensor '%s': truncated or malformed",
                          t->name);
    if (n_dims > (size_t)c->lim->max_rank || n_dims > FT_ONNX_MAX_RANK)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: tensor '%s': rank %zu over the limit %d",
                          t->name, n_dims, (int)c->lim->max_rank);
    // Pass 2: dims, then the element count.
    size_t nd = 0;
    r = (pb){p, p + len};
    while (next(&r, &f) == 1)
        if (f.field == 1 && !read_ints(&f, t->dims, &nd, FT_ONNX_MAX_RANK))
            return bad(c, "tensor dims");
    t->rank = (int32_t)nd;
    size_t n = 1;
    for (size_t i = 0; i < nd; i++) {
        if (t->dims[i] < 0)
            return ft_err_set(c->err, FT_E_FORMAT, "onnx: tensor '%s': negative dimension",
                              t->name);
        if (!ft_size_mul(n, (size_t)t->dims[i], &n) || n > c->lim->max_elems)
            return ft_err_set(c->err, FT_E_LIMIT,
                              "onnx: tensor '%s': more than %zu elements", t->name,
                              c->lim->max_elems);
    }
    t->n_elems = n;
    if (n > c->lim->max_total_elems - c->total_elems)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: more than %zu tensor elements in all",
                          c->lim->max_total_elems);
    c->total_elems += n;
    if (t->external)
        return FT_OK;

    int dt = t->data_type;
    bool is_f = dt == FT_ONNX_FLOAT || dt == FT_ONNX_DOUBLE;
    bool is_i = dt == FT_ONNX_INT32 || dt == FT_ONNX_INT64;
    if (!is_f && !is_i)
        return FT_OK; // kept as a type code only
    size_t esize = dt == FT_ONNX_FLOAT || dt == FT_ONNX_INT32 ? 4 : 8;
    size_t have = has_raw ? raw_len / esize
                  : dt == FT_ONNX_FLOAT ? n_float
                  : dt == FT_ONNX_DOUBLE ? n_dbl
                  : dt == FT_ONNX_INT32 ? n_i32
                                         : n_i64;
    if ((has_raw && raw_len % esize) || have != n)
        return ft_err_set(c->err, FT_E_FORMAT,
                          "onnx: tensor '%s': %zu values for %zu elements (data type %d)",
                          t->name, have, n, dt);
    if (is_f) {
        float *d = arr(c, n, sizeof(float));
        if (!d)
            return NOMEM(c);
        if (has_raw) {
            for (size_t i = 0; i < n; i++) {
                if (dt == FT_ONNX_FLOAT) {
                    memcpy(&d[i], raw + 4 * i, 4);
                } else {
                    double v;
                    memcpy(&v, raw + 8 * i, 8);
                    d[i] = (float)v;
                }
            }
        } else {
            size_t j = 0;
            uint32_t want = dt == FT_ONNX_FLOAT ? 4 : 10;
            r = (pb){p, p + len};
            while (next(&r, &f) == 1)
                if (f.field == want && !read_fixed(&f, (int)esize, d, &j, n))
                    return bad(c, "tensor data");
        }
        t->f = d;
    } else {
        int64_t *d = arr(c, n, sizeof(int64_t));
        if (!d)
            return NOMEM(c);
        if (has_raw) {
            for (size_t i = 0; i < n; i++) {
                if (dt == FT_ONNX_INT32) {
                    int32_t v;
                    memcpy(&v, raw + 4 * i, 4);
                    d[i] = v;
                } else {
                    memcpy(&d[i], raw + 8 * i, 8);
                }
            }
        } else {
            size_t j = 0;
            uint32_t want = dt == FT_ONNX_INT32 ? 5 : 7;
            r = (pb){p, p + len};
            while (next(&r, &f) == 1)
                if (f.field == want && !read_ints(&f, d, &j, n))
                    return bad(c, "tensor data");
            if (dt == FT_ONNX_INT32)
                for (size_t i = 0; i < n; i++)
                    d[i] = (int32_t)d[i]; // int32_data holds sign-extended varints
        }
        t->i = d;
    }
    return FT_OK;
}

// ---- AttributeProto ----

static ft_status parse_attr(rd *c, const uint8_t *p, size_t len, ft_onnx_attr *a)
{
    pb r = {p, p + len};
    pbf f;
    int k;
    size_t nf = 0, ni = 0, ns = 0;
    ft_status st;
    bool has_type = false, has_f = false, has_i = false, has_s = false, has_t = false,
         has_g = false;

    *a = (ft_onnx_attr){.name = ""};
    while ((k = next(&r, &f)) == 1) {
        switch (f.field) {
        case 1:
            if ((st = str(c, &f, "attribute name", &a->name, NULL)) != FT_OK)
                return st;
            break;
        case 2: {
            if (f.wt != 5)
                return bad(c, "attribute f");
            uint32_t u = (uint32_t)f.u;
            memcpy(&a->f, &u, 4);
            has_f = true;
            break;
        }
        case 3:
            if (f.wt != 0)
                return bad(c, "attribute i");
            a->i = (int64_t)f.u;
            has_i = true;
            break;
        case 4:
            if ((st = str(c, &f, "attribute s", &a->s, &a->s_len)) != FT_OK)
                return st;
            has_s = true;
            break;
        case 5: {
            if (f.wt != 2)
                return bad(c, "attribute t");
            ft_onnx_tensor *t = arr(c, 1, sizeof *t);
            if (!t)
                return NOMEM(c);
            if ((st = parse_tensor(c, f.ptr, f.len, t)) != FT_OK)
                return st;
            a->t = t;
            has_t = true;
            break;
        }
        case 6:
            has_g = true;
            break;
        case 7:
            if (!count_rep(&f, 4, &nf))
                return bad(c, "attribute floats");
            break;
        case 8:
            if (!count_rep(&f, 0, &ni))
                return bad(c, "attribute ints");
            break;
        case 9:
            if (f.wt != 2)
                return bad(c, "attribute strings");
            ns++;
            break;
        case 20:
            if (f.wt != 0)
                return bad(c, "attribute type");
            a->type = f.u <= 14 ? (ft_onnx_attr_type)f.u : FT_ONNX_ATTR_UNDEFINED;
            has_type = true;
            break;
        default:
            break;
        }
    }
    if (k < 0)
        return ft_err_set(c->err, FT_E_FORMAT, "onnx: attribute '%s': truncated or malformed",
                          a->name);
    if (nf > c->lim->max_elems || ni > c->lim->max_elems || ns > c->lim->max_attrs)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: attribute '%s': too many values",
                          a->name);
    if (nf || ni || ns) {
        float *fl = nf ? arr(c, nf, sizeof *fl) : NULL;
        int64_t *in = ni ? arr(c, ni, sizeof *in) : NULL;
        const char **ss = ns ? arr(c, ns, sizeof *ss) : NULL;
        if ((nf && !fl) || (ni && !in) || (ns && !ss))
            return NOMEM(c);
        size_t jf = 0, ji = 0, js = 0;
        r = (pb){p, p + len};
        while (next(&r, &f) == 1) {
            if (f.field == 7 && !read_fixed(&f, 4, fl, &jf, nf))
                return bad(c, "attribute floats");
            if (f.field == 8 && !read_ints(&f, in, &ji, ni))
                return bad(c, "attribute ints");
            if (f.field == 9 && (st = str(c, &f, "attribute strings", &ss[js++], NULL)) != FT_OK)
                return st;
        }
        a->floats = fl;
        a->ints = in;
        a->n_floats = nf;
        a->n_ints = ni;
        a->n_strings = ns;
        (void)ss; // strings are counted but not exposed (no supported op reads them)
    }
    if (!has_type) {
        // IR version < 3 files may omit the type: infer it from what is set.
        a->type = nf   ? FT_ONNX_ATTR_FLOATS
                  : ni ? FT_ONNX_ATTR_INTS
                  : ns ? FT_ONNX_ATTR_STRINGS
                  : has_t ? FT_ONNX_ATTR_TENSOR
                  : has_g ? FT_ONNX_ATTR_GRAPH
                  : has_s ? FT_ONNX_ATTR_STRING
                  : has_f ? FT_ONNX_ATTR_FLOAT
                  : has_i ? FT_ONNX_ATTR_INT
                          : FT_ONNX_ATTR_UNDEFINED;
    }
    if (a->type == FT_ONNX_ATTR_STRING && !a->s) {
        a->s = "";
        a->s_len = 0;
    }
    return FT_OK;
}

// ---- NodeProto ----

static ft_status parse_node(rd *c, const uint8_t *p, size_t len, ft_onnx_node *n)
{
    pb r = {p, p + len};
    pbf f;
    int k;
    size_t ni = 0, no = 0, na = 0;
    ft_status st;

    *n = (ft_onnx_node){.name = "", .op_type = "", .domain = ""};
    while ((k = next(&r, &f)) == 1) {
        if (f.field == 1 || f.field == 2 || f.field == 5) {
            if (f.wt != 2)
                return bad(c, "node");
            (*(f.field == 1 ? &ni : f.field == 2 ? &no : &na))++;
        } else if (f.field == 3) {
            if ((st = str(c, &f, "node name", &n->name, NULL)) != FT_OK)
                return st;
        } else if (f.field == 4) {
            if ((st = str(c, &f, "node op_type", &n->op_type, NULL)) != FT_OK)
                return st;
        } else if (f.field == 7) {
            if ((st = str(c, &f, "node domain", &n->domain, NULL)) != FT_OK)
                return st;
        }
    }
    if (k < 0)
        return ft_err_set(c->err, FT_E_FORMAT, "onnx: node '%s': truncated or malformed",
                          n->name);
    if (ni > c->lim->max_attrs || no > c->lim->max_attrs || na > c->lim->max_attrs)
        return ft_err_set(c->err, FT_E_LIMIT,
                          "onnx: node '%s': more than %zu inputs, outputs or attributes",
                          n->name, c->lim->max_attrs);
    const char **in = arr(c, ni + 1, sizeof *in);
    const char **out = arr(c, no + 1, sizeof *out);
    ft_onnx_attr *at = arr(c, na + 1, sizeof *at);
    if (!in || !out || !at)
        return NOMEM(c);
    size_t ji = 0, jo = 0, ja = 0;
    r = (pb){p, p + len};
    while (next(&r, &f) == 1) {
        if (f.field == 1)
            st = str(c, &f, "node input", &in[ji++], NULL);
        else if (f.field == 2)
            st = str(c, &f, "node output", &out[jo++], NULL);
        else if (f.field == 5)
            st = parse_attr(c, f.ptr, f.len, &at[ja++]);
        else
            continue;
        if (st != FT_OK) {
            ft_err_prefix(c->err, "node '%s' (%s): ", n->name, n->op_type);
            return st;
        }
    }
    n->inputs = in;
    n->outputs = out;
    n->attrs = at;
    n->n_inputs = ni;
    n->n_outputs = no;
    n->n_attrs = na;
    return FT_OK;
}

// ---- ValueInfoProto ----

static ft_status parse_shape(rd *c, const uint8_t *p, size_t len, ft_onnx_value *v)
{
    pb r = {p, p + len};
    pbf f;
    int k;
    v->rank = 0;
    while ((k = next(&r, &f)) == 1) {
        if (f.field != 1)
            continue;
        if (f.wt != 2)
            return bad(c, "shape");
        if (v->rank >= c->lim->max_rank || v->rank >= FT_ONNX_MAX_RANK)
            return ft_err_set(c->err, FT_E_LIMIT, "onnx: value '%s': rank over the limit %d",
                              v->name, (int)c->lim->max_rank);
        int32_t d = v->rank++;
        v->dims[d] = -1;
        pb rr = {f.ptr, f.ptr + f.len};
        pbf g;
        int kk;
        while ((kk = next(&rr, &g)) == 1) {
            if (g.field == 1 && g.wt == 0) {
                v->dims[d] = (int64_t)g.u;
            } else if (g.field == 2) {
                ft_status st = str(c, &g, "dim_param", &v->dim_param[d], NULL);
                if (st != FT_OK)
                    return st;
            }
        }
        if (kk < 0)
            return bad(c, "shape dimension");
    }
    return k < 0 ? bad(c, "shape") : FT_OK;
}

static ft_status parse_value(rd *c, const uint8_t *p, size_t len, ft_onnx_value *v)
{
    pb r = {p, p + len};
    pbf f;
    int k;
    ft_status st;
    *v = (ft_onnx_value){.name = "", .rank = -1};
    while ((k = next(&r, &f)) == 1) {
        if (f.field == 1) {
            if ((st = str(c, &f, "value name", &v->name, NULL)) != FT_OK)
                return st;
        } else if (f.field == 2) {
            if (f.wt != 2)
                return bad(c, "value type");
            pb tr = {f.ptr, f.ptr + f.len}; // TypeProto
            pbf g;
            int kk;
            while ((kk = next(&tr, &g)) == 1) {
                if (g.field != 1)
                    continue; // sequence/map/optional types: not a tensor
                if (g.wt != 2)
                    return bad(c, "tensor type");
                pb ttr = {g.ptr, g.ptr + g.len};
                pbf h;
                int k3;
                while ((k3 = next(&ttr, &h)) == 1) {
                    if (h.field == 1 && h.wt == 0)
                        v->elem_type = (int32_t)h.u;
                    else if (h.field == 2) {
                        if (h.wt != 2)
                            return bad(c, "tensor shape");
                        if ((st = parse_shape(c, h.ptr, h.len, v)) != FT_OK)
                            return st;
                    }
                }
                if (k3 < 0)
                    return bad(c, "tensor type");
            }
            if (kk < 0)
                return bad(c, "value type");
        }
    }
    return k < 0 ? bad(c, "value info") : FT_OK;
}

// ---- GraphProto and ModelProto ----

static ft_status parse_graph(rd *c, const uint8_t *p, size_t len)
{
    ft_onnx *m = c->m;
    pb r = {p, p + len};
    pbf f;
    int k;
    size_t nn = 0, nt = 0, ni = 0, no = 0, nv = 0;
    ft_status st;

    while ((k = next(&r, &f)) == 1) {
        size_t *cnt = f.field == 1    ? &nn
                      : f.field == 5  ? &nt
                      : f.field == 11 ? &ni
                      : f.field == 12 ? &no
                      : f.field == 13 ? &nv
                                      : NULL;
        if (cnt) {
            if (f.wt != 2)
                return bad(c, "graph");
            (*cnt)++;
        } else if (f.field == 2) {
            if ((st = str(c, &f, "graph name", &m->graph_name, NULL)) != FT_OK)
                return st;
        }
    }
    if (k < 0)
        return bad(c, "graph (truncated)");
    if (nn > c->lim->max_nodes)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: %zu nodes, over the limit %zu", nn,
                          c->lim->max_nodes);
    if (nt > c->lim->max_tensors)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: %zu initializers, over the limit %zu", nt,
                          c->lim->max_tensors);
    if (ni > c->lim->max_values || no > c->lim->max_values || nv > c->lim->max_values ||
        ni + no + nv > c->lim->max_values)
        return ft_err_set(c->err, FT_E_LIMIT, "onnx: more than %zu graph values",
                          c->lim->max_values);
    ft_onnx_node *nodes = arr(c, nn + 1, sizeof *nodes);
    ft_onnx_tensor *ts = arr(c, nt + 1, sizeof *ts);
    ft_onnx_value *in = arr(c, ni + 1, sizeof *in);
    ft_onnx_value *out = arr(c, no + 1, sizeof *out);
    ft_onnx_value *vi = arr(c, nv + 1, sizeof *vi);
    if (!nodes || !ts || !in || !out || !vi)
        return NOMEM(c);
    m->nodes = nodes;
    m->tensors = ts;
    m->inputs = in;
    m->outputs = out;
    m->value_info = vi;
    r = (pb){p, p + len};
    while (next(&r, &f) == 1) {
        switch (f.field) {
        case 1:
            st = parse_node(c, f.ptr, f.len, &nodes[m->n_nodes++]);
            break;
        case 5:
            st = parse_tensor(c, f.ptr, f.len, &ts[m->n_tensors++]);
            break;
        case 11:
            st = parse_value(c, f.ptr, f.len, &in[m->n_inputs++]);
            break;
        case 12:
            st = parse_value(c, f.ptr, f.len, &out[m->n_outputs++]);
            break;
        case 13:
            st = parse_value(c, f.ptr, f.len, &vi[m->n_value_info++]);
            break;
        default:
            continue;
        }
        if (st != FT_OK)
            return st;
    }
    return FT_OK;
}

ft_status ft_onnx_parse(const uint8_t *buf, size_t len, const ft_onnx_limits *lim, ft_onnx **out,
                        ft_err *err)
{
    ft_onnx_limits def = ft_onnx_limits_default();
    if (!lim)
        lim = &def;
    *out = NULL;
    if (len > lim->max_bytes)
        return ft_err_set(err, FT_E_LIMIT, "onnx: %zu bytes, over the limit %zu", len,
                          lim->max_bytes);
    // An empty buffer may come as NULL: NULL + 0 is undefined behaviour.
    static const uint8_t empty[1];
    if (!buf) {
        if (len)
            return ft_err_set(err, FT_E_INVALID, "onnx: no buffer");
        buf = empty;
    }
    ft_onnx *m = ft_calloc(1, sizeof *m);
    if (!m)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    m->producer = m->producer_version = m->graph_name = "";
    rd c = {m, lim, err, 0, 0};
    pb r = {buf, buf + len};
    pbf f;
    int k;
    const uint8_t *graph = NULL;
    size_t graph_len = 0;
    ft_status st = FT_OK;

    while ((k = next(&r, &f)) == 1) {
        switch (f.field) {
        case 1:
            if (f.wt != 0) {
                st = bad(&c, "ir_version");
                goto done;
            }
            m->ir_version = (int64_t)f.u;
            break;
        case 2:
        case 3:
            st = str(&c, &f, "producer", f.field == 2 ? &m->producer : &m->producer_version,
                     NULL);
            if (st != FT_OK)
                goto done;
            break;
        case 7:
            if (f.wt != 2) {
                st = bad(&c, "graph");
                goto done;
            }
            graph = f.ptr;
            graph_len = f.len;
            break;
        case 8: {
            if (f.wt != 2) {
                st = bad(&c, "opset_import");
                goto done;
            }
            pb rr = {f.ptr, f.ptr + f.len};
            pbf g;
            int kk;
            bool def_domain = true;
            int64_t ver = 0;
            while ((kk = next(&rr, &g)) == 1) {
                if (g.field == 1)
                    def_domain = g.wt == 2 && (g.len == 0 || (g.len == 7 &&
                                                              memcmp(g.ptr, "ai.onnx", 7) == 0));
                else if (g.field == 2 && g.wt == 0)
                    ver = (int64_t)g.u;
            }
            if (kk < 0) {
                st = bad(&c, "opset_import");
                goto done;
            }
            if (def_domain)
                m->opset = ver;
            break;
        }
        default:
            break;
        }
    }
    if (k < 0) {
        st = ft_err_set(err, FT_E_FORMAT, "onnx: not a protobuf ModelProto (truncated or "
                                          "malformed field)");
        goto done;
    }
    if (!graph) {
        st = ft_err_set(err, FT_E_FORMAT, "onnx: no graph in the model");
        goto done;
    }
    st = parse_graph(&c, graph, graph_len);
done:
    if (st != FT_OK) {
        ft_onnx_free(m);
        return st;
    }
    *out = m;
    return FT_OK;
}

ft_status ft_onnx_load(const char *path, const ft_onnx_limits *lim, ft_onnx **out,
                       char sha256_hex[65], ft_err *err)
{
    ft_onnx_limits def = ft_onnx_limits_default();
    if (!lim)
        lim = &def;
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ft_err_set(err, FT_E_IO, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0;
    ft_status st = FT_OK;
    if (fseek(fp, 0, SEEK_END) != 0) {
        st = ft_err_set(err, FT_E_IO, "%s: cannot seek", path);
        goto done;
    }
    long sz = ftell(fp);
    if (sz < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        st = ft_err_set(err, FT_E_IO, "%s: cannot seek", path);
        goto done;
    }
    if ((unsigned long)sz > lim->max_bytes) {
        st = ft_err_set(err, FT_E_LIMIT, "%s: %ld bytes, over the limit %zu", path, sz,
                        lim->max_bytes);
        goto done;
    }
    len = (size_t)sz;
    buf = ft_malloc(len ? len : 1);
    if (!buf) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto done;
    }
    if (fread(buf, 1, len, fp) != len) {
        st = ft_err_set(err, FT_E_IO, "%s: short read", path);
        goto done;
    }
    if (sha256_hex)
        ft_sha256_hex(buf, len, sha256_hex);
    st = ft_onnx_parse(buf, len, lim, out, err);
    if (st != FT_OK)
        ft_err_prefix(err, "%s: ", path);
done:
    ft_free(buf);
    fclose(fp);
    return st;
}

// ---- Lookups ----

const ft_onnx_tensor *ft_onnx_initializer(const ft_onnx *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

bool ft_onnx_is_initializer(const ft_onnx *m, const char *name)
{
    return ft_onnx_initializer(m, name) != NULL;
}

const ft_onnx_attr *ft_onnx_node_attr(const ft_onnx_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}
