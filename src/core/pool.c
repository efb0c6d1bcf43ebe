// Thread pool: workers wait on a condition variable for a generation
// counter to change, run their slice, and count down to the caller.
#include "core/pool.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

typedef struct worker {
    ft_pool *pool;
    int ith;
    pthread_t tid;
} worker;

struct ft_pool {
    int n;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    unsigned long gen;
    int pending;
    bool stop;
    ft_pool_fn fn;
    void *ctx;
};

int ft_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ft_pool *p = w->pool;
    unsigned long seen = 0;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        ft_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, w->ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ft_status ft_pool_new(int n_threads, ft_pool **out)
{
    ft_pool *p;
    *out = NULL;
    if (n_threads <= 0)
        n_threads = ft_cpu_count();
    if (n_threads > 256)
        n_threads = 256;
    p = ft_calloc(1, sizeof *p);
    if (!p)
        return FT_E_NOMEM;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->workers = ft_calloc((size_t)n_threads, sizeof *p->workers);
        if (!p->workers) {
            ft_pool_free(p);
            return FT_E_NOMEM;
        }
        for (int i = 1; i < n_threads; i++) {
            p->workers[i].pool = p;
            p->workers[i].ith = i;
            if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]) != 0) {
                p->n = i; // the threads started so far are joined by free
                ft_pool_free(p);
                return FT_E_NOMEM;
            }
        }
    }
    *out = p;
    return FT_OK;
}

void ft_pool_free(ft_pool *p)
{
    if (!p)
        return;
    if (p->workers) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++)
            pthread_join(p->workers[i].tid, NULL);
        ft_free(p->workers);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    ft_free(p);
}

int ft_pool_size(const ft_pool *p)
{
    return p ? p->n : 1;
}

void ft_pool_run(ft_pool *p, ft_pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    fn(ctx, 0, p->n);

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
