// Tests for src/http: the multipart parser, the router and OpenAPI
// document, metrics, the HTTP core (limits, timeouts, the bounded queue,
// roles) with a test route table, and the facetracker server itself on
// 127.0.0.1 with a free port, route by route, success and failure.
#define _GNU_SOURCE
#include "core/clock.h"
#include "core/mem.h"
#include "face/descriptor.h"
#include "ft_test.h"
#include "http/http_internal.h"
#include "http/multipart.h"
#include "http_client.h"

#include <pthread.h>
#include <strings.h>
#include <unistd.h>

// ---- Multipart ----

static ft_status mp(const char *ct, const char *body, ft_multipart *m, ft_err *err)
{
    return ft_multipart_parse((const uint8_t *)body, strlen(body), ct, NULL, m, err);
}

static void test_multipart(void)
{
    ft_multipart m;
    ft_err err;
    const char *b1 = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"fileImg\"; "
                     "filename=\"a b.jpg\"\r\ncontent-type: image/jpeg\r\n\r\nJPEGDATA\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=note\r\n\r\n"
                     "\r\n--XyZ--\r\nepilogue";
    FT_CHECK_OK(mp("multipart/form-data; boundary=XyZ", b1, &m, &err), &err);
    FT_CHECK_EQ(m.n_parts, 2);
    if (m.n_parts == 2) {
        FT_CHECK_STREQ(m.parts[0].name, "fileImg");
        FT_CHECK_STREQ(m.parts[0].filename, "a b.jpg");
        FT_CHECK_STREQ(m.parts[0].content_type, "image/jpeg");
        FT_CHECK_EQ(m.parts[0].len, 8);
        FT_CHECK(memcmp(m.parts[0].data, "JPEGDATA", 8) == 0);
        FT_CHECK_STREQ(m.parts[1].name, "note");
        FT_CHECK(m.parts[1].filename == NULL);
        FT_CHECK_EQ(m.parts[1].len, 0);
        FT_CHECK(ft_multipart_find(&m, "fileImg") == &m.parts[0]);
        FT_CHECK(ft_multipart_find(&m, "nope") == NULL);
    }
    ft_multipart_deinit(&m);

    // Quoted boundary with characters a token may not hold; data that
    // contains the boundary without the leading CRLF; transport padding.
    const char *b2 = "--a:b c\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n--a:b c"
                     "\r\n--a:b c  \r\nContent-Disposition: form-data; name=\"y\"; "
                     "filename=\"q\\\"t\"\r\n\r\n1\r\n--a:b c--";
    FT_CHECK_OK(mp("Multipart/Form-Data ; boundary=\"a:b c\"", b2, &m, &err), &err);
    FT_CHECK_EQ(m.n_parts, 2);
    if (m.n_parts == 2) {
        FT_CHECK_EQ(m.parts[0].len, 7);
        FT_CHECK_STREQ(m.parts[1].filename, "q\"t");
    }
    ft_multipart_deinit(&m);

    // Failures, each with its own status and message.
    FT_CHECK_EQ(mp("text/plain", "x", &m, &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(mp(NULL, "x", &m, &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(mp("multipart/form-data", "x", &m, &err), FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-dataX; boundary=b", "x", &m, &err), FT_E_UNSUPPORTED);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b; boundary=c", "x", &m, &err), FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b", "", &m, &err), FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b",
                   "--b\r\nContent-Disposition: form-data; name=f\r\n\r\nabc", &m, &err),
                FT_E_FORMAT);
    FT_CHECK(strstr(err.msg, "truncated") != NULL);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b",
                   "--b\r\nContent-Disposition: form-data; name=f\r\n", &m, &err),
                FT_E_FORMAT);
    FT_CHECK(strstr(err.msg, "truncated") != NULL);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b", "--b", &m, &err), FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b", "--b\r\nX: y\r\n\r\n\r\n--b--", &m, &err),
                FT_E_FORMAT); // no Content-Disposition
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b",
                   "--b\r\nContent-Disposition: attachment; name=f\r\n\r\n\r\n--b--", &m, &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b",
                   "--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\n\r\n--b--", &m, &err),
                FT_E_FORMAT);
    FT_CHECK_EQ(mp("multipart/form-data; boundary=b", "--bX\r\n", &m, &err), FT_E_FORMAT);
    // Zero parts is a valid body.
    FT_CHECK_OK(mp("multipart/form-data; boundary=b", "--b--", &m, &err), &err);
    FT_CHECK_EQ(m.n_parts, 0);
    ft_multipart_deinit(&m);

    // Limits.
    ft_multipart_limits lim = ft_multipart_limits_default();
    lim.max_parts = 1;
    const char *two = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
                      "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n\r\n--b--";
    FT_CHECK_EQ(ft_multipart_parse((const uint8_t *)two, strlen(two),
                                   "multipart/form-data; boundary=b", &lim, &m, &err),
                FT_E_LIMIT);
    lim = ft_multipart_limits_default();
    lim.max_header_bytes = 20;
    FT_CHECK_EQ(ft_multipart_parse((const uint8_t *)two, strlen(two),
                                   "multipart/form-data; boundary=b", &lim, &m, &err),
                FT_E_LIMIT);
    lim = ft_multipart_limits_default();
    lim.max_body_bytes = 10;
    FT_CHECK_EQ(ft_multipart_parse((const uint8_t *)two, strlen(two),
                                   "multipart/form-data; boundary=b", &lim, &m, &err),
                FT_E_LIMIT);

    // Every prefix of a valid body fails cleanly (the fuzz corpus covers more).
    size_t n = strlen(b1);
    for (size_t i = 0; i + 10 < n; i++) {
        ft_status st = ft_multipart_parse((const uint8_t *)b1, i,
                                          "multipart/form-data; boundary=XyZ", NULL, &m, &err);
        FT_CHECK(st == FT_E_FORMAT);
        if (st == FT_OK)
            ft_multipart_deinit(&m);
    }
}

static void test_multipart_oom(void)
{
    const char *b = "--b\r\nContent-Disposition: form-data; name=a; filename=x\r\n"
                    "Content-Type: t/x\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; "
                    "name=b\r\n\r\n2\r\n--b--";
    for (long k = 0; k < 50; k++) {
        ft_multipart m;
        ft_err err;
        ft_mem_fail_after(k);
        ft_status st = ft_multipart_parse((const uint8_t *)b, strlen(b),
                                          "multipart/form-data; boundary=b", NULL, &m, &err);
        ft_mem_fail_after(-1);
        if (st == FT_OK) {
            FT_CHECK_EQ(m.n_parts, 2);
            ft_multipart_deinit(&m);
            return;
        }
        FT_CHECK_EQ(st, FT_E_NOMEM);
    }
    FT_CHECK(!"never succeeded");
}

// ---- Router ----

static void h_ok(ft_http_req *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "route", json_string(r->route->pattern));
    json_t *p = json_array();
    for (size_t i = 0; i < r->n_params; i++)
        json_array_append_new(p, json_string(r->params[i]));
    json_object_set_new(j, "params", p);
    json_object_set_new(j, "body_len", json_integer((json_int_t)r->body_len));
    json_object_set_new(j, "role", json_integer(r->role));
    const char *q = ft_http_query(r, "q");
    if (q)
        json_object_set_new(j, "q", json_string(q));
    ft_http_reply_json(r, 200, j);
}

static atomic_int slow_running;
static void h_slow(ft_http_req *r)
{
    atomic_fetch_add(&slow_running, 1);
    usleep(400 * 1000);
    h_ok(r);
}

static void h_multipart(ft_http_req *r)
{
    ft_multipart m;
    ft_err err;
    ft_status st = ft_multipart_parse(r->body, r->body_len, r->content_type, NULL, &m, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    const ft_multipart_part *p = ft_multipart_find(&m, "fileImg");
    if (!p)
        ft_http_reply_error(r, 400, "E_FORMAT", "no fileImg part");
    else
        ft_http_reply_json(r, 200, json_pack("{s:I}", "len", (json_int_t)p->len));
    ft_multipart_deinit(&m);
}

static const ft_route test_routes[] = {
    {"GET", "/t/hello", h_ok, 0, FT_POOL_INLINE, FT_BODY_NONE, NULL, "t", "inline", "q:string:x"},
    {"GET", "/t/items/{id}", h_ok, FT_HTTP_VIEWER, FT_POOL_DB, FT_BODY_NONE, NULL, "t", "db",
     NULL},
    {"DELETE", "/t/items/{id}", h_ok, 0, FT_POOL_DB, FT_BODY_NONE, NULL, "t", "admin", NULL},
    {"POST", "/t/a/{x}/b/{y}", h_ok, FT_HTTP_DEVICE, FT_POOL_INFER, FT_BODY_JSON, NULL, "t", "two",
     NULL},
    {"POST", "/t/slow", h_slow, 0, FT_POOL_INFER, FT_BODY_NONE, NULL, "t", "slow", NULL},
    {"POST", "/t/upload", h_multipart, 0, FT_POOL_INFER, FT_BODY_MULTIPART, NULL, "t", "upload",
     NULL},
};
#define N_TEST_ROUTES (sizeof test_routes / sizeof test_routes[0])

static void test_router(void)
{
    ft_http_req r;
    memset(&r, 0, sizeof r);
    bool pm;
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", "/t/hello", &r, &pm), 0);
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "HEAD", "/t/hello", &r, &pm), 0);
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", "/t/items/42", &r, &pm),
                1);
    FT_CHECK_EQ(r.n_params, 1);
    FT_CHECK_STREQ(r.params[0], "42");
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "DELETE", "/t/items/7", &r, &pm),
                2);
    FT_CHECK_EQ(
        ft_http__route_match(test_routes, N_TEST_ROUTES, "POST", "/t/a/1/b/two", &r, &pm), 3);
    FT_CHECK_EQ(r.n_params, 2);
    FT_CHECK_STREQ(r.params[1], "two");
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "PUT", "/t/items/7", &r, &pm),
                -1);
    FT_CHECK(pm); // 405
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", "/t/items/", &r, &pm), -1);
    FT_CHECK(!pm);
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", "/t/items/1/x", &r, &pm),
                -1);
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", "/t/hello/", &r, &pm), -1);
    char longseg[300];
    memset(longseg, 'a', sizeof longseg);
    memcpy(longseg, "/t/items/", 9);
    longseg[sizeof longseg - 1] = 0;
    FT_CHECK_EQ(ft_http__route_match(test_routes, N_TEST_ROUTES, "GET", longseg, &r, &pm), -1);

    json_t *doc = ft_http__openapi(test_routes, N_TEST_ROUTES, "9.9");
    FT_CHECK(doc != NULL);
    FT_CHECK_STREQ(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    FT_CHECK_EQ(json_object_size(paths), 5);
    json_t *op = json_object_get(json_object_get(paths, "/t/items/{id}"), "get");
    FT_CHECK(op != NULL);
    FT_CHECK_STREQ(
        json_string_value(json_object_get(json_array_get(json_object_get(op, "parameters"), 0),
                                          "name")),
        "id");
    FT_CHECK(json_object_get(json_object_get(doc, "components"), "schemas") != NULL);
    json_decref(doc);
}

static void test_metrics(void)
{
    ft_metrics m;
    ft_metrics_init(&m, test_routes, N_TEST_ROUTES);
    ft_metrics_request(&m, 0, 200, 0.003);
    ft_metrics_request(&m, 0, 404, 0.2);
    ft_metrics_request(&m, -1, 408, 11);
    ft_metrics_decision(&m, "granted");
    ft_metrics_decision(&m, "granted");
    ft_metrics_decision(&m, "denied");
    ft_metrics_inference(&m, "ssd", 0.05);
    ft_buf b;
    ft_buf_init(&b, 0);
    FT_CHECK_OK(ft_metrics_render(&m, "facetracker_x 1\n", &b), NULL);
    const char *t = (const char *)b.data;
    FT_CHECK(strstr(t, "facetracker_http_requests_total{method=\"GET\",route=\"/t/hello\","
                       "code=\"2xx\"} 1\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_http_requests_total{method=\"GET\",route=\"/t/hello\","
                       "code=\"4xx\"} 1\n") != NULL);
    // Cumulative buckets: 3 ms lands in le=0.005 and above.
    FT_CHECK(strstr(t, "facetracker_http_request_duration_seconds_bucket{method=\"GET\","
                       "route=\"/t/hello\",le=\"0.0025\"} 0\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_http_request_duration_seconds_bucket{method=\"GET\","
                       "route=\"/t/hello\",le=\"0.005\"} 1\n") != NULL);
    FT_CHECK(strstr(t, "route=\"/t/hello\",le=\"+Inf\"} 2\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_http_request_duration_seconds_count{method=\"GET\","
                       "route=\"/t/hello\"} 2\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_access_decisions_total{outcome=\"granted\"} 2\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_access_decisions_total{outcome=\"denied\"} 1\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_inference_seconds_count{net=\"ssd\"} 1\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_http_timeouts_total 1\n") != NULL);
    FT_CHECK(strstr(t, "facetracker_x 1\n") != NULL);
    ft_buf_deinit(&b);
}

// ---- The HTTP core with the test table ----

static ft_status test_auth(void *ctx, void *tctx, const char *key, unsigned *role,
                           int64_t *key_id, ft_err *err)
{
    if (!key)
        return ft_err_set(err, FT_E_AUTH, "an API key is required");
    *key_id = 7;
    if (strcmp(key, "admin-key") == 0)
        *role = FT_HTTP_ADMIN;
    else if (strcmp(key, "viewer-key") == 0)
        *role = FT_HTTP_VIEWER;
    else if (strcmp(key, "device-key") == 0)
        *role = FT_HTTP_DEVICE;
    else
        return ft_err_set(err, FT_E_AUTH, "unknown or revoked API key");
    return FT_OK;
}

static const ft_http_app test_app = {.routes = test_routes,
                                     .n_routes = N_TEST_ROUTES,
                                     .auth = test_auth};

static ft_httpd *start_core(ft_http_limits *lim)
{
    ft_httpd *h = NULL;
    ft_err err;
    FT_CHECK_OK(ft_httpd_start(&test_app, "127.0.0.1", 0, lim, &h, &err), &err);
    if (h)
        FT_CHECK(ft_httpd_port(h) > 0);
    return h;
}

