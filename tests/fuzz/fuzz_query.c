// libFuzzer target for request URLs: the path through the router
// (ft_http__route_match, {param} segments), the query string split and
// unescaped as libmicrohttpd does (MHD_http_unescape on path, keys and
// values; at most 64 arguments, as httpd.c's collect_query keeps), and the
// handlers that read query arguments and path parameters, run against an
// in-memory gallery (fuzz_http_common.h): events (since, until, person_id,
// decision, source, limit, offset, order), events.csv, audit, people,
// samples, thumbnails, settings, keys, a camera's frame (after), assets.
// Input layout: byte 0 picks the method (bits 0-1: GET, HEAD, DELETE,
// POST) and bit 2 an API key; the rest, up to a NUL, is the URL
// "PATH?QUERY". Only GET/HEAD routes run: the others would change the
// gallery; their path and query are still parsed. The detector argument is
// also read with ft_detector_parse, as the inference routes do.
#include "fuzz_http_common.h"

#include <microhttpd.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_arg(ft_http_req *r, char *piece)
{
    if (!*piece || r->n_query >= 64)
        return;
    char *eq = strchr(piece, '=');
    if (eq)
        *eq = 0;
    MHD_http_unescape(piece);
    if (eq)
        MHD_http_unescape(eq + 1);
    ft_http_kv *q = ft_realloc(r->query, (r->n_query + 1) * sizeof *q);
    if (!q)
        return;
    r->query = q;
    q[r->n_query].key = ft_strdup(piece);
    q[r->n_query].val = eq ? ft_strdup(eq + 1) : NULL;
    if (!q[r->n_query].key || (eq && !q[r->n_query].val)) {
        ft_free(q[r->n_query].key);
        ft_free(q[r->n_query].val);
        return;
    }
    r->n_query++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const methods[4] = {"GET", "HEAD", "DELETE", "POST"};
    uint8_t opt = data[0];
    char *url = malloc(size);
    if (!url)
        return 0;
    memcpy(url, data + 1, size - 1);
    url[size - 1] = 0; // a C string, as libmicrohttpd hands it over: stops at a NUL

    fz_http_setup();
    ft_http_req r;
    char *qs = strchr(url, '?');
    if (qs)
        *qs++ = 0;
    MHD_http_unescape(url);
    fz_req_init(&r, methods[opt & 3], url);
    r.key_id = (opt & 4) ? 1 : 0;
    for (char *p = qs; p;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = 0;
        add_arg(&r, p);
        p = amp ? amp + 1 : NULL;
    }

    ft_detector_kind k;
    const char *det = ft_http_query(&r, "detector");
    if (det && ft_detector_parse(det, &k) && !ft_detector_name(k))
        abort();

    bool path_matched;
    int i = ft_http__route_match(ft_http__routes, ft_http__n_routes, r.method, r.path, &r,
                                 &path_matched);
    if (i >= 0) {
        const ft_route *rt = &ft_http__routes[i];
        if (r.n_params > FT_ROUTE_MAX_PARAMS)
            abort();
        for (size_t p = 0; p < r.n_params; p++)
            if (strlen(r.params[p]) >= FT_PARAM_MAX || !r.params[p][0])
                abort();
        // Read-only routes that need no network and no running daemon.
        bool runs = strcmp(rt->method, "GET") == 0 &&
                    (rt->pool == FT_POOL_DB || strcmp(rt->pattern, "/assets/{file}") == 0);
        if (runs)
            fz_req_run(&r, (size_t)i);
    }
    (void)path_matched;

    for (size_t q = 0; q < r.n_query; q++) {
        ft_free(r.query[q].key);
        ft_free(r.query[q].val);
    }
    ft_free(r.query);
    fz_req_deinit(&r);
    free(url);
    return 0;
}
