// multipart/form-data parser. The format, as read here:
//   Content-Type: multipart/form-data; boundary=B   (B: 1..70 chars, maybe quoted)
//   body     = [preamble CRLF] "--" B pad CRLF part *(CRLF "--" B pad CRLF part)
//              CRLF "--" B "--" [epilogue]
//   part     = *(header CRLF) CRLF data      (data may hold any bytes but CRLF "--" B)
//   header   = name ":" OWS value            (no obs-fold, no control characters)
//   pad      = *(SP / HTAB)                  (transport padding, RFC 2046)
// Content-Disposition must be `form-data` with a `name` parameter; `filename`
// is optional; other headers but Content-Type are ignored. Every scan is
// bounded by the bytes left; a body that ends before the closing delimiter
// is reported as truncated.
#define _GNU_SOURCE // memmem
#include "http/multipart.h"

#include "core/buf.h"
#include "core/mem.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

ft_multipart_limits ft_multipart_limits_default(void)
{
    ft_multipart_limits l = {.max_parts = 32, .max_header_bytes = 8192,
                             .max_body_bytes = 16u << 20};
    return l;
}

// ---- Header parameter syntax (RFC 7230 tokens and quoted strings) ----

static bool is_tchar(int c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

// Reads a token or quoted-string value at *pp into `out` (unescaped,
// NUL-terminated, truncated to `cap`-1 is an error). Returns false on bad
// syntax.
static bool read_value(const char **pp, const char *end, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            if (p >= end)
                return false;
            char c = *p++;
            if (c == '"')
                break;
            if (c == '\\') {
                if (p >= end)
                    return false;
                c = *p++;
            }
            if ((unsigned char)c < 32 && c != '\t')
                return false;
            if (n + 1 >= cap)
                return false;
            out[n++] = c;
        }
    } else {
        while (p < end && is_tchar((unsigned char)*p)) {
            if (n + 1 >= cap)
                return false;
            out[n++] = *p++;
        }
        if (n == 0)
            return false;
    }
    out[n] = 0;
    *pp = p;
    return true;
}

// Iterates `; key=value` parameters after a media type or disposition type.
// Calls fn for each; returns false on bad syntax.
typedef bool (*param_fn)(void *ctx, const char *key, size_t klen, const char *val);

static bool parse_params(const char *p, const char *end, char *valbuf, size_t valcap,
                         param_fn fn, void *ctx)
{
    for (;;) {
        p = skip_ows(p, end);
        if (p == end)
            return true;
        if (*p != ';')
            return false;
        p = skip_ows(p + 1, end);
        if (p == end)
            return true; // a trailing ';' is harmless
        const char *k = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        if (klen == 0)
            return false;
        p = skip_ows(p, end);
        if (p == end || *p != '=')
            return false;
        p = skip_ows(p + 1, end);
        if (!read_value(&p, end, valbuf, valcap))
            return false;
        if (!fn(ctx, k, klen, valbuf))
            return false;
    }
}

static bool key_is(const char *k, size_t klen, const char *want)
{
    return strlen(want) == klen && strncasecmp(k, want, klen) == 0;
}

// ---- Boundary ----

typedef struct boundary_ctx {
    char *out;
    bool found;
} boundary_ctx;

static bool boundary_param(void *vctx, const char *key, size_t klen, const char *val)
{
    boundary_ctx *c = vctx;
    if (!key_is(key, klen, "boundary"))
        return true;
    if (c->found)
        return false; // two boundaries: ambiguous
    size_t n = strlen(val);
    if (n < 1 || n > 70 || val[n - 1] == ' ')
        return false;
    memcpy(c->out, val, n + 1);
    c->found = true;
    return true;
}

ft_status ft_multipart_boundary(const char *content_type, char out[71], ft_err *err)
{
    if (!content_type)
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "expected a multipart/form-data body, got no Content-Type");
    const char *p = content_type, *end = content_type + strlen(content_type);
    p = skip_ows(p, end);
    static const char mt[] = "multipart/form-data";
    if ((size_t)(end - p) < sizeof mt - 1 || strncasecmp(p, mt, sizeof mt - 1) != 0 ||
        (p + sizeof mt - 1 < end && p[sizeof mt - 1] != ';' && p[sizeof mt - 1] != ' ' &&
         p[sizeof mt - 1] != '\t'))
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "expected a multipart/form-data body, got Content-Type '%.80s'",
                          content_type);
    p += sizeof mt - 1;
    char val[128];
    boundary_ctx c = {out, false};
    if (!parse_params(p, end, val, sizeof val, boundary_param, &c))
        return ft_err_set(err, FT_E_FORMAT, "malformed Content-Type parameters (boundary)");
    if (!c.found)
        return ft_err_set(err, FT_E_FORMAT, "multipart/form-data without a boundary");
    return FT_OK;
}

// ---- Body ----

typedef struct part_tmp {
    size_t name, filename, ctype; // offsets into the string buffer; SIZE_MAX = absent
    const uint8_t *data;
    size_t len;
} part_tmp;

