// The per-inference context: thread pool, activation arena, kernel scratch.
#include "core/mem.h"
#include "nn/nn_internal.h"

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
