// Bump allocator.
#include "core/arena.h"

#include "core/mem.h"

ft_status ft_arena_init(ft_arena *a, size_t cap)
{
    a->base = NULL;
    a->cap = a->used = a->high = 0;
    return cap ? ft_arena_reserve(a, cap) : FT_OK;
}

void ft_arena_deinit(ft_arena *a)
{
    ft_aligned_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

ft_status ft_arena_reserve(ft_arena *a, size_t cap)
{
    if (a->base && a->cap >= cap) {
        a->used = 0;
        return FT_OK;
    }
    unsigned char *p = ft_aligned_alloc(cap);
    if (!p)
        return FT_E_NOMEM;
    ft_aligned_free(a->base);
    a->base = p;
    a->cap = cap;
    a->used = 0;
    return FT_OK;
}

void *ft_arena_alloc(ft_arena *a, size_t n)
{
    size_t start = (a->used + FT_ALIGN - 1) & ~(size_t)(FT_ALIGN - 1);
    size_t end;
    if (!ft_size_add(start, n, &end) || !ft_size_add(end, FT_TENSOR_PAD, &end) || end > a->cap)
        return NULL;
    a->used = end - FT_TENSOR_PAD;
    if (end > a->high)
        a->high = end;
    return a->base + start;
}

float *ft_arena_floats(ft_arena *a, size_t n)
{
    size_t bytes;
    if (!ft_size_mul(n, sizeof(float), &bytes))
        return NULL;
    return ft_arena_alloc(a, bytes);
}
