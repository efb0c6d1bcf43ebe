// A fixed thread pool that runs one job at a time as `nth` slices:
// fn(ctx, ith, nth) for ith = 0..nth-1, the calling thread taking slice 0.
// Kernels split their work by (ith, nth) and never allocate.
#ifndef FT_CORE_POOL_H
#define FT_CORE_POOL_H

#include "core/status.h"

typedef struct ft_pool ft_pool;
typedef void (*ft_pool_fn)(void *ctx, int ith, int nth);

// n_threads <= 0 means one per online core. A pool of 1 runs jobs inline.
ft_status ft_pool_new(int n_threads, ft_pool **out);
void ft_pool_free(ft_pool *p);
int ft_pool_size(const ft_pool *p);

// Runs fn on every slice and returns when all are done. Not reentrant:
// one caller thread at a time per pool (each inference context owns one).
// A NULL pool runs fn(ctx, 0, 1) inline.
void ft_pool_run(ft_pool *p, ft_pool_fn fn, void *ctx);

// Splits [0, n) into nth near-equal parts; part ith is [*lo, *hi).
static inline void ft_pool_range(long n, int ith, int nth, long *lo, long *hi)
{
    long q = n / nth, r = n % nth;
    *lo = ith * q + (ith < r ? ith : r);
    *hi = *lo + q + (ith < r ? 1 : 0);
}

// Number of online cores (at least 1).
int ft_cpu_count(void);

#endif
