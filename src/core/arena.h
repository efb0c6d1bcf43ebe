// A bump allocator for activations and scratch: one block, reset between
// inferences. Allocations are 64-byte aligned with FT_TENSOR_PAD readable
// bytes after each.
#ifndef FT_CORE_ARENA_H
#define FT_CORE_ARENA_H

#include "core/status.h"

#include <stddef.h>

typedef struct ft_arena {
    unsigned char *base;
    size_t cap;
    size_t used;
    size_t high; // high-water mark, for sizing
} ft_arena;

// Caller-owned struct; `cap` bytes reserved up front (0 is allowed: the
// arena then grows on the first reserve).
ft_status ft_arena_init(ft_arena *a, size_t cap);
void ft_arena_deinit(ft_arena *a);

// Makes sure at least `cap` bytes are available; frees what was allocated.
ft_status ft_arena_reserve(ft_arena *a, size_t cap);

// NULL when the arena is full (callers plan sizes so this is a bug).
void *ft_arena_alloc(ft_arena *a, size_t n);
float *ft_arena_floats(ft_arena *a, size_t n);

static inline void ft_arena_reset(ft_arena *a)
{
    a->used = 0;
}

#endif
