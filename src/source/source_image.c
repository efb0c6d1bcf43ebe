// Frame sources: still images. A path whose first bytes are a JPEG, PNG,
// WebP, HEIC or PPM (ft_image_sniff), or "-" for stdin, is one frame: it is
// decoded at open (so a bad photo fails there), handed out by the first
// ft_source_next, and the source has ended.
#include "source/source_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct imgsrc {
    pthread_mutex_t mu; // guards everything below but `stop`
    atomic_bool stop;
    ft_image im;        // the frame until it is handed out
    bool taken;
    double t_decoded;   // wall clock when decoded
} imgsrc;

static bool img_accepts(const char *url)
{
    if (strcmp(url, "-") == 0)
        return true;
    if (strstr(url, "://") || strncmp(url, "v4l2:", 5) == 0)
        return false;
    FILE *f = fopen(url, "rb");
    if (!f)
        return false;
    uint8_t head[64];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return ft_image_sniff(head, n) != FT_IMG_UNKNOWN;
}

static ft_status img_open(const char *url, const ft_source_opts *o, void **impl, ft_err *err)
{
    ft_image_limits lim = ft_image_limits_default();
    lim.max_pixels = o->max_pixels;
    imgsrc *s = ft_calloc(1, sizeof *s);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory opening %s", url);
    ft_status st = ft_image_load(url, &lim, &s->im, err);
    if (st != FT_OK) {
        ft_free(s);
        return st;
    }
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stop, false);
    s->t_decoded = ft_wall_s();
    *impl = s;
    return FT_OK;
}

static ft_status img_next(void *impl, ft_source_frame *out, ft_err *err)
{
    imgsrc *s = impl;
    ft_status st = FT_OK;
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->stop))
        st = ft_err_set(err, FT_E_NOT_FOUND, "frame source stopped");
    else if (s->taken)
        st = ft_err_set(err, FT_E_NOT_FOUND, "a still image has one frame");
    else {
        out->im = s->im;
        out->t = 0.0;
        out->index = 0;
        memset(&s->im, 0, sizeof s->im);
        s->taken = true;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void img_health(void *impl, ft_source_health *h)
{
    imgsrc *s = impl;
    pthread_mutex_lock(&s->mu);
    h->kind = FT_SOURCE_IMAGE;
    h->state = s->taken || atomic_load(&s->stop) ? FT_SOURCE_ENDED : FT_SOURCE_RUNNING;
    h->frames_decoded = 1;
    h->frames_delivered = s->taken ? 1 : 0;
    h->last_frame_t = s->t_decoded;
    pthread_mutex_unlock(&s->mu);
}

static void img_stop(void *impl)
{
    imgsrc *s = impl;
    atomic_store(&s->stop, true);
}

static void img_close(void *impl)
{
    imgsrc *s = impl;
    ft_image_deinit(&s->im);
    pthread_mutex_destroy(&s->mu);
    ft_free(s);
}

const ft_source_ops ft_source__image_ops = {
    .name = "image",
    .accepts = img_accepts,
    .open = img_open,
    .next = img_next,
    .health = img_health,
    .stop = img_stop,
    .close = img_close,
};
