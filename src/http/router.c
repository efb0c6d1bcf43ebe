// The route table's two uses: matching a request (method + path, with
// {param} segments) and describing the API as an OpenAPI 3 document, so
// the document cannot list a route that does not exist or miss one that does.
#include "http/http_internal.h"

#include <stdio.h>
#include <string.h>

// Matches one pattern; params go to r (when non-NULL).
static bool match(const char *pat, const char *path, ft_http_req *r, size_t *n_params)
{
    size_t np = 0;
    while (*pat && *path) {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            if (!close)
                return false;
            const char *seg_end = strchr(path, '/');
            size_t len = seg_end ? (size_t)(seg_end - path) : strlen(path);
            if (len == 0 || len >= FT_PARAM_MAX || np >= FT_ROUTE_MAX_PARAMS)
                return false;
            if (r) {
                memcpy(r->params[np], path, len);
                r->params[np][len] = 0;
            }
            np++;
            pat = close + 1;
            path += len;
            continue;
        }
        if (*pat != *path)
            return false;
        pat++;
        path++;
    }
    if (*pat || *path)
        return false;
    *n_params = np;
    return true;
}

int ft_http__route_match(const ft_route *routes, size_t n, const char *method, const char *path,
                         ft_http_req *r, bool *path_matched)
{
    *path_matched = false;
    for (size_t i = 0; i < n; i++) {
        size_t np;
        if (!match(routes[i].pattern, path, NULL, &np))
            continue;
        *path_matched = true;
        bool same = strcmp(routes[i].method, method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0);
        if (!same)
            continue;
        if (r) {
            match(routes[i].pattern, path, r, &np);
            r->n_params = np;
            r->route = &routes[i];
            r->route_index = (int)i;
        }
        return (int)i;
    }
    return -1;
}

// ---- OpenAPI ----

static void lower(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[i] = 0;
}

static json_t *error_response(const char *desc)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static json_t *operation(const ft_route *rt)
{
    json_t *op = json_object();
    char opid[160], *o = opid;
    // operationId: method + pattern with separators folded, e.g. get_api_v1_people_id.
    lower(rt->method, opid, sizeof opid);
    o += strlen(opid);
    for (const char *p = rt->pattern; *p && o < opid + sizeof opid - 2; p++) {
        char c = *p;
        if (c == '/' || c == '.' || c == '-')
            c = '_';
        if (c == '{' || c == '}')
            continue;
        *o++ = c;
    }
    *o = 0;
    json_object_set_new(op, "operationId", json_string(opid));
    json_object_set_new(op, "summary", json_string(rt->summary ? rt->summary : ""));
    json_object_set_new(op, "tags", json_pack("[s]", rt->tag ? rt->tag : "misc"));

    json_t *params = json_array();
    for (const char *p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        if (!close)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(close - p - 1), "in", "path", "required",
                                                1, "schema", "type", "string"));
    }
    if (rt->query_doc) {
        // "name:type:description|..."
        const char *p = rt->query_doc;
        while (*p) {
            const char *end = strchr(p, '|');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char item[256];
            if (len >= sizeof item)
                len = sizeof item - 1;
            memcpy(item, p, len);
            item[len] = 0;
            char *c1 = strchr(item, ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c1 && c2) {
                *c1 = *c2 = 0;
                json_array_append_new(params,
                                      json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", item,
                                                "in", "query", "required", 0, "description",
                                                c2 + 1, "schema", "type", c1 + 1));
            }
            p += len;
            if (*p == '|')
                p++;
        }
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);

    if (rt->body == FT_BODY_JSON)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content",
                                      "application/json", "schema", "type", "object"));
    else if (rt->body == FT_BODY_MULTIPART)
        json_object_set_new(
            op, "requestBody",
            json_pack("{s:b, s:{s:{s:{s:s, s:{s:{s:s, s:s}}}}}}", "required", 1, "content",
                      "multipart/form-data", "schema", "type", "object", "properties",
                      strcmp(rt->pattern, "/api/prediction") == 0 ? "fileImg" : "photo", "type",
                      "string", "format", "binary"));

    const char *mt = rt->produces ? rt->produces : "application/json";
    json_t *ok = json_pack("{s:s, s:{s:{}}}", "description", "success", "content", mt);
    json_t *responses = json_object();
    json_object_set_new(responses, strcmp(rt->method, "POST") == 0 &&
                                           (strstr(rt->pattern, "/people") ||
                                            strstr(rt->pattern, "/keys")) &&
                                           !strchr(rt->pattern, '{')
                                       ? "201"
                                       : "200",
                        ok);
    json_object_set_new(responses, "4XX", error_response("client error"));
    json_object_set_new(responses, "5XX", error_response("server error or busy"));
    json_object_set_new(op, "responses", responses);
    if (rt->roles) {
        json_t *roles = json_array();
        if (rt->roles & FT_HTTP_VIEWER)
            json_array_append_new(roles, json_string("viewer"));
        if (rt->roles & FT_HTTP_DEVICE)
            json_array_append_new(roles, json_string("device"));
        json_array_append_new(roles, json_string("admin"));
        json_object_set_new(op, "x-roles", roles);
        json_object_set_new(op, "security",
                            json_pack("[{s:[]}, {s:[]}]", "apiKey", "bearer"));
    } else {
        json_object_set_new(op, "security", json_array());
    }
    return op;
}

json_t *ft_http__openapi(const ft_route *routes, size_t n, const char *version)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_object_get(paths, routes[i].pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, routes[i].pattern, item);
        }
        char m[16];
        lower(routes[i].method, m, sizeof m);
        json_object_set_new(item, m, operation(&routes[i]));
    }
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:{s:s, s:s, s:s}, s:{s:s, s:s}}, "
        "s:{s:{s:s, s:[s], s:{s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}}}}}}}}",
        "openapi", "3.0.3", "info", "title", "facetracker", "version", version, "description",
        "Face detection, recognition and access decisions. Errors are "
        "{\"error\": {\"code\", \"message\"}}; keys go in X-API-Key or Authorization: Bearer.",
        "paths", paths, "components", "securitySchemes", "apiKey", "type", "apiKey", "in",
        "header", "name", "X-API-Key", "bearer", "type", "http", "scheme", "bearer", "schemas",
        "Error", "type", "object", "required", "error", "properties", "error", "type", "object",
        "required", "code", "message", "properties", "code", "type", "string", "message", "type",
        "string");
    return doc;
}
