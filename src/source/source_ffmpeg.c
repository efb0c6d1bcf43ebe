// Frame sources through FFmpeg: video files, rtsp(s)://, http(s):// (MJPEG
// multipart or anything libavformat reads) and V4L2 devices, decoded with
// libavcodec and converted to packed RGB24 by libswscale.
//
// Files are read on the caller's thread: every frame in order, t = pts in
// seconds from the stream's start, paced to the file's own rate with
// `realtime`. Live sources (streams, devices) have a decoder thread that
// owns the FFmpeg contexts, decodes every packet and keeps only the newest
// frame; ft_source_next waits on a condition variable for a frame newer than
// the last one handed out. The thread notices a lost stream (read error,
// end of stream, no packet for READ_TIMEOUT_MS through an interrupt callback
// deadline, no decodable frame for FRAME_TIMEOUT_MS) and reopens it with
// exponential backoff.
//
// FFmpeg never prints: its log goes to a callback that keeps the thread's
// last error line, which is added to our error messages.
#include "source/source_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define OPEN_TIMEOUT_MS 5000.0   // live: connect + probe must finish within this
#define READ_TIMEOUT_MS 5000.0   // live: a packet must arrive within this
#define FRAME_TIMEOUT_MS 10000.0 // live: packets but no decoded frame this long = lost
#define FPS_WINDOW 32            // frame times kept for the fps estimate
#define FPS_SPAN_S 5.0           // ... over at most the last 5 s

// ---- FFmpeg's log ----

// The last error line FFmpeg logged on this thread (thread-local so two
// sources on two threads do not mix messages; FFmpeg's log callback is
// process-wide and has no per-call user pointer).
static _Thread_local char tls_log[200];

__attribute__((format(printf, 3, 0))) static void log_cb(void *avcl, int level, const char *fmt,
                                                          va_list vl)
{
    (void)avcl;
    if (level > AV_LOG_ERROR)
        return;
    char line[sizeof tls_log];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n > 0)
        memcpy(tls_log, line, n + 1);
}

static pthread_once_t ff_once = PTHREAD_ONCE_INIT;

static void ff_init(void)
{
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(log_cb);
    avdevice_register_all();
    avformat_network_init();
}

// ---- State ----

typedef struct ffsrc {
    char *url;         // as given (may hold credentials): only FFmpeg sees it
    char safe[512];    // for every message
    const char *ffurl; // url without a "v4l2:" prefix
    ft_source_kind kind;
    ft_source_opts o;
    char transport[8];

    // FFmpeg, used by one thread: the caller's (files) or the decoder's (live).
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int vidx;
    AVRational tb;
    int64_t pts0;       // pts of t = 0 (AV_NOPTS_VALUE until known)
    double last_t;      // files: t of the previous frame
    double frame_dur;   // files: 1 / frame rate, for frames without a pts
    bool flushing;      // files: end of input reached, the decoder is draining
    int64_t n_bad_packets;
    double progress_ms; // live: when the last frame was decoded (or the stream opened)
    double pace_ms;     // files, realtime: ft_now_ms() of the first frame
    double pace_t;      // ... and its t
    bool paced;

    // Interruption of FFmpeg I/O (interrupt_cb, any thread).
    atomic_bool stop;
    _Atomic int64_t deadline_us; // av_gettime_relative() limit; 0 = none

    // Shared with ft_source_health / ft_source_stop / the decoder thread.
    pthread_mutex_t mu;
    pthread_cond_t cv; // a new frame, a state change, or stop
    ft_source_state state;
    int64_t decoded, delivered, dropped, reconnects;
    double last_frame_t;
    char last_error[256];
    double fps_t[FPS_WINDOW];
    int fps_n, fps_i;
    ft_status fatal; // FAILED: what next() returns
    char fatal_msg[256];

    // Live: the newest frame not yet handed out.
    pthread_t thr;
    bool thr_started;
    ft_image newest;
    bool have_newest;
    double newest_t;
    int64_t newest_index;
} ffsrc;

static int interrupt_cb(void *p)
{
    ffsrc *s = p;
    if (atomic_load(&s->stop))
        return 1;
    int64_t d = atomic_load(&s->deadline_us);
    return d != 0 && av_gettime_relative() > d;
}

static void set_deadline(ffsrc *s, double ms)
{
    atomic_store(&s->deadline_us, ms > 0 ? av_gettime_relative() + (int64_t)(ms * 1000.0) : 0);
}

