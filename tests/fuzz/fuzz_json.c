// libFuzzer target for JSON request bodies: ft_http_body_json (jansson with
// duplicate keys refused) and the handlers that read fields from it, run
// through the route table against an in-memory gallery (fuzz_http_common.h).
// Input layout: byte 0 picks the request, the rest is the body:
//   bits 0-2  0 POST /api/v1/people      1 PATCH /api/v1/people/{id}
//             2 PATCH /api/v1/settings   3 POST /api/v1/calibrate
//             4 POST /api/v1/keys        5 POST /api/v1/cameras
//             6, 7 ft_http_body_json alone, then the document is dumped and
//             read back (jansson's own round trip)
//   bits 3-4  Content-Type: application/json, none, "application/json;
//             charset=utf-8", text/plain (refused with 415)
//   bit 5     the request carries API key 1 (the audit names it)
//   bits 6-7  the {id} of the PATCH: 1, 2 (people that exist), 3, 0 (bad)
#include "fuzz_http_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ctypes[4] = {"application/json", NULL,
                                      "application/json; charset=utf-8", "text/plain"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    // A private copy, so ASan sees a read past the body's end.
    uint8_t *body = malloc(size - 1 ? size - 1 : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);

    fz_http_setup();
    ft_http_req r;
    static const char *const methods[6] = {"POST", "PATCH", "PATCH", "POST", "POST", "POST"};
    static const char *const patterns[6] = {"/api/v1/people",    "/api/v1/people/{id}",
                                            "/api/v1/settings",  "/api/v1/calibrate",
                                            "/api/v1/keys",      "/api/v1/cameras"};
    int which = opt & 7;
    fz_req_init(&r, which < 6 ? methods[which] : "POST", which < 6 ? patterns[which] : "/");
    r.content_type = (char *)ctypes[(opt >> 3) & 3];
    r.body = body;
    r.body_len = size - 1;
    r.key_id = (opt & 32) ? 1 : 0;
    if (which < 6) {
        size_t i = fz_route(methods[which], patterns[which]);
        if (which == 1) {
            static const char *const ids[4] = {"1", "2", "3", "0"};
            snprintf(r.params[0], sizeof r.params[0], "%s", ids[opt >> 6]);
            r.n_params = 1;
        }
        fz_req_run(&r, i);
    } else {
        json_t *j = NULL;
        ft_err e;
        ft_err_clear(&e);
        ft_status st = ft_http_body_json(&r, &j, &e);
        if (st == FT_OK) {
            if (!json_is_object(j))
                abort();
            char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            json_t *back = s ? json_loads(s, JSON_REJECT_DUPLICATES, NULL) : NULL;
            if (s && !json_equal(j, back))
                abort(); // what we parse must survive its own serialisation
            json_decref(back);
            free(s);
            json_decref(j);
        } else if (e.msg[0] == '\0') {
            abort(); // every refusal says why
        }
    }
    fz_req_deinit(&r);
    free(body);
    return 0;
}