static void test_core_routes(void)
{
    ft_httpd *h = start_core(NULL);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    tc_resp r = tc_get(port, "/t/hello?q=a%20b", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"q\":\"a b\"") != NULL);
    FT_CHECK_STREQ(tc_header(&r, "Content-Type"), "application/json");
    tc_resp_free(&r);
    r = tc_get(port, "/t/nothing", NULL);
    FT_CHECK_EQ(r.status, 404);
    FT_CHECK(strstr(r.body, "{\"error\":{\"code\":\"E_NOT_FOUND\",\"message\":") == r.body);
    tc_resp_free(&r);
    r = tc_req(port, "PUT", "/t/hello", NULL, "x", 1);
    FT_CHECK_EQ(r.status, 405);
    tc_resp_free(&r);
    // A worker route with two params.
    r = tc_req(port, "POST", "/t/a/1/b/2", "X-API-Key: device-key\r\n", "{}", 2);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"params\":[\"1\",\"2\"]") != NULL);
    FT_CHECK(strstr(r.body, "\"body_len\":2") != NULL);
    tc_resp_free(&r);
    // Keep-alive: two requests on one connection.
    int fd = tc_connect(port);
    const char *two = "GET /t/hello HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /t/items/5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer viewer-key\r\n"
                      "Connection: close\r\n\r\n";
    tc_send(fd, two, strlen(two));
    tc_read(fd, &r);
    close(fd);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "HTTP/1.1 200") != NULL); // the second answer follows the first
    FT_CHECK(strstr(r.body, "\"params\":[\"5\"]") != NULL);
    tc_resp_free(&r);
    ft_httpd_stop(h);
}

static void test_core_auth(void)
{
    ft_httpd *h = start_core(NULL);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    tc_resp r = tc_get(port, "/t/items/1", NULL);
    FT_CHECK_EQ(r.status, 401);
    FT_CHECK(strstr(r.body, "E_AUTH") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/t/items/1", "X-API-Key: wrong\r\n");
    FT_CHECK_EQ(r.status, 401);
    tc_resp_free(&r);
    r = tc_get(port, "/t/items/1", "X-API-Key: device-key\r\n");
    FT_CHECK_EQ(r.status, 403); // device may not read items
    FT_CHECK(strstr(r.body, "E_FORBIDDEN") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/t/items/1", "X-API-Key: admin-key\r\n");
    FT_CHECK_EQ(r.status, 200); // admin may do anything
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/t/a/1/b/2", "X-API-Key: viewer-key\r\n", "{}", 2);
    FT_CHECK_EQ(r.status, 403);
    tc_resp_free(&r);
    ft_httpd_stop(h);
}

static void test_core_limits(void)
{
    ft_http_limits lim = ft_http_limits_default();
    lim.max_body_bytes = 1000;
    lim.header_timeout_ms = 1500;
    lim.body_timeout_ms = 1500;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    // Over the limit by Content-Length: 413 before the body is read.
    char big[2000];
    memset(big, 'x', sizeof big);
    tc_resp r = tc_req(port, "POST", "/t/upload", NULL, big, sizeof big);
    FT_CHECK_EQ(r.status, 413);
    FT_CHECK(strstr(r.body, "E_LIMIT") != NULL);
    tc_resp_free(&r);
    // Over the limit in chunks (no Content-Length): 413 at the end.
    {
        char req[4096];
        int n = snprintf(req, sizeof req,
                         "POST /t/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 3; i++)
            n += snprintf(req + n, sizeof req - (size_t)n, "1f4\r\n%.500s\r\n", big);
        n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
        r = tc_raw(port, req, (size_t)n);
        FT_CHECK_EQ(r.status, 413);
        tc_resp_free(&r);
    }
    // Multipart problems through the handler.
    size_t blen;
    uint8_t *body = tc_multipart("bnd", "fileImg", "a.jpg", "abc", 3, &blen);
    r = tc_req(port, "POST", "/t/upload",
               "Content-Type: multipart/form-data; boundary=bnd\r\n", body, blen);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"len\":3") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/t/upload",
               "Content-Type: multipart/form-data; boundary=bnd\r\n", body, blen - 10);
    FT_CHECK_EQ(r.status, 400);
    FT_CHECK(strstr(r.body, "truncated") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/t/upload", "Content-Type: text/plain\r\n", body, blen);
    FT_CHECK_EQ(r.status, 415);
    tc_resp_free(&r);
    free(body);
    // A body shorter than its Content-Length: 408 when the body deadline
    // passes, and the server keeps serving.
    {
        int fd = tc_connect(port);
        const char *part = "POST /t/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nabc";
        tc_send(fd, part, strlen(part));
        tc_read(fd, &r);
        close(fd);
        FT_CHECK_EQ(r.status, 408);
        FT_CHECK(strstr(r.body, "request body not received") != NULL);
        tc_resp_free(&r);
        // The same, the client closing its side: the connection is dropped.
        fd = tc_connect(port);
        tc_send(fd, part, strlen(part));
        shutdown(fd, SHUT_WR);
        tc_read(fd, &r);
        close(fd);
        FT_CHECK(r.status == 0 || r.status == 408);
        tc_resp_free(&r);
    }
    // Malformed HTTP: MHD answers 400 itself.
    r = tc_raw(port, "GARBAGE\r\n\r\n", 11);
    FT_CHECK(r.status == 400 || r.status == 0);
    tc_resp_free(&r);
    r = tc_get(port, "/t/hello", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    ft_httpd_stop(h);
}

typedef struct slow_arg {
    uint16_t port;
    tc_resp r;
    double ms;
} slow_arg;

// Sends a request head one byte every 200 ms (5 bytes/s: the test must
// not take minutes; the deadline is total time, so the rate is irrelevant).
static void *slow_client(void *p)
{
    slow_arg *a = p;
    double t0 = ft_now_ms();
    int fd = tc_connect(a->port);
    const char *head = "GET /t/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for (size_t i = 0; head[i]; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1)
            break;
        usleep(200 * 1000);
    }
    tc_read(fd, &a->r);
    close(fd);
    a->ms = ft_now_ms() - t0;
    return NULL;
}

static void test_core_slow_headers(void)
{
    ft_http_limits lim = ft_http_limits_default();
    lim.header_timeout_ms = 1500;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    slow_arg a;
    memset(&a, 0, sizeof a);
    a.port = ft_httpd_port(h);
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &a);
    usleep(300 * 1000);
    // Others are served meanwhile.
    for (int i = 0; i < 5; i++) {
        tc_resp r = tc_get(a.port, "/t/hello", NULL);
        FT_CHECK_EQ(r.status, 200);
        tc_resp_free(&r);
    }
    pthread_join(t, NULL);
    FT_CHECK_EQ(a.r.status, 408);
    FT_CHECK(strstr(a.r.body, "E_TIMEOUT") != NULL);
    FT_CHECK(a.ms < 4000);
    tc_resp_free(&a.r);
    tc_resp r = tc_get(a.port, "/t/hello", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    ft_httpd_stop(h);
}

typedef struct busy_arg {
    uint16_t port;
    int status;
    char retry[16];
} busy_arg;

static void *busy_client(void *p)
{
    busy_arg *a = p;
    tc_resp r = tc_req(a->port, "POST", "/t/slow", NULL, NULL, 0);
    a->status = r.status;
    const char *ra = tc_header(&r, "Retry-After");
    snprintf(a->retry, sizeof a->retry, "%s", ra ? ra : "");
    tc_resp_free(&r);
    return NULL;
}

static void test_core_busy(void)
{
    ft_http_limits lim = ft_http_limits_default();
    lim.threads[FT_POOL_INFER] = 1;
    lim.queue_max[FT_POOL_INFER] = 1;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    enum { N = 6 };
    busy_arg a[N];
    pthread_t t[N];
    atomic_store(&slow_running, 0);
    for (int i = 0; i < N; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].port = ft_httpd_port(h);
        pthread_create(&t[i], NULL, busy_client, &a[i]);
    }
    // While the worker sleeps, inline routes still answer at once.
    usleep(100 * 1000);
    double t0 = ft_now_ms();
    tc_resp r = tc_get(a[0].port, "/t/hello", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(ft_now_ms() - t0 < 300);
    tc_resp_free(&r);
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (a[i].status == 200)
            ok++;
        else if (a[i].status == 503) {
            busy++;
            FT_CHECK_STREQ(a[i].retry, "1");
        }
    }
    // One running + one queued fit; the others are refused.
    FT_CHECK_EQ(ok + busy, N);
    FT_CHECK(ok >= 2);
    FT_CHECK(busy >= 1);
    FT_CHECK_EQ(atomic_load(&slow_running), ok);
    FT_CHECK(atomic_load(&ft_httpd_metrics(h)->rejected_busy) == (uint64_t)busy);
    ft_httpd_stop(h);
}

// Stopping with jobs queued answers them (503) instead of hanging.
static void test_core_stop(void)
{
    ft_http_limits lim = ft_http_limits_default();
    lim.threads[FT_POOL_INFER] = 1;
    lim.queue_max[FT_POOL_INFER] = 4;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    busy_arg a[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].port = ft_httpd_port(h);
        pthread_create(&t[i], NULL, busy_client, &a[i]);
    }
    usleep(150 * 1000);
    ft_httpd_stop(h);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        FT_CHECK(a[i].status == 200 || a[i].status == 503 || a[i].status == 0);
    }
}


// ---- The facetracker server ----

#include "core/buf.h"
#include "http/server.h"
#include <errno.h>
#include <sys/mount.h>
#include "io/image.h"
#include "nn/nn.h"
#include <sqlite3.h>

#include <sys/stat.h>

static char app_db[256];

// `ssd`: the server runs face-api's SSD, not the default detector (YuNet
// since issue 11). The app tests count and crop the SSD's faces (three on
// demo/sample1, face-api's golden), so they ask for it; test
// app_default_detector runs the default.
static ft_server *start_app_with(const char *bind, ft_status want, size_t max_body, bool ssd)
{
    ft_nn_init();
    snprintf(app_db, sizeof app_db, "/tmp/ft_http_test_%d.db", (int)getpid());
    char p[300];
    unlink(app_db);
    snprintf(p, sizeof p, "%s-wal", app_db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", app_db);
    unlink(p);
    ft_server_opts o = ft_server_opts_default();
    o.bind = bind;
    o.port = 0;
    o.db_path = app_db;
    o.threads = 2;
    // These tests are written in face-api's ResNet space (their thresholds
    // and distances); faceres's server is tested in e2e.cli.
    o.descriptor = "resnet128";
    if (ssd)
        o.detector = FT_DETECTOR_SSD;
    if (max_body)
        o.max_body_bytes = max_body;
    char models[512];
    snprintf(models, sizeof models, "%s/model", ft_test_assets());
    o.models_dir = models;
    ft_server *s = NULL;
    ft_err err;
    ft_err_clear(&err);
    ft_status st = ft_server_start(&o, &s, &err);
    if (st != want)
        fprintf(stderr, "ft_server_start: %s (%s)\n", ft_status_str(st), ft_err_msg(&err, st));
    FT_CHECK_EQ(st, want);
    if (s) // the models load in the background: these tests want them loaded
        FT_CHECK_OK(ft_server_wait_ready(s, &err), &err);
    return s;
}

static ft_server *start_app(const char *bind, ft_status want, size_t max_body)
{
    return start_app_with(bind, want, max_body, true);
}

static void stop_app(ft_server *s)
{
    ft_server_stop(s);
    unlink(app_db);
}

static bool read_file(const char *path, ft_buf *b)
{
    ft_buf_init(b, 0);
    return ft_file_read(path, 0, b, NULL) == FT_OK;
}

static void demo_path(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/demo/sample%d.jpg", ft_test_assets(), i);
}

// POSTs one file as multipart field `field`, as a script would: no
// Origin, so with X-Requested-With (the server refuses a multipart POST
// with neither Origin nor such a header: test_app_origin).
static tc_resp post_file(uint16_t port, const char *path, const char *field, const void *data,
                         size_t len, const char *extra_headers)
{
    size_t blen;
    uint8_t *body = tc_multipart("----ftboundary42", field, "photo.jpg", data, len, &blen);
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "Content-Type: multipart/form-data; boundary=----ftboundary42\r\n"
             "X-Requested-With: ft-test\r\n%s",
             extra_headers ? extra_headers : "");
    tc_resp r = tc_req(port, "POST", path, hdr, body, blen);
    free(body);
    return r;
}

static json_t *body_json(const tc_resp *r)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    if (!j)
        fprintf(stderr, "not JSON (%d): %.300s\n", r->status, r->body ? r->body : "");
    return j;
}

// The error body's code, checked to have the {"error": {"code", "message"}} shape.
static const char *err_code(const tc_resp *r)
{
    static char code[64];
    code[0] = 0;
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    FT_CHECK(c && m && *m);
    snprintf(code, sizeof code, "%s", c ? c : "");
    json_decref(j);
    return code;
}

static void test_app_static(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    tc_resp r = tc_get(port, "/", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "<!doctype html>") != NULL || strstr(r.body, "<!DOCTYPE html>"));
    FT_CHECK(strncmp(tc_header(&r, "Content-Type"), "text/html", 9) == 0);
    FT_CHECK(tc_header(&r, "Content-Security-Policy") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/index.html", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_get(port, "/assets/app.js", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strncmp(tc_header(&r, "Content-Type"), "text/javascript", 15) == 0);
    tc_resp_free(&r);
    r = tc_get(port, "/assets/style.css", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_get(port, "/assets/nope.js", NULL);
    FT_CHECK_EQ(r.status, 404);
    FT_CHECK_STREQ(err_code(&r), "E_NOT_FOUND");
    tc_resp_free(&r);
    r = tc_get(port, "/healthz", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"status\":\"ok\"") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/healthz", NULL, "x", 1);
    FT_CHECK_EQ(r.status, 405);
    tc_resp_free(&r);
    r = tc_get(port, "/metrics", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "facetracker_http_requests_total{method=\"GET\",route=\"/healthz\","
                            "code=\"2xx\"} 1") != NULL);
    FT_CHECK(strstr(r.body, "facetracker_queue_depth{pool=\"inference\"}") != NULL);
    FT_CHECK(strncmp(tc_header(&r, "Content-Type"), "text/plain", 10) == 0);
    tc_resp_free(&r);

    // The OpenAPI document and the route table describe the same API.
    r = tc_get(port, "/api/v1/openapi.json", NULL);
    FT_CHECK_EQ(r.status, 200);
    json_t *doc = body_json(&r);
    json_t *paths = json_object_get(doc, "paths");
    size_t n_ops = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            char up[16];
            size_t k = 0;
            for (; m[k] && k < 15; k++)
                up[k] = (char)(m[k] - 32);
            up[k] = 0;
            bool found = false;
            for (size_t i = 0; i < ft_http__n_routes; i++)
                found |= strcmp(ft_http__routes[i].method, up) == 0 &&
                         strcmp(ft_http__routes[i].pattern, path) == 0;
            if (!found)
                fprintf(stderr, "openapi lists %s %s, the router does not\n", up, path);
            FT_CHECK(found);
            FT_CHECK(json_object_get(op, "responses") != NULL);
            n_ops++;
        }
    }
    FT_CHECK_EQ(n_ops, ft_http__n_routes);
    for (size_t i = 0; i < ft_http__n_routes; i++) {
        char low[16];
        size_t k = 0;
        for (; ft_http__routes[i].method[k] && k < 15; k++)
            low[k] = (char)(ft_http__routes[i].method[k] + 32);
        low[k] = 0;
        FT_CHECK(json_object_get(json_object_get(paths, ft_http__routes[i].pattern), low) != NULL);
    }
    json_decref(doc);
    tc_resp_free(&r);
    stop_app(s);
}

