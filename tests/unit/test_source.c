// Frame sources (src/source): still images, video files through FFmpeg,
// RTSP from tests/tools/ft_rtsp_server, MJPEG and garbage over HTTP from
// tests/tools/ft_mjpeg_server.mjs, V4L2 errors (no camera on the test
// machines), credentials, stop. Videos are made at test time in the build
// folder by tools/make_test_video.sh from the demo photos; the pixels are
// checked against the ffmpeg CLI's own decode.
#define _GNU_SOURCE
#include "ft_test.h"

#include "core/clock.h"
#include "core/mem.h"
#include "io/image.h"
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- Helpers: files, commands, servers ----

static const char *workdir(void)
{
    static char dir[1024];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/source_media", FT_SOURCE_WORKDIR);
        mkdir(dir, 0755);
    }
    return dir;
}

static const char *demo(int i)
{
    static char path[8][1024];
    snprintf(path[i], sizeof path[i], "%s/demo/sample%d.jpg", ft_test_assets(), i);
    return path[i];
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

// WORKDIR/name, made by `make_test_video.sh [mode] OUT args` unless it is
// there already. Made under a temporary name and renamed, so cases that
// CTest runs in parallel never see half a file.
static const char *media(const char *name, const char *mode, const char *args)
{
    static char out[8][1024];
    static int slot;
    char *path = out[slot++ % 8];
    snprintf(path, 1024, "%s/%s", workdir(), name);
    if (access(path, R_OK) == 0)
        return path;
    char tmp[1100], cmd[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp%ld-%s", workdir(), (long)getpid(), name);
    snprintf(cmd, sizeof cmd, "%s %s '%s' %s", FT_SOURCE_MAKE_VIDEO, mode, tmp, args);
    if (run(cmd) != 0 || rename(tmp, path) != 0)
        return NULL;
    return path;
}

// A 640x480 JPEG of demo photo i (made by the ffmpeg CLI), for the MJPEG server.
static const char *small_jpeg(int i)
{
    static char out[8][1024];
    char *path = out[i % 8];
    snprintf(path, 1024, "%s/small%d.jpg", workdir(), i);
    if (access(path, R_OK) == 0)
        return path;
    char tmp[1100], cmd[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp%ld-small%d.jpg", workdir(), (long)getpid(), i);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -i '%s' -vf "
             "scale=640:480:force_original_aspect_ratio=increase,crop=640:480 -q:v 4 '%s'",
             demo(i), tmp);
    if (run(cmd) != 0 || rename(tmp, path) != 0)
        return NULL;
    return path;
}

// Output of a shell command (at most cap-1 bytes), NUL-terminated.
static size_t capture(const char *cmd, uint8_t *buf, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    size_t n = fread(buf, 1, cap - 1, p);
    buf[n] = 0;
    pclose(p);
    return n;
}

typedef struct server {
    pid_t pid;
    int port;
} server;

// Starts argv[0] with stdout on a pipe and reads the port it prints (one
// line). The child dies with the test process (PR_SET_PDEATHSIG).
static bool server_start(server *sv, char *const argv[])
{
    int fd[2];
    sv->pid = -1;
    sv->port = 0;
    if (pipe(fd) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return false;
    }
    sv->pid = pid;
    char line[32] = "";
    size_t n = 0;
    double until = ft_now_ms() + 15000;
    while (n < sizeof line - 1 && !strchr(line, '\n') && ft_now_ms() < until) {
        struct pollfd p = {fd[0], POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(fd[0], line + n, sizeof line - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = 0;
    }
    close(fd[0]);
    sv->port = atoi(line);
    if (sv->port <= 0) {
        fprintf(stderr, "%s did not print a port (got \"%s\")\n", argv[0], line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        sv->pid = -1;
        return false;
    }
    return true;
}

static void server_kill(server *sv)
{
    if (sv->pid > 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, NULL, 0);
    }
    sv->pid = -1;
}

static void sleep_ms(double ms)
{
    time_t sec = (time_t)(ms / 1000);
    struct timespec ts = {sec, (long)((ms - (double)sec * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Polls the health until `state` or `ms` pass; true if reached.
static bool wait_state(ft_source *s, ft_source_state state, double ms)
{
    double until = ft_now_ms() + ms;
    ft_source_health h;
    do {
        ft_source_health_get(s, &h);
        if (h.state == state)
            return true;
        sleep_ms(50);
    } while (ft_now_ms() < until);
    fprintf(stderr, "state %s, wanted %s (last error: %s)\n", ft_source_state_str(h.state),
            ft_source_state_str(state), h.last_error);
    return false;
}

// ---- Still images ----

static void test_image(void)
{
    ft_source *s = NULL;
    ft_source_frame f;
    ft_source_health h;
    ft_err err;
    ft_image ref;
    FT_CHECK_OK(ft_image_load(demo(1), NULL, &ref, &err), &err);
    FT_CHECK_OK(ft_source_open(demo(1), NULL, NULL, &s, &err), &err);
    if (!s)
        return;
    FT_CHECK_STREQ(ft_source_name(s), demo(1));
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.kind, FT_SOURCE_IMAGE);
    FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
    FT_CHECK_EQ(f.im.w, ref.w);
    FT_CHECK_EQ(f.im.h, ref.h);
    FT_CHECK_EQ(f.index, 0);
    FT_CHECK(f.t == 0.0);
    FT_CHECK(f.im.rgb && memcmp(f.im.rgb, ref.rgb, (size_t)ref.w * ref.h * 3) == 0);
    ft_source_frame_deinit(&f);
    FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_NOT_FOUND);
    FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_NOT_FOUND);
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.state, FT_SOURCE_ENDED);
    FT_CHECK_EQ(h.frames_delivered, 1);
    ft_source_close(s);

    // By content, not by name: a JPEG called .mp4 is still a photo.
    char named[1100], cmd[2400];
    snprintf(named, sizeof named, "%s/photo-named-%ld.mp4", workdir(), (long)getpid());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", demo(2), named);
    FT_CHECK_EQ(run(cmd), 0);
    FT_CHECK_OK(ft_source_open(named, "door", NULL, &s, &err), &err);
    if (s) {
        FT_CHECK_STREQ(ft_source_name(s), "door");
        ft_source_health_get(s, &h);
        FT_CHECK_EQ(h.kind, FT_SOURCE_IMAGE);
        ft_source_close(s);
    }
    unlink(named);

    // "-" is stdin.
    FT_CHECK(freopen(demo(1), "rb", stdin) != NULL);
    FT_CHECK_OK(ft_source_open("-", NULL, NULL, &s, &err), &err);
    if (s) {
        FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
        FT_CHECK_EQ(f.im.w, ref.w);
        FT_CHECK_EQ(f.im.h, ref.h);
        ft_source_frame_deinit(&f);
        ft_source_close(s);
    }
    ft_image_deinit(&ref);
}

// ---- Video files ----

// Frames as ffprobe counts them (decoding every one).
static long ffprobe_frames(const char *path)
{
    char cmd[2048];
    uint8_t out[64];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
             "stream=nb_read_frames -of csv=p=0 '%s'",
             path);
    capture(cmd, out, sizeof out);
    return atol((const char *)out);
}

static void test_file_frames(void)
{
    // 2 s of one photo, then a cut to 1 s of another: 75 frames at 25 fps.
    char args[2200];
    snprintf(args, sizeof args, "2 '%s' '%s' 1", demo(1), demo(3));
    const char *v = media("cut3s.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    FT_CHECK_EQ(ffprobe_frames(v), 75);

    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(v, NULL, NULL, &s, &err), &err);
    if (!s)
        return;
    ft_source_health h;
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.kind, FT_SOURCE_FILE);
    int64_t n = 0;
    ft_source_frame f;
    ft_status st;
    while ((st = ft_source_next(s, &f, &err)) == FT_OK) {
        FT_CHECK_EQ(f.index, n);
        FT_CHECK_EQ(f.im.w, 640);
        FT_CHECK_EQ(f.im.h, 480);
        // pts are whole ticks of the stream's time base (1/12800 s here),
        // so t is exact up to the double division: 1e-9 s is ample.
        FT_CHECK_NEAR(f.t, (double)n * 0.04, 1e-9);
        ft_source_frame_deinit(&f);
        n++;
    }
    FT_CHECK_EQ(st, FT_E_NOT_FOUND);
    FT_CHECK_EQ(n, 75);
    FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_NOT_FOUND);
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.state, FT_SOURCE_ENDED);
    FT_CHECK_EQ(h.frames_decoded, 75);
    FT_CHECK_EQ(h.frames_delivered, 75);
    FT_CHECK_EQ(h.frames_dropped, 0);
    ft_source_close(s);

    // Motion JPEG in AVI: the same count rule.
    snprintf(args, sizeof args, "1 '%s'", demo(2));
    const char *mj = media("mjpeg1s.avi", "--mjpeg", args);
    FT_CHECK(mj != NULL);
    if (!mj)
        return;
    FT_CHECK_OK(ft_source_open(mj, NULL, NULL, &s, &err), &err);
    if (!s)
        return;
    n = 0;
    while ((st = ft_source_next(s, &f, &err)) == FT_OK) {
        FT_CHECK_EQ(f.im.w, 640);
        FT_CHECK_NEAR(f.t, (double)n * 0.04, 1e-9);
        ft_source_frame_deinit(&f);
        n++;
    }
    FT_CHECK_EQ(st, FT_E_NOT_FOUND);
    FT_CHECK_EQ(n, ffprobe_frames(mj));
    FT_CHECK_EQ(n, 25);
    ft_source_close(s);
}

