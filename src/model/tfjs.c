// tfjs weight manifests and shards (see tfjs.h for the format). Parsing
// runs in two passes: the manifest is validated into an entry table with
// byte offsets, then the shard bytes are checked against it and every
// float tensor is decoded into one aligned block (STYLE §4).
#include "model/tfjs.h"

#include "core/buf.h"
#include "core/mem.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Float tensors start on 64-byte boundaries inside the block.
#define TFJS_FLOAT_ALIGN (FT_ALIGN / sizeof(float))

enum { DT_F32, DT_I32 };

// How a float32 entry is stored in the shard.
enum { Q_NONE, Q_U8, Q_F16 };

typedef struct tfjs_entry {
    const char *name;     // into ft_tfjs.names
    const int32_t *shape; // into ft_tfjs.shapes
    int32_t rank;
    uint8_t dtype;
    uint8_t quant; // Q_*
    double scale, min;
    size_t n_elems;
    size_t offset; // bytes, from the start of all shard data
    size_t n_bytes;
    float *data; // into ft_tfjs.block; NULL for int32 entries
    int32_t *idata; // into ft_tfjs.iblock; int32 entries only
} tfjs_entry;

typedef struct tfjs_group {
    size_t first, n_entries; // entry range
    size_t offset, n_bytes;  // byte range of its entries in all shard data
    size_t n_paths;
    const char *const *paths; // borrowed from the JSON document
} tfjs_group;

struct ft_tfjs {
    char *file; // manifest name, for messages
    size_t n;
    tfjs_entry *e;
    size_t *by_name; // entry indices sorted by name
    char *names;
    int32_t *shapes;
    float *block;
    int32_t *iblock; // the int32 entries' values, back to back
    size_t n_ints;
    // Manifest-only state, freed once the data is bound.
    size_t n_groups;
    tfjs_group *groups;
    const char **path_ptrs;
    size_t n_float_slots; // floats in the block, alignment included
};

ft_tfjs_limits ft_tfjs_limits_default(void)
{
    ft_tfjs_limits l;
    l.max_manifest_bytes = (size_t)4 << 20;
    l.max_weight_bytes = (size_t)512 << 20;
    l.max_tensors = 4096;
    l.max_rank = 6;
    return l;
}

void ft_tfjs_free(ft_tfjs *m)
{
    if (!m)
        return;
    ft_free(m->file);
    ft_free(m->e);
    ft_free(m->by_name);
    ft_free(m->names);
    ft_free(m->shapes);
    ft_aligned_free(m->block);
    ft_free(m->iblock);
    ft_free(m->groups);
    ft_free(m->path_ptrs);
    ft_free(m);
}

static ft_status nomem(ft_err *err, const char *file)
{
    return ft_err_set(err, FT_E_NOMEM, "%s: out of memory", file);
}

// ---- Manifest (JSON) ----