// A PNG whose IHDR claims w x h (valid CRC, no pixel data).
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static size_t huge_png(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    uint8_t *c = out + 8;
    c[0] = 0, c[1] = 0, c[2] = 0, c[3] = 13;
    memcpy(c + 4, "IHDR", 4);
    uint8_t *d = c + 8;
    d[0] = (uint8_t)(w >> 24), d[1] = (uint8_t)(w >> 16), d[2] = (uint8_t)(w >> 8), d[3] = (uint8_t)w;
    d[4] = (uint8_t)(h >> 24), d[5] = (uint8_t)(h >> 16), d[6] = (uint8_t)(h >> 8), d[7] = (uint8_t)h;
    d[8] = 8, d[9] = 2, d[10] = 0, d[11] = 0, d[12] = 0;
    uint32_t crc = crc32_of(c + 4, 17);
    uint8_t *k = d + 13;
    k[0] = (uint8_t)(crc >> 24), k[1] = (uint8_t)(crc >> 16), k[2] = (uint8_t)(crc >> 8), k[3] = (uint8_t)crc;
    // An empty IEND so the file looks complete.
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(k + 4, iend, 12);
    return 8 + 25 + 12;
}

static void test_app_prediction(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 2u << 20);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    char path[512];
    demo_path(1, path, sizeof path);
    ft_buf img;
    FT_CHECK(read_file(path, &img));
    tc_resp r = post_file(port, "/api/prediction", "fileImg", img.data, img.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    json_t *j = body_json(&r);
    FT_CHECK_EQ(json_integer_value(json_object_get(j, "width")), 1920);
    FT_CHECK_EQ(json_integer_value(json_object_get(j, "height")), 1280);
    json_t *faces = json_object_get(j, "faces");
    FT_CHECK_EQ(json_array_size(faces), 3);
    json_t *f0 = json_array_get(faces, 0);
    FT_CHECK_STREQ(json_string_value(json_object_get(f0, "person")), "unknown");
    FT_CHECK(json_number_value(json_object_get(json_object_get(f0, "box"), "width")) > 100);
    FT_CHECK(json_number_value(json_object_get(f0, "score")) > 0.9);
    json_decref(j);
    tc_resp_free(&r);

    // Bad requests: each a clear 4xx with the error shape.
    r = tc_req(port, "POST", "/api/prediction", "Content-Type: application/json\r\n", "{}", 2);
    FT_CHECK_EQ(r.status, 415); // no multipart
    FT_CHECK_STREQ(err_code(&r), "E_UNSUPPORTED");
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/prediction", "X-Requested-With: t\r\n", NULL, 0);
    FT_CHECK_EQ(r.status, 415); // no body, no Content-Type
    tc_resp_free(&r);
    r = post_file(port, "/api/prediction", "photo", img.data, img.len, NULL);
    FT_CHECK_EQ(r.status, 400); // no fileImg
    FT_CHECK(strstr(r.body, "fileImg") != NULL);
    tc_resp_free(&r);
    r = post_file(port, "/api/prediction", "fileImg", "", 0, NULL);
    FT_CHECK_EQ(r.status, 400); // empty file
    FT_CHECK(strstr(r.body, "empty") != NULL);
    tc_resp_free(&r);
    {
        size_t blen;
        uint8_t *body = tc_multipart("bb", "fileImg", "a.jpg", img.data, 5000, &blen);
        r = tc_req(port, "POST", "/api/prediction",
                   "Content-Type: multipart/form-data; boundary=bb\r\nX-Requested-With: t\r\n",
                   body, 3000);
        FT_CHECK_EQ(r.status, 400); // truncated body
        FT_CHECK(strstr(r.body, "truncated") != NULL);
        tc_resp_free(&r);
        free(body);
    }
    {
        size_t big = 3u << 20;
        uint8_t *junk = calloc(1, big);
        r = post_file(port, "/api/prediction", "fileImg", junk, big, NULL);
        FT_CHECK_EQ(r.status, 413); // over the limit
        FT_CHECK_STREQ(err_code(&r), "E_LIMIT");
        tc_resp_free(&r);
        free(junk);
    }
    r = post_file(port, "/api/prediction", "fileImg", "hello, not an image", 19, NULL);
    FT_CHECK_EQ(r.status, 415); // not an image
    FT_CHECK_STREQ(err_code(&r), "E_UNSUPPORTED");
    tc_resp_free(&r);
    {
        uint8_t png[64];
        size_t n = huge_png(png, 100000, 100000);
        r = post_file(port, "/api/prediction", "fileImg", png, n, NULL);
        FT_CHECK_EQ(r.status, 413); // 100k x 100k pixels claimed
        FT_CHECK_STREQ(err_code(&r), "E_LIMIT");
        tc_resp_free(&r);
    }
    r = post_file(port, "/api/prediction", "fileImg", img.data, img.len / 2, NULL);
    FT_CHECK(r.status == 400 || r.status == 200); // a half JPEG may decode with grey rows
    tc_resp_free(&r);
    // Still serving.
    r = tc_get(port, "/healthz", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);

    // detect: multipart or raw image body; tiny detector by query.
    r = post_file(port, "/api/v1/detect?detector=tiny", "photo", img.data, img.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"detector\":\"tiny\"") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/v1/detect", "Content-Type: image/jpeg\r\n", img.data, img.len);
    FT_CHECK_EQ(r.status, 200);
    j = body_json(&r);
    FT_CHECK_EQ(json_array_size(json_object_get(j, "faces")), 3);
    json_decref(j);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/v1/detect", "Content-Type: text/plain\r\nX-Requested-With: t\r\n",
               "x", 1);
    FT_CHECK_EQ(r.status, 415);
    tc_resp_free(&r);
    r = tc_get(port, "/metrics", NULL);
    FT_CHECK(strstr(r.body, "facetracker_faces_detected_total") != NULL);
    FT_CHECK(strstr(r.body, "facetracker_inference_seconds_count{net=\"ssd\"}") != NULL);
    FT_CHECK(strstr(r.body, "facetracker_inference_seconds_count{net=\"recognition\"}") != NULL);
    tc_resp_free(&r);
    ft_buf_deinit(&img);
    stop_app(s);
}

// The count of inferences /metrics reports for `net` (-1 if absent).
static long inference_count(uint16_t port, const char *net)
{
    char key[128];
    snprintf(key, sizeof key, "facetracker_inference_seconds_count{net=\"%s\"} ", net);
    tc_resp r = tc_get(port, "/metrics", NULL);
    const char *p = r.body ? strstr(r.body, key) : NULL;
    long n = p ? strtol(p + strlen(key), NULL, 10) : -1;
    tc_resp_free(&r);
    return n;
}

// Issue 11: a server started with the default options detects with YuNet
// on every path (detect, the prototype's prediction, the door) and its
// door grants at 3 of 5. Counts are not checked: face-api's goldens are
// the SSD's.
static void test_app_default_detector(void)
{
    ft_server_opts d = ft_server_opts_default();
    FT_CHECK_EQ(d.detector, FT_DETECTOR_YUNET);
    FT_CHECK_EQ(d.door_k, 3);
    FT_CHECK_EQ(d.door_n, 5);
    ft_server *s = start_app_with("127.0.0.1", FT_OK, 0, false);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    char path[512];
    demo_path(1, path, sizeof path);
    ft_buf img;
    FT_CHECK(read_file(path, &img));
    tc_resp r = tc_req(port, "POST", "/api/v1/detect", "Content-Type: image/jpeg\r\n", img.data,
                       img.len);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"detector\":\"yunet\"") != NULL);
    json_t *j = body_json(&r);
    FT_CHECK(json_array_size(json_object_get(j, "faces")) >= 1);
    json_decref(j);
    tc_resp_free(&r);
    long n0 = inference_count(port, "yunet");
    FT_CHECK_EQ(n0, 1);
    // A detector that does not exist is refused on the photo routes (it
    // used to run the server's default quietly); nothing runs.
    r = tc_req(port, "POST", "/api/v1/detect?detector=yunett", "Content-Type: image/jpeg\r\n",
               img.data, img.len);
    FT_CHECK_EQ(r.status, 400);
    FT_CHECK(r.body && strstr(r.body, "expected yunet, ssd or tiny") != NULL);
    tc_resp_free(&r);
    FT_CHECK_EQ(inference_count(port, "yunet"), 1);
    r = post_file(port, "/api/prediction", "fileImg", img.data, img.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    FT_CHECK_EQ(inference_count(port, "yunet"), 2);
    r = post_file(port, "/api/v1/access?source=front-door", "photo", img.data, img.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    FT_CHECK_EQ(inference_count(port, "yunet"), 3); // the door's frame
    // The door runs the server's detector: naming another one is refused
    // (400, nothing run or logged) instead of being quietly ignored; naming
    // the server's own is fine.
    r = tc_get(port, "/api/v1/events?limit=100", NULL);
    FT_CHECK_EQ(r.status, 200);
    json_t *ev0 = body_json(&r);
    json_int_t n_ev = json_integer_value(json_object_get(ev0, "total"));
    json_decref(ev0);
    tc_resp_free(&r);
    FT_CHECK(n_ev >= 1);
    static const char *refused[] = {"/api/v1/access?source=front-door&detector=ssd",
                                    "/api/v1/access?detector=nonsense",
                                    "/api/prediction?detector=tiny"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = post_file(port, refused[i], i == 2 ? "fileImg" : "photo", img.data, img.len, NULL);
        FT_CHECK_EQ(r.status, 400);
        FT_CHECK(r.body && strstr(r.body, "the server's detector (yunet)") != NULL);
        tc_resp_free(&r);
    }
    r = tc_get(port, "/api/v1/events?limit=100", NULL);
    json_t *ev1 = body_json(&r);
    FT_CHECK_EQ(json_integer_value(json_object_get(ev1, "total")), n_ev);
    json_decref(ev1);
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/access?source=front-door&detector=yunet", "photo", img.data,
                  img.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    FT_CHECK_EQ(inference_count(port, "yunet"), 4);
    FT_CHECK_EQ(inference_count(port, "ssd"), -1);  // never ran
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"detector\":\"yunet\"") != NULL);
    tc_resp_free(&r);
    ft_buf_deinit(&img);
    stop_app(s);
}

// One face of a demo photo as a JPEG (the crop grown by 30 %).
static bool face_crop(int sample, double x, double y, double w, double h, ft_buf *out)
{
    char path[512];
    demo_path(sample, path, sizeof path);
    ft_image im, c;
    if (ft_image_load(path, NULL, &im, NULL) != FT_OK)
        return false;
    bool ok = ft_image_crop(&im, (int32_t)(x - 0.3 * w), (int32_t)(y - 0.3 * h),
                            (int32_t)(1.6 * w), (int32_t)(1.6 * h), &c) == FT_OK;
    ft_buf_init(out, 0);
    ok = ok && ft_image_encode_jpeg(&c, 90, out, NULL) == FT_OK;
    if (ok)
        ft_image_deinit(&c);
    ft_image_deinit(&im);
    return ok;
}

// A demo photo at half size (2x2 averages) as a JPEG: the same people in
// other pixels. The demo photos do not show one person twice for certain,
// so recognition tests use this as the "new photo".
static bool half_photo(int sample, ft_buf *out)
{
    char path[512];
    demo_path(sample, path, sizeof path);
    ft_image im, h;
    if (ft_image_load(path, NULL, &im, NULL) != FT_OK)
        return false;
    bool ok = ft_image_new(im.w / 2, im.h / 2, &h) == FT_OK;
    for (int32_t y = 0; ok && y < h.h; y++)
        for (int32_t x = 0; x < h.w; x++)
            for (int c = 0; c < 3; c++) {
                unsigned v = 0;
                for (int k = 0; k < 4; k++)
                    v += im.rgb[((size_t)(2 * y + k / 2) * im.w + 2 * x + k % 2) * 3 + c];
                h.rgb[((size_t)y * h.w + x) * 3 + c] = (uint8_t)((v + 2) / 4);
            }
    ft_buf_init(out, 0);
    ok = ok && ft_image_encode_jpeg(&h, 90, out, NULL) == FT_OK;
    if (ok)
        ft_image_deinit(&h);
    ft_image_deinit(&im);
    return ok;
}