// Frame k of a video as the ffmpeg CLI decodes it to raw rgb24.
static bool cli_frame(const char *path, int k, uint8_t *buf, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -i '%s' -vf 'select=eq(n\\,%d)' -frames:v 1 "
             "-f rawvideo -pix_fmt rgb24 -",
             path, k);
    uint8_t *tmp = malloc(len + 2);
    size_t n = capture(cmd, tmp, len + 2);
    if (n == len)
        memcpy(buf, tmp, len);
    free(tmp);
    return n == len;
}

static void compare_frames(const char *what, const uint8_t *a, const uint8_t *b, size_t len)
{
    int maxd = 0;
    double sum = 0;
    for (size_t i = 0; i < len; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        maxd = d > maxd ? d : maxd;
        sum += d;
    }
    fprintf(stderr, "%s: max |diff| %d, mean %.4f\n", what, maxd, sum / (double)len);
    // The same libavcodec decodes the same bits in both and both convert
    // with libswscale's bicubic YUV 4:2:0 -> RGB24 at BT.601 limited range,
    // so the pixels agree exactly today. Allowed: 2 levels at a pixel and
    // 0.05 on average, for a libswscale whose SIMD and C paths round chroma
    // differently (picked by CPU and buffer alignment); a wrong matrix,
    // range or frame is off by far more (tens of levels on average).
    FT_CHECK(maxd <= 2);
    FT_CHECK(sum / (double)len <= 0.05);
}

