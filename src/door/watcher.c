// Watchers: one frame source run through the door on a thread of its own
// (see door.h). `facetracker watch` and the server's cameras both run
// their sources through this loop.
#include "door/door_internal.h"

#include "core/clock.h"
#include "core/mem.h"
#include "deliver/deliver.h"
#include "source/source.h"
#include "train/model.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct ft_watcher {
    ft_door *door;
    ft_watcher_opts o;
    char name[FT_GALLERY_NAME_MAX + 1];
    ft_source *src;
    ft_door_source *ds;
    ft_gallery *g;
    ft_nn_ctx *nn;
    struct ft_fmodel *fm;
    ft_door_result *res;
    pthread_t th;
    atomic_bool stop;
    atomic_bool running;
    bool joined;
    pthread_mutex_t mu; // guards everything below
    pthread_cond_t cv;  // a new snapshot
    ft_buf snap;
    uint64_t snap_seq;
    double snap_last_ms;
    ft_door_source_stats stats;
    double proc_fps;
    ft_status result;
    ft_err err;
};

ft_watcher_opts ft_watcher_opts_default(void)
{
    ft_watcher_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.snapshot_max_side = 640;
    return o;
}

static void snapshot_take(ft_watcher *w, const ft_image *im, const ft_door_result *res)
{
    double now = ft_now_ms();
    if (!(w->o.snapshot_fps > 0) || now - w->snap_last_ms < 1000.0 / w->o.snapshot_fps)
        return;
    w->snap_last_ms = now;
    ft_image copy;
    if (ft_image_copy(im, &copy) != FT_OK)
        return;
    ft_door_draw(&copy, res);
    ft_buf jpg;
    ft_buf_init(&jpg, 0);
    // The whole frame as a "face box": the thumbnail maker clips the grown
    // box to the image and scales it down by area averaging.
    ft_face_box all = {0, 0, copy.w, copy.h, 1};
    if (ft_face_thumbnail(&copy, &all, w->o.snapshot_max_side, &jpg, NULL) == FT_OK) {
        pthread_mutex_lock(&w->mu);
        ft_buf tmp = w->snap;
        w->snap = jpg;
        jpg = tmp;
        w->snap_seq++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    ft_buf_deinit(&jpg);
    ft_image_deinit(&copy);
}

static void report_events(ft_watcher *w, const ft_door_result *res)
{
    if (!w->o.on_event)
        return;
    for (size_t i = 0; i < res->n_events; i++)
        w->o.on_event(w->o.arg, w->name, &res->events[i]);
}

static void *watcher_main(void *arg)
{
    ft_watcher *w = arg;
    ft_err err;
    ft_err_clear(&err);
    ft_door_worker wk = {.nn = w->nn, .g = w->g, .fm = w->fm};
    ft_deliver *dlv = ft_door_deliver(w->door);
    if (dlv)
        ft_deliver_source_state(dlv, w->name, true);
    double t_base = ft_wall_s(), t_last = t_base;
    double t0 = ft_now_ms();
    double fps_t = t0;
    int64_t fps_n = 0, n = 0;
    ft_status st = FT_OK;
    while (!atomic_load(&w->stop)) {
        if (w->o.max_frames > 0 && n >= w->o.max_frames)
            break;
        if (w->o.duration_s > 0 && (ft_now_ms() - t0) / 1000.0 >= w->o.duration_s)
            break;
        ft_source_frame fr;
        st = ft_source_next(w->src, &fr, &err);
        if (st == FT_E_NOT_FOUND) { // the end of a file or photo, or stopped
            st = FT_OK;
            break;
        }
        if (st == FT_E_BUSY) { // a live source with no new frame yet
            st = FT_OK;
            continue;
        }
        if (st != FT_OK)
            break;
        // Files carry their own clock from 0: events get the wall-clock time
        // the file started plus the frame's time; live frames are stamped on
        // arrival.
        ft_source_health h;
        ft_source_health_get(w->src, &h);
        double t = h.kind == FT_SOURCE_FILE || h.kind == FT_SOURCE_IMAGE ? t_base + fr.t : fr.t;
        if (!(t >= t_last))
            t = t_last;
        t_last = t;
        st = ft_door_frame(w->door, &wk, w->ds, &fr.im, t, w->res, &err);
        if (st != FT_OK) {
            ft_err_prefix(&err, "frame %lld: ", (long long)fr.index);
            ft_source_frame_deinit(&fr);
            break;
        }
        report_events(w, w->res);
        if (w->o.on_frame)
            w->o.on_frame(w->o.arg, w->name, &fr, t, w->res);
        snapshot_take(w, &fr.im, w->res);
        ft_source_frame_deinit(&fr);
        n++;
        fps_n++;
        double now = ft_now_ms();
        pthread_mutex_lock(&w->mu);
        ft_door_source_stats_get(w->ds, &w->stats);
        if (now - fps_t >= 2000) {
            w->proc_fps = fps_n * 1000.0 / (now - fps_t);
            fps_t = now;
            fps_n = 0;
        }
        pthread_mutex_unlock(&w->mu);
    }
    // Whoever is still in view has left as far as this run is concerned.
    ft_err ferr;
    ft_err_clear(&ferr);
    ft_status fst = ft_door_flush(w->door, &wk, w->ds, t_last, w->res, &ferr);
    if (fst == FT_OK)
        report_events(w, w->res);
    else if (st == FT_OK) {
        st = fst;
        err = ferr;
    }
    if (dlv)
        ft_deliver_source_state(dlv, w->name, false);
    pthread_mutex_lock(&w->mu);
    ft_door_source_stats_get(w->ds, &w->stats);
    w->result = st;
    w->err = err;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->running, false);
    return NULL;
}