static int64_t json_id(const tc_resp *r, const char *key)
{
    json_t *j = body_json(r);
    int64_t v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

// A person with no samples, added through the library on the server's
// gallery: the API creates people only with a sample (POST /api/v1/enrol),
// and these tests want someone to edit, or to give a first sample to.
static int64_t app_person_add(const char *name)
{
    ft_gallery *g = NULL;
    int64_t id = 0;
    ft_err err;
    ft_err_clear(&err);
    FT_CHECK_OK(ft_gallery_open(app_db, NULL, &g, &err), &err);
    if (g)
        FT_CHECK_OK(ft_gallery_person_add(g, name, NULL, NULL, &id, &err), &err);
    ft_gallery_close(g);
    return id;
}

// One SQL statement on the server's gallery file, from outside the server.
static bool app_sql(const char *sql)
{
    sqlite3 *db = NULL;
    bool ok = sqlite3_open(app_db, &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

static void test_app_people(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    // Issue 10: a person is created only together with a sample. The JSON
    // route refuses, points to POST /api/v1/enrol, and creates nobody.
    tc_resp r = tc_req(port, "POST", "/api/v1/people", jh, "{\"name\":\"Alice\"}", 16);
    FT_CHECK_EQ(r.status, 422);
    FT_CHECK_STREQ(err_code(&r), "E_SAMPLE_REQUIRED");
    FT_CHECK(strstr(r.body, "/api/v1/enrol") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "Alice") == NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/audit", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "person.create") == NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/openapi.json", NULL); // and the API's document says so
    {
        json_t *j = body_json(&r);
        json_t *res = json_object_get(
            json_object_get(json_object_get(json_object_get(j, "paths"), "/api/v1/people"),
                            "post"),
            "responses");
        FT_CHECK(json_object_get(res, "422") != NULL);
        FT_CHECK(json_object_get(res, "201") == NULL);
        json_decref(j);
    }
    tc_resp_free(&r);
    int64_t alice = app_person_add("Alice"), bob = app_person_add("Bob");
    FT_CHECK(alice > 0 && bob > 0);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/people/%lld", (long long)bob);
    r = tc_req(port, "PATCH", path, "Content-Type: text/plain\r\nX-Requested-With: t\r\n", "{}",
               2);
    FT_CHECK_EQ(r.status, 415);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "{\"name\":\"Alice\"}", 16);
    FT_CHECK_EQ(r.status, 409); // the name is taken
    FT_CHECK_STREQ(err_code(&r), "E_EXISTS");
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "{\"name\": ", 9);
    FT_CHECK_EQ(r.status, 400); // bad JSON
    FT_CHECK(strstr(r.body, "bad JSON") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "{\"name\":7}", 10);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "[1]", 3);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "{\"name\":\" bad\"}", 15);
    FT_CHECK_EQ(r.status, 400); // the gallery's name rule
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"name\":\"Alice\"") != NULL);
    FT_CHECK(strstr(r.body, "\"name\":\"Bob\"") != NULL);
    tc_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/people/%lld", (long long)alice);
    const char *patch = "{\"name\":\"Alicia\",\"notes\":\"desk 4\"}";
    r = tc_req(port, "PATCH", path, jh, patch, strlen(patch));
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"name\":\"Alicia\"") != NULL);
    FT_CHECK(strstr(r.body, "\"notes\":\"desk 4\"") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"samples\":[]") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people/999", NULL);
    FT_CHECK_EQ(r.status, 404); // unknown person id
    FT_CHECK_STREQ(err_code(&r), "E_NOT_FOUND");
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/people/999", jh, "{\"name\":\"x\"}", 12);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people/abc", NULL);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people/999/samples", NULL);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = tc_req(port, "DELETE", "/api/v1/people/999", NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = tc_req(port, "DELETE", "/api/v1/samples/999", NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/samples/999/thumbnail", NULL);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    // The audit row is part of the action (issue 10): with its insert
    // refused (a trigger on the server's database, as a full disk would),
    // the delete and the rename fail with the error and nothing changes.
    FT_CHECK(app_sql("CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN "
                     "SELECT RAISE(ABORT, 'audit refused by the test'); END"));
    r = tc_req(port, "DELETE", path, NULL, NULL, 0);
    FT_CHECK(r.status >= 500);
    FT_CHECK(r.body && strstr(r.body, "audit") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", path, jh, "{\"name\":\"Alina\"}", 16);
    FT_CHECK(r.status >= 500);
    tc_resp_free(&r);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"name\":\"Alicia\"") != NULL);
    tc_resp_free(&r);
    FT_CHECK(app_sql("DROP TRIGGER audit_refuse"));
    r = tc_req(port, "DELETE", path, NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/audit", NULL);
    FT_CHECK(strstr(r.body, "person.delete") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    stop_app(s);
}

static void test_app_enrol(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    // The woman on the right of sample1 (box 1476,200 203x240, head tilted)
    // is, we judge, the one in the middle of sample3 (1075,215 220x299): by
    // eye, and by a descriptor distance of 0.42 (similarity warp), the
    // lowest of any two faces of different demo photos; two different
    // people in one photo are never closer than 0.55. She is enrolled from
    // sample1; the access and verify requests below send sample3.
    ft_buf crop, photo3;
    FT_CHECK(face_crop(1, 1476, 200, 203, 240, &crop));
    FT_CHECK(face_crop(3, 1075, 215, 220, 299, &photo3));
    tc_resp r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":0.45}", 18);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"threshold\":0.45") != NULL);
    tc_resp_free(&r);
    int64_t pid = app_person_add("Rachel");
    char path[160];
    snprintf(path, sizeof path, "/api/v1/people/%lld/samples", (long long)pid);
    r = post_file(port, path, "photo", crop.data, crop.len, NULL);
    FT_CHECK_EQ(r.status, 201);
    FT_CHECK(strstr(r.body, "\"sample_id\":") != NULL);
    tc_resp_free(&r);
    // A group photo is refused without ?pick=largest.
    char demo[512];
    demo_path(3, demo, sizeof demo);
    ft_buf group;
    FT_CHECK(read_file(demo, &group));
    r = post_file(port, path, "photo", group.data, group.len, NULL);
    FT_CHECK_EQ(r.status, 422);
    FT_CHECK(strstr(r.body, "faces found") != NULL);
    tc_resp_free(&r);
    r = post_file(port, path, "photo", "nope", 4, NULL);
    FT_CHECK_EQ(r.status, 422); // every photo rejected
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/people/999/samples", "photo", crop.data, crop.len, NULL);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    int64_t sample_id = 0;
    {
        json_t *j = body_json(&r);
        json_t *arr = json_object_get(j, "samples");
        FT_CHECK_EQ(json_array_size(arr), 1);
        sample_id = json_integer_value(json_object_get(json_array_get(arr, 0), "id"));
        json_decref(j);
    }
    tc_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/samples/%lld/thumbnail", (long long)sample_id);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK_STREQ(tc_header(&r, "Content-Type"), "image/jpeg");
    FT_CHECK(r.body_len > 100 && (uint8_t)r.body[0] == 0xff && (uint8_t)r.body[1] == 0xd8);
    tc_resp_free(&r);

    // A new photo: sample1 at half size, where she is the face at x ~ 738.
    ft_buf photo2;
    FT_CHECK(half_photo(1, &photo2));
    r = post_file(port, "/api/prediction", "fileImg", photo2.data, photo2.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    const char *hit = strstr(r.body, "\"person\":\"Rachel\"");
    FT_CHECK(hit != NULL);
    FT_CHECK(hit == NULL || strstr(hit + 1, "\"person\":\"Rachel\"") == NULL); // one face only
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/identify", "photo", photo2.data, photo2.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"status\":\"known\"") != NULL);
    tc_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/verify?person_id=%lld", (long long)pid);
    r = post_file(port, path, "photo", photo3.data, photo3.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"verified\":true") != NULL);
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/verify?person_id=999", "photo", crop.data, crop.len, NULL);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/verify", "photo", crop.data, crop.len, NULL);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);

    // Access: granted for her in another photo, denied for someone else;
    // both logged.
    r = post_file(port, "/api/v1/access?source=front-door", "photo", photo3.data, photo3.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"decision\":\"granted\"") != NULL);
    FT_CHECK(strstr(r.body, "\"logged\":true") != NULL);
    tc_resp_free(&r);
    ft_buf other;
    FT_CHECK(face_crop(1, 414, 355, 178, 239, &other));
    r = post_file(port, "/api/v1/access?source=front-door", "photo", other.data, other.len, NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"decision\":\"denied\"") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events?source=front-door", NULL);
    FT_CHECK_EQ(r.status, 200);
    int64_t ev_id = 0;
    {
        json_t *j = body_json(&r);
        FT_CHECK_EQ(json_integer_value(json_object_get(j, "total")), 2);
        json_t *e0 = json_array_get(json_object_get(j, "events"), 0);
        FT_CHECK_STREQ(json_string_value(json_object_get(e0, "decision")), "denied");
        ev_id = json_integer_value(json_object_get(e0, "id"));
        json_decref(j);
    }
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events?decision=granted&limit=1", NULL);
    FT_CHECK(strstr(r.body, "\"total\":1") != NULL);
    FT_CHECK(strstr(r.body, "\"name\":\"Rachel\"") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events?decision=maybe", NULL);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events?since=yesterday", NULL);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events?since=2000-01-01&person_id=unknown", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"total\":1") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/events.csv", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strncmp(tc_header(&r, "Content-Type"), "text/csv", 8) == 0);
    FT_CHECK(strstr(tc_header(&r, "Content-Disposition"), "events.csv") != NULL);
    FT_CHECK(strncmp(r.body, "id,time,", 8) == 0);
    FT_CHECK(strstr(r.body, "Rachel") != NULL);
    tc_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/events/%lld/thumbnail", (long long)ev_id);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_get(port, "/metrics", NULL);
    FT_CHECK(strstr(r.body, "facetracker_access_decisions_total{outcome=\"granted\"} 1") != NULL);
    tc_resp_free(&r);

    // Settings and calibration.
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"keys_required\":false") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":-1}", 16);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"colour\":1}", 12);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"margin\":\"x\"}", 14);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/v1/calibrate", jh, "{}", 2);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"rows\":[") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/v1/calibrate", jh, "{\"target_far\":2}", 16);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);

    // Deleting the sample, then the person.
    snprintf(path, sizeof path, "/api/v1/samples/%lld", (long long)sample_id);
    r = tc_req(port, "DELETE", path, NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = post_file(port, "/api/prediction", "fileImg", photo2.data, photo2.len, NULL);
    FT_CHECK(strstr(r.body, "Rachel") == NULL); // the matrix was reloaded
    tc_resp_free(&r);
    ft_buf_deinit(&crop);
    ft_buf_deinit(&photo3);
    ft_buf_deinit(&other);
    ft_buf_deinit(&group);
    ft_buf_deinit(&photo2);
    stop_app(s);
}

static void test_app_keys(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    // No key yet: open (loopback only).
    tc_resp r = tc_get(port, "/api/v1/keys", NULL);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_req(port, "POST", "/api/v1/keys", jh, "{\"name\":\"ops\",\"role\":\"root\"}", 28);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    char tok[3][128];
    const char *roles[3] = {"admin", "viewer", "device"};
    for (int i = 0; i < 3; i++) {
        char body[128], hdr[256];
        int n = snprintf(body, sizeof body, "{\"name\":\"k%d\",\"role\":\"%s\"}", i, roles[i]);
        snprintf(hdr, sizeof hdr, "%sX-API-Key: %s\r\n", jh, i ? tok[0] : "");
        r = tc_req(port, "POST", "/api/v1/keys", i ? hdr : jh, body, (size_t)n);
        FT_CHECK_EQ(r.status, 201);
        json_t *j = body_json(&r);
        snprintf(tok[i], sizeof tok[i], "%s", json_string_value(json_object_get(j, "token")));
        json_decref(j);
        tc_resp_free(&r);
    }
    char h[3][256];
    for (int i = 0; i < 3; i++)
        snprintf(h[i], sizeof h[i], "X-API-Key: %s\r\n", tok[i]);
    r = tc_get(port, "/api/v1/people", NULL);
    FT_CHECK_EQ(r.status, 401); // keys exist now
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", "X-API-Key: ftk_1_00\r\n");
    FT_CHECK_EQ(r.status, 401); // wrong key
    FT_CHECK_STREQ(err_code(&r), "E_AUTH");
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", h[1]);
    FT_CHECK_EQ(r.status, 200); // viewer reads
    tc_resp_free(&r);
    char hj[300];
    snprintf(hj, sizeof hj, "%s%s", jh, h[1]);
    r = tc_req(port, "POST", "/api/v1/people", hj, "{\"name\":\"V\"}", 12);
    FT_CHECK_EQ(r.status, 403); // viewer may not write
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", h[2]);
    FT_CHECK_EQ(r.status, 403); // device only checks access
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/access", "photo", "x", 1, h[1]);
    FT_CHECK_EQ(r.status, 403); // viewer may not ask the door
    tc_resp_free(&r);
    r = post_file(port, "/api/v1/access", "photo", "x", 1, h[2]);
    FT_CHECK_EQ(r.status, 415); // device may (the photo is junk)
    tc_resp_free(&r);
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", tok[0]);
    r = tc_get(port, "/api/v1/keys", auth);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"role\":\"device\"") != NULL);
    FT_CHECK(strstr(r.body, tok[2]) == NULL); // no secrets
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/keys", h[1]);
    FT_CHECK_EQ(r.status, 403);
    tc_resp_free(&r);
    r = tc_get(port, "/healthz", NULL);
    FT_CHECK_EQ(r.status, 200); // public
    tc_resp_free(&r);
    r = tc_get(port, "/", NULL);
    FT_CHECK_EQ(r.status, 200); // the page asks for a key itself
    tc_resp_free(&r);
    // Revoke the viewer key.
    r = tc_req(port, "DELETE", "/api/v1/keys/2", auth, NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/people", h[1]);
    FT_CHECK_EQ(r.status, 401);
    tc_resp_free(&r);
    r = tc_req(port, "DELETE", "/api/v1/keys/99", auth, NULL, 0);
    FT_CHECK_EQ(r.status, 404);
    tc_resp_free(&r);
    stop_app(s);
}