static void test_file_pixels(void)
{
    char args[2200];
    snprintf(args, sizeof args, "2 '%s' '%s' 1", demo(1), demo(3));
    const char *v = media("cut3s.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    size_t len = 640 * 480 * 3;
    uint8_t *ref = malloc(len);
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(v, NULL, NULL, &s, &err), &err);
    if (!s) {
        free(ref);
        return;
    }
    ft_source_frame f;
    for (int k = 0; k <= 60; k++) {
        FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
        if (k == 0 || k == 60) { // the first frame, and one after the cut
            FT_CHECK(cli_frame(v, k, ref, len));
            FT_CHECK_EQ(f.im.w * f.im.h * 3, (long long)len);
            if ((size_t)f.im.w * f.im.h * 3 == len)
                compare_frames(k == 0 ? "frame 0" : "frame 60", f.im.rgb, ref, len);
        }
        ft_source_frame_deinit(&f);
    }
    ft_source_close(s);
    free(ref);
}

static void test_file_realtime(void)
{
    char args[2200];
    snprintf(args, sizeof args, "2 '%s'", demo(4));
    const char *v = media("pan2s.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    ft_source_opts o = ft_source_opts_default();
    o.realtime = true;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(v, NULL, &o, &s, &err), &err);
    if (!s)
        return;
    ft_source_frame f;
    double t0 = 0, t_last = 0, first_ms = 0, last_ms = 0;
    int n = 0;
    while (ft_source_next(s, &f, &err) == FT_OK) {
        double now = ft_now_ms();
        if (n == 0) {
            first_ms = now;
            t0 = f.t;
        }
        last_ms = now;
        t_last = f.t;
        n++;
        ft_source_frame_deinit(&f);
    }
    FT_CHECK_EQ(n, 50);
    double span = t_last - t0; // 1.96 s of presentation time
    // Only a lower bound: a loaded machine may be slower, never faster.
    FT_CHECK((last_ms - first_ms) / 1000.0 >= 0.8 * span);
    ft_source_health h;
    ft_source_health_get(s, &h);
    FT_CHECK(h.fps > 0);
    ft_source_close(s);
}

