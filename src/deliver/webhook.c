// The webhook sink: POSTs the event JSON to a URL with libcurl (one easy
// handle per sink, so the connection is kept alive between events), signed
// with HMAC-SHA256 of the exact body when a secret is configured. 2xx =
// delivered; any other status, a connection failure or no answer within
// the timeout = retried. See deliver.h for the headers.
#include "deliver/deliver_internal.h"

#include "core/mem.h"
#include "core/sha256.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct webhook {
    CURL *curl;
    char *url;
    char *secret; // NULL = unsigned
    long timeout_ms;
    char curl_err[CURL_ERROR_SIZE];
} webhook;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

// curl_global_init is not guaranteed thread-safe in every libcurl: once,
// from whichever thread gets here first, and never cleaned up (other
// modules may use libcurl too).
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static ft_status url_check(const char *url, ft_err *err)
{
    const char *host;
    if (!url)
        return ft_err_set(err, FT_E_INVALID, "webhook: URL missing");
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return ft_err_set(err, FT_E_INVALID, "webhook \"%s\": URL must start with http:// or "
                                             "https://", url);
    if (!*host || *host == '/' || *host == ':')
        return ft_err_set(err, FT_E_INVALID, "webhook \"%s\": URL has no host", url);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return ft_err_set(err, FT_E_INVALID,
                              "webhook: URL must not contain spaces or control characters");
    if (strlen(url) + strlen("webhook ") > FT_OUTBOX_SINK_MAX)
        return ft_err_set(err, FT_E_INVALID, "webhook: URL longer than %d bytes",
                          FT_OUTBOX_SINK_MAX - 8);
    return FT_OK;
}

// "webhook " + the URL without user:password@ and without ?query or
// #fragment: credentials stay out of outbox rows, stats and /metrics.
static void sink_name(const char *url, char *name)
{
    const char *auth = strstr(url, "://") + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    const char *host = at ? at + 1 : auth;
    size_t scheme_len = (size_t)(auth - url);
    size_t rest = strcspn(host, "?#");
    snprintf(name, FT_OUTBOX_SINK_MAX + 1, "webhook %.*s%.*s", (int)scheme_len, url, (int)rest,
             host);
}

static void wh_close(void *impl)
{
    webhook *w = impl;
    if (!w)
        return;
    if (w->curl)
        curl_easy_cleanup(w->curl);
    ft_free(w->url);
    if (w->secret) {
        // The key stays out of freed memory.
        volatile char *p = w->secret;
        while (*p)
            *p++ = 0;
    }
    ft_free(w->secret);
    ft_free(w);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static ft_status wh_open(const ft_deliver_opts *o, size_t index, char *name, void **impl,
                         ft_err *err)
{
    const ft_deliver_webhook *cfg = &o->webhooks[index];
    ft_status st = url_check(cfg->url, err);
    if (st != FT_OK)
        return st;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return ft_err_set(err, FT_E_INTERNAL, "webhook: curl_global_init: %s",
                          curl_easy_strerror(curl_init_rc));
    webhook *w = ft_calloc(1, sizeof *w);
    if (!w || !(w->url = ft_strdup(cfg->url)) ||
        (cfg->secret && cfg->secret[0] && !(w->secret = ft_strdup(cfg->secret))) ||
        !(w->curl = curl_easy_init())) {
        wh_close(w);
        return ft_err_set(err, FT_E_NOMEM, "webhook: out of memory");
    }
    w->timeout_ms = (long)(o->webhook_timeout_s * 1000.0);
    if (w->timeout_ms < 1)
        w->timeout_ms = 1;
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); // we are one thread of many
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "facetracker/" FT_VERSION);
    sink_name(w->url, name);
    *impl = w;
    return FT_OK;
}

static ft_deliver__result wh_send(void *impl, const ft_outbox_item *row, const ft_event *ev,
                                  const char *json, size_t len, char *error, size_t cap)
{
    webhook *w = impl;
    char h_event[80], h_sig[128];
    struct curl_slist *hdr = NULL, *t;
    ft_deliver__result r = FT_DELIVER__RETRY;
    snprintf(h_event, sizeof h_event, "X-Facetracker-Event: %s", ev->uid);
    const char *lines[4] = {"Content-Type: application/json", h_event,
                            "Expect:", // no 100-continue round trip
                            NULL};
    if (w->secret) {
        char hex[65];
        ft_hmac_sha256_hex(w->secret, strlen(w->secret), json, len, hex);
        snprintf(h_sig, sizeof h_sig, "X-Facetracker-Signature: sha256=%s", hex);
        lines[3] = h_sig;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!lines[i])
            continue;
        if (!(t = curl_slist_append(hdr, lines[i]))) {
            snprintf(error, cap, "out of memory");
            goto done;
        }
        hdr = t;
    }
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    w->curl_err[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(error, cap, "%s", w->curl_err[0] ? w->curl_err : curl_easy_strerror(rc));
        goto done;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
        r = FT_DELIVER__SENT;
    else
        snprintf(error, cap, "HTTP %ld", code);
done:
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    return r;
}

const ft_deliver__sink_ops ft_deliver__webhook_ops = {
    .kind = "webhook",
    .granted_only = false,
    .max_attempts_apply = true,
    .open = wh_open,
    .send = wh_send,
    .connected = NULL,
    .source_state = NULL,
    .close = wh_close,
};
