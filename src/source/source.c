// Frame sources: the ops table, ft_source_open's dispatch and the calls
// every implementation shares (names, credential-free urls, health). The
// implementations are source_image.c (still photos) and source_ffmpeg.c
// (video files, streams, V4L2 devices).
#include "source/source_internal.h"

#include "core/mem.h"

#include <stdio.h>
#include <string.h>

// Asked in order; the first whose accepts() says yes opens the url. The
// image implementation looks at the file's first bytes, so a photo is an
// image whatever its name; everything else FFmpeg may read goes to FFmpeg.
static const ft_source_ops *const source_table[] = {
    &ft_source__image_ops,
    &ft_source__ffmpeg_ops,
};

struct ft_source {
    const ft_source_ops *ops;
    void *impl;
    char *name;
    char *url_safe;
};

const char *ft_source_state_str(ft_source_state s)
{
    switch (s) {
    case FT_SOURCE_STARTING: return "starting";
    case FT_SOURCE_RUNNING: return "running";
    case FT_SOURCE_RECONNECTING: return "reconnecting";
    case FT_SOURCE_ENDED: return "ended";
    case FT_SOURCE_FAILED: return "failed";
    }
    return "unknown";
}

const char *ft_source_kind_str(ft_source_kind k)
{
    switch (k) {
    case FT_SOURCE_IMAGE: return "image";
    case FT_SOURCE_FILE: return "file";
    case FT_SOURCE_STREAM: return "stream";
    case FT_SOURCE_DEVICE: return "device";
    }
    return "unknown";
}

ft_source_opts ft_source_opts_default(void)
{
    ft_source_opts o;
    memset(&o, 0, sizeof o);
    o.realtime = false;
    o.timeout_s = 10.0;
    o.backoff_min_s = 0.5;
    o.backoff_max_s = 30.0;
    o.max_reconnects = -1;
    o.max_pixels = 50000000u;
    o.rtsp_transport = "tcp";
    return o;
}

void ft_source_frame_deinit(ft_source_frame *f)
{
    if (!f)
        return;
    ft_image_deinit(&f->im);
    f->t = 0.0;
    f->index = 0;
}

// ---- Credentials ----

// The authority of scheme://[userinfo@]host[:port][/path]: where userinfo
// starts and the '@' that ends it (NULL if none).
static const char *userinfo_at(const char *url, const char **start)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '@')
            at = p + i; // the last '@': a password may hold one
    *start = p;
    return at;
}

void ft_source__url_mask(const char *url, char *out, size_t cap)
{
    const char *start = NULL;
    const char *at = url ? userinfo_at(url, &start) : NULL;
    if (cap == 0)
        return;
    if (!url) {
        out[0] = '\0';
        return;
    }
    if (!at) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(start - url), url, at);
}

// Replaces every `needle` (nlen > 0 bytes) in msg (a buffer of cap bytes)
// by `rep`; text pushed past the end of the buffer is cut.
static void replace_all(char *msg, size_t cap, const char *needle, size_t nlen, const char *rep)
{
    size_t rlen = strlen(rep);
    for (char *r = msg; *r;) {
        if (strncmp(r, needle, nlen) != 0) {
            r++;
            continue;
        }
        size_t pos = (size_t)(r - msg);
        size_t tail = strlen(r + nlen) + 1; // with the NUL
        if (pos + rlen >= cap) {            // no room even for the replacement
            *r = '\0';
            return;
        }
        if (pos + rlen + tail > cap)
            tail = cap - pos - rlen;
        memmove(r + rlen, r + nlen, tail);
        memcpy(r, rep, rlen);
        msg[cap - 1] = '\0';
        r += rlen;
    }
}

void ft_source__scrub(const char *url, char *msg, size_t cap)
{
    const char *start = NULL;
    const char *at = url ? userinfo_at(url, &start) : NULL;
    if (!at || at == start || !msg || cap == 0)
        return;
    msg[cap - 1] = '\0';
    size_t ulen = (size_t)(at - start);
    // "user:password" as in the url, then the password alone (FFmpeg may
    // quote it after parsing the url); passwords under 4 characters are
    // left alone there, since masking them would garble ordinary words.
    replace_all(msg, cap, start, ulen + 1, "***@");
    const char *colon = memchr(start, ':', ulen);
    if (colon && (size_t)(at - colon - 1) >= 4)
        replace_all(msg, cap, colon + 1, (size_t)(at - colon - 1), "***");
}

// ---- Dispatch ----

ft_status ft_source_open(const char *url, const char *name, const ft_source_opts *o,
                         ft_source **out, ft_err *err)
{
    ft_source_opts def = ft_source_opts_default();
    ft_status st;
    ft_source *s = NULL;
    const ft_source_ops *ops = NULL;
    char safe[1024];

    if (!url || !url[0] || !out)
        return ft_err_set(err, FT_E_INVALID, "frame source: no url given");
    if (!o)
        o = &def;
    ft_source__url_mask(url, safe, sizeof safe);
    for (size_t i = 0; i < sizeof source_table / sizeof source_table[0]; i++)
        if (source_table[i]->accepts(url)) {
            ops = source_table[i];
            break;
        }
    if (!ops)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "%s: not a frame source (a photo, a video file, rtsp://, rtsps://, "
                          "http(s):// or a V4L2 device)",
                          safe);
    s = ft_calloc(1, sizeof *s);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory opening %s", safe);
    s->ops = ops;
    s->url_safe = ft_strdup(safe);
    s->name = ft_strdup(name ? name : safe);
    if (!s->url_safe || !s->name) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory opening %s", safe);
        goto fail;
    }
    st = ops->open(url, o, &s->impl, err);
    if (st != FT_OK)
        goto fail;
    *out = s;
    return FT_OK;
fail:
    if (err)
        ft_source__scrub(url, err->msg, sizeof err->msg);
    ft_free(s->url_safe);
    ft_free(s->name);
    ft_free(s);
    return st;
}

ft_status ft_source_next(ft_source *s, ft_source_frame *out, ft_err *err)
{
    FT_ASSERT(s && out);
    return s->ops->next(s->impl, out, err);
}

void ft_source_health_get(ft_source *s, ft_source_health *out)
{
    FT_ASSERT(s && out);
    memset(out, 0, sizeof *out);
    s->ops->health(s->impl, out);
}

const char *ft_source_name(const ft_source *s)
{
    return s->name;
}

const char *ft_source_url_safe(const ft_source *s)
{
    return s->url_safe;
}

void ft_source_stop(ft_source *s)
{
    if (s)
        s->ops->stop(s->impl);
}

void ft_source_close(ft_source *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    ft_free(s->url_safe);
    ft_free(s->name);
    ft_free(s);
}
