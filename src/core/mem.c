// Allocation wrappers with a failure-injection hook for the OOM tests.
#include "core/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// Failure injection is a test-only facility; an atomic keeps it safe when
// the code under test is threaded.
static atomic_long fail_countdown = -1;
static atomic_long alloc_count = 0;

static bool should_fail(void)
{
    atomic_fetch_add(&alloc_count, 1);
    long c = atomic_load(&fail_countdown);
    if (c < 0)
        return false;
    if (c == 0) {
        atomic_store(&fail_countdown, -1);
        return true;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

long ft_mem_fail_after(long n)
{
    long made = atomic_exchange(&alloc_count, 0);
    atomic_store(&fail_countdown, n);
    return made;
}

void *ft_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *ft_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *ft_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void ft_free(void *p)
{
    free(p);
}

char *ft_strdup(const char *s)
{
    return ft_strndup(s, strlen(s));
}

char *ft_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = ft_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void *ft_aligned_alloc(size_t n)
{
    size_t total;
    if (!ft_size_add(n, FT_TENSOR_PAD + FT_ALIGN - 1, &total))
        return NULL;
    total -= total % FT_ALIGN;
    if (should_fail())
        return NULL;
    void *p = aligned_alloc(FT_ALIGN, total);
    if (p)
        memset((char *)p + n, 0, total - n); // tails read zeros, never garbage
    return p;
}

void ft_aligned_free(void *p)
{
    free(p);
}