// Listening before the models are loaded (the default): /healthz answers
// at once with "loading", /readyz and the network routes 503 + Retry-After,
// database routes work. The SSD manifest is a FIFO here, so the loader
// waits on it until the test writes: the loading phase lasts exactly as
// long as the test needs. Then it gets bad JSON, and the failure shows.
static void test_app_loading(void)
{
    char dir[128], p[256];
    snprintf(dir, sizeof dir, "/tmp/ft_http_models_%d", (int)getpid());
    FT_CHECK(mkdir(dir, 0700) == 0);
    static const char *const files[] = {
        "ssd_mobilenetv1_model", "tiny_face_detector_model", "face_landmark_68_model",
        "face_landmark_68_tiny_model", "face_recognition_model"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s-weights_manifest.json", dir, files[i]);
        if (i == 0) {
            FT_CHECK(mkfifo(p, 0600) == 0);
        } else {
            FILE *f = fopen(p, "w");
            FT_CHECK(f != NULL);
            if (f)
                fclose(f);
        }
    }
    snprintf(app_db, sizeof app_db, "/tmp/ft_http_test_%d.db", (int)getpid());
    unlink(app_db);
    ft_server_opts o = ft_server_opts_default();
    o.port = 0;
    o.db_path = app_db;
    o.threads = 1;
    o.models_dir = dir;
    FT_CHECK(o.load_in_background);
    ft_server *s = NULL;
    ft_err err;
    ft_err_clear(&err);
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (s) {
        uint16_t port = ft_server_port(s);
        FT_CHECK_EQ(ft_server_state_get(s), FT_SERVER_LOADING);
        tc_resp r = tc_get(port, "/healthz", NULL);
        FT_CHECK_EQ(r.status, 200);
        FT_CHECK(strstr(r.body, "\"status\":\"loading\"") != NULL);
        FT_CHECK(strstr(r.body, "\"ready\":false") != NULL);
        tc_resp_free(&r);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 503);
        FT_CHECK_STREQ(tc_header(&r, "Retry-After"), "1");
        tc_resp_free(&r);
        r = post_file(port, "/api/prediction", "fileImg", "x", 1, NULL);
        FT_CHECK_EQ(r.status, 503);
        FT_CHECK_STREQ(err_code(&r), "E_LOADING");
        FT_CHECK_STREQ(tc_header(&r, "Retry-After"), "1");
        tc_resp_free(&r);
        r = tc_get(port, "/api/v1/people", NULL);
        FT_CHECK_EQ(r.status, 200);
        tc_resp_free(&r);

        // Unblock the loader with a manifest that does not parse.
        snprintf(p, sizeof p, "%s/%s-weights_manifest.json", dir, files[0]);
        FILE *f = fopen(p, "w"); // blocks until the loader opens its end
        FT_CHECK(f != NULL);
        if (f) {
            fputs("[{", f);
            fclose(f);
        }
        FT_CHECK_EQ(ft_server_wait_ready(s, &err), FT_E_FORMAT);
        FT_CHECK(strstr(err.msg, "ssd_mobilenetv1_model") != NULL);
        FT_CHECK_EQ(ft_server_state_get(s), FT_SERVER_FAILED);
        r = tc_get(port, "/healthz", NULL);
        FT_CHECK_EQ(r.status, 200);
        FT_CHECK(strstr(r.body, "\"status\":\"error\"") != NULL);
        FT_CHECK(strstr(r.body, "invalid JSON") != NULL);
        tc_resp_free(&r);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 503);
        FT_CHECK_STREQ(err_code(&r), "E_MODELS");
        tc_resp_free(&r);
        r = post_file(port, "/api/v1/detect", "photo", "x", 1, NULL);
        FT_CHECK_EQ(r.status, 503);
        tc_resp_free(&r);
        ft_server_stop(s);
    }

    // A missing model file is reported by ft_server_start itself.
    snprintf(p, sizeof p, "%s/%s-weights_manifest.json", dir, files[4]);
    unlink(p);
    s = NULL;
    FT_CHECK_EQ(ft_server_start(&o, &s, &err), FT_E_NOT_FOUND);
    FT_CHECK(s == NULL);
    FT_CHECK(strstr(err.msg, "face_recognition_model") != NULL);

    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s-weights_manifest.json", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    stop_app(NULL);
    snprintf(p, sizeof p, "%s-wal", app_db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", app_db);
    unlink(p);
}

static void test_app_bind(void)
{
    FT_CHECK(ft_server_is_loopback("127.0.0.1"));
    FT_CHECK(ft_server_is_loopback("127.1.2.3"));
    FT_CHECK(ft_server_is_loopback("::1"));
    FT_CHECK(ft_server_is_loopback("localhost"));
    FT_CHECK(!ft_server_is_loopback("0.0.0.0"));
    FT_CHECK(!ft_server_is_loopback("::"));
    FT_CHECK(!ft_server_is_loopback("10.1.2.3"));
    // No key: a non-loopback bind is refused before anything listens.
    ft_server *s = start_app("0.0.0.0", FT_E_AUTH, 0);
    FT_CHECK(s == NULL);
    unlink(app_db);
    s = start_app("not-an-ip", FT_E_INVALID, 0);
    FT_CHECK(s == NULL);
    unlink(app_db);
}

// serve --model: a model trained with `facetracker train` answers
// /api/prediction and /api/v1/detect with its one box (score > 0.5), the
// same as ft_fmodel_predict; a model file that does not load fails start.
#include "train/model.h"

#include <math.h>

static void test_app_trained(void)
{
    ft_nn_init();
    char model[256], path[512], models[512];
    snprintf(model, sizeof model, "/tmp/ft_http_trained_%d.h5", (int)getpid());
    demo_path(1, path, sizeof path);
    snprintf(models, sizeof models, "%s/model", ft_test_assets());
    ft_err err;
    ft_err_clear(&err);
    ft_image im;
    ft_image_limits lim = ft_image_limits_default();
    FT_CHECK_OK(ft_image_load(path, &lim, &im, &err), &err);
    // The first random model that sees a face in the photo.
    ft_fm_pred want = {0};
    ft_fmodel *fm = NULL;
    for (uint64_t seed = 1; seed < 64 && want.score <= 0.5f; seed++) {
        ft_fmodel_free(fm);
        fm = NULL;
        FT_CHECK_EQ(ft_fmodel_new_random(NULL, 0, seed, &fm), FT_OK);
        FT_CHECK_OK(ft_fmodel_predict(fm, &im, &want, &err), &err);
    }
    FT_CHECK(want.score > 0.5f);
    FT_CHECK_OK(ft_fmodel_save(fm, model, &err), &err);
    ft_fmodel_free(fm);

    snprintf(app_db, sizeof app_db, "/tmp/ft_http_test_%d.db", (int)getpid());
    unlink(app_db);
    ft_server_opts o = ft_server_opts_default();
    o.port = 0;
    o.db_path = app_db;
    o.threads = 2;
    o.models_dir = models;
    o.trained_model = model;
    ft_server *s = NULL;
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (!s)
        goto out;
    FT_CHECK_OK(ft_server_wait_ready(s, &err), &err);
    ft_buf img;
    FT_CHECK(read_file(path, &img));
    for (int route = 0; route < 2; route++) {
        tc_resp r = post_file(ft_server_port(s), route ? "/api/v1/detect" : "/api/prediction",
                              route ? "photo" : "fileImg", img.data, img.len, NULL);
        FT_CHECK_EQ(r.status, 200);
        json_t *j = body_json(&r);
        json_t *faces = json_object_get(j, "faces");
        FT_CHECK_EQ(json_array_size(faces), 1);
        json_t *f0 = json_array_get(faces, 0), *b = json_object_get(f0, "box");
        FT_CHECK(fabs(json_number_value(json_object_get(f0, "score")) - want.score) < 1e-6);
        FT_CHECK(fabs(json_number_value(json_object_get(b, "x")) - want.box[0] * im.w) < 1e-3);
        FT_CHECK(fabs(json_number_value(json_object_get(b, "height")) -
                      (want.box[3] - want.box[1]) * im.h) < 1e-3);
        if (route == 0)
            FT_CHECK_STREQ(json_string_value(json_object_get(f0, "person")), "unknown");
        else
            FT_CHECK_STREQ(json_string_value(json_object_get(j, "detector")), "trained");
        json_decref(j);
        tc_resp_free(&r);
    }
    ft_buf_deinit(&img);
    ft_server_stop(s);

    // A file that is not a model: start fails and says which.
    FT_CHECK_OK(ft_file_write_atomic(model, "not hdf5", 8, &err), &err);
    s = NULL;
    ft_err_clear(&err);
    FT_CHECK(ft_server_start(&o, &s, &err) != FT_OK && s == NULL);
    FT_CHECK(strstr(err.msg, model) != NULL);
    ft_server_stop(s);
out:
    ft_image_deinit(&im);
    unlink(model);
    unlink(app_db);
}

// ---- Security: requests from elsewhere, failed keys, the request log, HTTPS ----

// A raw request with the given Host (NULL = none) and header lines.
static tc_resp sec_req(uint16_t port, const char *method, const char *path, const char *host,
                       const char *headers, const void *body, size_t body_len)
{
    size_t cap = 1024 + (headers ? strlen(headers) : 0) + body_len;
    char *req = malloc(cap);
    char hl[300] = "";
    if (host)
        snprintf(hl, sizeof hl, "Host: %s\r\n", host);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\n%sConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, hl, headers ? headers : "", body_len);
    if (body_len)
        memcpy(req + n, body, body_len);
    tc_resp r = tc_raw(port, req, (size_t)n + body_len);
    free(req);
    return r;
}

// POST /t/upload with a valid multipart body and extra header lines `h`
// (Host 127.0.0.1:port unless `host`); returns the status, and the error
// code (if any) in `code`.
static int upload_as(uint16_t port, const char *host, const char *h, char code[64])
{
    size_t blen;
    uint8_t *body = tc_multipart("bnd", "fileImg", "a.jpg", "JPEG", 4, &blen);
    char hdr[1024], hostbuf[64];
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%u", (unsigned)port);
        host = hostbuf;
    }
    snprintf(hdr, sizeof hdr, "Content-Type: multipart/form-data; boundary=bnd\r\n%s", h ? h : "");
    tc_resp r = sec_req(port, "POST", "/t/upload", host, hdr, body, blen);
    free(body);
    code[0] = 0;
    if (r.status >= 400) {
        json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
        const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        FT_CHECK(c && m && *m); // always the JSON error shape
        snprintf(code, 64, "%s", c ? c : "");
        json_decref(j);
    }
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

