// tfjs weight manifests (`*-weights_manifest.json` + `.bin` shards), as
// face-api ships its models. Format, field by field:
//   manifest: JSON array of groups; group = {"paths": [shard file names,
//   concatenated in order], "weights": [entry...]}; entry = {"name",
//   "shape": [ints] ([] = scalar), "dtype": "float32" | "int32",
//   optional "quantization": {"dtype": "uint8", "scale", "min"} or
//   {"dtype": "float16"} (float32 entries only)}.
//   Shard bytes: entries back to back in manifest order, 1 byte per element
//   when uint8-quantised (value = q*scale + min in double, rounded to
//   float; for int32 entries Math.round of it, as tfjs), 2 when float16
//   (little-endian IEEE half, decoded as tfjs does: ft_tfjs_half_to_float),
//   else 4 bytes little-endian. No header, no padding.
// The manifest is either the whole document (face-api's
// `*-weights_manifest.json`) or the "weightsManifest" member of a tfjs
// model.json (graph or layers model; the topology is read by tfjs_graph.h).
// All float tensors are dequantised into one aligned block at load; int32
// entries are kept apart (ft_tfjs_get_i32), not exposed as floats.
#ifndef FT_MODEL_TFJS_H
#define FT_MODEL_TFJS_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ft_tfjs ft_tfjs;

typedef struct ft_tfjs_limits {
    size_t max_manifest_bytes; // default 4 MiB
    size_t max_weight_bytes;   // all shards together; default 512 MiB
    size_t max_tensors;        // default 4096
    int32_t max_rank;          // default 6
} ft_tfjs_limits;

ft_tfjs_limits ft_tfjs_limits_default(void);

// Memory entry point: `json` is the manifest text; `data` is the bytes of
// all shards of all groups concatenated in manifest order. `name` is used
// in error messages (the manifest's file name).
ft_status ft_tfjs_parse(const char *name, const uint8_t *json, size_t json_len, const uint8_t *data,
                        size_t data_len, const ft_tfjs_limits *lim, ft_tfjs **out, ft_err *err);

// Reads `manifest_path` and its shards (paths relative to its folder).
ft_status ft_tfjs_load(const char *manifest_path, const ft_tfjs_limits *lim, ft_tfjs **out,
                       ft_err *err);
void ft_tfjs_free(ft_tfjs *m);

// Looks a float tensor up by name and checks its shape exactly. `*data` is
// borrowed, valid until ft_tfjs_free. Errors name the manifest and tensor
// (FT_E_NOT_FOUND, FT_E_FORMAT for a shape mismatch).
ft_status ft_tfjs_get(const ft_tfjs *m, const char *tensor, int32_t rank, const int32_t *shape,
                      const float **data, ft_err *err);

// Looks an int32 tensor up by name: its element count and values (any
// shape; borrowed, valid until ft_tfjs_free). FT_E_NOT_FOUND, FT_E_FORMAT
// when the entry is not int32.
ft_status ft_tfjs_get_i32(const ft_tfjs *m, const char *tensor, size_t *n,
                          const int32_t **data, ft_err *err);

// Every manifest entry counts, int32 ones included, in file order.
size_t ft_tfjs_count(const ft_tfjs *m);
const char *ft_tfjs_name_at(const ft_tfjs *m, size_t i);

// One manifest entry, in file order, for listings and tools. Pointers are
// borrowed, valid until ft_tfjs_free; `data` is NULL for int32 entries.
typedef struct ft_tfjs_tensor {
    const char *name;
    int32_t rank;
    const int32_t *shape;
    size_t n_elems;
    bool is_float;  // float32 (exposed) vs int32 (skipped)
    bool quantized; // stored as uint8
    const float *data;
} ft_tfjs_tensor;

// False when i >= ft_tfjs_count(m).
bool ft_tfjs_tensor_at(const ft_tfjs *m, size_t i, ft_tfjs_tensor *t);

// One IEEE binary16 value as tfjs decodes float16-quantised weights (its
// table method, bit for bit: exact, infinities and NaNs included).
float ft_tfjs_half_to_float(uint16_t h);

#endif
