// Helpers shared by the subcommands.
#include "cli/cli.h"

#include "core/clock.h"
#include "gallery/gallery.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ft_cli_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "facetracker %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool ft_cli_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

bool ft_cli_str(int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "facetracker: %s needs a value\n", argv[*i]);
        return false;
    }
    *out = argv[++*i];
    return true;
}

bool ft_cli_double(int argc, char **argv, int *i, double lo, double hi, double *out)
{
    const char *s;
    if (!ft_cli_str(argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "facetracker: %s %s: expected a number from %g to %g\n", argv[*i - 1], s,
                lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool ft_cli_int(int argc, char **argv, int *i, long lo, long hi, long *out)
{
    const char *s;
    if (!ft_cli_str(argc, argv, i, &s))
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "facetracker: %s %s: expected a whole number from %ld to %ld\n",
                argv[*i - 1], s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

ft_status ft_cli_json_num(ft_buf *b, double v)
{
    if (!isfinite(v))
        return ft_buf_puts(b, "null");
    char s[40];
    snprintf(s, sizeof s, "%.17g", v);
    // Shorter forms when they round-trip.
    for (int prec = 6; prec < 17; prec++) {
        char t[40];
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) {
            memcpy(s, t, sizeof t);
            break;
        }
    }
    return ft_buf_puts(b, s);
}

void ft_cli_emit(ft_buf *b)
{
    fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

void ft_cli_emit_error(const char *image, ft_status st, const ft_err *err)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_buf_puts(&b, "{\"image\": ");
    ft_buf_json_str(&b, image);
    ft_buf_puts(&b, ", \"error\": {\"code\": ");
    ft_buf_json_str(&b, ft_status_name(st));
    ft_buf_puts(&b, ", \"message\": ");
    ft_buf_json_str(&b, ft_err_msg(err, st));
    ft_buf_puts(&b, "}}");
    ft_cli_emit(&b);
    ft_buf_deinit(&b);
}

static ft_status load_models(const char *cmd, const char *dir, bool ssd, bool tiny, bool yunet,
                             bool lm, bool lm_tiny, bool rec, ft_face_models **out)
{
    ft_models_opts o = {dir, ssd, tiny, lm, lm_tiny, rec, yunet, NULL};
    ft_err err = {0};
    ft_status st = ft_face_models_load(&o, out, &err);
    if (st != FT_OK)
        ft_cli_errorf(cmd, "cannot load the models from %s: %s (run tools/setup.sh to fetch them)",
                      dir ? dir : ft_models_default_dir(), ft_err_msg(&err, st));
    return st;
}

ft_status ft_cli_load_models(const char *cmd, const char *dir, bool ssd, bool tiny, bool lm,
                             bool lm_tiny, bool rec, ft_face_models **out)
{
    return load_models(cmd, dir, ssd, tiny, false, lm, lm_tiny, rec, out);
}

ft_status ft_cli_load_detector(const char *cmd, const char *dir, ft_detector_kind k, bool lm,
                               bool lm_tiny, bool rec, ft_face_models **out)
{
    return load_models(cmd, dir, k == FT_DETECTOR_SSD, k == FT_DETECTOR_TINY,
                       k == FT_DETECTOR_YUNET, lm, lm_tiny, rec, out);
}

void ft_progress_start(ft_progress *p, int n)
{
    p->on = n > 1 && isatty(STDERR_FILENO);
    p->n = n;
    p->t0 = ft_now_ms();
}

void ft_progress_step(ft_progress *p, int done, const char *extra)
{
    if (!p->on)
        return;
    double el = (ft_now_ms() - p->t0) / 1000.0;
    double left = done > 0 ? el / done * (p->n - done) : 0;
    fprintf(stderr, "\r[%d/%d] %s, %.0f s left   ", done, p->n, extra, left);
    fflush(stderr);
}

void ft_progress_end(ft_progress *p)
{
    if (p->on)
        fputc('\n', stderr);
}

ft_status ft_cli_draw(const ft_image *im, const ft_face_box *boxes, const char *const *labels,
                      const uint32_t *colours, size_t n, const char *path, ft_err *err)
{
    ft_image c;
    ft_status st = ft_image_copy(im, &c);
    if (st != FT_OK)
        return ft_err_set(err, st, "out of memory");
    int32_t big = im->w > im->h ? im->w : im->h;
    int32_t thick = big / 400 + 2, scale = big / 500 + 2;
    for (size_t i = 0; i < n; i++) {
        uint32_t col = colours ? colours[i] : 0x00ff40;
        const ft_face_box *b = &boxes[i];
        ft_draw_rect(&c, (int32_t)lround(b->x), (int32_t)lround(b->y), (int32_t)lround(b->w),
                     (int32_t)lround(b->h), col, thick);
        char text[160];
        if (labels && labels[i])
            snprintf(text, sizeof text, "%s", labels[i]);
        else
            snprintf(text, sizeof text, "%.2f", b->score);
        int32_t tw = ft_draw_text_width(text, scale) + 2 * scale;
        int32_t th = ft_draw_text_height(scale) + 2 * scale;
        int32_t tx = (int32_t)lround(b->x), ty = (int32_t)lround(b->y) - th;
        if (ty < 0)
            ty = (int32_t)lround(b->y + b->h);
        ft_draw_fill(&c, tx, ty, tw, th, col);
        ft_draw_text(&c, tx + scale, ty + scale, text, 0x000000, scale);
    }
    st = ft_image_save(&c, path, err);
    ft_image_deinit(&c);
    return st;
}

void ft_cli_draw_path(const char *out, const char *image, char *path, size_t cap)
{
    struct stat st;
    size_t n = strlen(out);
    bool dir = (n > 0 && out[n - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode));
    if (!dir) {
        snprintf(path, cap, "%s", out);
        return;
    }
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    const char *dot = strrchr(base, '.');
    int len = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(path, cap, "%s%s%.*s.jpg", out, out[n - 1] == '/' ? "" : "/", len, base);
}

ft_status ft_cli_json_face(ft_buf *b, const ft_face *f, bool landmarks, bool descriptor)
{
    ft_buf_puts(b, "{\"box\": [");
    ft_cli_json_num(b, f->box.x);
    ft_buf_puts(b, ", ");
    ft_cli_json_num(b, f->box.y);
    ft_buf_puts(b, ", ");
    ft_cli_json_num(b, f->box.w);
    ft_buf_puts(b, ", ");
    ft_cli_json_num(b, f->box.h);
    ft_buf_puts(b, "], \"score\": ");
    ft_cli_json_num(b, f->box.score);
    if (landmarks && f->has_landmarks) {
        ft_buf_puts(b, ", \"landmarks\": [");
        for (int i = 0; i < FT_LANDMARKS; i++)
            ft_buf_printf(b, "%s[%.2f, %.2f]", i ? ", " : "", f->landmarks[i].x, f->landmarks[i].y);
        ft_buf_puts(b, "]");
    }
    if (descriptor && f->has_descriptor) {
        ft_buf_puts(b, ", \"descriptor\": [");
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) {
            if (i)
                ft_buf_puts(b, ", ");
            ft_buf_printf(b, "%.9g", f->descriptor[i]);
        }
        ft_buf_puts(b, "]");
    }
    return ft_buf_puts(b, "}");
}

void ft_cli_face_opts_init(ft_cli_face_opts *o)
{
    o->d = ft_describe_opts_default();
    o->models = NULL;
    o->threads = 0;
}

int ft_cli_face_opt(int argc, char **argv, int *i, ft_cli_face_opts *o)
{
    const char *a = argv[*i], *v;
    double d;
    if (strcmp(a, "--detector") == 0) {
        if (!ft_cli_str(argc, argv, i, &v))
            return -1;
        if (!ft_detector_parse(v, &o->d.detect.kind)) {
            fprintf(stderr, "facetracker: --detector %s: expected ssd, tiny or yunet\n", v);
            return -1;
        }
        return 1;
    }
    if (strcmp(a, "--min-score") == 0) {
        if (!ft_cli_double(argc, argv, i, 0, 1, &d))
            return -1;
        o->d.detect.min_score = d;
        return 1;
    }
    if (strcmp(a, "--align") == 0) {
        if (!ft_cli_str(argc, argv, i, &v))
            return -1;
        if (!ft_align_parse(v, &o->d.align)) {
            fprintf(stderr, "facetracker: --align %s: expected faceapi or similarity\n", v);
            return -1;
        }
        return 1;
    }
    if (strcmp(a, "--tiny-landmarks") == 0) {
        o->d.tiny_landmarks = true;
        return 1;
    }
    if (strcmp(a, "--threads") == 0)
        return ft_cli_int(argc, argv, i, 1, 256, &o->threads) ? 1 : -1;
    if (strcmp(a, "--models") == 0)
        return ft_cli_str(argc, argv, i, &o->models) ? 1 : -1;
    return 0;
}

ft_status ft_cli_face_setup(const char *cmd, const ft_cli_face_opts *o, ft_face_models **m,
                            ft_nn_ctx **ctx)
{
    // The SSD as well: the one-face rule (ft_face_single) falls back to it
    // after YuNet or the tiny detector, and to the tiny detector after it.
    ft_detector_kind k = o->d.detect.kind;
    ft_status st = load_models(cmd, o->models, true, k != FT_DETECTOR_YUNET, k == FT_DETECTOR_YUNET,
                               o->d.landmarks && !o->d.tiny_landmarks,
                               o->d.landmarks && o->d.tiny_landmarks, o->d.descriptors, m);
    if (st != FT_OK)
        return st;
    st = ft_nn_ctx_new((int)o->threads, ctx);
    if (st != FT_OK) {
        ft_cli_errorf(cmd, "out of memory");
        ft_face_models_free(*m);
        *m = NULL;
    }
    return st;
}

ft_status ft_cli_gallery(const char *cmd, const char *path, bool read_only, ft_gallery **g)
{
    ft_gallery_opts o = ft_gallery_opts_default();
    if (read_only)
        o.flags = FT_GALLERY_READONLY | FT_GALLERY_NO_CREATE;
    ft_err err = {0};
    ft_status st = ft_gallery_open(path, &o, g, &err);
    if (st != FT_OK)
        ft_cli_errorf(cmd, "%s", ft_err_msg(&err, st));
    return st;
}

bool ft_cli_confirm(const char *cmd, bool yes, const char *fmt, ...)
{
    if (yes)
        return true;
    char q[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
        ft_cli_errorf(cmd, "%s: refusing without --yes (not a terminal, nobody to ask)", q);
        return false;
    }
    fprintf(stderr, "%s [y/N] ", q);
    fflush(stderr);
    char a[16];
    if (!fgets(a, sizeof a, stdin))
        return false;
    return strcmp(a, "y\n") == 0 || strcmp(a, "Y\n") == 0 || strcmp(a, "yes\n") == 0;
}
