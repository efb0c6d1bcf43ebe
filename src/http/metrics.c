// Prometheus metrics: per-route request counters by status class and
// latency histograms, faces detected, access decisions by outcome and
// inference time per network. Lock-free: every cell is an atomic, names
// are registered before the server starts (outcomes and networks on first
// use, under a CAS so two threads agree on the slot).
#include "http/http_internal.h"

#include "core/clock.h"

#include <string.h>

const double ft_hist_bounds[FT_HIST_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};

void ft_hist_observe(ft_hist *h, double seconds)
{
    if (!(seconds >= 0))
        seconds = 0;
    size_t i = 0;
    while (i < FT_HIST_BUCKETS && seconds > ft_hist_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void ft_metrics_init(ft_metrics *m, const ft_route *routes, size_t n_routes)
{
    memset(m, 0, sizeof *m);
    if (n_routes > FT_METRICS_MAX_ROUTES)
        n_routes = FT_METRICS_MAX_ROUTES;
    m->n_routes = n_routes;
    for (size_t i = 0; i < n_routes; i++) {
        m->route_method[i] = routes[i].method;
        m->route_name[i] = routes[i].pattern;
    }
    m->route_method[n_routes] = "";
    m->route_name[n_routes] = "unmatched";
    m->started_ms = ft_now_ms();
}

void ft_metrics_request(ft_metrics *m, int route, int status, double seconds)
{
    size_t r = route < 0 || (size_t)route >= m->n_routes ? m->n_routes : (size_t)route;
    int c = status / 100 - 1;
    if (c < 0 || c > 4)
        c = 5;
    atomic_fetch_add_explicit(&m->requests[r][c], 1, memory_order_relaxed);
    ft_hist_observe(&m->latency[r], seconds);
    if (status == 408)
        atomic_fetch_add_explicit(&m->timeouts, 1, memory_order_relaxed);
}

// Finds or claims the slot for `name` in a table of static strings.
static int slot(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const char *cur = __atomic_load_n(&names[i], __ATOMIC_ACQUIRE);
        if (!cur) {
            const char *expect = NULL;
            if (__atomic_compare_exchange_n(&names[i], &expect, name, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return (int)i;
            cur = expect;
        }
        if (strcmp(cur, name) == 0)
            return (int)i;
    }
    return -1;
}

void ft_metrics_decision(ft_metrics *m, const char *outcome)
{
    int i = slot(m->outcome_name, FT_METRICS_OUTCOMES, outcome);
    if (i >= 0)
        atomic_fetch_add_explicit(&m->decisions[i], 1, memory_order_relaxed);
}

void ft_metrics_inference(ft_metrics *m, const char *net, double seconds)
{
    int i = slot(m->net_name, FT_METRICS_NETS, net);
    if (i >= 0)
        ft_hist_observe(&m->inference[i], seconds);
}

static ft_status render_hist(ft_buf *out, const char *name, const char *labels, ft_hist *h)
{
    ft_status st = FT_OK;
    uint64_t cum = 0;
    for (size_t i = 0; i <= FT_HIST_BUCKETS && st == FT_OK; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < FT_HIST_BUCKETS)
            st = ft_buf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
                               ft_hist_bounds[i], (unsigned long long)cum);
        else
            st = ft_buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                               (unsigned long long)cum);
    }
    if (st == FT_OK)
        st = ft_buf_printf(out, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, labels,
                           (double)atomic_load(&h->sum_ns) / 1e9, name, labels,
                           (unsigned long long)atomic_load(&h->count));
    return st;
}

ft_status ft_metrics_render(ft_metrics *m, const char *gauges, ft_buf *out)
{
    static const char *codes[FT_METRICS_CODES] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    ft_status st = ft_buf_puts(out, "# HELP facetracker_http_requests_total HTTP requests by "
                                    "route and status class.\n"
                                    "# TYPE facetracker_http_requests_total counter\n");
    char labels[256];
    for (size_t r = 0; r <= m->n_routes && st == FT_OK; r++)
        for (int c = 0; c < FT_METRICS_CODES && st == FT_OK; c++) {
            uint64_t v = atomic_load(&m->requests[r][c]);
            if (v)
                st = ft_buf_printf(out,
                                   "facetracker_http_requests_total{method=\"%s\",route=\"%s\","
                                   "code=\"%s\"} %llu\n",
                                   m->route_method[r], m->route_name[r], codes[c],
                                   (unsigned long long)v);
        }
    if (st == FT_OK)
        st = ft_buf_puts(out, "# HELP facetracker_http_request_duration_seconds Time from the "
                              "request head to the response, by route.\n"
                              "# TYPE facetracker_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->n_routes && st == FT_OK; r++) {
        if (!atomic_load(&m->latency[r].count))
            continue;
        snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\"", m->route_method[r],
                 m->route_name[r]);
        st = render_hist(out, "facetracker_http_request_duration_seconds", labels,
                         &m->latency[r]);
    }
    if (st == FT_OK)
        st = ft_buf_printf(
            out,
            "# HELP facetracker_faces_detected_total Faces found by the detector.\n"
            "# TYPE facetracker_faces_detected_total counter\n"
            "facetracker_faces_detected_total %llu\n"
            "# HELP facetracker_http_rejected_busy_total Requests refused with 503 because a "
            "worker queue was full.\n"
            "# TYPE facetracker_http_rejected_busy_total counter\n"
            "facetracker_http_rejected_busy_total %llu\n"
            "# HELP facetracker_http_timeouts_total Requests answered 408.\n"
            "# TYPE facetracker_http_timeouts_total counter\n"
            "facetracker_http_timeouts_total %llu\n"
            "# HELP facetracker_access_decisions_total Access decisions by outcome.\n"
            "# TYPE facetracker_access_decisions_total counter\n",
            (unsigned long long)atomic_load(&m->faces_detected),
            (unsigned long long)atomic_load(&m->rejected_busy),
            (unsigned long long)atomic_load(&m->timeouts));
    for (size_t i = 0; i < FT_METRICS_OUTCOMES && st == FT_OK; i++) {
        const char *name = __atomic_load_n(&m->outcome_name[i], __ATOMIC_ACQUIRE);
        if (name)
            st = ft_buf_printf(out, "facetracker_access_decisions_total{outcome=\"%s\"} %llu\n",
                               name, (unsigned long long)atomic_load(&m->decisions[i]));
    }
    if (st == FT_OK)
        st = ft_buf_puts(out, "# HELP facetracker_inference_seconds Time per network run.\n"
                              "# TYPE facetracker_inference_seconds histogram\n");
    for (size_t i = 0; i < FT_METRICS_NETS && st == FT_OK; i++) {
        const char *name = __atomic_load_n(&m->net_name[i], __ATOMIC_ACQUIRE);
        if (!name)
            continue;
        snprintf(labels, sizeof labels, "net=\"%s\"", name);
        st = render_hist(out, "facetracker_inference_seconds", labels, &m->inference[i]);
    }
    if (st == FT_OK)
        st = ft_buf_printf(out,
                           "# HELP facetracker_uptime_seconds Seconds since the server started.\n"
                           "# TYPE facetracker_uptime_seconds gauge\n"
                           "facetracker_uptime_seconds %.3f\n",
                           (ft_now_ms() - m->started_ms) / 1000.0);
    if (st == FT_OK && gauges)
        st = ft_buf_puts(out, gauges);
    return st;
}
