// Delivering door events to the outside: webhooks (libcurl, HMAC-SHA256
// signed), MQTT (libmosquitto, QoS 1) and the door hook (a command run with
// the decision in its environment). Every event is stored first, with one
// outbox row per sink (ft_gallery_event_add_outbox); a delivery thread
// sends the rows of each sink in order and marks them delivered, retrying
// with backoff while a receiver is down. Sits on gallery/ and core/.
//
// Sinks are named by what they send to ("webhook https://host/path",
// "mqtt 127.0.0.1:1883", "hook"): the names go into outbox rows, so a
// restart with the same configuration delivers what was pending. A
// webhook's name leaves out the URL's user:password@ and ?query, which
// may hold credentials (names show up in stats and /metrics).
//
// Payloads: the event JSON of ft_gallery_event_json.
//   webhook: POST, Content-Type application/json, headers
//     X-Facetracker-Event: <event uid>            (the idempotency key)
//     X-Facetracker-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//     (when a secret is configured); 2xx = delivered, anything else or no
//     answer within the timeout = retried with backoff.
//   MQTT: topic <prefix>/<source>/access, QoS 1, not retained; delivered
//     when the broker acknowledges (PUBACK). <prefix>/<source>/status is a
//     retained "online" / "offline" per source (ft_deliver_source_state),
//     and the client's will sets <prefix>/server/<client id>/status offline.
//   hook: argv from the configured command line (split into words with
//     '…' and "…" quoting, no shell, no expansion), run with the event in
//     the environment: FT_EVENT_JSON, FT_EVENT_ID, FT_EVENT_UID, FT_SOURCE,
//     FT_TRACK, FT_DECISION, FT_REASON, FT_PERSON_ID, FT_PERSON_NAME,
//     FT_DISTANCE; killed after its time limit; exit 0 = delivered. Only
//     granted events go to the hook; a row older than hook_max_age_s is
//     given up, not run (a door must not open for someone long gone).
//
// Threading: one delivery thread per sink, each with its own gallery
// connection, so a slow or unreachable receiver never holds up another
// sink (the door hook above all); every function here may be called from
// any thread. Rows whose sink is no longer configured stay in the outbox
// untouched (and are not counted by flush or stats).
#ifndef FT_DELIVER_DELIVER_H
#define FT_DELIVER_DELIVER_H

#include "core/status.h"
#include "gallery/gallery.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_DELIVER_MAX_WEBHOOKS 8

typedef struct ft_deliver_webhook {
    const char *url;    // http:// or https://
    const char *secret; // HMAC key; NULL or "" = unsigned
} ft_deliver_webhook;

typedef struct ft_deliver_opts {
    const char *db_path; // the gallery holding the outbox (NULL = default path)
    ft_deliver_webhook webhooks[FT_DELIVER_MAX_WEBHOOKS];
    size_t n_webhooks;
    double webhook_timeout_s; // default 5; also how long MQTT waits for a PUBACK
    // MQTT: "host" or "host:port" (default port 1883); NULL = no MQTT.
    const char *mqtt;
    const char *mqtt_prefix;    // default "facetracker"
    const char *mqtt_client_id; // default "facetracker-<hostname>-<pid>"
    const char *mqtt_username;  // optional; the password comes from $FT_MQTT_PASSWORD
    // Door hook command line; NULL = none.
    const char *on_grant;
    double hook_timeout_s;  // default 5
    double hook_max_age_s;  // default 10
    double backoff_min_s;   // default 0.5
    double backoff_max_s;   // default 60
    int max_attempts;       // webhook/MQTT rows given up after this many; 0 = never (default)
} ft_deliver_opts;

ft_deliver_opts ft_deliver_opts_default(void);

typedef struct ft_deliver ft_deliver;

// Checks the options (URLs, the hook's command line), opens its gallery
// connection and starts the delivery thread (and the MQTT client, which
// connects in the background and keeps reconnecting). FT_E_INVALID for a
// bad option, with the reason.
ft_status ft_deliver_start(const ft_deliver_opts *o, ft_deliver **out, ft_err *err);

// The sink names an event with this decision must be queued for (the hook
// only for granted ones). Borrowed; valid until ft_deliver_stop. d may be
// NULL (no sinks).
size_t ft_deliver_sinks(const ft_deliver *d, ft_decision decision, const char *const **names);

// New outbox rows were committed: look now rather than at the next poll.
void ft_deliver_kick(ft_deliver *d);

// An event that could not be stored yet (a shared gallery's database is
// away: the event waits in the server's spool, gallery/sync.h) is sent to
// its sinks now, each trying once, from memory (a copy; the thumbnail is
// not kept). A sink that sent it marks the outbox row made when the event
// reaches the database as delivered without sending it again (it
// remembers its last 256 such uids); one that did not delivers that row
// as usual. The door hook runs at once, so a door opens during a database
// outage. d may be NULL.
void ft_deliver_direct(ft_deliver *d, const ft_event *ev);

// A source went online or offline (MQTT retained status message).
void ft_deliver_source_state(ft_deliver *d, const char *source, bool online);

typedef struct ft_deliver_sink_stats {
    char name[FT_OUTBOX_SINK_MAX + 1];
    // Since ft_deliver_start: rows delivered, failed attempts that will be
    // retried, rows given up (max_attempts; the hook: denied, too old).
    int64_t delivered, retries, failed;
    int64_t pending; // in the outbox after the sink's last pass (-1 = not known yet)
    bool connected; // MQTT: connected to the broker; others: last attempt succeeded
    char last_error[256]; // the most recent failure ("" = none yet); kept after a success
} ft_deliver_sink_stats;

// Up to `cap` sinks' counters; returns how many sinks there are.
size_t ft_deliver_stats(ft_deliver *d, ft_deliver_sink_stats *out, size_t cap);

// Waits up to timeout_s for every pending row to be delivered (tests, a
// clean shutdown); FT_E_BUSY if some are still pending.
ft_status ft_deliver_flush(ft_deliver *d, double timeout_s, ft_err *err);

// Stops the thread (an attempt in progress finishes or times out) and
// frees everything; undelivered rows stay in the outbox. NULL is a no-op.
void ft_deliver_stop(ft_deliver *d);

#endif