// Shard names are plain file names inside the manifest's folder.
static bool shard_name_ok(const char *s)
{
    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    return strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

static const char *dtype_str(uint8_t dt)
{
    return dt == DT_F32 ? "float32" : "int32";
}

// First pass over the document: counts and sizes for the allocations.
// A model.json document ({"modelTopology": ..., "weightsManifest": [...]})
// carries the manifest as a member; a plain manifest is the array itself.
static json_t *manifest_of(json_t *root)
{
    json_t *wm = json_is_object(root) ? json_object_get(root, "weightsManifest") : NULL;
    return wm ? wm : root;
}

static ft_status count_pass(const char *file, json_t *root, const ft_tfjs_limits *lim,
                            size_t *n_entries, size_t *n_paths, size_t *name_bytes,
                            size_t *n_dims, ft_err *err)
{
    size_t i, j;
    json_t *g;

    *n_entries = *n_paths = *name_bytes = *n_dims = 0;
    if (!json_is_array(root))
        return ft_err_set(err, FT_E_FORMAT, "%s: manifest is not a JSON array of weight groups",
                          file);
    json_array_foreach(root, i, g)
    {
        if (!json_is_object(g))
            return ft_err_set(err, FT_E_FORMAT, "%s: weight group %zu is not an object", file, i);
        json_t *paths = json_object_get(g, "paths");
        json_t *weights = json_object_get(g, "weights");
        if (!json_is_array(paths))
            return ft_err_set(err, FT_E_FORMAT, "%s: weight group %zu has no \"paths\" array",
                              file, i);
        if (!json_is_array(weights))
            return ft_err_set(err, FT_E_FORMAT, "%s: weight group %zu has no \"weights\" array",
                              file, i);
        json_t *p;
        json_array_foreach(paths, j, p)
        {
            if (!json_is_string(p))
                return ft_err_set(err, FT_E_FORMAT, "%s: weight group %zu: path %zu is not a string",
                                  file, i, j);
            if (!shard_name_ok(json_string_value(p)))
                return ft_err_set(err, FT_E_FORMAT,
                                  "%s: weight group %zu: shard path '%s' is not a plain file name "
                                  "in the manifest's folder",
                                  file, i, json_string_value(p));
        }
        *n_paths += json_array_size(paths);
        json_t *w;
        json_array_foreach(weights, j, w)
        {
            if (*n_entries >= lim->max_tensors)
                return ft_err_set(err, FT_E_LIMIT, "%s: more than %zu tensors", file,
                                  lim->max_tensors);
            (*n_entries)++;
            if (!json_is_object(w))
                return ft_err_set(err, FT_E_FORMAT, "%s: weight group %zu: entry %zu is not an object",
                                  file, i, j);
            json_t *name = json_object_get(w, "name");
            if (!json_is_string(name))
                return ft_err_set(err, FT_E_FORMAT,
                                  "%s: weight group %zu: entry %zu has no \"name\" string", file, i, j);
            const char *nm = json_string_value(name);
            json_t *shape = json_object_get(w, "shape");
            if (!json_is_array(shape))
                return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s': no \"shape\" array", file, nm);
            size_t rank = json_array_size(shape);
            if (rank > (size_t)(lim->max_rank < 0 ? 0 : lim->max_rank))
                return ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': rank %zu exceeds the limit %d",
                                  file, nm, rank, (int)lim->max_rank);
            // Names and dims are bounded by the manifest size, so these
            // sums cannot overflow; check anyway, it is cheap.
            if (!ft_size_add(*name_bytes, strlen(nm) + 1, name_bytes) ||
                !ft_size_add(*n_dims, rank, n_dims))
                return ft_err_set(err, FT_E_LIMIT, "%s: manifest too large", file);
        }
    }
    return FT_OK;
}