static bool is_live(const ffsrc *s)
{
    return s->kind == FT_SOURCE_STREAM || s->kind == FT_SOURCE_DEVICE;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool is_stream_url(const char *url)
{
    return has_prefix(url, "rtsp://") || has_prefix(url, "rtsps://") ||
           has_prefix(url, "http://") || has_prefix(url, "https://");
}

static bool is_device_url(const char *url)
{
    return has_prefix(url, "v4l2:") || has_prefix(url, "/dev/video") ||
           has_prefix(url, "/dev/v4l/");
}

// ---- Errors ----

// Our status for an FFmpeg error code.
static ft_status av_status(int ret)
{
    switch (ret) {
    case AVERROR(ENOENT): return FT_E_NOT_FOUND;
    case AVERROR(ENOMEM): return FT_E_NOMEM;
    case AVERROR_INVALIDDATA: return FT_E_FORMAT;
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_PROTOCOL_NOT_FOUND:
    case AVERROR_STREAM_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
    case AVERROR(ENOSYS): return FT_E_UNSUPPORTED;
    default: return FT_E_IO;
    }
}

// "<url>: <what>: <FFmpeg's error text> (<FFmpeg's last log line>)".
static ft_status av_fail(ffsrc *s, int ret, const char *what, ft_err *err)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    ft_status st = av_status(ret);
    if (ret == AVERROR_EXIT && !atomic_load(&s->stop))
        snprintf(text, sizeof text, "timed out");
    else
        av_strerror(ret, text, sizeof text);
    if (tls_log[0])
        ft_err_set(err, st, "%s: %s: %s (%s)", s->safe, what, text, tls_log);
    else
        ft_err_set(err, st, "%s: %s: %s", s->safe, what, text);
    if (err)
        ft_source__scrub(s->url, err->msg, sizeof err->msg);
    tls_log[0] = '\0';
    return st;
}

// ---- Opening and closing the input ----

static void input_close(ffsrc *s)
{
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    s->flushing = false;
}

static ft_status input_open(ffsrc *s, ft_err *err)
{
    const AVInputFormat *ifmt = NULL;
    AVDictionary *d = NULL;
    const AVCodec *codec = NULL;
    int ret;
    ft_status st = FT_OK;

    tls_log[0] = '\0';
    if (s->kind == FT_SOURCE_DEVICE) {
        ifmt = av_find_input_format("video4linux2");
        if (!ifmt)
            return ft_err_set(err, FT_E_UNSUPPORTED, "%s: this FFmpeg has no video4linux2 input",
                              s->safe);
    }
    if (has_prefix(s->ffurl, "rtsp"))
        av_dict_set(&d, "rtsp_transport", s->transport, 0);
    s->fmt = avformat_alloc_context();
    if (!s->fmt) {
        av_dict_free(&d);
        return ft_err_set(err, FT_E_NOMEM, "%s: out of memory", s->safe);
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    set_deadline(s, is_live(s) ? OPEN_TIMEOUT_MS : 0);
    ret = avformat_open_input(&s->fmt, s->ffurl, ifmt, &d); // frees fmt on failure
    av_dict_free(&d);
    if (ret < 0) {
        st = av_fail(s, ret, s->kind == FT_SOURCE_DEVICE ? "cannot open the V4L2 device"
                                                         : "cannot open",
                     err);
        goto fail;
    }
    ret = avformat_find_stream_info(s->fmt, NULL);
    if (ret < 0) {
        st = av_fail(s, ret, "cannot read the stream parameters", err);
        goto fail;
    }
    ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret == AVERROR_DECODER_NOT_FOUND) {
        st = av_fail(s, ret, "no decoder for its video", err);
        goto fail;
    }
    if (ret < 0) {
        st = ft_err_set(err, FT_E_UNSUPPORTED, "%s: not a video (no video stream in %s data)",
                        s->safe, s->fmt->iformat->name);
        goto fail;
    }
    s->vidx = ret;
    AVStream *vs = s->fmt->streams[s->vidx];
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->vidx)
            s->fmt->streams[i]->discard = AVDISCARD_ALL;
    const AVCodecParameters *par = vs->codecpar;
    if (par->width > 0 && par->height > 0 &&
        (uint64_t)par->width * (uint64_t)par->height > s->o.max_pixels) {
        st = ft_err_set(err, FT_E_LIMIT,
                        "%s: frames are %dx%d = %.6g Mpx, over the limit of %.6g Mpx",
                        s->safe, par->width, par->height,
                        (double)par->width * par->height / 1e6, (double)s->o.max_pixels / 1e6);
        goto fail;
    }
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        st = ft_err_set(err, FT_E_NOMEM, "%s: out of memory", s->safe);
        goto fail;
    }
    ret = avcodec_parameters_to_context(s->dec, par);
    if (ret >= 0) {
        // Slice threads only: frame threads add a frame of latency per
        // thread on live sources, and their buffer hand-over (atomics in
        // uninstrumented libavutil) shows as races under TSan. Decoding is
        // a small part of a frame's time at the door next to detection.
        s->dec->thread_count = 0;
        s->dec->thread_type = FF_THREAD_SLICE;
        ret = avcodec_open2(s->dec, codec, NULL);
    }
    if (ret < 0) {
        st = av_fail(s, ret, "cannot start the decoder", err);
        goto fail;
    }
    s->tb = vs->time_base;
    s->pts0 = vs->start_time;
    AVRational fr = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
    s->frame_dur = fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.04;
    s->flushing = false;
    s->progress_ms = ft_now_ms();
    set_deadline(s, 0);
    return FT_OK;
