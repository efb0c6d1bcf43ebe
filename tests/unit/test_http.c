// Tests for src/http: the multipart parser, the router and OpenAPI
// document, metrics, the HTTP core (limits, timeouts, the bounded queue,
// roles) with a test route table, and the facetracker server itself on
// 127.0.0.1 with a free port, route by route, success and failure.
#define _GNU_SOURCE
#include "core/clock.h"
#include "core/mem.h"
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

static ft_status test_auth(void *ctx, void *tctx, const char *key, unsigned *role, ft_err *err)
{
    if (!key)
        return ft_err_set(err, FT_E_AUTH, "an API key is required");
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

static const ft_http_app test_app = {test_routes, N_TEST_ROUTES, NULL, NULL, NULL, test_auth,
                                     NULL};

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
};

FT_TEST_MAIN(cases)