// The Host and Origin rules of the HTTP core, header by header.
static void test_core_origin(void)
{
    const char *origins[] = {"https://Door.Example/", "http://127.0.0.1:1"};
    const char *names[] = {"door.test"};
    ft_http_limits lim = ft_http_limits_default();
    lim.check_host = lim.check_origin = true;
    lim.allowed_origins = origins;
    lim.n_allowed_origins = 2;
    lim.server_names = names;
    lim.n_server_names = 1;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    char own[64], hdr[512], code[64], host[64];
    snprintf(own, sizeof own, "http://127.0.0.1:%u", (unsigned)port);

    // Origin: the server's own, an allowed one, or refused.
    snprintf(hdr, sizeof hdr, "Origin: %s\r\n", own);
    FT_CHECK_EQ(upload_as(port, NULL, hdr, code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: https://door.example\r\n", code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: https://DOOR.example:443\r\n", code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: http://127.0.0.1:1\r\n", code), 200);
    snprintf(hdr, sizeof hdr, "Origin: http://127.0.0.1:%u\r\n", (unsigned)port + 1);
    FT_CHECK_EQ(upload_as(port, NULL, hdr, code), 403); // another port is another origin
    FT_CHECK_STREQ(code, "E_ORIGIN");
    snprintf(hdr, sizeof hdr, "Origin: https://127.0.0.1:%u\r\n", (unsigned)port);
    FT_CHECK_EQ(upload_as(port, NULL, hdr, code), 403); // another scheme too
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: http://evil.example\r\n", code), 403);
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: https://door.example.evil.example\r\n", code), 403);
    FT_CHECK_EQ(upload_as(port, NULL, "Origin: null\r\n", code), 403);
    // A foreign Origin is refused even with the headers scripts send.
    FT_CHECK_EQ(upload_as(port, NULL,
                          "Origin: http://evil.example\r\nX-Requested-With: x\r\n"
                          "X-API-Key: admin-key\r\n",
                          code),
                403);
    // The own origin follows the Host the request names.
    snprintf(host, sizeof host, "localhost:%u", (unsigned)port);
    snprintf(hdr, sizeof hdr, "Origin: http://localhost:%u\r\n", (unsigned)port);
    FT_CHECK_EQ(upload_as(port, host, hdr, code), 200);
    snprintf(host, sizeof host, "door.test:%u", (unsigned)port);
    snprintf(hdr, sizeof hdr, "Origin: http://door.test:%u\r\n", (unsigned)port);
    FT_CHECK_EQ(upload_as(port, host, hdr, code), 200);
    snprintf(hdr, sizeof hdr, "Origin: %s\r\n", own);
    FT_CHECK_EQ(upload_as(port, host, hdr, code), 403); // not door.test's origin

    // Without Origin, the Referer's origin.
    snprintf(hdr, sizeof hdr, "Referer: %s/people?x=1\r\n", own);
    FT_CHECK_EQ(upload_as(port, NULL, hdr, code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "Referer: http://evil.example/page.html\r\n", code), 403);
    FT_CHECK_STREQ(code, "E_ORIGIN");
    FT_CHECK_EQ(upload_as(port, NULL, "Referer: about:blank\r\n", code), 403);

    // Neither: a POST a page could send without a preflight is refused;
    // one no page could send without the server's consent is not.
    FT_CHECK_EQ(upload_as(port, NULL, NULL, code), 403);
    FT_CHECK_STREQ(code, "E_ORIGIN");
    FT_CHECK_EQ(upload_as(port, NULL, "X-Requested-With: curl\r\n", code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "X-API-Key: admin-key\r\n", code), 200);
    FT_CHECK_EQ(upload_as(port, NULL, "Authorization: Bearer admin-key\r\n", code), 200);
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)port);
    const char *simple[] = {"Content-Type: text/plain\r\n",
                            "Content-Type: TEXT/PLAIN ; charset=utf-8\r\n",
                            "Content-Type: application/x-www-form-urlencoded\r\n", ""};
    for (int i = 0; i < 4; i++) {
        tc_resp r = sec_req(port, "POST", "/t/upload", host, simple[i], "a=b", 3);
        FT_CHECK_EQ(r.status, 403);
        FT_CHECK(strstr(r.body, "E_ORIGIN") != NULL);
        tc_resp_free(&r);
    }
    tc_resp r = sec_req(port, "POST", "/t/upload", host, "Content-Type: application/json\r\n",
                        "{}", 2);
    FT_CHECK_EQ(r.status, 415); // past the check; the handler wants multipart
    tc_resp_free(&r);
    // Other methods always need a preflight: only a foreign Origin is refused.
    r = sec_req(port, "DELETE", "/t/items/1", host, NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    r = sec_req(port, "DELETE", "/t/items/1", host, "Origin: http://evil.example\r\n", NULL, 0);
    FT_CHECK_EQ(r.status, 403);
    tc_resp_free(&r);
    // Reads are not refused for their Origin (the browser keeps the answer
    // from the other page).
    r = sec_req(port, "GET", "/t/hello", host, "Origin: http://evil.example\r\n", NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);

    // Host: ours, or 421 (DNS rebinding), before anything else.
    const char *good[] = {"127.0.0.1", "localhost", "LOCALHOST.", "door.test", "Door.Test:1",
                          "[::1]", "127.0.0.2:80"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        r = sec_req(port, "GET", "/t/hello", good[i], NULL, NULL, 0);
        if (r.status != 200)
            fprintf(stderr, "Host %s: %d\n", good[i], r.status);
        FT_CHECK_EQ(r.status, 200);
        tc_resp_free(&r);
    }
    const char *bad[] = {"attacker.example", "attacker.example:80", "10.1.2.3", "door.test.evil",
                         "[::1", "", "localhost.evil.example"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char hh[128];
        snprintf(hh, sizeof hh, "%s:%u", bad[i], (unsigned)port);
        r = sec_req(port, "GET", "/t/hello", i % 2 ? bad[i] : hh, NULL, NULL, 0);
        if (r.status != 421)
            fprintf(stderr, "Host %s: %d\n", bad[i], r.status);
        FT_CHECK_EQ(r.status, 421);
        FT_CHECK(strstr(r.body, "\"E_HOST\"") != NULL);
        FT_CHECK(strstr(r.body, "--server-name") != NULL);
        tc_resp_free(&r);
    }
    snprintf(hdr, sizeof hdr, "Origin: http://attacker.example:%u\r\n", (unsigned)port);
    snprintf(host, sizeof host, "attacker.example:%u", (unsigned)port);
    FT_CHECK_EQ(upload_as(port, host, hdr, code), 421);
    FT_CHECK_STREQ(code, "E_HOST");
    ft_httpd_stop(h);

    // Lists are checked at start.
    const char *bad_origin[] = {"door.example"};
    lim.allowed_origins = bad_origin;
    lim.n_allowed_origins = 1;
    ft_err err;
    ft_err_clear(&err);
    h = NULL;
    FT_CHECK_EQ(ft_httpd_start(&test_app, "127.0.0.1", 0, &lim, &h, &err), FT_E_INVALID);
    FT_CHECK(strstr(err.msg, "door.example") != NULL);
    lim.n_allowed_origins = 0;
    const char *bad_proxy[] = {"10.0.0.0/33"};
    lim.trusted_proxies = bad_proxy;
    lim.n_trusted_proxies = 1;
    FT_CHECK_EQ(ft_httpd_start(&test_app, "127.0.0.1", 0, &lim, &h, &err), FT_E_INVALID);
    FT_CHECK(h == NULL);
}

// GET /t/items/1 (a viewer route) with `key` and an X-Forwarded-For (NULL
// = none); the status, and Retry-After in *retry.
static int item_as(uint16_t port, const char *key, const char *xff, int *retry)
{
    char hdr[512];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s\r\n%s%s%s", key, xff ? "X-Forwarded-For: " : "",
             xff ? xff : "", xff ? "\r\n" : "");
    tc_resp r = tc_get(port, "/t/items/1", hdr);
    const char *ra = tc_header(&r, "Retry-After");
    *retry = ra ? atoi(ra) : -1;
    if (r.status == 429)
        FT_CHECK(strstr(r.body, "E_RATE_LIMIT") != NULL);
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

// Wrong keys from one address: 429 + Retry-After after the limit, for a
// while; other addresses (as a trusted proxy names them) are not blocked.
static void test_core_key_limit(void)
{
    ft_http_limits lim = ft_http_limits_default();
    lim.auth_fail_max = 3;
    lim.auth_fail_window_s = 60;
    lim.auth_block_s = 2;
    ft_httpd *h = start_core(&lim);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    int retry;
    FT_CHECK_EQ(item_as(port, "admin-key", NULL, &retry), 200);
    for (int i = 0; i < 3; i++)
        FT_CHECK_EQ(item_as(port, "guess", NULL, &retry), 401);
    // Blocked now, the right key included; a trusted-proxy header from an
    // untrusted peer changes nothing.
    FT_CHECK_EQ(item_as(port, "admin-key", NULL, &retry), 429);
    FT_CHECK(retry >= 1 && retry <= 2);
    FT_CHECK_EQ(item_as(port, "admin-key", "10.9.9.9", &retry), 429);
    tc_resp r = tc_get(port, "/t/hello", NULL);
    FT_CHECK_EQ(r.status, 200); // public routes still answer
    tc_resp_free(&r);
    usleep(2200 * 1000);
    FT_CHECK_EQ(item_as(port, "admin-key", NULL, &retry), 200);
    ft_httpd_stop(h);

    // Behind a trusted proxy, the client is the rightmost untrusted hop.
    const char *proxies[] = {"127.0.0.0/8", "10.0.0.1"};
    lim.trusted_proxies = proxies;
    lim.n_trusted_proxies = 2;
    lim.auth_block_s = 60;
    h = start_core(&lim);
    if (!h)
        return;
    port = ft_httpd_port(h);
    for (int i = 0; i < 3; i++)
        FT_CHECK_EQ(item_as(port, "guess", "10.9.9.9", &retry), 401);
    FT_CHECK_EQ(item_as(port, "admin-key", "10.9.9.9", &retry), 429);
    FT_CHECK(retry > 50 && retry <= 60);
    // A forged left part does not help; a proxy hop on the right is skipped.
    FT_CHECK_EQ(item_as(port, "admin-key", "1.2.3.4, 10.9.9.9", &retry), 429);
    FT_CHECK_EQ(item_as(port, "admin-key", "10.9.9.9, 10.0.0.1", &retry), 429);
    FT_CHECK_EQ(item_as(port, "admin-key", "10.9.9.8", &retry), 200);
    FT_CHECK_EQ(item_as(port, "admin-key", "10.9.9.9, 10.9.9.8", &retry), 200);
    FT_CHECK_EQ(item_as(port, "admin-key", NULL, &retry), 200); // the proxy itself
    ft_httpd_stop(h);

    // Thread-safe: many threads' failures from many addresses at once.
    lim.auth_fail_max = 1000000;
    h = start_core(&lim);
    if (!h)
        return;
    port = ft_httpd_port(h);
    for (int i = 0; i < 300; i++) {
        char xff[32];
        snprintf(xff, sizeof xff, "10.%d.%d.1", i / 200, i % 200);
        FT_CHECK_EQ(item_as(port, "guess", xff, &retry), 401); // more addresses than slots
    }
    ft_httpd_stop(h);
}

// ---- The request log ----

typedef struct log_cap {
    pthread_mutex_t mu;
    char lines[64][400];
    int n;
} log_cap;

static void log_capture(void *ctx, const char *line)
{
    log_cap *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (c->n < 64)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", line);
    pthread_mutex_unlock(&c->mu);
}

// Waits (up to 2 s) for `n` lines: a line is written once the answer is sent.
static int log_wait(log_cap *c, int n)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&c->mu);
        int have = c->n;
        pthread_mutex_unlock(&c->mu);
        if (have >= n)
            return have;
        usleep(10000);
    }
    return c->n;
}

// Parses "TIME CLIENT METHOD PATH STATUS MSms key=ID"; false if it is not.
typedef struct log_line {
    char time[40], client[64], method[32], path[300], key[32];
    int status;
    double ms;
} log_line;

static bool log_parse(const char *s, log_line *l)
{
    char ms[32];
    if (strchr(s, '\n') || strchr(s, '\r'))
        return false;
    if (sscanf(s, "%39s %63s %31s %299s %d %31s key=%31s", l->time, l->client, l->method, l->path,
               &l->status, ms, l->key) != 7)
        return false;
    size_t n = strlen(ms);
    if (n < 3 || strcmp(ms + n - 2, "ms") != 0)
        return false;
    l->ms = atof(ms);
    // 2026-12-04T23:59:01.123Z
    return strlen(l->time) == 24 && l->time[4] == '-' && l->time[10] == 'T' &&
           l->time[19] == '.' && l->time[23] == 'Z' && l->ms >= 0;
}

static void test_core_log(void)
{
    static log_cap cap = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ft_http_app app = {.routes = test_routes, .n_routes = N_TEST_ROUTES, .ctx = &cap,
                       .auth = test_auth, .log = log_capture};
    ft_httpd *h = NULL;
    ft_err err;
    FT_CHECK_OK(ft_httpd_start(&app, "127.0.0.1", 0, NULL, &h, &err), &err);
    if (!h)
        return;
    uint16_t port = ft_httpd_port(h);
    const char *reqs[][2] = {
        {"/t/hello?q=query-secret-1", NULL},
        {"/t/items/1", "X-API-Key: wrong-secret-2\r\n"},
        {"/t/items/2", "Authorization: Bearer admin-key\r\n"},
        {"/t/hello%0aforged%20line", NULL},
    };
    int want[] = {200, 401, 200, 404};
    for (int i = 0; i < 4; i++) {
        tc_resp r = tc_get(port, reqs[i][0], reqs[i][1]);
        FT_CHECK_EQ(r.status, want[i]);
        tc_resp_free(&r);
        FT_CHECK_EQ(log_wait(&cap, i + 1), i + 1);
    }
    ft_httpd_stop(h);
    FT_CHECK_EQ(cap.n, 4);
    const char *paths[] = {"/t/hello", "/t/items/1", "/t/items/2", "/t/hello\\x0aforged\\x20line"};
    const char *keys[] = {"-", "-", "7", "-"};
    for (int i = 0; i < cap.n && i < 4; i++) {
        log_line l;
        bool ok = log_parse(cap.lines[i], &l);
        if (!ok)
            fprintf(stderr, "bad log line: %s\n", cap.lines[i]);
        FT_CHECK(ok);
        if (!ok)
            continue;
        FT_CHECK_STREQ(l.client, "127.0.0.1");
        FT_CHECK_STREQ(l.method, "GET");
        FT_CHECK_STREQ(l.path, paths[i]);
        FT_CHECK_EQ(l.status, want[i]);
        FT_CHECK_STREQ(l.key, keys[i]);
        FT_CHECK(strstr(cap.lines[i], "secret") == NULL); // no key, no query
        FT_CHECK(strstr(cap.lines[i], "admin-key") == NULL);
    }
}

// X-Forwarded-For/-Proto/-Host: believed from a trusted proxy (client
// address, https origin and HSTS, the Host checked), ignored from others.
static void test_core_proxy(void)
{
    static log_cap cap = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ft_http_app app = {.routes = test_routes, .n_routes = N_TEST_ROUTES, .ctx = &cap,
                       .auth = test_auth, .log = log_capture};
    const char *names[] = {"door.test"}, *proxies[] = {"127.0.0.1"};
    for (int trusted = 1; trusted >= 0; trusted--) {
        ft_http_limits lim = ft_http_limits_default();
        lim.check_host = lim.check_origin = true;
        lim.server_names = names;
        lim.n_server_names = 1;
        lim.trusted_proxies = proxies;
        lim.n_trusted_proxies = trusted ? 1 : 0;
        ft_httpd *h = NULL;
        ft_err err;
        FT_CHECK_OK(ft_httpd_start(&app, "127.0.0.1", 0, &lim, &h, &err), &err);
        if (!h)
            return;
        uint16_t port = ft_httpd_port(h);
        char host[64], code[64];
        snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)port);
        pthread_mutex_lock(&cap.mu);
        cap.n = 0;
        pthread_mutex_unlock(&cap.mu);
        const char *fwd = "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n"
                          "X-Forwarded-Proto: https\r\nX-Forwarded-Host: door.test\r\n";
        tc_resp r = sec_req(port, "GET", "/t/hello", host, fwd, NULL, 0);
        FT_CHECK_EQ(r.status, 200);
        FT_CHECK((tc_header(&r, "Strict-Transport-Security") != NULL) == trusted);
        tc_resp_free(&r);
        FT_CHECK_EQ(log_wait(&cap, 1), 1);
        log_line l;
        FT_CHECK(log_parse(cap.lines[0], &l));
        FT_CHECK_STREQ(l.client, trusted ? "203.0.113.7" : "127.0.0.1");
        // The forwarded Host is the one checked (only from a trusted proxy).
        r = sec_req(port, "GET", "/t/hello", host, "X-Forwarded-Host: attacker.example\r\n", NULL,
                    0);
        FT_CHECK_EQ(r.status, trusted ? 421 : 200);
        tc_resp_free(&r);
        // The own origin is https://door.test behind the proxy.
        char hdr[512];
        snprintf(hdr, sizeof hdr, "%sOrigin: https://door.test\r\n", fwd);
        FT_CHECK_EQ(upload_as(port, NULL, hdr, code), trusted ? 200 : 403);
        snprintf(hdr, sizeof hdr, "%sOrigin: http://door.test\r\n", fwd);
        FT_CHECK_EQ(upload_as(port, NULL, hdr, code), 403);
        ft_httpd_stop(h);
    }
}

// ---- The facetracker server ----

// The server refuses cross-site writes and foreign Hosts: a page of
// another origin cannot add a sample to a person or loosen the settings.
static void test_app_origin(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    int64_t pid = app_person_add("Rachel");
    tc_resp r;
    char path[160], own[300], evil[300];
    snprintf(path, sizeof path, "/api/v1/people/%lld/samples", (long long)pid);
    snprintf(own, sizeof own, "Origin: http://127.0.0.1:%u\r\n", (unsigned)port);
    snprintf(evil, sizeof evil, "Origin: http://127.0.0.1:%u\r\n", (unsigned)port + 1);
    ft_buf crop;
    FT_CHECK(face_crop(1, 1476, 200, 203, 240, &crop));

    // From another origin: refused before the body is read.
    r = post_file(port, path, "photo", crop.data, crop.len, evil);
    FT_CHECK_EQ(r.status, 403);
    FT_CHECK_STREQ(err_code(&r), "E_ORIGIN");
    tc_resp_free(&r);
    // No Origin and a plain multipart form, as an old browser would send it.
    {
        size_t blen;
        uint8_t *body = tc_multipart("xx", "photo", "p.jpg", crop.data, crop.len, &blen);
        r = tc_req(port, "POST", path, "Content-Type: multipart/form-data; boundary=xx\r\n", body,
                   blen);
        free(body);
        FT_CHECK_EQ(r.status, 403);
        FT_CHECK_STREQ(err_code(&r), "E_ORIGIN");
        tc_resp_free(&r);
    }
    char hdr[512];
    snprintf(hdr, sizeof hdr, "%s%s", jh, evil);
    r = tc_req(port, "PATCH", "/api/v1/settings", hdr, "{\"threshold\":0.9}", 17);
    FT_CHECK_EQ(r.status, 403);
    tc_resp_free(&r);
    r = sec_req(port, "GET", "/api/v1/people", "attacker.example", NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 421); // DNS rebinding
    FT_CHECK(strstr(r.body, "Rachel") == NULL);
    tc_resp_free(&r);
    r = tc_get(port, path, NULL);
    FT_CHECK_EQ(r.status, 200);
    json_t *j = body_json(&r);
    json_t *arr = json_is_array(j) ? j : json_object_get(j, "samples");
    FT_CHECK_EQ(json_array_size(arr), 0); // nothing was added
    json_decref(j);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK(strstr(r.body, "\"threshold\":0.9") == NULL);
    tc_resp_free(&r);

    // The page itself (its own origin, Host with the port as browsers
    // send it) still enrols and saves settings.
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)port);
    {
        size_t blen;
        uint8_t *body = tc_multipart("xx", "photo", "p.jpg", crop.data, crop.len, &blen);
        snprintf(hdr, sizeof hdr, "Content-Type: multipart/form-data; boundary=xx\r\n%s", own);
        r = sec_req(port, "POST", path, host, hdr, body, blen);
        free(body);
        FT_CHECK_EQ(r.status, 201);
        tc_resp_free(&r);
    }
    snprintf(hdr, sizeof hdr, "%s%s", jh, own);
    r = sec_req(port, "PATCH", "/api/v1/settings", host, hdr, "{\"threshold\":0.45}", 18);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    ft_buf_deinit(&crop);
    stop_app(s);
}