static void watcher_free(ft_watcher *w)
{
    ft_source_close(w->src);
    ft_door_source_free(w->ds);
    ft_gallery_close(w->g);
    ft_nn_ctx_free(w->nn);
    ft_fmodel_free(w->fm);
    ft_free(w->res);
    ft_buf_deinit(&w->snap);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    ft_free(w);
}

ft_status ft_watcher_start(ft_door *d, const char *name, const char *url,
                           const ft_watcher_opts *o, ft_watcher **out, ft_err *err)
{
    ft_watcher_opts def = ft_watcher_opts_default();
    if (!o)
        o = &def;
    ft_watcher *w = ft_calloc(1, sizeof *w);
    if (!w)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    w->door = d;
    w->o = *o;
    if (w->o.snapshot_max_side < 64)
        w->o.snapshot_max_side = 640;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    ft_buf_init(&w->snap, 0);
    ft_status st = FT_OK;
    w->res = ft_malloc(sizeof *w->res);
    if (!w->res)
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
    if (st == FT_OK)
        st = ft_door_source_new(name, FT_DOOR_STREAM, &w->ds, err);
    if (st == FT_OK) {
        snprintf(w->name, sizeof w->name, "%s", name);
        ft_source_opts so = ft_source_opts_default();
        so.realtime = o->realtime;
        // Short waits, so that a stop is noticed quickly.
        so.timeout_s = 1.0;
        st = ft_source_open(url, name, &so, &w->src, err);
    }
    if (st == FT_OK)
        st = ft_gallery_open(o->db_path, NULL, &w->g, err);
    if (st == FT_OK && ft_nn_ctx_new(o->threads > 0 ? o->threads : 1, &w->nn) != FT_OK)
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
    if (st == FT_OK && o->trained_model)
        st = ft_fmodel_load(o->trained_model, &w->fm, err);
    if (st == FT_OK) {
        atomic_store(&w->running, true);
        if (pthread_create(&w->th, NULL, watcher_main, w) != 0) {
            atomic_store(&w->running, false);
            st = ft_err_set(err, FT_E_NOMEM, "%s: cannot start a thread", name);
        }
    }
    if (st != FT_OK) {
        watcher_free(w);
        return st;
    }
    *out = w;
    return FT_OK;
}

void ft_watcher_health_get(ft_watcher *w, ft_watcher_health *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", w->name);
    snprintf(out->url, sizeof out->url, "%s", ft_source_url_safe(w->src));
    out->running = atomic_load(&w->running);
    ft_source_health h;
    ft_source_health_get(w->src, &h);
    out->source_state = (int)h.state;
    out->source_kind = (int)h.kind;
    out->frames_decoded = h.frames_decoded;
    out->frames_dropped = h.frames_dropped;
    out->reconnects = h.reconnects;
    out->fps = h.fps;
    snprintf(out->last_error, sizeof out->last_error, "%s", h.last_error);
    pthread_mutex_lock(&w->mu);
    out->door = w->stats;
    out->processed_fps = w->proc_fps;
    if (!out->running && w->result != FT_OK)
        snprintf(out->last_error, sizeof out->last_error, "%s", ft_err_msg(&w->err, w->result));
    pthread_mutex_unlock(&w->mu);
}

ft_status ft_watcher_snapshot(ft_watcher *w, uint64_t after, double timeout_s, ft_buf *out,
                              uint64_t *seq, ft_err *err)
{
    pthread_mutex_lock(&w->mu);
    if (after > 0 && w->snap_seq <= after && timeout_s > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double end = ts.tv_sec + ts.tv_nsec / 1e9 + timeout_s;
        ts.tv_sec = (time_t)end;
        ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
        while (w->snap_seq <= after && atomic_load(&w->running))
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
                break;
    }
    ft_status st = FT_OK;
    if (w->snap_seq == 0 || w->snap.len == 0)
        st = ft_err_set(err, FT_E_NOT_FOUND, "%s: no frame yet", w->name);
    else if (after > 0 && w->snap_seq <= after)
        st = ft_err_set(err, FT_E_BUSY, "%s: no new frame", w->name);
    else {
        out->len = 0;
        st = ft_buf_append(out, w->snap.data, w->snap.len);
        *seq = w->snap_seq;
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

ft_status ft_watcher_wait(ft_watcher *w, ft_err *err)
{
    if (!w->joined) {
        pthread_join(w->th, NULL);
        w->joined = true;
    }
    if (w->result != FT_OK && err)
        *err = w->err;
    return w->result;
}

void ft_watcher_stop(ft_watcher *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    ft_source_stop(w->src);
    if (!w->joined) {
        pthread_join(w->th, NULL);
        w->joined = true;
    }
    watcher_free(w);
}
