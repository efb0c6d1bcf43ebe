// Worker queues: a fixed pool of threads per kind of work (inference,
// database), each thread with its own context (an ft_nn_ctx, a SQLite
// connection), fed from a bounded FIFO. The HTTP thread only reserves a
// slot and pushes; it never waits for a worker.
#include "http/http_internal.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdio.h>

struct ft_workq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ft_job *head, *tail;
    size_t reserved; // slots claimed: queued + reserved-not-pushed + running
    size_t max;      // max queued + running
    bool stop;
    int pool;
    ft_workq_init_fn init;
    ft_workq_deinit_fn deinit;
    void *ctx;
    size_t n_threads;
    pthread_t *threads;
    void **tctx;
    // Start-up handshake: each thread reports its init status.
    size_t n_started;
    ft_status init_st;
    ft_err init_err;
};

typedef struct thread_arg {
    ft_workq *q;
    int index;
} thread_arg;

static void *worker_main(void *p)
{
    thread_arg *a = p;
    ft_workq *q = a->q;
    int index = a->index;
    ft_free(a);
    void *tctx = NULL;
    ft_err err;
    ft_err_clear(&err);
    ft_status st = q->init ? q->init(q->ctx, q->pool, index, &tctx, &err) : FT_OK;
    pthread_mutex_lock(&q->mu);
    q->n_started++;
    if (st != FT_OK && q->init_st == FT_OK) {
        q->init_st = st;
        q->init_err = err;
    }
    pthread_cond_broadcast(&q->cv);
    if (st != FT_OK) {
        pthread_mutex_unlock(&q->mu);
        return NULL;
    }
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop)
            break;
        ft_job *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        j->run(j, tctx);
        pthread_mutex_lock(&q->mu);
        q->reserved--;
        pthread_mutex_unlock(&q->mu);
        j->done(j); // may free j: do not touch it after
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    if (q->deinit)
        q->deinit(q->ctx, q->pool, tctx);
    return NULL;
}

ft_status ft_workq_new(int pool, int n_threads, size_t max_queued, ft_workq_init_fn init,
                       ft_workq_deinit_fn deinit, void *ctx, ft_workq **out, ft_err *err)
{
    if (n_threads < 1)
        n_threads = 1;
    ft_workq *q = ft_calloc(1, sizeof *q);
    if (!q)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->max = max_queued + (size_t)n_threads;
    q->pool = pool;
    q->init = init;
    q->deinit = deinit;
    q->ctx = ctx;
    q->threads = ft_calloc((size_t)n_threads, sizeof *q->threads);
    if (!q->threads) {
        ft_workq_free(q);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_threads; i++) {
        thread_arg *a = ft_malloc(sizeof *a);
        if (!a) {
            ft_workq_free(q);
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        }
        a->q = q;
        a->index = i;
        if (pthread_create(&q->threads[i], NULL, worker_main, a) != 0) {
            ft_free(a);
            ft_workq_free(q);
            return ft_err_set(err, FT_E_INTERNAL, "cannot start a worker thread");
        }
        q->n_threads++;
    }
    pthread_mutex_lock(&q->mu);
    while (q->n_started < q->n_threads)
        pthread_cond_wait(&q->cv, &q->mu);
    ft_status st = q->init_st;
    ft_err e = q->init_err;
    pthread_mutex_unlock(&q->mu);
    if (st != FT_OK) {
        ft_workq_free(q);
        if (err)
            *err = e;
        return st;
    }
    *out = q;
    return FT_OK;
}

bool ft_workq_reserve(ft_workq *q)
{
    bool ok;
    pthread_mutex_lock(&q->mu);
    ok = !q->stop && q->reserved < q->max;
    if (ok)
        q->reserved++;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void ft_workq_push(ft_workq *q, ft_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->stop) {
        q->reserved--;
        pthread_mutex_unlock(&q->mu);
        job->cancel(job);
        return;
    }
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t ft_workq_depth(ft_workq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->reserved;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t ft_workq_threads(const ft_workq *q)
{
    return q->n_threads;
}

void ft_workq_free(ft_workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    ft_job *j = q->head;
    q->head = q->tail = NULL;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    while (j) {
        ft_job *next = j->next;
        j->cancel(j);
        j = next;
    }
    for (size_t i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    ft_free(q->threads);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    ft_free(q);
}