static log_cap app_log;

static void app_log_fn(void *ctx, const char *line)
{
    log_capture(&app_log, line);
}

// serve --verbose: one line per request through the server's logger, with
// the key's id and never the key.
static void test_app_log(void)
{
    ft_nn_init();
    pthread_mutex_init(&app_log.mu, NULL);
    app_log.n = 0;
    snprintf(app_db, sizeof app_db, "/tmp/ft_http_test_%d.db", (int)getpid());
    unlink(app_db);
    char models[512];
    snprintf(models, sizeof models, "%s/model", ft_test_assets());
    ft_server_opts o = ft_server_opts_default();
    o.port = 0;
    o.db_path = app_db;
    o.threads = 1;
    o.models_dir = models;
    o.verbose = true;
    o.log = app_log_fn;
    ft_server *s = NULL;
    ft_err err;
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    tc_resp r = tc_req(port, "POST", "/api/v1/keys", jh, "{\"name\":\"ops\",\"role\":\"admin\"}", 29);
    FT_CHECK_EQ(r.status, 201);
    json_t *j = body_json(&r);
    char tok[128], hdr[256], id[32];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(j, "token")));
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    tc_resp_free(&r);
    snprintf(hdr, sizeof hdr, "X-API-Key: %s\r\n", tok);
    r = tc_get(port, "/api/v1/people?name=x", hdr);
    FT_CHECK_EQ(r.status, 200);
    tc_resp_free(&r);
    // The same key with its last digit changed: 401.
    char bad[128];
    snprintf(bad, sizeof bad, "%s", tok);
    size_t n = strlen(bad);
    bad[n - 1] = bad[n - 1] == '0' ? '1' : '0';
    snprintf(hdr, sizeof hdr, "X-API-Key: %s\r\n", bad);
    r = tc_get(port, "/api/v1/people", hdr);
    FT_CHECK_EQ(r.status, 401);
    tc_resp_free(&r);
    log_wait(&app_log, 3);
    ft_server_stop(s);
    unlink(app_db);

    // Lines: the key creation, the 200 and the 401 (the models' line may
    // come in between).
    int seen = 0;
    const char *secret = strrchr(tok, '_') + 1;
    for (int i = 0; i < app_log.n; i++) {
        const char *line = app_log.lines[i];
        FT_CHECK(strstr(line, secret) == NULL);
        FT_CHECK(strstr(line, bad + strlen(bad) - 20) == NULL);
        if (strstr(line, "models loaded"))
            continue;
        log_line l;
        FT_CHECK(log_parse(line, &l));
        FT_CHECK_STREQ(l.client, "127.0.0.1");
        if (l.status == 201) {
            FT_CHECK_STREQ(l.path, "/api/v1/keys");
            FT_CHECK_STREQ(l.key, "-"); // no keys yet: key-less mode
            seen |= 1;
        } else if (l.status == 200) {
            FT_CHECK_STREQ(l.method, "GET");
            FT_CHECK_STREQ(l.path, "/api/v1/people"); // no query string
            FT_CHECK_STREQ(l.key, id);
            seen |= 2;
        } else if (l.status == 401) {
            FT_CHECK_STREQ(l.path, "/api/v1/people");
            FT_CHECK_STREQ(l.key, "-");
            seen |= 4;
        }
    }
    FT_CHECK_EQ(seen, 7);
}

// HTTPS with a self-signed certificate made here by the openssl CLI.
#include <curl/curl.h>

static size_t curl_hdr(char *p, size_t size, size_t n, void *ud)
{
    ft_buf *b = ud;
    ft_buf_append(b, p, size * n);
    return size * n;
}

static size_t curl_body(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

// GET https://127.0.0.1:port/path trusting `ca`; the status (0 if the
// connection failed), headers appended to `hdrs`.
static long https_get(uint16_t port, const char *path, const char *ca, ft_buf *hdrs)
{
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_body);
    long code = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "curl: %s\n", curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    return code;
}

static void test_app_tls(void)
{
    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("SKIP: no openssl CLI to make a test certificate\n");
        exit(77); // reported as skipped, not passed
    }
    char dir[128], cmd[1024], cert[256], key[256], key2[256], notpem[256];
    snprintf(dir, sizeof dir, "/tmp/ft_http_tls_%d", (int)getpid());
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(key2, sizeof key2, "%s/other.pem", dir);
    snprintf(notpem, sizeof notpem, "%s/notpem.txt", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout %s -out %s 2>/dev/null && openssl genpkey -algorithm EC -pkeyopt "
             "ec_paramgen_curve:prime256v1 -out %s 2>/dev/null && echo hello > %s",
             dir, key, cert, key2, notpem);
    FT_CHECK_EQ(system(cmd), 0);
    ft_nn_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(app_db, sizeof app_db, "/tmp/ft_http_test_%d.db", (int)getpid());
    unlink(app_db);
    char models[512];
    snprintf(models, sizeof models, "%s/model", ft_test_assets());
    ft_server_opts o = ft_server_opts_default();
    o.port = 0;
    o.db_path = app_db;
    o.threads = 1;
    o.models_dir = models;
    o.tls_cert = cert;
    o.tls_key = key;
    ft_server *s = NULL;
    ft_err err;
    ft_err_clear(&err);
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (s) {
        uint16_t port = ft_server_port(s);
        ft_buf hdrs;
        ft_buf_init(&hdrs, 0);
        FT_CHECK_EQ(https_get(port, "/healthz", cert, &hdrs), 200);
        ft_buf_terminate(&hdrs);
        FT_CHECK(hdrs.data && strcasestr((char *)hdrs.data,
                                         "Strict-Transport-Security: max-age=31536000") != NULL);
        hdrs.len = 0;
        FT_CHECK_EQ(https_get(port, "/no/such/page", cert, &hdrs), 404);
        ft_buf_terminate(&hdrs);
        FT_CHECK(hdrs.data && strcasestr((char *)hdrs.data, "Strict-Transport-Security:") != NULL);
        ft_buf_deinit(&hdrs);
        // Plain HTTP to the HTTPS port gets no HTTP answer.
        tc_resp r = tc_get(port, "/healthz", NULL);
        FT_CHECK(r.status != 200);
        tc_resp_free(&r);
        ft_server_stop(s);
    }
    // Without TLS: no HSTS.
    {
        ft_server *p = start_app("127.0.0.1", FT_OK, 0);
        if (p) {
            tc_resp r = tc_get(ft_server_port(p), "/healthz", NULL);
            FT_CHECK(tc_header(&r, "Strict-Transport-Security") == NULL);
            tc_resp_free(&r);
            stop_app(p);
        }
    }
    // Start errors say what is wrong.
    struct {
        const char *cert, *key, *needle;
        ft_status st;
    } bad[] = {
        {cert, key2, "HTTPS", FT_E_INVALID},          // the key is not the certificate's
        {"/nonexistent/c.pem", key, "/nonexistent/c.pem", FT_E_IO},
        {cert, "/nonexistent/k.pem", "/nonexistent/k.pem", FT_E_IO},
        {notpem, key, "not a PEM", FT_E_FORMAT},
        {cert, NULL, "--tls-key", FT_E_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.tls_cert = bad[i].cert;
        o.tls_key = bad[i].key;
        s = NULL;
        ft_err_clear(&err);
        ft_status st = ft_server_start(&o, &s, &err);
        FT_CHECK_EQ(st, bad[i].st);
        FT_CHECK(s == NULL);
        if (!strstr(err.msg, bad[i].needle))
            fprintf(stderr, "case %zu: %s\n", i, err.msg);
        FT_CHECK(strstr(err.msg, bad[i].needle) != NULL);
        ft_server_stop(s);
    }
    unlink(app_db);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    FT_CHECK_EQ(system(cmd), 0);
    curl_global_cleanup();
}

// ---- Data safety (issue 10): settings bounds, enrolment integrity, audit, storage ----

// POSTs a multipart form with a text field "name" (NULL = none) and one
// photo file, to `path` (X-Requested-With: the origin rule's custom header).
static tc_resp post_named(uint16_t port, const char *path, const char *name, const void *data,
                          size_t len)
{
    size_t cap = 1024 + len, n = 0;
    uint8_t *b = malloc(cap);
    if (name)
        n += (size_t)snprintf((char *)b, cap,
                              "--bnd7\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
                              "%s\r\n",
                              name);
    n += (size_t)snprintf((char *)b + n, cap - n,
                          "--bnd7\r\nContent-Disposition: form-data; name=\"photo\"; "
                          "filename=\"p.jpg\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    memcpy(b + n, data, len);
    n += len;
    n += (size_t)snprintf((char *)b + n, cap - n, "\r\n--bnd7--\r\n");
    tc_resp r = tc_req(port, "POST", path,
                       "Content-Type: multipart/form-data; boundary=bnd7\r\n"
                       "X-Requested-With: ft-test\r\n",
                       b, n);
    free(b);
    return r;
}

// POSTs /api/v1/enrol?force=1 with a name, an external id and one photo.
static tc_resp post_enrol_ext(uint16_t port, const char *name, const char *ext, const void *data,
                              size_t len)
{
    size_t cap = 1024 + len, n = 0;
    uint8_t *b = malloc(cap);
    n += (size_t)snprintf((char *)b, cap,
                          "--bnd7\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n%s\r\n"
                          "--bnd7\r\nContent-Disposition: form-data; name=\"external_id\"\r\n\r\n"
                          "%s\r\n--bnd7\r\nContent-Disposition: form-data; name=\"photo\"; "
                          "filename=\"p.jpg\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                          name, ext);
    memcpy(b + n, data, len);
    n += len;
    n += (size_t)snprintf((char *)b + n, cap - n, "\r\n--bnd7--\r\n");
    tc_resp r = tc_req(port, "POST", "/api/v1/enrol?force=1",
                       "Content-Type: multipart/form-data; boundary=bnd7\r\n"
                       "X-Requested-With: ft-test\r\n",
                       b, n);
    free(b);
    return r;
}

static size_t people_count(uint16_t port)
{
    tc_resp r = tc_get(port, "/api/v1/people", NULL);
    json_t *j = body_json(&r);
    size_t n = json_array_size(json_object_get(j, "people"));
    json_decref(j);
    tc_resp_free(&r);
    return n;
}

// Settings: bounded by the descriptor space; loosening needs "confirm"
// and says so; every change audited with the actor (726d0c7: threshold 10
// was a 200, and there was no audit).
static void test_app_safety_settings(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    tc_resp r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":10}", 16);
    FT_CHECK_EQ(r.status, 400);
    FT_CHECK(strstr(r.body, "(0, 1]") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"margin\":0.9}", 14);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":0.7}", 17);
    FT_CHECK_EQ(r.status, 409);
    FT_CHECK_STREQ(err_code(&r), "E_CONFIRM");
    FT_CHECK(strstr(r.body, "\"review\"") != NULL);
    FT_CHECK(strstr(r.body, "0.6") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK(strstr(r.body, "\"threshold\":0.5") != NULL); // nothing written
    FT_CHECK(strstr(r.body, "\"retention_thumbnails_days\":90") != NULL);
    tc_resp_free(&r);
    const char *ok = "{\"threshold\":0.7,\"confirm\":true,\"retention_events_days\":365}";
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, ok, strlen(ok));
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"threshold\":0.7") != NULL);
    FT_CHECK(strstr(r.body, "\"retention_events_days\":365") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":0.45}", 18);
    FT_CHECK_EQ(r.status, 200); // stricter: no confirmation
    tc_resp_free(&r);
    char ppath[64];
    snprintf(ppath, sizeof ppath, "/api/v1/people/%lld", (long long)app_person_add("Sam"));
    r = tc_req(port, "PATCH", ppath, jh, "{\"name\":\"7\"}", 12);
    FT_CHECK_EQ(r.status, 400); // all digits would read as an id
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/audit", NULL);
    FT_CHECK_EQ(r.status, 200);
    {
        json_t *j = body_json(&r);
        json_t *a = json_object_get(j, "audit");
        size_t n_change = 0;
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *row = json_array_get(a, i);
            if (strcmp(json_string_value(json_object_get(row, "action")), "settings.change") ==
                0) {
                n_change++;
                FT_CHECK_STREQ(json_string_value(json_object_get(row, "actor")), "local");
            }
        }
        FT_CHECK_EQ(n_change, 3); // policy twice, retention once
        json_decref(j);
    }
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/openapi.json", NULL);
    FT_CHECK(strstr(r.body, "anonymised") == NULL); // the DELETE summary says what happens
    FT_CHECK(strstr(r.body, "/api/v1/audit") != NULL);
    tc_resp_free(&r);
    // A policy stored out of today's bounds (by an older version): the
    // page still gets the settings, with the reason, and saving repairs it.
    {
        ft_gallery *g = NULL;
        ft_err err;
        ft_err_clear(&err);
        FT_CHECK_OK(ft_gallery_open(app_db, NULL, &g, &err), &err);
        if (g)
            FT_CHECK_OK(ft_gallery_setting_set(g, "threshold", "5", &err), &err);
        ft_gallery_close(g);
    }
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"policy_error\"") != NULL);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"threshold\":0.5}", 17);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"policy_error\"") == NULL);
    tc_resp_free(&r);
    stop_app(s);
}

