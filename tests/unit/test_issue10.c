// Issue 10 items that had code but no test that could fail (found by the
// item-by-item audit): the server itself applies the retention policy
// (not only `events purge` and the library call); a decision whose event
// cannot be written (full disk, a read-only gallery file) is answered 503
// E_STORE with no decision, never 500 or a decision that was not logged,
// and /readyz says why the server is not ready.
#define _GNU_SOURCE
#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "ft_test.h"
#include "gallery/gallery.h"
#include "http/server.h"
#include "io/image.h"
#include "nn/nn.h"

#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void rm_db(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static ft_server_opts server_opts(const char *db, char *models, size_t cap)
{
    ft_server_opts o = ft_server_opts_default();
    o.bind = "127.0.0.1";
    o.port = 0;
    o.db_path = db;
    o.threads = 1;
    snprintf(models, cap, "%s/model", ft_test_assets());
    o.models_dir = models;
    return o;
}

static int64_t add_event(ft_gallery *g, double t)
{
    ft_event ev;
    ft_event_init(&ev);
    ev.time = t;
    snprintf(ev.source, sizeof ev.source, "door");
    snprintf(ev.reason, sizeof ev.reason, "unknown");
    ev.decision = FT_DECISION_DENIED;
    static const uint8_t jpeg[4] = {0xff, 0xd8, 0xff, 0xd9};
    ev.thumbnail = jpeg;
    ev.thumbnail_len = sizeof jpeg;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_event_add(g, &ev, &err), &err);
    return ev.id;
}

static size_t thumb_len(const char *db, int64_t id)
{
    ft_gallery *g = NULL;
    ft_err err = {0};
    ft_event ev;
    size_t n = (size_t)-1;
    if (ft_gallery_open(db, NULL, &g, &err) == FT_OK &&
        ft_gallery_event_get(g, id, &ev, &err) == FT_OK)
        n = ev.thumbnail_len;
    ft_gallery_close(g);
    return n;
}

// A running server removes face thumbnails older than the retention
// setting (default 90 days) by itself, keeps newer ones, and records the
// purge in the audit trail as "retention". Without the server's
// housekeeping pass the old thumbnail stays and the case fails.
static void test_server_retention(void)
{
    char db[128];
    snprintf(db, sizeof db, "/tmp/ft_issue10_ret_%d.db", (int)getpid());
    rm_db(db);
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    if (!g)
        return;
    double now = ft_wall_s(), day = 86400;
    int64_t old = add_event(g, now - 100 * day);
    int64_t recent = add_event(g, now - 10 * day);
    ft_gallery_close(g);
    FT_CHECK_EQ(thumb_len(db, old), 4); // there before the server starts

    char models[512];
    ft_server_opts o = server_opts(db, models, sizeof models);
    o.retention_first_s = 0.3;
    ft_server *s = NULL;
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (!s)
        return;
    // The pass runs 0.3 s after start; allow 20 s on a loaded machine
    // (the sanitizer builds, other jobs).
    double t0 = ft_now_ms();
    while (thumb_len(db, old) != 0 && ft_now_ms() - t0 < 20e3)
        usleep(50000);
    FT_CHECK_EQ(thumb_len(db, old), 0);
    FT_CHECK_EQ(thumb_len(db, recent), 4);
    ft_server_stop(s);

    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    if (g) {
        ft_audit_row *rows = NULL;
        size_t n = 0;
        FT_CHECK_OK(ft_gallery_audit_query(g, 0, 100, &rows, &n, NULL, &err), &err);
        int purges = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i].action, "events.purge") == 0) {
                purges++;
                FT_CHECK_STREQ(rows[i].actor, "retention");
            }
        FT_CHECK_EQ(purges, 1);
        ft_free(rows);
        ft_gallery_close(g);
    }
    rm_db(db);
}

static tc_resp post_photo(uint16_t port, const char *path, const ft_buf *jpg)
{
    size_t blen;
    uint8_t *body = tc_multipart("----ftb10", "photo", "p.jpg", jpg->data, jpg->len, &blen);
    tc_resp r = tc_req(port, "POST", path,
                       "Content-Type: multipart/form-data; boundary=----ftb10\r\n"
                       "X-Requested-With: ft-test\r\n",
                       body, blen);
    free(body);
    return r;
}