// Validates one entry's fields into `e` (name, shape, dtype, quantisation,
// sizes). `names`/`dims` are where its name and shape are stored.
static ft_status parse_entry(const char *file, json_t *w, char *name_dst, int32_t *dims,
                             tfjs_entry *e, ft_err *err)
{
    const char *nm = json_string_value(json_object_get(w, "name"));
    json_t *shape = json_object_get(w, "shape");
    size_t k, rank = json_array_size(shape);
    json_t *d;

    strcpy(name_dst, nm);
    e->name = name_dst;
    e->shape = dims;
    e->rank = (int32_t)rank;
    e->n_elems = 1;
    json_array_foreach(shape, k, d)
    {
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return ft_err_set(err, FT_E_FORMAT,
                              "%s: tensor '%s': dimension %zu is not a non-negative integer", file,
                              nm, k);
        json_int_t v = json_integer_value(d);
        if (v > INT32_MAX)
            return ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': dimension %zu (%lld) is too large",
                              file, nm, k, (long long)v);
        dims[k] = (int32_t)v;
        if (!ft_size_mul(e->n_elems, (size_t)v, &e->n_elems))
            return ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': element count overflows", file,
                              nm);
    }

    json_t *dt = json_object_get(w, "dtype");
    if (!json_is_string(dt))
        return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s': no \"dtype\" string", file, nm);
    if (strcmp(json_string_value(dt), "float32") == 0)
        e->dtype = DT_F32;
    else if (strcmp(json_string_value(dt), "int32") == 0)
        e->dtype = DT_I32;
    else
        return ft_err_set(err, FT_E_UNSUPPORTED, "%s: tensor '%s': unsupported dtype '%s'", file,
                          nm, json_string_value(dt));

    json_t *q = json_object_get(w, "quantization");
    e->quant = Q_NONE;
    if (q && !json_is_null(q)) {
        if (!json_is_object(q))
            return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s': \"quantization\" is not an object",
                              file, nm);
        json_t *qdt = json_object_get(q, "dtype");
        if (!json_is_string(qdt))
            return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s': quantization has no \"dtype\"",
                              file, nm);
        const char *qs = json_string_value(qdt);
        if (strcmp(qs, "uint8") == 0)
            e->quant = Q_U8;
        else if (strcmp(qs, "float16") == 0 && e->dtype == DT_F32)
            e->quant = Q_F16;
        else
            return ft_err_set(err, FT_E_UNSUPPORTED,
                              "%s: tensor '%s': unsupported quantization dtype '%s' (uint8, or "
                              "float16 for float32 tensors)",
                              file, nm, qs);
        if (e->quant != Q_F16) {
            json_t *sc = json_object_get(q, "scale"), *mn = json_object_get(q, "min");
            if (!json_is_number(sc) || !json_is_number(mn))
                return ft_err_set(err, FT_E_FORMAT,
                                  "%s: tensor '%s': %s quantization needs numeric \"scale\" and "
                                  "\"min\"",
                                  file, nm, qs);
            // json_number_value reads the JSON text with strtod, so each
            // value is the exact double the text denotes (what JavaScript
            // gets too).
            e->scale = json_number_value(sc);
            e->min = json_number_value(mn);
        }
    }
    size_t elem_bytes = e->quant == Q_U8 ? 1 : e->quant == Q_F16 ? 2 : 4;
    if (!ft_size_mul(e->n_elems, elem_bytes, &e->n_bytes))
        return ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': byte size overflows", file, nm);
    return FT_OK;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
    const tfjs_entry *e = ctx;
    return strcmp(e[*(const size_t *)a].name, e[*(const size_t *)b].name);
}

// Sort context without qsort_r portability worries: a tiny merge sort.
static void sort_by_name(size_t *idx, size_t *tmp, size_t n, const tfjs_entry *e)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_by_name(idx, tmp, h, e);
    sort_by_name(idx + h, tmp, n - h, e);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_name(&idx[j], &idx[i], (void *)e) < 0 ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