// A JSON number of a reply's top level (NaN if absent).
static double body_num(const tc_resp *r, const char *key)
{
    json_t *j = body_json(r);
    json_t *v = json_object_get(j, key);
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(j);
    return d;
}

// Settings per descriptor space: the reply names the space, the query or
// field "descriptor" picks another; faceres's threshold is stored without
// touching the server's (resnet128) one and is bounded by its own safe
// maximum and bound; person_cap round trip with its confirmation.
static void test_app_settings_spaces(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    const char *jh = "Content-Type: application/json\r\n";
    tc_resp r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"descriptor\":\"resnet128\"") != NULL);
    FT_CHECK(strstr(r.body, "\"descriptors\":[\"resnet128\",\"faceres\"]") != NULL);
    FT_CHECK(strstr(r.body, "\"server_descriptor\":\"resnet128\"") != NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "person_cap"), FT_GALLERY_DEFAULT_PERSON_CAP);
    tc_resp_free(&r);
    // No faceres keys stored yet: its registry defaults.
    r = tc_get(port, "/api/v1/settings?descriptor=faceres", NULL);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"descriptor\":\"faceres\"") != NULL);
    const ft_descriptor_net *fr = ft_descriptor_net_find("faceres");
    FT_ASSERT(fr != NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "threshold"), fr->threshold);
    FT_CHECK_DBL_EXACT(body_num(&r, "margin"), fr->margin);
    FT_CHECK(strstr(r.body, "\"threshold\":[0.0,0.80000000000000004]") != NULL ||
             strstr(r.body, "\"threshold\":[0.0,0.8]") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings?descriptor=nope", NULL);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    // Stored for faceres (field), read back (query); resnet128's unchanged.
    const char *b1 = "{\"descriptor\":\"faceres\",\"threshold\":0.33,\"margin\":0.03}";
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, b1, strlen(b1));
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"descriptor\":\"faceres\"") != NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "threshold"), 0.33);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings", NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "threshold"), 0.5);
    FT_CHECK_DBL_EXACT(body_num(&r, "margin"), 0.05);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings?descriptor=faceres", NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "threshold"), 0.33);
    FT_CHECK_DBL_EXACT(body_num(&r, "margin"), 0.03);
    tc_resp_free(&r);
    // faceres's safe maximum (0.40) and bound (0.8), not resnet128's.
    r = tc_req(port, "PATCH", "/api/v1/settings?descriptor=faceres", jh, "{\"threshold\":0.45}",
               18);
    FT_CHECK_EQ(r.status, 409);
    FT_CHECK_STREQ(err_code(&r), "E_CONFIRM");
    FT_CHECK(strstr(r.body, "safe maximum 0.4") != NULL);
    FT_CHECK(strstr(r.body, "\"descriptor\":\"faceres\"") != NULL); // in the review
    tc_resp_free(&r);
    const char *b2 = "{\"descriptor\":\"faceres\",\"threshold\":0.85,\"confirm\":true}";
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, b2, strlen(b2));
    FT_CHECK_EQ(r.status, 400);
    FT_CHECK(strstr(r.body, "(0, 0.8]") != NULL);
    tc_resp_free(&r);
    const char *b3 = "{\"descriptor\":\"resnet128\",\"threshold\":0.5}";
    r = tc_req(port, "PATCH", "/api/v1/settings?descriptor=faceres", jh, b3, strlen(b3));
    FT_CHECK_EQ(r.status, 400); // query and body disagree
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"descriptor\":7}", 16);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    // person_cap: shared, bounded, raising it needs the confirmation.
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"person_cap\":1.5}", 18);
    FT_CHECK_EQ(r.status, 400);
    tc_resp_free(&r);
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, "{\"person_cap\":0.9}", 18);
    FT_CHECK_EQ(r.status, 409);
    FT_CHECK(strstr(r.body, "person_cap") != NULL);
    tc_resp_free(&r);
    const char *b4 = "{\"person_cap\":0.9,\"confirm\":true}";
    r = tc_req(port, "PATCH", "/api/v1/settings", jh, b4, strlen(b4));
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK_DBL_EXACT(body_num(&r, "person_cap"), 0.9);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/settings?descriptor=faceres", NULL);
    FT_CHECK_DBL_EXACT(body_num(&r, "person_cap"), 0.9);
    tc_resp_free(&r);
    // The audit names the space of each policy change.
    r = tc_get(port, "/api/v1/audit", NULL);
    FT_CHECK(strstr(r.body, "\"space\":\"faceres\"") != NULL);
    FT_CHECK(strstr(r.body, "\"space\":\"resnet128\"") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/openapi.json", NULL);
    FT_CHECK(strstr(r.body, "person_cap [0, 1]") != NULL);
    tc_resp_free(&r);
    stop_app(s);
}

// Enrolment: a new person only with a sample; a face of someone else
// refused with their name unless forced; the same photo not stored twice;
// group photos answered with their faces and taken with ?face=N; erasure.
static void test_app_safety_enrol(void)
{
    ft_server *s = start_app("127.0.0.1", FT_OK, 0);
    if (!s)
        return;
    uint16_t port = ft_server_port(s);
    // A failed first enrolment leaves nobody behind.
    tc_resp r = post_named(port, "/api/v1/enrol", "Ghost", "not a photo", 11);
    FT_CHECK_EQ(r.status, 422);
    FT_CHECK_STREQ(err_code(&r), "E_UNSUPPORTED"); // the real reason, not E_NO_FACE
    tc_resp_free(&r);
    FT_CHECK_EQ(people_count(port), 0);
    // A group photo: its faces, then the chosen one.
    char demo[512];
    demo_path(1, demo, sizeof demo);
    ft_buf group;
    FT_CHECK(read_file(demo, &group));
    r = post_named(port, "/api/v1/enrol", "Group", group.data, group.len);
    FT_CHECK_EQ(r.status, 422);
    FT_CHECK_STREQ(err_code(&r), "E_MANY_FACES");
    long pick = -1;
    {
        json_t *j = body_json(&r);
        json_t *faces = json_object_get(json_array_get(json_object_get(j, "rejected"), 0), "faces");
        FT_CHECK_EQ(json_array_size(faces), 3);
        // The face at x ~ 838 (the right-hand person of app_enrol).
        for (size_t i = 0; i < json_array_size(faces); i++) {
            json_t *box = json_object_get(json_array_get(faces, i), "box");
            if (fabs(json_number_value(json_object_get(box, "x")) - 838) < 10)
                pick = (long)i;
        }
        json_decref(j);
    }
    tc_resp_free(&r);
    FT_CHECK(pick >= 0);
    FT_CHECK_EQ(people_count(port), 0);
    r = post_named(port, "/api/v1/enrol?pick=largest", "Group", group.data, group.len);
    FT_CHECK_EQ(r.status, 400); // no more silent pick=largest
    tc_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/enrol?face=%ld", pick);
    r = post_named(port, path, "Rachel", group.data, group.len);
    FT_CHECK_EQ(r.status, 201);
    int64_t rachel = json_id(&r, "person_id");
    FT_CHECK(rachel > 0);
    tc_resp_free(&r);
    FT_CHECK_EQ(people_count(port), 1);
    // The same photo again: skipped, not stored twice.
    snprintf(path, sizeof path, "/api/v1/people/%lld/samples?face=%ld", (long long)rachel, pick);
    r = post_named(port, path, NULL, group.data, group.len);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"reason\":\"duplicate\"") != NULL);
    FT_CHECK(strstr(r.body, "\"added\":[]") != NULL);
    tc_resp_free(&r);
    // Her face under another name: refused, naming her; nobody created.
    ft_buf crop;
    FT_CHECK(face_crop(1, 838, 421, 187, 228, &crop));
    r = post_named(port, "/api/v1/enrol", "Impostor", crop.data, crop.len);
    FT_CHECK_EQ(r.status, 409);
    FT_CHECK_STREQ(err_code(&r), "E_EXISTS");
    FT_CHECK(strstr(r.body, "Rachel") != NULL);
    tc_resp_free(&r);
    FT_CHECK_EQ(people_count(port), 1);
    r = post_named(port, "/api/v1/enrol?force=1", "Impostor", crop.data, crop.len);
    FT_CHECK_EQ(r.status, 201);
    FT_CHECK(strstr(r.body, "\"forced_match\"") != NULL);
    int64_t imp = json_id(&r, "person_id");
    tc_resp_free(&r);
    // A new person's external id is stored by the enrolment itself: taken,
    // the whole enrolment is refused and nobody is created.
    size_t before = people_count(port);
    r = post_enrol_ext(port, "Ext One", "EMP-1", crop.data, crop.len);
    FT_CHECK_EQ(r.status, 201);
    int64_t ext1 = json_id(&r, "person_id");
    tc_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/people/%lld", (long long)ext1);
    r = tc_get(port, path, NULL);
    FT_CHECK(strstr(r.body, "\"external_id\":\"EMP-1\"") != NULL);
    tc_resp_free(&r);
    r = post_enrol_ext(port, "Ext Two", "EMP-1", crop.data, crop.len);
    FT_CHECK_EQ(r.status, 409);
    tc_resp_free(&r);
    FT_CHECK_EQ(people_count(port), before + 1);
    // An existing name is not a new person.
    r = post_named(port, "/api/v1/enrol", "Rachel", crop.data, crop.len);
    FT_CHECK_EQ(r.status, 409);
    tc_resp_free(&r);
    // Erasure: gone, audited.
    snprintf(path, sizeof path, "/api/v1/people/%lld?erase=1", (long long)imp);
    r = tc_req(port, "DELETE", path, NULL, NULL, 0);
    FT_CHECK_EQ(r.status, 200);
    FT_CHECK(strstr(r.body, "\"erased\":true") != NULL);
    tc_resp_free(&r);
    r = tc_get(port, "/api/v1/audit?limit=50", NULL);
    FT_CHECK(strstr(r.body, "\"action\":\"person.enrol\"") != NULL);
    FT_CHECK(strstr(r.body, "\"action\":\"person.erase\"") != NULL);
    FT_CHECK(strstr(r.body, "Impostor") == NULL || strstr(r.body, "person.erase") != NULL);
    tc_resp_free(&r);
    ft_buf_deinit(&crop);
    ft_buf_deinit(&group);
    stop_app(s);
}

// /readyz with a gallery that cannot be written: a full tmpfs, then a
// read-only one (root needed to mount: as root a failed mount fails the
// case, otherwise it exits 77, skipped).
// 726d0c7 answered 200 "ready" and then 500 on every decision.
static void test_app_safety_storage(void)
{
    char dir[] = "/tmp/ft_http_storage_XXXXXX";
    if (!mkdtemp(dir))
        return;
    if (!ft_test_mount_tmpfs(dir, "size=3m", "app_safety_storage"))
        return;
    ft_server_opts o = ft_server_opts_default();
    char db[300], filler[300], models[512];
    snprintf(db, sizeof db, "%s/g.db", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(models, sizeof models, "%s/model", ft_test_assets());
    o.bind = "127.0.0.1";
    o.port = 0;
    o.db_path = db;
    o.threads = 1;
    o.models_dir = models;
    ft_server *s = NULL;
    ft_err err;
    ft_err_clear(&err);
    FT_CHECK_OK(ft_server_start(&o, &s, &err), &err);
    if (s) {
        FT_CHECK_OK(ft_server_wait_ready(s, &err), &err);
        uint16_t port = ft_server_port(s);
        tc_resp r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 200);
        tc_resp_free(&r);
        FILE *f = fopen(filler, "wb");
        static uint8_t block[4096];
        while (f && fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
            ;
        if (f)
            fclose(f);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 503);
        FT_CHECK_STREQ(err_code(&r), "E_STORAGE");
        FT_CHECK(strstr(r.body, "disk full") != NULL);
        tc_resp_free(&r);
        unlink(filler);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 200);
        tc_resp_free(&r);
        ft_server_stop(s);
        s = NULL;
        // Read-only: the file system remounted read-only under a stopped
        // server (open files would keep it writable), then started again.
        // SQLite cannot open a WAL gallery there at all: the server refuses
        // to start, naming the file; if it did start, it must not be ready.
        FT_CHECK(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
        ft_err_clear(&err);
        ft_status st = ft_server_start(&o, &s, &err);
        if (st != FT_OK) {
            FT_CHECK(s == NULL);
            FT_CHECK(strstr(err.msg, "g.db") != NULL);
            goto out;
        }
        FT_CHECK_OK(ft_server_wait_ready(s, &err), &err);
        port = ft_server_port(s);
        r = tc_get(port, "/readyz", NULL);
        FT_CHECK_EQ(r.status, 503);
        FT_CHECK(strstr(r.body, "read-only") != NULL);
        tc_resp_free(&r);
        ft_server_stop(s);
    }
out:
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

static const ft_test_case cases[] = {
    {"multipart", test_multipart},
    {"multipart_oom", test_multipart_oom},
    {"router", test_router},
    {"metrics", test_metrics},
    {"core_routes", test_core_routes},
    {"core_auth", test_core_auth},
    {"core_limits", test_core_limits},
    {"core_slow_headers", test_core_slow_headers},
    {"core_busy", test_core_busy},
    {"core_stop", test_core_stop},
    {"app_static", test_app_static},
    {"app_prediction", test_app_prediction},
    {"app_people", test_app_people},
    {"app_enrol", test_app_enrol},
    {"app_keys", test_app_keys},
    {"app_bind", test_app_bind},
    {"app_loading", test_app_loading},
    {"app_trained", test_app_trained},
    {"core_origin", test_core_origin},
    {"core_key_limit", test_core_key_limit},
    {"core_log", test_core_log},
    {"core_proxy", test_core_proxy},
    {"app_origin", test_app_origin},
    {"app_log", test_app_log},
    {"app_tls", test_app_tls},
    {"app_safety_settings", test_app_safety_settings},
    {"app_settings_spaces", test_app_settings_spaces},
    {"app_safety_enrol", test_app_safety_enrol},
    {"app_safety_storage", test_app_safety_storage},
    {"app_default_detector", test_app_default_detector},
};

FT_TEST_MAIN(cases)