fail:
    set_deadline(s, 0);
    input_close(s);
    return st;
}

// ---- Decoding ----

// The next decoded frame into s->frame. FT_E_NOT_FOUND when a file's
// decoder is drained; live sources return an error for the end of the
// stream, a read error or a timeout. Packets the decoder rejects as
// invalid are skipped (counted, last one in last_error).
static ft_status decode_next(ffsrc *s, ft_err *err)
{
    for (;;) {
        int ret = avcodec_receive_frame(s->dec, s->frame);
        if (ret == 0) {
            s->progress_ms = ft_now_ms();
            return FT_OK;
        }
        if (ret == AVERROR_EOF)
            return ft_err_set(err, FT_E_NOT_FOUND, "%s: end of the video", s->safe);
        if (ret != AVERROR(EAGAIN))
            return av_fail(s, ret, "decoding failed", err);
        if (atomic_load(&s->stop))
            return ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
        if (is_live(s) && ft_now_ms() - s->progress_ms > FRAME_TIMEOUT_MS)
            return ft_err_set(err, FT_E_FORMAT, "%s: no frame could be decoded for %.0f s%s%s",
                              s->safe, FRAME_TIMEOUT_MS / 1000.0, s->last_error[0] ? ": " : "",
                              s->last_error);
        set_deadline(s, is_live(s) ? READ_TIMEOUT_MS : 0);
        ret = av_read_frame(s->fmt, s->pkt);
        set_deadline(s, 0);
        if (atomic_load(&s->stop)) {
            av_packet_unref(s->pkt);
            return ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
        }
        if (ret == AVERROR_EOF && !is_live(s)) {
            s->flushing = true;
            avcodec_send_packet(s->dec, NULL);
            continue;
        }
        if (ret == AVERROR_EOF)
            return ft_err_set(err, FT_E_IO, "%s: the stream ended", s->safe);
        if (ret == AVERROR_EXIT)
            return ft_err_set(err, FT_E_IO, "%s: no data for %.0f s", s->safe,
                              READ_TIMEOUT_MS / 1000.0);
        if (ret < 0)
            return av_fail(s, ret, is_live(s) ? "stream lost" : "read error", err);
        if (s->pkt->stream_index == s->vidx) {
            ret = avcodec_send_packet(s->dec, s->pkt);
            if (ret == AVERROR_INVALIDDATA) {
                ft_err e;
                av_fail(s, ret, "bad packet skipped", &e);
                pthread_mutex_lock(&s->mu);
                s->n_bad_packets++;
                snprintf(s->last_error, sizeof s->last_error, "%s", e.msg);
                pthread_mutex_unlock(&s->mu);
            } else if (ret < 0 && ret != AVERROR(EAGAIN)) {
                av_packet_unref(s->pkt);
                return av_fail(s, ret, "decoding failed", err);
            }
        }
        av_packet_unref(s->pkt);
    }
}

// FFmpeg's "J" formats are the plain ones in full range.
static enum AVPixelFormat unjay(enum AVPixelFormat f, bool *full)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = true; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