static void test_file_errors(void)
{
    ft_source *s = NULL;
    ft_err err;
    char args[2200];

    // An mp4 cut after 4 KiB: no index.
    snprintf(args, sizeof args, "1 '%s'", demo(5));
    const char *bad = media("corrupt.mp4", "--corrupt", args);
    FT_CHECK(bad != NULL);
    if (bad) {
        ft_err_clear(&err);
        ft_status st = ft_source_open(bad, NULL, NULL, &s, &err);
        FT_CHECK_EQ(st, FT_E_FORMAT);
        FT_CHECK(s == NULL);
        FT_CHECK(strstr(err.msg, bad) != NULL);
        fprintf(stderr, "corrupt: %s\n", err.msg);
    }

    // Random bytes.
    char junk[1100];
    snprintf(junk, sizeof junk, "%s/junk-%ld.mp4", workdir(), (long)getpid());
    FILE *fp = fopen(junk, "wb");
    FT_CHECK(fp != NULL);
    if (fp) {
        uint32_t x = 12345;
        for (int i = 0; i < 65536; i++) {
            x = x * 1664525u + 1013904223u;
            fputc((int)(x >> 24), fp);
        }
        fclose(fp);
        ft_err_clear(&err);
        ft_status st = ft_source_open(junk, NULL, NULL, &s, &err);
        FT_CHECK(st == FT_E_FORMAT || st == FT_E_UNSUPPORTED);
        FT_CHECK(s == NULL);
        FT_CHECK(strstr(err.msg, junk) != NULL);
        fprintf(stderr, "junk: %s: %s\n", ft_status_str(st), err.msg);
        unlink(junk);
    }

    // A real media file with no video in it (a WAV tone).
    char wav[1100], cmd[2400];
    snprintf(wav, sizeof wav, "%s/tone-%ld.wav", workdir(), (long)getpid());
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i sine=frequency=440:duration=1 '%s'", wav);
    FT_CHECK_EQ(run(cmd), 0);
    ft_err_clear(&err);
    FT_CHECK_EQ(ft_source_open(wav, NULL, NULL, &s, &err), FT_E_UNSUPPORTED);
    FT_CHECK(strstr(err.msg, "no video stream") != NULL);
    fprintf(stderr, "wav: %s\n", err.msg);
    unlink(wav);

    // Missing.
    ft_err_clear(&err);
    FT_CHECK_EQ(ft_source_open("/nonexistent/door.mp4", NULL, NULL, &s, &err), FT_E_NOT_FOUND);
    FT_CHECK(strstr(err.msg, "/nonexistent/door.mp4") != NULL);
    fprintf(stderr, "missing: %s\n", err.msg);

    // Over the pixel limit.
    snprintf(args, sizeof args, "2 '%s'", demo(4));
    const char *v = media("pan2s.mp4", "", args);
    if (v) {
        ft_source_opts o = ft_source_opts_default();
        o.max_pixels = 640 * 480 - 1;
        ft_err_clear(&err);
        FT_CHECK_EQ(ft_source_open(v, NULL, &o, &s, &err), FT_E_LIMIT);
        fprintf(stderr, "limit: %s\n", err.msg);
    }

    // Not a source at all.
    ft_err_clear(&err);
    FT_CHECK_EQ(ft_source_open("gopher://127.0.0.1/x", NULL, NULL, &s, &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(ft_source_open("", NULL, NULL, &s, &err), FT_E_INVALID);
    ft_source_opts bad_tr = ft_source_opts_default();
    bad_tr.rtsp_transport = "carrier-pigeon";
    FT_CHECK_EQ(ft_source_open("rtsp://127.0.0.1:1/x", NULL, &bad_tr, &s, &err), FT_E_INVALID);
}

// Allocation failure at the 1st, 2nd, ... allocation of open + first
// frame: a clean FT_E_NOMEM each time (ASan checks for leaks) until it works.
static void test_oom(void)
{
    char args[2200];
    snprintf(args, sizeof args, "2 '%s'", demo(4));
    const char *v = media("pan2s.mp4", "", args);
    FT_CHECK(v != NULL);
    const char *urls[] = {demo(1), v};
    for (size_t u = 0; u < 2 && v; u++) {
        bool ok = false;
        for (long n = 0; n < 100 && !ok; n++) {
            ft_source *s = NULL;
            ft_source_frame f;
            ft_err e;
            ft_mem_fail_after(n);
            ft_status st = ft_source_open(urls[u], NULL, NULL, &s, &e);
            if (st == FT_OK) {
                st = ft_source_next(s, &f, &e);
                if (st == FT_OK)
                    ft_source_frame_deinit(&f);
            }
            ft_mem_fail_after(-1);
            ft_source_close(s);
            if (st == FT_OK) {
                ok = true;
            } else if (st != FT_E_NOMEM) {
                fprintf(stderr, "%s: failing allocation %ld gave %s (%s)\n", urls[u], n,
                        ft_status_name(st), e.msg);
                ft_test_failures++;
                break;
            }
        }
        FT_CHECK(ok);
    }
}

// ---- V4L2 ----

// No camera on the test machines: only the error for an absent device.
static void test_v4l2_absent(void)
{
    const char *urls[] = {"/dev/video99", "v4l2:/dev/video99"};
    for (size_t i = 0; i < 2; i++) {
        ft_source *s = NULL;
        ft_err err;
        ft_err_clear(&err);
        FT_CHECK_EQ(ft_source_open(urls[i], NULL, NULL, &s, &err), FT_E_NOT_FOUND);
        FT_CHECK(s == NULL);
        FT_CHECK(strstr(err.msg, "/dev/video99") != NULL);
        FT_CHECK(strstr(err.msg, "V4L2") != NULL);
        fprintf(stderr, "%s: %s\n", urls[i], err.msg);
    }
}

// ---- Live sources: credentials, down at start, stop ----

static void test_url_safe(void)
{
    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 0.5;
    o.backoff_min_s = 0.1;
    o.backoff_max_s = 0.2;
    ft_source *s = NULL;
    ft_err err;
    // Port 1 on 127.0.0.1: nothing listens, the stream is down at start.
    FT_CHECK_OK(ft_source_open("rtsp://door:s3cr3tpass@127.0.0.1:1/test", NULL, &o, &s, &err),
                &err);
    if (!s)
        return;
    FT_CHECK_STREQ(ft_source_url_safe(s), "rtsp://***@127.0.0.1:1/test");
    FT_CHECK_STREQ(ft_source_name(s), "rtsp://***@127.0.0.1:1/test");
    FT_CHECK(wait_state(s, FT_SOURCE_RECONNECTING, 10000));
    ft_source_health h;
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.kind, FT_SOURCE_STREAM);
    FT_CHECK(h.last_error[0] != '\0');
    FT_CHECK(strstr(h.last_error, "s3cr3t") == NULL);
    FT_CHECK(strstr(h.last_error, "127.0.0.1:1") != NULL);
    fprintf(stderr, "down: %s\n", h.last_error);
    ft_source_frame f;
    ft_err_clear(&err);
    FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_BUSY);
    FT_CHECK(strstr(err.msg, "s3cr3t") == NULL);
    FT_CHECK(strstr(err.msg, "reconnecting") != NULL);
    ft_source_close(s);

    // max_reconnects: gives up, and next says why.
    o.max_reconnects = 1;
    o.timeout_s = 10;
    FT_CHECK_OK(ft_source_open("http://u:pw12345@127.0.0.1:1/mjpeg", NULL, &o, &s, &err), &err);
    if (!s)
        return;
    ft_err_clear(&err);
    ft_status st = ft_source_next(s, &f, &err);
    FT_CHECK(st != FT_OK && st != FT_E_BUSY && st != FT_E_NOT_FOUND);
    FT_CHECK(strstr(err.msg, "gave up") != NULL);
    FT_CHECK(strstr(err.msg, "pw12345") == NULL);
    fprintf(stderr, "gave up: %s\n", err.msg);
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.state, FT_SOURCE_FAILED);
    ft_source_close(s);
}