// Builds the entry table from a parsed document. The group paths borrow
// strings from `root`, which must outlive their use.
static ft_status from_json(const char *file, json_t *root, const ft_tfjs_limits *lim,
                           ft_tfjs **out, ft_err *err)
{
    ft_status st;
    size_t n_entries, n_paths, name_bytes, n_dims, i, j;
    size_t *tmp = NULL;
    ft_tfjs *m = NULL;

    root = manifest_of(root);
    st = count_pass(file, root, lim, &n_entries, &n_paths, &name_bytes, &n_dims, err);
    if (st != FT_OK)
        goto done;
    m = ft_calloc(1, sizeof *m);
    if (!m) {
        st = nomem(err, file);
        goto done;
    }
    m->n = n_entries;
    m->n_groups = json_array_size(root);
    m->file = ft_strdup(file);
    m->e = ft_calloc(n_entries ? n_entries : 1, sizeof *m->e);
    m->by_name = ft_calloc(n_entries ? n_entries : 1, sizeof *m->by_name);
    tmp = ft_calloc(n_entries ? n_entries : 1, sizeof *tmp);
    m->names = ft_malloc(name_bytes ? name_bytes : 1);
    m->shapes = ft_calloc(n_dims ? n_dims : 1, sizeof *m->shapes);
    m->groups = ft_calloc(m->n_groups ? m->n_groups : 1, sizeof *m->groups);
    m->path_ptrs = ft_calloc(n_paths ? n_paths : 1, sizeof *m->path_ptrs);
    if (!m->file || !m->e || !m->by_name || !tmp || !m->names || !m->shapes || !m->groups ||
        !m->path_ptrs) {
        st = nomem(err, file);
        goto done;
    }

    char *name_at = m->names;
    int32_t *dims_at = m->shapes;
    size_t k = 0, pk = 0, offset = 0, slots = 0;
    json_t *g;
    json_array_foreach(root, i, g)
    {
        json_t *paths = json_object_get(g, "paths"), *weights = json_object_get(g, "weights"), *w;
        tfjs_group *grp = &m->groups[i];
        grp->paths = &m->path_ptrs[pk];
        grp->n_paths = json_array_size(paths);
        for (j = 0; j < grp->n_paths; j++)
            m->path_ptrs[pk++] = json_string_value(json_array_get(paths, j));
        grp->first = k;
        grp->offset = offset;
        json_array_foreach(weights, j, w)
        {
            tfjs_entry *e = &m->e[k];
            st = parse_entry(file, w, name_at, dims_at, e, err);
            if (st != FT_OK)
                goto done;
            name_at += strlen(name_at) + 1;
            dims_at += e->rank;
            e->offset = offset;
            if (!ft_size_add(offset, e->n_bytes, &offset) || offset > lim->max_weight_bytes) {
                st = ft_err_set(err, FT_E_LIMIT,
                                "%s: tensor '%s': weights exceed the limit of %zu bytes", file,
                                e->name, lim->max_weight_bytes);
                goto done;
            }
            if (e->dtype == DT_I32 && !ft_size_add(m->n_ints, e->n_elems, &m->n_ints)) {
                st = ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': int32 block overflows", file,
                                e->name);
                goto done;
            }
            if (e->dtype == DT_F32) {
                size_t padded;
                if (!ft_size_add(e->n_elems, TFJS_FLOAT_ALIGN - 1, &padded) ||
                    !ft_size_add(slots, padded - padded % TFJS_FLOAT_ALIGN, &slots)) {
                    st = ft_err_set(err, FT_E_LIMIT, "%s: tensor '%s': float block overflows",
                                    file, e->name);
                    goto done;
                }
            }
            m->by_name[k] = k;
            k++;
        }
        grp->n_entries = k - grp->first;
        grp->n_bytes = offset - grp->offset;
    }
    m->n_float_slots = slots;

    sort_by_name(m->by_name, tmp, m->n, m->e);
    for (i = 1; i < m->n; i++)
        if (strcmp(m->e[m->by_name[i - 1]].name, m->e[m->by_name[i]].name) == 0) {
            st = ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s': duplicate name", file,
                            m->e[m->by_name[i]].name);
            goto done;
        }
    *out = m;
    m = NULL;
done:
    ft_free(tmp);
    ft_tfjs_free(m);
    return st;
}

static ft_status load_json(const char *file, const uint8_t *json, size_t json_len,
                           const ft_tfjs_limits *lim, json_t **root, ft_err *err)
{
    json_error_t je;

    if (json_len > lim->max_manifest_bytes)
        return ft_err_set(err, FT_E_LIMIT, "%s: manifest is %zu bytes, over the limit of %zu",
                          file, json_len, lim->max_manifest_bytes);
    *root = json_loadb((const char *)json, json_len, 0, &je);
    if (!*root) {
        // jansson leaves the text empty when its own setup allocation
        // fails; every parse error carries a message.
        if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')
            return nomem(err, file);
        return ft_err_set(err, FT_E_FORMAT, "%s: invalid JSON at line %d, column %d: %s", file,
                          je.line, je.column, je.text);
    }
    return FT_OK;
}

// ---- Shard data ----

