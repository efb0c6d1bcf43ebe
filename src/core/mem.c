// Allocation wrappers with a failure-injection hook for the OOM tests.
#define _GNU_SOURCE // memfd_create
#include "core/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

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

size_t ft_page_bytes(void)
{
#ifdef __linux__
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
#else
    return 4096;
#endif
}

void *ft_mirror_alloc(size_t bytes)
{
#ifdef __linux__
    size_t page = ft_page_bytes(), span;
    if (bytes == 0 || bytes % page != 0 || !ft_size_mul(bytes, 2, &span) ||
        !ft_size_add(span, page, &span) || should_fail())
        return NULL;
    int fd = memfd_create("ft-ring", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    unsigned char *p = NULL;
    if (ftruncate(fd, (off_t)bytes) == 0) {
        // Reserve the span, then put the same memory at 0, bytes and 2 * bytes.
        void *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r != MAP_FAILED) {
            p = r;
            size_t at[3] = {0, bytes, 2 * bytes}, len[3] = {bytes, bytes, page};
            for (int i = 0; i < 3 && p; i++)
                if (mmap(p + at[i], len[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                         0) == MAP_FAILED) {
                    munmap(p, span);
                    p = NULL;
                }
        }
    }
    close(fd);
    return p;
#else
    (void)bytes;
    return NULL;
#endif
}

void ft_mirror_free(void *p, size_t bytes)
{
#ifdef __linux__
    if (p)
        munmap(p, 2 * bytes + ft_page_bytes());
#else
    (void)p;
    (void)bytes;
#endif
}
