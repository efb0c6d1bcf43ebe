// A tiny blocking HTTP/1.1 client over plain sockets for the HTTP tests:
// raw requests (so tests can send truncated bodies or trickle headers),
// loopback only. Header-only; every function is static.
#ifndef FT_TEST_HTTP_CLIENT_H
#define FT_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct tc_resp {
    int status;   // 0 if no valid status line came back
    char *head;   // the response head (NUL-terminated)
    char *body;   // the body (NUL-terminated), may contain NULs
    size_t body_len;
} tc_resp;

static void tc_resp_free(tc_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int tc_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // loopback only
    // A safety net only (CTest has its own timeouts): generous, since the
    // TSan job runs the networks at -O0 under TSan, where a group photo's
    // enrolment takes over 30 s.
    struct timeval tv = {300, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool tc_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

// Reads until the peer closes (requests carry Connection: close) and
// splits head and body (Content-Length or chunked not decoded: our
// server sends Content-Length).
static void tc_read(int fd, tc_resp *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) == 0 && len > 12)
        out->status = atoi(buf + 9);
    size_t hlen = sep ? (size_t)(sep - buf) : len;
    out->head = malloc(hlen + 1);
    memcpy(out->head, buf, hlen);
    out->head[hlen] = 0;
    size_t boff = sep ? hlen + 4 : len;
    out->body_len = len - boff;
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, buf + boff, out->body_len);
    out->body[out->body_len] = 0;
    free(buf);
}

// Sends `raw` as is and reads the answer.
static tc_resp tc_raw(uint16_t port, const void *raw, size_t n)
{
    tc_resp r;
    memset(&r, 0, sizeof r);
    int fd = tc_connect(port);
    if (fd < 0)
        return r;
    tc_send(fd, raw, n);
    tc_read(fd, &r);
    close(fd);
    return r;
}

// A complete request: method, path, extra header lines ("K: V\r\n"...,
// may be NULL), body (may be NULL).
static tc_resp tc_req(uint16_t port, const char *method, const char *path, const char *headers,
                      const void *body, size_t body_len)
{
    size_t cap = 1024 + (headers ? strlen(headers) : 0) + body_len;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, headers ? headers : "", body_len);
    if (body_len)
        memcpy(req + n, body, body_len);
    tc_resp r = tc_raw(port, req, (size_t)n + body_len);
    free(req);
    return r;
}

static tc_resp tc_get(uint16_t port, const char *path, const char *headers)
{
    size_t cap = 1024 + (headers ? strlen(headers) : 0);
    char *req = malloc(cap);
    int n = snprintf(req, cap, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
                     path, headers ? headers : "");
    tc_resp r = tc_raw(port, req, (size_t)n);
    free(req);
    return r;
}

// A value from the response head ("Retry-After"), or NULL. Per-thread
// static buffer (the busy tests call this from several client threads).
static const char *tc_header(const tc_resp *r, const char *name)
{
    static _Thread_local char val[256];
    size_t nl = strlen(name);
    for (const char *p = r->head; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = len - (size_t)(v - p);
            if (vl >= sizeof val)
                vl = sizeof val - 1;
            memcpy(val, v, vl);
            val[vl] = 0;
            return val;
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return NULL;
}

// Builds a multipart body with one file part; returns malloc'd bytes.
static uint8_t *tc_multipart(const char *boundary, const char *field, const char *filename,
                             const void *data, size_t len, size_t *out_len)
{
    size_t cap = 512 + len;
    uint8_t *b = malloc(cap);
    int n = snprintf((char *)b, cap,
                     "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     boundary, field, filename);
    memcpy(b + n, data, len);
    int m = snprintf((char *)b + n + len, cap - (size_t)n - len, "\r\n--%s--\r\n", boundary);
    *out_len = (size_t)n + len + (size_t)m;
    return b;
}

#endif