typedef struct disp_ctx {
    ft_buf *strs;
    size_t name, filename;
    bool bad;
} disp_ctx;

static bool disp_param(void *vctx, const char *key, size_t klen, const char *val)
{
    disp_ctx *c = vctx;
    size_t *slot = NULL;
    if (key_is(key, klen, "name"))
        slot = &c->name;
    else if (key_is(key, klen, "filename"))
        slot = &c->filename;
    else
        return true;
    if (*slot != SIZE_MAX)
        return false; // duplicate parameter
    *slot = c->strs->len;
    if (ft_buf_append(c->strs, val, strlen(val) + 1) != FT_OK) {
        c->bad = true;
        return false;
    }
    return true;
}

static const uint8_t *find(const uint8_t *hay, size_t hlen, const uint8_t *needle, size_t nlen)
{
    return nlen <= hlen ? memmem(hay, hlen, needle, nlen) : NULL;
}

// Parses one part's header block [h, hend) into `pt`.
static ft_status parse_headers(const char *h, const char *hend, size_t idx, ft_buf *strs,
                               part_tmp *pt, ft_err *err)
{
    bool have_disp = false;
    char val[1024];
    pt->name = pt->filename = pt->ctype = SIZE_MAX;
    while (h < hend) {
        const char *eol = memchr(h, '\r', (size_t)(hend - h));
        if (!eol || eol + 1 >= hend || eol[1] != '\n')
            return ft_err_set(err, FT_E_FORMAT, "part %zu: header line not ended by CRLF", idx);
        for (const char *q = h; q < eol; q++)
            if (((unsigned char)*q < 32 && *q != '\t') || *q == 127)
                return ft_err_set(err, FT_E_FORMAT, "part %zu: control character in header",
                                  idx);
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon || colon == h)
            return ft_err_set(err, FT_E_FORMAT, "part %zu: header line without a name", idx);
        for (const char *q = h; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return ft_err_set(err, FT_E_FORMAT, "part %zu: bad header name", idx);
        size_t nlen = (size_t)(colon - h);
        const char *v = skip_ows(colon + 1, eol);
        const char *vend = eol;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        if (key_is(h, nlen, "Content-Disposition")) {
            if (have_disp)
                return ft_err_set(err, FT_E_FORMAT, "part %zu: two Content-Disposition headers",
                                  idx);
            have_disp = true;
            const char *t = v;
            while (t < vend && is_tchar((unsigned char)*t))
                t++;
            if (!key_is(v, (size_t)(t - v), "form-data"))
                return ft_err_set(err, FT_E_FORMAT,
                                  "part %zu: Content-Disposition is not form-data", idx);
            disp_ctx c = {strs, SIZE_MAX, SIZE_MAX, false};
            if (!parse_params(t, vend, val, sizeof val, disp_param, &c))
                return c.bad ? ft_err_set(err, FT_E_NOMEM, "out of memory")
                             : ft_err_set(err, FT_E_FORMAT,
                                          "part %zu: malformed Content-Disposition", idx);
            if (c.name == SIZE_MAX)
                return ft_err_set(err, FT_E_FORMAT,
                                  "part %zu: Content-Disposition without a name", idx);
            pt->name = c.name;
            pt->filename = c.filename;
        } else if (key_is(h, nlen, "Content-Type")) {
            if (pt->ctype != SIZE_MAX)
                return ft_err_set(err, FT_E_FORMAT, "part %zu: two Content-Type headers", idx);
            pt->ctype = strs->len;
            if (ft_buf_append(strs, v, (size_t)(vend - v)) != FT_OK ||
                ft_buf_append(strs, "", 1) != FT_OK)
                return ft_err_set(err, FT_E_NOMEM, "out of memory");
        }
        h = eol + 2;
    }
    if (!have_disp)
        return ft_err_set(err, FT_E_FORMAT, "part %zu: no Content-Disposition header", idx);
    return FT_OK;
}