typedef struct next_call {
    ft_source *s;
    ft_status st;
} next_call;

static void *next_thread(void *p)
{
    next_call *c = p;
    ft_source_frame f;
    ft_err err;
    c->st = ft_source_next(c->s, &f, &err);
    if (c->st == FT_OK)
        ft_source_frame_deinit(&f);
    return NULL;
}

// ft_source_stop from another thread ends a blocked next (the case's CTest
// timeout catches a next that never returns).
static void test_stop(void)
{
    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 3600;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open("rtsp://127.0.0.1:1/test", NULL, &o, &s, &err), &err);
    if (!s)
        return;
    next_call c = {s, FT_OK};
    pthread_t t;
    pthread_create(&t, NULL, next_thread, &c);
    sleep_ms(300);
    ft_source_stop(s);
    pthread_join(t, NULL);
    FT_CHECK_EQ(c.st, FT_E_NOT_FOUND);
    ft_source_close(s);

    // A file paced in real time, stopped while next sleeps.
    char args[2200];
    snprintf(args, sizeof args, "2 '%s'", demo(4));
    const char *v = media("pan2s.mp4", "", args);
    if (!v)
        return;
    o.realtime = true;
    FT_CHECK_OK(ft_source_open(v, NULL, &o, &s, &err), &err);
    if (!s)
        return;
    ft_source_frame f;
    FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
    ft_source_frame_deinit(&f);
    c.s = s;
    c.st = FT_OK;
    pthread_create(&t, NULL, next_thread, &c);
    ft_source_stop(s);
    pthread_join(t, NULL);
    FT_CHECK(c.st == FT_E_NOT_FOUND || c.st == FT_OK); // may have had its frame before the stop
    FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_NOT_FOUND);
    ft_source_close(s);
}

// ---- RTSP ----