// IEEE binary16 to float32 exactly as tfjs's getFloat16Decoder does it (the
// mantissa/exponent/offset tables of van der Meulen's "Fast Half Float
// Conversions"), bit for bit: exact for every half, subnormals, infinities
// and NaNs included.
float ft_tfjs_half_to_float(uint16_t h)
{
    uint32_t e5 = h >> 10;        // sign and exponent: 6 bits
    uint32_t man = h & 0x3ffu;
    uint32_t mant_idx = (e5 == 0 || e5 == 32) ? man : 1024 + man; // offset table
    uint32_t mbits;
    if (mant_idx == 0) {
        mbits = 0;
    } else if (mant_idx < 1024) { // subnormal half: normalise
        uint32_t m = mant_idx << 13, e = 0;
        while ((m & 0x00800000u) == 0) {
            e -= 0x00800000u;
            m <<= 1;
        }
        m &= ~0x00800000u;
        e += 0x38800000u;
        mbits = m | e;
    } else {
        mbits = 0x38000000u + ((mant_idx - 1024) << 13);
    }
    uint32_t ebits;
    if (e5 == 0)
        ebits = 0;
    else if (e5 == 31)
        ebits = 0x47800000u;
    else if (e5 == 32)
        ebits = 0x80000000u;
    else if (e5 == 63)
        ebits = 0xc7800000u;
    else if (e5 < 31)
        ebits = e5 << 23;
    else
        ebits = 0x80000000u + ((e5 - 32) << 23);
    uint32_t bits = mbits + ebits; // the tables' sum, wrapping as Uint32Array does
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Shards are little-endian float32; on such a host they copy as they are.
static bool is_little_endian(void)
{
    const uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// `group_lens` (n_groups entries; NULL = unknown) gives the bytes of each
// group's shards, so each group's entries must fill its own shards
// exactly; without it only the total is checked.
static ft_status bind_data(ft_tfjs *m, const uint8_t *data, size_t data_len,
                           const size_t *group_lens, ft_err *err)
{
    const char *file = m->file;
    size_t bytes;

    if (!ft_size_mul(m->n_float_slots, sizeof(float), &bytes))
        return ft_err_set(err, FT_E_LIMIT, "%s: float block overflows", file);
    size_t group_start = 0;
    for (size_t gi = 0; gi < m->n_groups; gi++) {
        const tfjs_group *g = &m->groups[gi];
        size_t avail = group_lens ? group_lens[gi] : data_len - group_start;
        const char *shard = g->n_paths == 1 ? g->paths[0] : "shards";
        for (size_t k = g->first; k < g->first + g->n_entries; k++) {
            const tfjs_entry *e = &m->e[k];
            size_t at = e->offset - g->offset; // offset inside the group
            if (at > avail || e->n_bytes > avail - at)
                return ft_err_set(err, FT_E_FORMAT,
                                  "%s: tensor '%s': %s has %zu bytes, entry needs %zu more "
                                  "(%zu bytes at offset %zu)",
                                  file, e->name, group_lens ? shard : "shard data", avail,
                                  at + e->n_bytes - avail, e->n_bytes, at);
        }
        if (group_lens && g->n_bytes != avail)
            return ft_err_set(err, FT_E_FORMAT,
                              "%s: weight group %zu: %s has %zu bytes, the entries use only %zu "
                              "(%zu left over)",
                              file, gi, shard, avail, g->n_bytes, avail - g->n_bytes);
        group_start += group_lens ? avail : g->n_bytes;
    }
    if (group_start != data_len)
        return ft_err_set(err, FT_E_FORMAT,
                          "%s: shard data has %zu bytes, the entries use only %zu (%zu left over)",
                          file, data_len, group_start, data_len - group_start);

    m->block = ft_aligned_alloc(bytes);
    if (!m->block)
        return nomem(err, file);
    if (m->n_ints > 0) { // n_ints * 4 <= the shard bytes already checked
        m->iblock = ft_malloc(m->n_ints * sizeof(int32_t));
        if (!m->iblock)
            return nomem(err, file);
    }
    size_t slot = 0, islot = 0;
    for (size_t k = 0; k < m->n; k++) {
        tfjs_entry *e = &m->e[k];
        const uint8_t *src = data + e->offset;
        if (e->dtype == DT_I32) {
            e->idata = m->iblock + islot;
            islot += e->n_elems;
            if (e->quant == Q_U8) {
                // tfjs: Math.round(q * scale + min) into an Int32Array;
                // out-of-range results are clamped (the manifest's choice).
                for (size_t i = 0; i < e->n_elems; i++) {
                    double v = floor((double)src[i] * e->scale + e->min + 0.5);
                    e->idata[i] = v >= 2147483647.0 ? INT32_MAX
                                  : v <= -2147483648.0 ? INT32_MIN
                                                       : (int32_t)v;
                }
                continue;
            }
            for (size_t i = 0; i < e->n_elems; i++) {
                uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                             (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
                memcpy(&e->idata[i], &u, sizeof u);
            }
            continue;
        }
        if (e->dtype != DT_F32)
            continue;
        e->data = m->block + slot;
        slot += (e->n_elems + TFJS_FLOAT_ALIGN - 1) / TFJS_FLOAT_ALIGN * TFJS_FLOAT_ALIGN;
        if (e->quant == Q_F16) {
            for (size_t i = 0; i < e->n_elems; i++)
                e->data[i] = ft_tfjs_half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        } else if (e->quant == Q_U8) {
            // face-api / tfjs: a double q*scale + min stored into a
            // Float32Array, i.e. rounded once to float. A byte has 256
            // values: compute each once (same expression, same result).
            float lut[256];
            for (int q = 0; q < 256; q++)
                lut[q] = (float)((double)q * e->scale + e->min);
            for (size_t i = 0; i < e->n_elems; i++)
                e->data[i] = lut[src[i]];
        } else if (is_little_endian()) {
            memcpy(e->data, src, e->n_elems * sizeof(float));
        } else {
            for (size_t i = 0; i < e->n_elems; i++) {
                uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                             (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
                memcpy(&e->data[i], &u, sizeof u);
            }
        }
    }
    return FT_OK;
}

static void drop_manifest_state(ft_tfjs *m)
{
    ft_free(m->groups);
    ft_free(m->path_ptrs);
    m->groups = NULL;
    m->path_ptrs = NULL;
    m->n_groups = 0;
}

ft_status ft_tfjs_parse(const char *name, const uint8_t *json, size_t json_len, const uint8_t *data,
                        size_t data_len, const ft_tfjs_limits *lim, ft_tfjs **out, ft_err *err)
{
    ft_tfjs_limits dl = ft_tfjs_limits_default();
    json_t *root = NULL;
    ft_tfjs *m = NULL;
    ft_status st;

    if (!lim)
        lim = &dl;
    if (!name)
        name = "manifest";
    if (data_len > lim->max_weight_bytes) {
        st = ft_err_set(err, FT_E_LIMIT, "%s: shard data is %zu bytes, over the limit of %zu",
                        name, data_len, lim->max_weight_bytes);
        goto done;
    }
    st = load_json(name, json, json_len, lim, &root, err);
    if (st != FT_OK)
        goto done;
    st = from_json(name, root, lim, &m, err);
    if (st != FT_OK)
        goto done;
    st = bind_data(m, data, data_len, NULL, err);
    if (st != FT_OK)
        goto done;
    drop_manifest_state(m);
    *out = m;
    m = NULL;
done:
    ft_tfjs_free(m);
    json_decref(root);
    return st;
}

// ---- Files ----

static size_t plus_one(size_t n)
{
    return n == SIZE_MAX ? n : n + 1;
}

ft_status ft_tfjs_load(const char *manifest_path, const ft_tfjs_limits *lim, ft_tfjs **out,
                       ft_err *err)
{
    ft_tfjs_limits dl = ft_tfjs_limits_default();
    json_t *root = NULL;
    ft_tfjs *m = NULL;
    ft_buf man, data, shard;
    size_t *group_lens = NULL;
    char *path = NULL;
    ft_status st;

    if (!lim)
        lim = &dl;
    ft_buf_init(&man, 0);
    ft_buf_init(&data, 0);
    ft_buf_init(&shard, 0);
    const char *slash = strrchr(manifest_path, '/');
    const char *file = slash ? slash + 1 : manifest_path;
    size_t dir_len = slash ? (size_t)(slash - manifest_path) + 1 : 0;

    // One byte over the limit is enough to tell "too large".
    st = ft_file_read(manifest_path, plus_one(lim->max_manifest_bytes), &man, err);
    if (st != FT_OK)
        goto done;
    st = load_json(file, man.data, man.len, lim, &root, err);
    if (st != FT_OK)
        goto done;
    st = from_json(file, root, lim, &m, err);
    if (st != FT_OK)
        goto done;
    group_lens = ft_calloc(m->n_groups ? m->n_groups : 1, sizeof *group_lens);
    if (!group_lens) {
        st = nomem(err, file);
        goto done;
    }
    for (size_t gi = 0; gi < m->n_groups; gi++) {
        const tfjs_group *g = &m->groups[gi];
        for (size_t pi = 0; pi < g->n_paths; pi++) {
            size_t plen = strlen(g->paths[pi]), left = lim->max_weight_bytes - data.len;
            ft_free(path);
            path = ft_malloc(dir_len + plen + 1);
            if (!path) {
                st = nomem(err, file);
                goto done;
            }
            memcpy(path, manifest_path, dir_len);
            memcpy(path + dir_len, g->paths[pi], plen + 1);
            // ft_file_read treats a limit of 0 as none; a limit of left + 1
            // (never 0) still detects a shard past the budget.
            st = ft_file_read(path, plus_one(left), &shard, err);
            if (st == FT_E_LIMIT || (st == FT_OK && shard.len > left)) {
                st = ft_err_set(err, FT_E_LIMIT, "%s: shard '%s': weights exceed the limit of %zu "
                                "bytes", file, g->paths[pi], lim->max_weight_bytes);
                goto done;
            }
            if (st != FT_OK) {
                ft_err_prefix(err, "%s: shard '%s': ", file, g->paths[pi]);
                goto done;
            }
            group_lens[gi] += shard.len;
            if (data.len == 0) {
                ft_buf_deinit(&data);
                data = shard; // the usual single shard: no copy
                ft_buf_init(&shard, 0);
            } else {
                st = ft_buf_append(&data, shard.data, shard.len);
                ft_buf_deinit(&shard);
                if (st != FT_OK) {
                    st = nomem(err, file);
                    goto done;
                }
            }
        }
    }
    st = bind_data(m, data.data, data.len, group_lens, err);
    if (st != FT_OK)
        goto done;
    drop_manifest_state(m);
    *out = m;
    m = NULL;
done:
    ft_free(path);
    ft_free(group_lens);
    ft_buf_deinit(&shard);
    ft_buf_deinit(&data);
    ft_buf_deinit(&man);
    ft_tfjs_free(m);
    json_decref(root);
    return st;
}

// ---- Lookup ----

static const tfjs_entry *find(const ft_tfjs *m, const char *name)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const tfjs_entry *e = &m->e[m->by_name[mid]];
        int c = strcmp(name, e->name);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static void shape_str(char *buf, size_t cap, int32_t rank, const int32_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int32_t i = 0; i < rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, i ? ", %d" : "%d", (int)shape[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

ft_status ft_tfjs_get(const ft_tfjs *m, const char *tensor, int32_t rank, const int32_t *shape,
                      const float **data, ft_err *err)
{
    const tfjs_entry *e = find(m, tensor);
    bool same;

    if (!e)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: tensor '%s' not found", m->file, tensor);
    if (e->dtype != DT_F32)
        return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s' is %s, expected float32", m->file,
                          tensor, dtype_str(e->dtype));
    same = rank == e->rank;
    for (int32_t i = 0; same && i < rank; i++)
        same = shape[i] == e->shape[i];
    if (!same) {
        char have[128], want[128];
        shape_str(have, sizeof have, e->rank, e->shape);
        shape_str(want, sizeof want, rank, shape);
        return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s' has shape %s, expected %s", m->file,
                          tensor, have, want);
    }
    *data = e->data;
    return FT_OK;
}

ft_status ft_tfjs_get_i32(const ft_tfjs *m, const char *tensor, size_t *n,
                          const int32_t **data, ft_err *err)
{
    const tfjs_entry *e = find(m, tensor);
    if (!e)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: tensor '%s' not found", m->file, tensor);
    if (e->dtype != DT_I32)
        return ft_err_set(err, FT_E_FORMAT, "%s: tensor '%s' is %s, expected int32", m->file,
                          tensor, dtype_str(e->dtype));
    *n = e->n_elems;
    *data = e->idata;
    return FT_OK;
}

size_t ft_tfjs_count(const ft_tfjs *m)
{
    return m->n;
}

const char *ft_tfjs_name_at(const ft_tfjs *m, size_t i)
{
    return i < m->n ? m->e[i].name : NULL;
}

bool ft_tfjs_tensor_at(const ft_tfjs *m, size_t i, ft_tfjs_tensor *t)
{
    if (i >= m->n)
        return false;
    const tfjs_entry *e = &m->e[i];
    t->name = e->name;
    t->rank = e->rank;
    t->shape = e->shape;
    t->n_elems = e->n_elems;
    t->is_float = e->dtype == DT_F32;
    t->quantized = e->quant != Q_NONE;
    t->data = e->data;
    return true;
}
