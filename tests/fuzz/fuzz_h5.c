// libFuzzer target for Keras .h5 files (ft_h5_model_parse, src/model/h5.c,
// through libhdf5's core driver on a file image). The whole input is the
// file (HDF5 looks for its superblock at offsets 0, 512, 1024...); its last
// byte also picks options:
//   bit 0  tight limits (4 KiB of config, 4096 weight floats, 16 layers,
//          depth 2), so the limit paths are covered
//   bit 1  serialise the parsed graph back to Keras JSON (the writer's
//          ft_graph_to_keras_json) and re-check it (ft_graph_check)
//   bit 2  run the graph (ft_graph_run) on a small input when every input
//          has at most 1024 values, the weights at most 4096 floats and
//          there are at most 32 layers
// libhdf5 is not memory-safe on hostile files and is not built with ASan:
// a crash inside it is a libhdf5 finding, not ours. The runs therefore use
// libFuzzer's -fork=1 -ignore_crashes=1 (each input is parsed in a child
// process; a crash there is saved and fuzzing goes on), and each saved
// crash is triaged by its stack (docs/FUZZING.md). Inputs that crash
// libhdf5 are kept in tests/fuzz/known/h5-libhdf5/, not in the corpus the
// replay runs in-process.
#include "model/graph.h"
#include "model/h5.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);

// libhdf5 sizes some of its own allocations from the file (its metadata
// cache asked for 0x2f000000d8 bytes in H5C_protect on a fuzzed header):
// let such a malloc fail with NULL, as glibc does, instead of ASan calling
// it a crash; libhdf5 then reports an error and we return FT_E_FORMAT.
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

// libhdf5 leaks on some of its error paths (56 bytes after that failed
// malloc, with no frame of ours): those are reported as libhdf5 findings in
// docs/FUZZING.md, not as leaks of this target.
const char *__lsan_default_suppressions(void)
{
    return "leak:libhdf5_serial.so\nleak:libhdf5.so\n";
}

static void run_small(const ft_graph *g)
{
    if (g->n_inputs == 0 || g->n_inputs > 4 || g->n_outputs == 0 || g->n_outputs > 4 ||
        g->block_floats > 4096 || g->n_layers > 32)
        return;
    ft_gtensor in[4], out[4];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    size_t made = 0;
    for (; made < g->n_inputs; made++) {
        const ft_gref *ref = &g->inputs[made];
        if (ref->layer < 0 || (size_t)ref->layer >= g->n_layers)
            goto done;
        const ft_glayer *l = &g->layers[ref->layer];
        ft_gtensor *t = &in[made];
        t->rank = l->input_rank == 1 ? 1 : 3;
        size_t n = 1;
        for (int32_t k = 0; k < t->rank; k++) {
            int32_t d = l->input_shape[k] < 0 ? 8 : l->input_shape[k];
            if (d <= 0 || d > 4096)
                goto done;
            t->shape[k] = d;
            n *= (size_t)d;
            if (n > 1024)
                goto done;
        }
        t->data = malloc(n * sizeof(float));
        if (!t->data)
            goto done;
        for (size_t i = 0; i < n; i++)
            t->data[i] = (float)(i % 13) * 0.25f - 1.5f;
    }
    ft_err e;
    if (ft_graph_run(g, in, g->n_inputs, out, g->n_outputs, &e) == FT_OK)
        for (size_t i = 0; i < g->n_outputs; i++)
            ft_gtensor_deinit(&out[i]);
done:
    for (size_t i = 0; i < made && i < 4; i++)
        free(in[i].data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt = size ? data[size - 1] : 0;
    ft_h5_limits lim = ft_h5_limits_default();
    if (opt & 1) {
        lim.max_config_bytes = 4096;
        lim.max_weight_floats = 4096;
        lim.max_layers = 16;
        lim.max_depth = 2;
    }
    // Keep every run small: no fuzzed file may allocate a gigabyte of weights.
    if (lim.max_weight_floats > ((size_t)16 << 20))
        lim.max_weight_floats = (size_t)16 << 20;
    ft_graph *g = NULL;
    ft_err e;
    ft_err_clear(&e);
    ft_status st = ft_h5_model_parse("fuzz.h5", data, size, &lim, &g, &e);
    if (getenv("FT_FUZZ_VERBOSE")) // what each seed reaches
        fprintf(stderr, "%zu bytes, opt %02x: %s %s\n", size, opt, ft_status_str(st),
                st == FT_OK ? g->name : e.msg);
    if (st != FT_OK) {
        if (e.msg[0] == '\0')
            abort(); // every refusal says why
        return 0;
    }
    if (ft_graph_check(g, &e) != FT_OK)
        abort(); // the loader runs the same checks: what it returns passes them
    if (opt & 2) {
        ft_buf b;
        ft_buf_init(&b, 0);
        if (ft_graph_to_keras_json(g, &b, &e) == FT_OK && b.len == 0)
            abort();
        ft_buf_deinit(&b);
    }
    if (opt & 4)
        run_small(g);
    ft_graph_free(g);
    return 0;
}