// s->frame to packed RGB24 in `im`, reusing its pixels when the size
// matches. Bicubic, as the ffmpeg CLI's default scaler flags (only the
// chroma planes are resampled: the size does not change); the frame's
// colour matrix and range when it states them, BT.601 otherwise.
static ft_status frame_to_image(ffsrc *s, ft_image *im, ft_err *err)
{
    const AVFrame *f = s->frame;
    int w = f->width, h = f->height;
    if (w <= 0 || h <= 0)
        return ft_err_set(err, FT_E_FORMAT, "%s: a frame of size %dx%d", s->safe, w, h);
    if ((uint64_t)w * (uint64_t)h > s->o.max_pixels)
        return ft_err_set(err, FT_E_LIMIT,
                          "%s: a frame of %dx%d = %.6g Mpx, over the limit of %.6g Mpx",
                          s->safe, w, h, (double)w * h / 1e6, (double)s->o.max_pixels / 1e6);
    bool full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat pf = unjay((enum AVPixelFormat)f->format, &full);
    s->sws = sws_getCachedContext(s->sws, w, h, pf, w, h, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL,
                                  NULL, NULL);
    if (!s->sws)
        return ft_err_set(err, FT_E_UNSUPPORTED, "%s: cannot convert %s frames to RGB", s->safe,
                          av_get_pix_fmt_name(pf) ? av_get_pix_fmt_name(pf) : "unknown");
    int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED || f->colorspace == AVCOL_SPC_RGB
                 ? SWS_CS_DEFAULT
                 : (int)f->colorspace;
    sws_setColorspaceDetails(s->sws, sws_getCoefficients(cs), full,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    if (!im->rgb || im->w != w || im->h != h) {
        ft_image_deinit(im);
        if (ft_image_new(w, h, im) != FT_OK)
            return ft_err_set(err, FT_E_NOMEM, "%s: out of memory for a %dx%d frame", s->safe,
                              w, h);
    }
    uint8_t *dst[4] = {im->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {w * 3, 0, 0, 0};
    int rows =
        sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride);
    if (rows != h)
        return ft_err_set(err, FT_E_INTERNAL, "%s: colour conversion gave %d of %d rows", s->safe,
                          rows, h);
    return FT_OK;
}

// Health bookkeeping for one decoded frame; s->mu held.
static void count_frame_locked(ffsrc *s, double wall)
{
    s->decoded++;
    s->last_frame_t = wall;
    s->fps_t[s->fps_i] = wall;
    s->fps_i = (s->fps_i + 1) % FPS_WINDOW;
    if (s->fps_n < FPS_WINDOW)
        s->fps_n++;
    if (!atomic_load(&s->stop)) // ft_source_stop's FAILED stays
        s->state = FT_SOURCE_RUNNING;
}

static void fail_locked(ffsrc *s, ft_status st, const char *msg)
{
    s->state = FT_SOURCE_FAILED;
    s->fatal = st;
    snprintf(s->fatal_msg, sizeof s->fatal_msg, "%s", msg);
    snprintf(s->last_error, sizeof s->last_error, "%s", msg);
    pthread_cond_broadcast(&s->cv);
}

// One wait on s->cv (s->mu held): returns on a broadcast, a spurious
// wake-up or at `until_ms` (ft_now_ms clock).
static void timedwait_locked(ffsrc *s, double until_ms)
{
    double left = until_ms - ft_now_ms();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double ns = (double)ts.tv_nsec + left * 1e6;
    time_t sec = (time_t)(ns / 1e9);
    ts.tv_sec += sec;
    ts.tv_nsec = (long)(ns - (double)sec * 1e9);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

// Sleeps (s->mu held, released while waiting) until `until_ms` or stop.
static void sleep_until_locked(ffsrc *s, double until_ms)
{
    while (!atomic_load(&s->stop) && ft_now_ms() < until_ms)
        timedwait_locked(s, until_ms);
}

// ---- Files ----

static ft_status file_next(ffsrc *s, ft_source_frame *out, ft_err *err)
{
    ft_status st;
    ft_image im = {0, 0, NULL};

    if (atomic_load(&s->stop))
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
    pthread_mutex_lock(&s->mu);
    ft_source_state state = s->state;
    st = s->fatal;
    if (state == FT_SOURCE_FAILED)
        ft_err_set(err, st, "%s", s->fatal_msg);
    pthread_mutex_unlock(&s->mu);
    if (state == FT_SOURCE_ENDED)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: end of the video", s->safe);
    if (state == FT_SOURCE_FAILED)
        return st;

    ft_err e;
    ft_err_clear(&e);
    st = decode_next(s, &e);
    if (st == FT_OK)
        st = frame_to_image(s, &im, &e);
    if (atomic_load(&s->stop)) {
        ft_image_deinit(&im);
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
    }
    if (st == FT_E_NOT_FOUND) {
        pthread_mutex_lock(&s->mu);
        if (s->decoded == 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s: no frame could be decoded (%lld bad packets%s%s)",
                     s->safe, (long long)s->n_bad_packets, s->last_error[0] ? "; " : "",
                     s->last_error);
            fail_locked(s, FT_E_FORMAT, msg);
            st = ft_err_set(err, FT_E_FORMAT, "%s", msg);
        } else {
            s->state = FT_SOURCE_ENDED;
            ft_err_set(err, FT_E_NOT_FOUND, "%s", e.msg);
        }
        pthread_mutex_unlock(&s->mu);
        return st;
    }
    if (st != FT_OK) {
        pthread_mutex_lock(&s->mu);
        fail_locked(s, st, e.msg);
        pthread_mutex_unlock(&s->mu);
        ft_image_deinit(&im);
        return ft_err_set(err, st, "%s", e.msg);
    }

    int64_t pts = s->frame->best_effort_timestamp;
    double t;
    if (pts == AV_NOPTS_VALUE)
        t = s->decoded == 0 ? 0.0 : s->last_t + s->frame_dur;
    else {
        if (s->pts0 == AV_NOPTS_VALUE)
            s->pts0 = pts;
        t = (double)(pts - s->pts0) * av_q2d(s->tb);
    }
    s->last_t = t;
    av_frame_unref(s->frame);

    pthread_mutex_lock(&s->mu);
    if (s->o.realtime) {
        if (!s->paced) {
            s->paced = true;
            s->pace_ms = ft_now_ms();
            s->pace_t = t;
        } else {
            sleep_until_locked(s, s->pace_ms + (t - s->pace_t) * 1000.0);
        }
    }
    if (atomic_load(&s->stop)) { // stopped while pacing: the frame is not handed out
        pthread_mutex_unlock(&s->mu);
        ft_image_deinit(&im);
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
    }
    count_frame_locked(s, ft_wall_s());
    s->delivered++;
    int64_t index = s->decoded - 1;
    pthread_mutex_unlock(&s->mu);
    out->im = im;
    out->t = t;
    out->index = index;
    return FT_OK;
}

// ---- Live sources: the decoder thread ----

// Reads and decodes until the stream is lost or the source stops. Sets
// *got when at least one frame arrived.
static ft_status live_read(ffsrc *s, bool *got, ft_err *err)
{
    ft_image scratch = {0, 0, NULL};
    ft_status st;
    for (;;) {
        st = decode_next(s, err);
        if (st == FT_E_NOT_FOUND && !atomic_load(&s->stop))
            st = ft_err_set(err, FT_E_IO, "%s: the stream ended", s->safe);
        if (st == FT_OK)
            st = frame_to_image(s, &scratch, err);
        av_frame_unref(s->frame);
        if (st != FT_OK)
            break;
        double wall = ft_wall_s();
        pthread_mutex_lock(&s->mu);
        if (s->have_newest)
            s->dropped++;
        ft_image old = s->newest; // superseded (or empty): its pixels are reused
        s->newest = scratch;
        scratch = old;
        s->have_newest = true;
        count_frame_locked(s, wall);
        s->newest_t = wall;
        s->newest_index = s->decoded - 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        *got = true;
    }
    ft_image_deinit(&scratch);
    return st;
}

static void *live_main(void *p)
{
    ffsrc *s = p;
    double backoff = s->o.backoff_min_s;
    int fails = 0;
    bool opened_once = false;
    ft_err e;

    while (!atomic_load(&s->stop)) {
        bool got = false;
        ft_err_clear(&e);
        ft_status st = input_open(s, &e);
        if (st == FT_OK) {
            if (opened_once) {
                pthread_mutex_lock(&s->mu);
                s->reconnects++;
                pthread_mutex_unlock(&s->mu);
            }
            opened_once = true;
            st = live_read(s, &got, &e);
            input_close(s);
        }
        if (atomic_load(&s->stop))
            break;
        if (got) {
            backoff = s->o.backoff_min_s;
            fails = 0;
        } else {
            fails++;
        }
        pthread_mutex_lock(&s->mu);
        if (st == FT_E_LIMIT) {
            // Not something reconnecting can mend (out of memory may be).
            fail_locked(s, st, e.msg);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (s->o.max_reconnects >= 0 && fails > s->o.max_reconnects) {
            char msg[256];
            snprintf(msg, sizeof msg, "gave up after %d failed attempts: %s", fails, e.msg);
            fail_locked(s, st == FT_OK ? FT_E_IO : st, msg);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (!atomic_load(&s->stop))
            s->state = FT_SOURCE_RECONNECTING;
        snprintf(s->last_error, sizeof s->last_error, "%s", e.msg);
        pthread_cond_broadcast(&s->cv);
        sleep_until_locked(s, ft_now_ms() + backoff * 1000.0);
        pthread_mutex_unlock(&s->mu);
        backoff = backoff * 2 < s->o.backoff_max_s ? backoff * 2 : s->o.backoff_max_s;
    }
    return NULL;
}

static ft_status live_next(ffsrc *s, ft_source_frame *out, ft_err *err)
{
    ft_status st = FT_OK;
    double until = ft_now_ms() + s->o.timeout_s * 1000.0;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stop) && !s->have_newest && s->state != FT_SOURCE_FAILED &&
           ft_now_ms() < until)
        timedwait_locked(s, until);
    if (atomic_load(&s->stop)) {
        st = ft_err_set(err, FT_E_NOT_FOUND, "%s: stopped", s->safe);
    } else if (s->have_newest) {
        out->im = s->newest;
        out->t = s->newest_t;
        out->index = s->newest_index;
        memset(&s->newest, 0, sizeof s->newest);
        s->have_newest = false;
        s->delivered++;
    } else if (s->state == FT_SOURCE_FAILED) {
        st = ft_err_set(err, s->fatal, "%s", s->fatal_msg);
    } else {
        st = ft_err_set(err, FT_E_BUSY, "%s: no new frame within %.3g s (%s%s%s)", s->safe,
                        s->o.timeout_s, ft_source_state_str(s->state),
                        s->last_error[0] ? ": " : "", s->last_error);
    }
    pthread_mutex_unlock(&s->mu);
    if (err && st != FT_OK)
        ft_source__scrub(s->url, err->msg, sizeof err->msg);
    return st;
}

// ---- The ops ----

static bool ff_accepts(const char *url)
{
    if (is_stream_url(url) || is_device_url(url))
        return true;
    // Any other scheme is not ours; a plain path is a file.
    return strstr(url, "://") == NULL && url[0] != '\0';
}

static void ff_free(ffsrc *s)
{
    if (!s)
        return;
    input_close(s);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    sws_freeContext(s->sws);
    ft_image_deinit(&s->newest);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    ft_free(s->url);
    ft_free(s);
}

static ft_status ff_open(const char *url, const ft_source_opts *o, void **impl, ft_err *err)
{
    ft_status st = FT_OK;
    pthread_once(&ff_once, ff_init);

    ffsrc *s = ft_calloc(1, sizeof *s);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory opening a frame source");
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stop, false);
    atomic_init(&s->deadline_us, 0);
    s->pts0 = AV_NOPTS_VALUE;
    s->o = *o;
    if (!(s->o.timeout_s >= 0))
        s->o.timeout_s = 0;
    if (!(s->o.backoff_min_s > 0))
        s->o.backoff_min_s = 0.01;
    if (!(s->o.backoff_max_s >= s->o.backoff_min_s))
        s->o.backoff_max_s = s->o.backoff_min_s;
    ft_source__url_mask(url, s->safe, sizeof s->safe);
    s->url = ft_strdup(url);
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    if (!s->url || !s->pkt || !s->frame) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory opening %s", s->safe);
        goto fail;
    }
    s->ffurl = has_prefix(s->url, "v4l2:") ? s->url + 5 : s->url;
    s->kind = is_stream_url(url) ? FT_SOURCE_STREAM
              : is_device_url(url) ? FT_SOURCE_DEVICE
                                   : FT_SOURCE_FILE;
    const char *tr = o->rtsp_transport ? o->rtsp_transport : "tcp";
    if (strcmp(tr, "tcp") != 0 && strcmp(tr, "udp") != 0) {
        st = ft_err_set(err, FT_E_INVALID, "%s: rtsp_transport \"%s\" is not tcp or udp",
                        s->safe, tr);
        goto fail;
    }
    snprintf(s->transport, sizeof s->transport, "%s", tr);

    if (s->kind == FT_SOURCE_FILE) {
        // Opened here, on the caller's thread: a missing, corrupt or
        // non-video file fails now.
        s->state = FT_SOURCE_STARTING;
        st = input_open(s, err);
        if (st != FT_OK)
            goto fail;
        *impl = s;
        return FT_OK;
    }

    // Live. What cannot get better by waiting fails now: an absent device
    // node, a protocol this FFmpeg was built without.
    if (s->kind == FT_SOURCE_DEVICE) {
        struct stat sb;
        if (stat(s->ffurl, &sb) != 0) {
            st = ft_err_set(err, errno == ENOENT ? FT_E_NOT_FOUND : FT_E_IO,
                            "V4L2 device %s: %s", s->ffurl, strerror(errno));
            goto fail;
        }
        if (!S_ISCHR(sb.st_mode)) {
            st = ft_err_set(err, FT_E_UNSUPPORTED, "V4L2 device %s: not a character device",
                            s->ffurl);
            goto fail;
        }
    } else if (has_prefix(url, "http") || has_prefix(url, "rtsps")) {
        const char *probe = has_prefix(url, "rtsps") ? "tls://localhost" : url;
        if (!avio_find_protocol_name(probe)) {
            st = ft_err_set(err, FT_E_UNSUPPORTED, "%s: this FFmpeg cannot read such urls (no %s)",
                            s->safe, has_prefix(url, "rtsps") ? "TLS" : "protocol");
            goto fail;
        }
    }
    s->state = FT_SOURCE_STARTING;
    if (pthread_create(&s->thr, NULL, live_main, s) != 0) {
        st = ft_err_set(err, FT_E_NOMEM, "%s: cannot start the decoder thread", s->safe);
        goto fail;
    }
    s->thr_started = true;
    *impl = s;
    return FT_OK;
