// Allocation hooks and checked size arithmetic. Every allocation in the
// project goes through these so tests can make the Nth call fail.
#ifndef FT_CORE_MEM_H
#define FT_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Bytes that SIMD tails may read past the end of a tensor buffer
// (never written). Aligned allocations add them.
#define FT_TENSOR_PAD 64
#define FT_ALIGN 64

void *ft_malloc(size_t n);
void *ft_calloc(size_t count, size_t size);
void *ft_realloc(void *p, size_t n);
void ft_free(void *p);
char *ft_strdup(const char *s);
char *ft_strndup(const char *s, size_t n);

// 64-byte aligned, with FT_TENSOR_PAD readable bytes after `n`; release
// with ft_aligned_free.
void *ft_aligned_alloc(size_t n);
void ft_aligned_free(void *p);

// A ring of `bytes` (a whole number of pages, ft_page_bytes) that reads
// and writes as contiguous memory past its end: the ring's memory is mapped
// twice in a row, then its first page a third time, so p[i] and
// p[i + bytes] are the same byte for i < bytes + one page. A window of up
// to `bytes` bytes may start anywhere in [0, bytes). NULL when the system
// cannot map memory twice (not Linux, no memfd) or out of memory: callers
// keep a plain-memory path. Release with ft_mirror_free(p, bytes).
void *ft_mirror_alloc(size_t bytes);
void ft_mirror_free(void *p, size_t bytes);
size_t ft_page_bytes(void);

// Test hook: the allocation after `n` more successful ones fails (n = 0:
// the next one). A negative `n` turns failure injection off. Returns the
// number of allocations made since the last call to ft_mem_fail_after.
long ft_mem_fail_after(long n);

// a*b and a+b without overflow: false (and *out untouched) on overflow.
static inline bool ft_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

static inline bool ft_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}

#endif