static void test_rtsp(void)
{
#ifdef FT_SOURCE_RTSP_SERVER
    char args[2200];
    // 3 s, served in a loop: reading past frame 75 without a reconnect
    // shows the server loops.
    snprintf(args, sizeof args, "3 '%s'", demo(1));
    const char *v = media("pan3s.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    server sv;
    char *argv[] = {FT_SOURCE_RTSP_SERVER, (char *)v, "0", NULL};
    FT_CHECK(server_start(&sv, argv));
    if (sv.pid < 0)
        return;
    char url[128], port[16];
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", sv.port);
    snprintf(port, sizeof port, "%d", sv.port);

    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 5;
    o.backoff_min_s = 0.2;
    o.backoff_max_s = 1;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
    if (!s) {
        server_kill(&sv);
        return;
    }
    ft_source_frame f;
    ft_source_health h;
    int got = 0;
    int64_t last_index = -1;
    double last_t = 0;
    for (int i = 0; i < 40 && got < 25; i++) {
        ft_status st = ft_source_next(s, &f, &err);
        if (st == FT_E_BUSY)
            continue;
        FT_CHECK_OK(st, &err);
        if (st != FT_OK)
            break;
        FT_CHECK_EQ(f.im.w, 640);
        FT_CHECK_EQ(f.im.h, 480);
        FT_CHECK(f.index > last_index); // always newer than the one before
        FT_CHECK(f.t >= last_t);
        // Live frames carry the wall clock when received.
        FT_CHECK(fabs(f.t - ft_wall_s()) < 60);
        last_index = f.index;
        last_t = f.t;
        ft_source_frame_deinit(&f);
        got++;
    }
    FT_CHECK(got >= 20);
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.kind, FT_SOURCE_STREAM);
    FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    FT_CHECK_EQ(h.frames_delivered, got);

    // A slow consumer: the frames it missed are dropped, not queued.
    int64_t dropped0 = h.frames_dropped;
    sleep_ms(1000);
    FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
    ft_source_frame_deinit(&f);
    ft_source_health_get(s, &h);
    fprintf(stderr, "dropped %lld -> %lld, fps %.1f\n", (long long)dropped0,
            (long long)h.frames_dropped, h.fps);
    FT_CHECK(h.frames_dropped >= dropped0 + 5); // ~25 frames arrive in 1 s
    FT_CHECK(h.fps > 5);

    // Past the end of the 3 s file: the server loops, the source runs on.
    while (last_index < 100) {
        ft_status st = ft_source_next(s, &f, &err);
        FT_CHECK_OK(st, &err);
        if (st != FT_OK)
            break;
        last_index = f.index;
        ft_source_frame_deinit(&f);
    }
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    FT_CHECK_EQ(h.reconnects, 0);

    // The server dies: reconnecting, with the reason.
    server_kill(&sv);
    FT_CHECK(wait_state(s, FT_SOURCE_RECONNECTING, 15000));
    ft_source_health_get(s, &h);
    fprintf(stderr, "lost: %s\n", h.last_error);
    FT_CHECK(h.last_error[0] != '\0');
    int64_t reconnects0 = h.reconnects;
    // While it is down, next times out with FT_E_BUSY (drain the frame
    // that may have arrived just before the kill first).
    o.timeout_s = 0.3;
    ft_status st;
    for (int i = 0; i < 3 && (st = ft_source_next(s, &f, &err)) == FT_OK; i++)
        ft_source_frame_deinit(&f);

    // Back on the same port: frames resume.
    char *argv2[] = {FT_SOURCE_RTSP_SERVER, (char *)v, port, NULL};
    FT_CHECK(server_start(&sv, argv2));
    FT_CHECK_EQ(sv.port, atoi(port));
    got = 0;
    double until = ft_now_ms() + 30000;
    while (got < 5 && ft_now_ms() < until) {
        st = ft_source_next(s, &f, &err);
        if (st == FT_OK) {
            FT_CHECK(f.index > last_index);
            last_index = f.index;
            ft_source_frame_deinit(&f);
            got++;
        } else {
            FT_CHECK_EQ(st, FT_E_BUSY);
        }
    }
    FT_CHECK_EQ(got, 5);
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    FT_CHECK(h.reconnects >= reconnects0 + 1);
    FT_CHECK(h.reconnects >= 1);
    fprintf(stderr, "reconnects %lld, decoded %lld, delivered %lld, dropped %lld\n",
            (long long)h.reconnects, (long long)h.frames_decoded, (long long)h.frames_delivered,
            (long long)h.frames_dropped);
    // The decoder runs on after the last next(): every frame it decoded was
    // handed out, dropped, or is the one waiting (at most one is kept).
    FT_CHECK(h.frames_decoded >= last_index + 1);
    int64_t waiting = h.frames_decoded - h.frames_delivered - h.frames_dropped;
    FT_CHECK(waiting == 0 || waiting == 1);
    ft_source_close(s);
    server_kill(&sv);
#else
    fprintf(stderr, "ft_rtsp_server not built (no gstreamer-rtsp-server-1.0): skipped\n");
#endif
}