fail:
    if (err)
        ft_source__scrub(url, err->msg, sizeof err->msg);
    ff_free(s);
    return st;
}

static ft_status ff_next(void *impl, ft_source_frame *out, ft_err *err)
{
    ffsrc *s = impl;
    return is_live(s) ? live_next(s, out, err) : file_next(s, out, err);
}

static void ff_health(void *impl, ft_source_health *h)
{
    ffsrc *s = impl;
    double now = ft_wall_s();
    pthread_mutex_lock(&s->mu);
    h->kind = s->kind;
    h->state = s->state;
    h->frames_decoded = s->decoded;
    h->frames_delivered = s->delivered;
    h->frames_dropped = s->dropped;
    h->reconnects = s->reconnects;
    h->last_frame_t = s->last_frame_t;
    snprintf(h->last_error, sizeof h->last_error, "%s", s->last_error);
    // Frames per second over the stored frame times of the last FPS_SPAN_S.
    int n = 0;
    double oldest = 0, newest = 0;
    for (int i = 0; i < s->fps_n; i++) {
        double t = s->fps_t[(s->fps_i - 1 - i + FPS_WINDOW) % FPS_WINDOW];
        if (now - t > FPS_SPAN_S)
            break;
        if (n == 0)
            newest = t;
        oldest = t;
        n++;
    }
    h->fps = n >= 2 && newest > oldest ? (n - 1) / (newest - oldest) : 0.0;
    pthread_mutex_unlock(&s->mu);
}

static void ff_stop(void *impl)
{
    ffsrc *s = impl;
    atomic_store(&s->stop, true);
    pthread_mutex_lock(&s->mu);
    if (s->state != FT_SOURCE_ENDED && s->state != FT_SOURCE_FAILED)
        s->state = FT_SOURCE_FAILED; // "gave up (... stopped)"
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void ff_close(void *impl)
{
    ffsrc *s = impl;
    ff_stop(s);
    if (s->thr_started)
        pthread_join(s->thr, NULL);
    ff_free(s);
}

const ft_source_ops ft_source__ffmpeg_ops = {
    .name = "ffmpeg",
    .accepts = ff_accepts,
    .open = ff_open,
    .next = ff_next,
    .health = ff_health,
    .stop = ff_stop,
    .close = ff_close,
};
