// Reply helpers for handlers: JSON bodies, the error shape
// {"error": {"code": .., "message": ..}}, the status-to-HTTP mapping, and
// request accessors (query arguments, JSON bodies).
#include "http/http_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void ft_http_reply_json(ft_http_req *r, int status, json_t *j)
{
    r->out.len = 0;
    r->out_type = "application/json";
    // 15 significant digits: event times are Unix seconds with milliseconds.
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (!s || ft_buf_puts(&r->out, s) != FT_OK || ft_buf_puts(&r->out, "\n") != FT_OK) {
        free(s);
        r->out.len = 0;
        r->status = 500;
        ft_buf_puts(&r->out, "{\"error\":{\"code\":\"E_NOMEM\",\"message\":\"out of memory\"}}\n");
        return;
    }
    free(s);
    r->status = status;
}

void ft_http_reply_error(ft_http_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ft_http_reply_json(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

int ft_http_status_for(ft_status st)
{
    switch (st) {
    case FT_OK:
        return 200;
    case FT_E_FORMAT:
    case FT_E_INVALID:
        return 400;
    case FT_E_AUTH:
        return 401;
    case FT_E_NOT_FOUND:
        return 404;
    case FT_E_EXISTS:
        return 409;
    case FT_E_LIMIT:
        return 413;
    case FT_E_UNSUPPORTED:
        return 415;
    case FT_E_NO_FACE:
    case FT_E_MANY_FACES:
    case FT_E_QUALITY:
        return 422;
    case FT_E_CONFIRM:
        return 409;
    case FT_E_BUSY:
    case FT_E_NOMEM:
    // Storage faults (read-only gallery, disk full, I/O): the service is
    // unavailable, and a door must fail closed with a clear 503.
    case FT_E_DB:
    case FT_E_IO:
        return 503;
    default:
        return 500;
    }
}

void ft_http_reply_status(ft_http_req *r, ft_status st, const ft_err *err)
{
    ft_http_reply_error(r, ft_http_status_for(st), ft_status_name(st), "%s", ft_err_msg(err, st));
}

void ft_http_reply_header(ft_http_req *r, const char *name, const char *val)
{
    if (r->n_hdr >= 2)
        return;
    snprintf(r->hdr_name[r->n_hdr], sizeof r->hdr_name[0], "%s", name);
    snprintf(r->hdr_val[r->n_hdr], sizeof r->hdr_val[0], "%s", val);
    r->n_hdr++;
}

const char *ft_http_query(const ft_http_req *r, const char *key)
{
    for (size_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, key) == 0)
            return r->query[i].val ? r->query[i].val : "";
    return NULL;
}

ft_status ft_http_body_json(const ft_http_req *r, json_t **out, ft_err *err)
{
    const char *ct = r->content_type;
    if (ct && strncasecmp(ct, "application/json", 16) != 0)
        return ft_err_set(err, FT_E_UNSUPPORTED, "expected an application/json body, got '%.80s'",
                          ct);
    if (r->body_len == 0)
        return ft_err_set(err, FT_E_FORMAT, "empty body: expected a JSON object");
    json_error_t je;
    json_t *j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return ft_err_set(err, FT_E_FORMAT, "bad JSON at line %d column %d: %s", je.line,
                          je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return ft_err_set(err, FT_E_FORMAT, "expected a JSON object");
    }
    *out = j;
    return FT_OK;
}