// ---- HTTP: MJPEG and garbage ----

static bool mjpeg_server(server *sv)
{
    const char *j1 = small_jpeg(1), *j2 = small_jpeg(2), *j3 = small_jpeg(3);
    FT_CHECK(j1 && j2 && j3);
    if (!j1 || !j2 || !j3)
        return false;
    char *argv[] = {FT_SOURCE_NODE, FT_SOURCE_TOOLS "/ft_mjpeg_server.mjs", "0", "20",
                    (char *)j1, (char *)j2, (char *)j3, NULL};
    FT_CHECK(server_start(sv, argv));
    return sv->pid > 0;
}

static void test_mjpeg_http(void)
{
    server sv;
    if (!mjpeg_server(&sv))
        return;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mjpeg", sv.port);
    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 5;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
    if (!s) {
        server_kill(&sv);
        return;
    }
    int got = 0;
    ft_source_frame f;
    ft_image ref;
    FT_CHECK_OK(ft_image_load(small_jpeg(1), NULL, &ref, &err), &err);
    for (int i = 0; i < 40 && got < 12; i++) {
        ft_status st = ft_source_next(s, &f, &err);
        if (st == FT_E_BUSY)
            continue;
        FT_CHECK_OK(st, &err);
        if (st != FT_OK)
            break;
        FT_CHECK_EQ(f.im.w, 640);
        FT_CHECK_EQ(f.im.h, 480);
        ft_source_frame_deinit(&f);
        got++;
    }
    FT_CHECK(got >= 12);
    ft_image_deinit(&ref);
    ft_source_health h;
    ft_source_health_get(s, &h);
    FT_CHECK_EQ(h.kind, FT_SOURCE_STREAM);
    FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    FT_CHECK_EQ(h.reconnects, 0);
    ft_source_close(s);
    server_kill(&sv);
}

// A server that answers with random bytes: a clear error, reconnecting, and
// the process carries on; likewise one that hangs up at once.
static void test_garbage_stream(void)
{
    server sv;
    if (!mjpeg_server(&sv))
        return;
    const char *paths[] = {"garbage", "close"};
    for (size_t i = 0; i < 2; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", sv.port, paths[i]);
        ft_source_opts o = ft_source_opts_default();
        o.timeout_s = 0.5;
        o.backoff_min_s = 0.2;
        o.backoff_max_s = 0.5;
        ft_source *s = NULL;
        ft_err err;
        FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
        if (!s)
            continue;
        FT_CHECK(wait_state(s, FT_SOURCE_RECONNECTING, 20000));
        ft_source_health h;
        ft_source_health_get(s, &h);
        FT_CHECK(h.last_error[0] != '\0');
        FT_CHECK(strstr(h.last_error, url) != NULL);
        FT_CHECK_EQ(h.frames_decoded, 0);
        fprintf(stderr, "%s: %s\n", paths[i], h.last_error);
        ft_source_frame f;
        FT_CHECK_EQ(ft_source_next(s, &f, &err), FT_E_BUSY);
        ft_source_close(s);
    }
    server_kill(&sv);
}

// A camera that stops sending but keeps the connection open: the read
// deadline notices it (no data for 5 s) and the source reconnects.
static void test_stalled_stream(void)
{
    server sv;
    if (!mjpeg_server(&sv))
        return;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stall", sv.port);
    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 5;
    o.backoff_min_s = 5;
    o.backoff_max_s = 5;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
    if (!s) {
        server_kill(&sv);
        return;
    }
    ft_source_frame f;
    FT_CHECK_OK(ft_source_next(s, &f, &err), &err);
    ft_source_frame_deinit(&f);
    FT_CHECK(wait_state(s, FT_SOURCE_RECONNECTING, 20000));
    ft_source_health h;
    ft_source_health_get(s, &h);
    FT_CHECK(strstr(h.last_error, "no data for 5 s") != NULL);
    fprintf(stderr, "stalled: %s\n", h.last_error);
    ft_source_close(s);
    server_kill(&sv);
}