ft_status ft_multipart_parse(const uint8_t *body, size_t len, const char *content_type,
                             const ft_multipart_limits *lim, ft_multipart *out, ft_err *err)
{
    ft_multipart_limits dl = ft_multipart_limits_default();
    if (!lim)
        lim = &dl;
    char boundary[71];
    ft_status st = ft_multipart_boundary(content_type, boundary, err);
    if (st != FT_OK)
        return st;
    if (len > lim->max_body_bytes)
        return ft_err_set(err, FT_E_LIMIT, "multipart body of %zu bytes is over the limit of %zu",
                          len, lim->max_body_bytes);
    if (len == 0 || !body)
        return ft_err_set(err, FT_E_FORMAT, "empty multipart body");

    // delim = CRLF "--" boundary; the first delimiter may lack the CRLF.
    uint8_t delim[2 + 2 + 70];
    size_t blen = strlen(boundary), dlen = 4 + blen;
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);

    ft_buf strs;
    ft_buf_init(&strs, 0);
    part_tmp *tmp = NULL;
    size_t n = 0, cap = 0;
    char *block = NULL;
    ft_multipart_part *parts = NULL;

    size_t pos; // offset just past a delimiter
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        const uint8_t *d = find(body, len, delim, dlen);
        if (!d) {
            st = ft_err_set(err, FT_E_FORMAT,
                            "multipart body truncated or malformed: no boundary delimiter found");
            goto fail;
        }
        pos = (size_t)(d - body) + dlen;
    }
    for (;;) {
        // After a delimiter: "--" closes, else padding and CRLF open a part.
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            break;
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (len - pos < 2) {
            st = ft_err_set(err, FT_E_FORMAT,
                            "multipart body truncated after a boundary delimiter");
            goto fail;
        }
        if (body[pos] != '\r' || body[pos + 1] != '\n') {
            st = ft_err_set(err, FT_E_FORMAT, "boundary delimiter not followed by CRLF");
            goto fail;
        }
        pos += 2;
        if (n == lim->max_parts) {
            st = ft_err_set(err, FT_E_LIMIT, "more than %zu parts in the multipart body",
                            lim->max_parts);
            goto fail;
        }
        // Header block: up to the first empty line (which may come at once).
        size_t hstart = pos, hend;
        size_t window = len - pos;
        if (window > lim->max_header_bytes + 4)
            window = lim->max_header_bytes + 4;
        if (window >= 2 && body[pos] == '\r' && body[pos + 1] == '\n') {
            hend = pos;
            pos += 2;
        } else {
            const uint8_t *e = find(body + pos, window, (const uint8_t *)"\r\n\r\n", 4);
            if (!e) {
                if (len - pos <= lim->max_header_bytes + 4)
                    st = ft_err_set(err, FT_E_FORMAT,
                                    "multipart body truncated in the headers of part %zu", n);
                else
                    st = ft_err_set(err, FT_E_LIMIT,
                                    "headers of part %zu are over the limit of %zu bytes", n,
                                    lim->max_header_bytes);
                goto fail;
            }
            hend = (size_t)(e - body) + 2; // keep the last header's CRLF
            if (hend - hstart > lim->max_header_bytes) {
                st = ft_err_set(err, FT_E_LIMIT,
                                "headers of part %zu are over the limit of %zu bytes", n,
                                lim->max_header_bytes);
                goto fail;
            }
            pos = hend + 2;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4, bytes;
            if (!ft_size_mul(ncap, sizeof *tmp, &bytes)) {
                st = ft_err_set(err, FT_E_LIMIT, "too many parts");
                goto fail;
            }
            part_tmp *t2 = ft_realloc(tmp, bytes);
            if (!t2) {
                st = ft_err_set(err, FT_E_NOMEM, "out of memory");
                goto fail;
            }
            tmp = t2;
            cap = ncap;
        }
        part_tmp *pt = &tmp[n];
        st = parse_headers((const char *)body + hstart, (const char *)body + hend, n, &strs, pt,
                           err);
        if (st != FT_OK)
            goto fail;
        const uint8_t *d = find(body + pos, len - pos, delim, dlen);
        if (!d) {
            st = ft_err_set(err, FT_E_FORMAT,
                            "multipart body truncated in part %zu: no closing boundary", n);
            goto fail;
        }
        pt->data = body + pos;
        pt->len = (size_t)(d - (body + pos));
        n++;
        pos = (size_t)(d - body) + dlen;
    }

    // Pack: the part array, then the strings, in one allocation each.
    if (n) {
        parts = ft_calloc(n, sizeof *parts);
        if (!parts) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    if (strs.len) {
        block = ft_malloc(strs.len);
        if (!block) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(block, strs.data, strs.len);
    }
    for (size_t i = 0; i < n; i++) {
        parts[i].name = block + tmp[i].name;
        parts[i].filename = tmp[i].filename == SIZE_MAX ? NULL : block + tmp[i].filename;
        parts[i].content_type = tmp[i].ctype == SIZE_MAX ? NULL : block + tmp[i].ctype;
        parts[i].data = tmp[i].data;
        parts[i].len = tmp[i].len;
    }
    out->parts = parts;
    out->n_parts = n;
    out->strings = block;
    ft_free(tmp);
    ft_buf_deinit(&strs);
    return FT_OK;
fail:
    ft_free(parts);
    ft_free(block);
    ft_free(tmp);
    ft_buf_deinit(&strs);
    return st;
}

void ft_multipart_deinit(ft_multipart *m)
{
    if (!m)
        return;
    ft_free(m->parts);
    ft_free(m->strings);
    m->parts = NULL;
    m->strings = NULL;
    m->n_parts = 0;
}

const ft_multipart_part *ft_multipart_find(const ft_multipart *m, const char *name)
{
    for (size_t i = 0; i < m->n_parts; i++)
        if (strcmp(m->parts[i].name, name) == 0)
            return &m->parts[i];
    return NULL;
}