// Decisions fail closed: on a full file system (a 3 MiB tmpfs made here;
// root needed, 77 otherwise, a failure as root) POST /api/v1/access
// answers 503 E_STORE without a decision once the event cannot be
// written; never 500, never a decision that was not logged. With space
// again the door decides again.
static void test_access_disk_full(void)
{
    char dir[] = "/tmp/ft_issue10_full_XXXXXX";
    if (!mkdtemp(dir))
        return;
    if (!ft_test_mount_tmpfs(dir, "size=3m", "access_disk_full"))
        return;
    ft_nn_init();
    char db[300], filler[300], models[512], photo[512];
    snprintf(db, sizeof db, "%s/g.db", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(photo, sizeof photo, "%s/demo/sample1.jpg", ft_test_assets());
    ft_buf jpg;
    ft_buf_init(&jpg, 0);
    {
        // One face of the demo photo (x ~ 1476), as the HTTP tests crop it.
        ft_image im, c;
        FT_CHECK_OK(ft_image_load(photo, NULL, &im, NULL), NULL);
        FT_CHECK_OK(ft_image_crop(&im, 1476 - 61, 200 - 72, 325, 384, &c), NULL);
        FT_CHECK_OK(ft_image_encode_jpeg(&c, 90, &jpg, NULL), NULL);
        ft_image_deinit(&c);
        ft_image_deinit(&im);
    }
    ft_server_opts o = server_opts(db, models, sizeof models);
    o.descriptor = "resnet128";
    ft_server *s = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (s) {
        FT_CHECK_OK(ft_server_wait_ready(s, &err), &err);
        uint16_t port = ft_server_port(s);
        tc_resp r = post_photo(port, "/api/v1/access?source=door10", &jpg);
        FT_CHECK_EQ(r.status, 200);
        FT_CHECK(strstr(r.body, "\"decision\"") != NULL);
        tc_resp_free(&r);
        FILE *f = fopen(filler, "wb");
        static uint8_t block[4096];
        while (f && fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
            ;
        if (f)
            fclose(f);
        // Pages the WAL already holds may take a few more events; the
        // first that needs a new block must be refused, and every answer
        // is either a logged decision (200) or 503 without one.
        int n503 = 0, other = 0;
        for (int i = 0; i < 40 && n503 == 0; i++) {
            r = post_photo(port, "/api/v1/access?source=door10", &jpg);
            if (r.status == 503) {
                n503++;
                FT_CHECK(strstr(r.body, "\"E_STORE\"") != NULL);
                FT_CHECK(strstr(r.body, "door stays shut") != NULL);
                FT_CHECK(strstr(r.body, "\"decision\"") == NULL);
                FT_CHECK(tc_header(&r, "Retry-After") != NULL);
            } else if (r.status != 200 || !strstr(r.body, "\"logged\":true")) {
                fprintf(stderr, "access on a full disk: %d %.300s\n", r.status,
                        r.body ? r.body : "");
                other++;
            }
            tc_resp_free(&r);
        }
        FT_CHECK_EQ(n503, 1);
        FT_CHECK_EQ(other, 0);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 503);
        tc_resp_free(&r);
        unlink(filler);
        r = post_photo(port, "/api/v1/access?source=door10", &jpg);
        FT_CHECK_EQ(r.status, 200);
        FT_CHECK(strstr(r.body, "\"logged\":true") != NULL);
        tc_resp_free(&r);
        ft_server_stop(s);
    }
    ft_buf_deinit(&jpg);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

// Issue 10's finding 5 as reported: a gallery FILE that cannot be written
// (mode 0444). The server used to start, say ready and answer 500 to every
// decision. Root writes through file modes, so the server runs in a child
// without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER (still root:
// the models stay readable wherever the checkout is); the child first
// checks that it really cannot open the file for writing.
static void test_readonly_file(void)
{
    char dir[] = "/tmp/ft_issue10_ro_XXXXXX";
    if (!mkdtemp(dir))
        return;
    char db[300];
    snprintf(db, sizeof db, "%s/g.db", dir);
    ft_err err = {0};
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    ft_gallery_close(g);
    FT_CHECK(chmod(db, 0444) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) == 0) {
            uint32_t drop =
                (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER);
            d[0].effective &= ~drop;
            d[0].permitted &= ~drop;
            d[0].inheritable &= ~drop;
            if (syscall(SYS_capset, &h, d) != 0)
                _exit(3);
        }
        int fd = open(db, O_WRONLY);
        if (fd >= 0) {
            fprintf(stderr, "readonly_file: the file opens for writing: not tested\n");
            _exit(4);
        }
        ft_nn_init();
        char models[512], photo[512];
        ft_server_opts o = server_opts(db, models, sizeof models);
        o.descriptor = "resnet128";
        ft_server *s = NULL;
        ft_err e = {0};
        FT_CHECK_OK(ft_server_start(&o, &s, &e), &e);
        if (s) {
            FT_CHECK_OK(ft_server_wait_ready(s, &e), &e);
            uint16_t port = ft_server_port(s);
            tc_resp r = tc_get(port, "/readyz", NULL);
            FT_CHECK_EQ(r.status, 503);
            FT_CHECK(strstr(r.body, "\"E_STORAGE\"") != NULL);
            FT_CHECK(strstr(r.body, "read-only") != NULL);
            tc_resp_free(&r);
            snprintf(photo, sizeof photo, "%s/demo/sample1.jpg", ft_test_assets());
            ft_buf jpg;
            ft_buf_init(&jpg, 0);
            FT_CHECK_OK(ft_file_read(photo, 0, &jpg, &e), &e);
            r = post_photo(port, "/api/v1/access?source=door10", &jpg);
            FT_CHECK_EQ(r.status, 503);
            FT_CHECK(strstr(r.body, "\"E_STORE\"") != NULL);
            FT_CHECK(strstr(r.body, "read-only") != NULL);
            FT_CHECK(strstr(r.body, "\"decision\"") == NULL);
            tc_resp_free(&r);
            ft_buf_deinit(&jpg);
            ft_server_stop(s);
        }
        _exit(ft_test_failures ? 1 : 0);
    }
    FT_CHECK(pid > 0);
    int status = 0;
    waitpid(pid, &status, 0);
    FT_CHECK(WIFEXITED(status));
    FT_CHECK_EQ(WEXITSTATUS(status), 0);
    chmod(db, 0644);
    rm_db(db);
    rmdir(dir);
}

static const ft_test_case cases[] = {
    {"server_retention", test_server_retention},
    {"access_disk_full", test_access_disk_full},
    {"readonly_file", test_readonly_file},
};

FT_TEST_MAIN(cases)