static void test_rtsp_udp(void)
{
#ifdef FT_SOURCE_RTSP_SERVER
    char args[2200];
    snprintf(args, sizeof args, "3 '%s'", demo(1));
    const char *v = media("pan3s.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    server sv;
    char *argv[] = {FT_SOURCE_RTSP_SERVER, (char *)v, "0", NULL};
    FT_CHECK(server_start(&sv, argv));
    if (sv.pid < 0)
        return;
    char url[128];
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", sv.port);
    ft_source_opts o = ft_source_opts_default();
    o.rtsp_transport = "udp";
    o.timeout_s = 5;
    ft_source *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
    int got = 0;
    for (int i = 0; s && i < 30 && got < 10; i++) {
        ft_source_frame f;
        ft_status st = ft_source_next(s, &f, &err);
        if (st == FT_OK) {
            FT_CHECK_EQ(f.im.w, 640);
            ft_source_frame_deinit(&f);
            got++;
        }
    }
    FT_CHECK(got >= 10);
    ft_source_close(s);
    server_kill(&sv);
#endif
}

// RTSPS: the same server with TLS on its control connection (the media
// interleaved in it), a self-signed certificate made here by the openssl
// CLI (setup.sh --test installs it). The source does not verify camera
// certificates (FFmpeg's default; cameras carry self-signed ones), so
// this checks that the stream is read through TLS, and that a plain
// rtsp:// client is refused by the TLS port.
static void test_rtsps(void)
{
#ifdef FT_SOURCE_RTSP_SERVER
    char dir[512], cmd[2048], cert[600], key[600];
    snprintf(dir, sizeof dir, "%s/rtsps", FT_SOURCE_WORKDIR);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
             "-subj /CN=127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1",
             dir, key, cert);
    int rc = system(cmd);
    FT_CHECK_EQ(rc, 0); // openssl CLI missing? tools/setup.sh --test installs it
    if (rc != 0)
        return;
    char args[2200];
    snprintf(args, sizeof args, "3 '%s'", demo(2));
    const char *v = media("pan3s_2.mp4", "", args);
    FT_CHECK(v != NULL);
    if (!v)
        return;
    server sv;
    char *argv[] = {FT_SOURCE_RTSP_SERVER, "--tls", cert, key, (char *)v, "0", NULL};
    FT_CHECK(server_start(&sv, argv));
    if (sv.pid < 0)
        return;
    char url[128];
    ft_source_opts o = ft_source_opts_default();
    o.timeout_s = 5;
    ft_source *s = NULL;
    ft_err err;
    snprintf(url, sizeof url, "rtsps://127.0.0.1:%d/test", sv.port);
    FT_CHECK_OK(ft_source_open(url, NULL, &o, &s, &err), &err);
    int got = 0;
    // 30 s at most (a TLS handshake that never succeeds must fail the
    // test, not run into ctest's timeout).
    double until = ft_now_ms() + 30000;
    for (int i = 0; s && i < 40 && got < 10 && ft_now_ms() < until; i++) {
        ft_source_frame f;
        ft_status st = ft_source_next(s, &f, &err);
        if (st == FT_OK) {
            FT_CHECK_EQ(f.im.w, 640);
            FT_CHECK_EQ(f.im.h, 480);
            ft_source_frame_deinit(&f);
            got++;
        }
    }
    FT_CHECK(got >= 10);
    ft_source_health h;
    if (s) {
        ft_source_health_get(s, &h);
        FT_CHECK_EQ(h.state, FT_SOURCE_RUNNING);
    }
    ft_source_close(s);

    // Plain RTSP to the TLS port: no frame, and the health says why.
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/test", sv.port);
    o.timeout_s = 2;
    s = NULL;
    ft_status st = ft_source_open(url, NULL, &o, &s, &err);
    if (st == FT_OK) {
        ft_source_frame f;
        int frames = 0;
        for (int i = 0; i < 3; i++)
            if (ft_source_next(s, &f, &err) == FT_OK) {
                ft_source_frame_deinit(&f);
                frames++;
            }
        FT_CHECK_EQ(frames, 0);
        ft_source_health_get(s, &h);
        FT_CHECK(h.state != FT_SOURCE_RUNNING);
        FT_CHECK(h.last_error[0] != '\0');
        ft_source_close(s);
    }
    server_kill(&sv);
#endif
}

static const ft_test_case cases[] = {
    {"image", test_image},
    {"file_frames", test_file_frames},
    {"file_pixels", test_file_pixels},
    {"file_realtime", test_file_realtime},
    {"file_errors", test_file_errors},
    {"oom", test_oom},
    {"v4l2_absent", test_v4l2_absent},
    {"url_safe", test_url_safe},
    {"stop", test_stop},
    {"rtsp", test_rtsp},
    {"rtsp_udp", test_rtsp_udp},
    {"rtsps", test_rtsps},
    {"stalled_stream", test_stalled_stream},
    {"mjpeg_http", test_mjpeg_http},
    {"garbage_stream", test_garbage_stream},
};

FT_TEST_MAIN(cases)
