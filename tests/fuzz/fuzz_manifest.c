// libFuzzer target for ft_tfjs_parse. Input layout: byte 0 picks options
// (bit 0: tight limits), bytes 1-2 are the JSON length L (little-endian),
// then L bytes of manifest JSON; every byte after that is the shard data.
#include "core/mem.h"
#include "model/tfjs.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t opts = data[0];
    size_t json_len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (json_len > size)
        json_len = size;

    ft_tfjs_limits lim = ft_tfjs_limits_default();
    if (opts & 1) {
        lim.max_tensors = 8;
        lim.max_rank = 3;
        lim.max_weight_bytes = 4096;
    }
    ft_tfjs *m = NULL;
    ft_err err;
    ft_status st = ft_tfjs_parse("fuzz.json", data, json_len, data + json_len, size - json_len,
                                 &lim, &m, &err);
    if (st != FT_OK)
        return 0;
    // Touch every exposed float and look every entry up by its own shape,
    // so a wrong offset or size shows under ASan.
    volatile float sink = 0;
    for (size_t i = 0; i < ft_tfjs_count(m); i++) {
        ft_tfjs_tensor t;
        if (!ft_tfjs_tensor_at(m, i, &t))
            __builtin_trap();
        const float *w = NULL;
        ft_status g = ft_tfjs_get(m, t.name, t.rank, t.shape, &w, &err);
        if (t.is_float != (g == FT_OK) || (t.is_float && w != t.data))
            __builtin_trap();
        for (size_t k = 0; t.is_float && k < t.n_elems; k++)
            sink += t.data[k];
    }
    (void)sink;
    ft_tfjs_free(m);
    return 0;
}
