// The per-inference context: thread pool, activation arena, kernel scratch,
// rings for banded chains.
#include "core/mem.h"
#include "nn/nn_internal.h"

static void drop_rings(ft_nn_ctx *ctx)
{
    for (int i = 0; i < ctx->n_rings; i++)
        ft_mirror_free(ctx->rings[i].p, ctx->rings[i].bytes);
    ctx->n_rings = 0;
    ctx->ring_bytes = 0;
}

ft_status ft_nn_ctx_new(int n_threads, ft_nn_ctx **out)
{
    ft_status st;
    ft_nn_ctx *ctx;

    *out = NULL;
    ft_nn_init();
    ctx = ft_calloc(1, sizeof *ctx);
    if (!ctx)
        return FT_E_NOMEM;
    ft_arena_init(&ctx->arena, 0);
    ctx->kern = ft_nn__kernels();
    st = ft_pool_new(n_threads, &ctx->pool);
    if (st != FT_OK) {
        ft_nn_ctx_free(ctx);
        return st;
    }
    ctx->n_threads = ft_pool_size(ctx->pool);
    *out = ctx;
    return FT_OK;
}

void ft_nn_ctx_free(ft_nn_ctx *ctx)
{
    if (!ctx)
        return;
    ft_pool_free(ctx->pool);
    drop_rings(ctx);
    ft_arena_deinit(&ctx->arena);
    ft_aligned_free(ctx->scratch);
    ft_free(ctx);
}

ft_pool *ft_nn_ctx_pool(ft_nn_ctx *ctx)
{
    return ctx->pool;
}

int ft_nn_ctx_threads(const ft_nn_ctx *ctx)
{
    return ctx->n_threads;
}

ft_arena *ft_nn_ctx_arena(ft_nn_ctx *ctx)
{
    return &ctx->arena;
}

void ft_nn__ctx_set_kernels(ft_nn_ctx *ctx, const ft_nn_kernels *k)
{
    ctx->kern = k ? k : ft_nn__kernels();
}

float *ft_nn__scratch(ft_nn_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_bytes) {
        float *p = ft_aligned_alloc(bytes);
        if (!p)
            return NULL;
        ft_aligned_free(ctx->scratch);
        ctx->scratch = p;
        ctx->scratch_bytes = bytes;
    }
    return ctx->scratch;
}

bool ft_nn_ctx_rings(ft_nn_ctx *ctx, int n, const size_t *bytes, void **out)
{
    if (n > FT_NN_RINGS)
        return false;
    for (int pass = 0; pass < 2; pass++) {
        int missing = 0;
        size_t more = 0;
        for (int i = 0; i < n; i++) {
            out[i] = NULL;
            for (int k = 0; k < ctx->n_rings && !out[i]; k++)
                if (ctx->rings[k].slot == i && ctx->rings[k].bytes == bytes[i])
                    out[i] = ctx->rings[k].p;
            if (!out[i]) {
                missing++;
                if (!ft_size_add(more, bytes[i], &more))
                    return false;
            }
        }
        if (more > FT_NN_RING_BYTES)
            return false;
        if (ctx->n_rings + missing <= FT_NN_RINGS && ctx->ring_bytes + more <= FT_NN_RING_BYTES)
            break;
        drop_rings(ctx); // then look again: all are missing
    }
    for (int i = 0; i < n; i++) {
        if (out[i])
            continue;
        void *p = ft_mirror_alloc(bytes[i]);
        if (!p)
            return false;
        ctx->rings[ctx->n_rings].p = p;
        ctx->rings[ctx->n_rings].bytes = bytes[i];
        ctx->rings[ctx->n_rings].slot = i;
        ctx->n_rings++;
        ctx->ring_bytes += bytes[i];
        out[i] = p;
    }
    return true;
}
