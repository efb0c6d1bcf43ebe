// Declarations shared by the files of src/deliver (not for other modules):
// the sink ops table every delivery target implements (webhook.c, mqtt.c,
// hook.c) and the pieces deliver.c's thread uses to drive them.
#ifndef FT_DELIVER_INTERNAL_H
#define FT_DELIVER_INTERNAL_H

#include "deliver/deliver.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum ft_deliver__result {
    FT_DELIVER__SENT = 0, // the receiver has it: mark the row delivered
    FT_DELIVER__RETRY,    // not this time: back off and try again
    FT_DELIVER__GIVE_UP,  // must never be sent (hook: denied or too old): mark failed
} ft_deliver__result;

// One kind of sink. A sink's state lives behind `impl`; send is called
// from the delivery thread only, one row at a time; state (MQTT) may be
// called from any thread.
typedef struct ft_deliver__sink_ops {
    const char *kind; // "webhook", "mqtt", "hook"
    // Only granted events are queued for it (the door hook).
    bool granted_only;
    // Whether max_attempts applies (the hook gives up by age instead).
    bool max_attempts_apply;
    // Creates the sink from the options (`index` picks a webhook) and
    // writes its name ("webhook <url>", "mqtt <host:port>", "hook") to
    // name[FT_OUTBOX_SINK_MAX + 1]. FT_E_INVALID for a bad option.
    ft_status (*open)(const ft_deliver_opts *o, size_t index, char *name, void **impl,
                      ft_err *err);
    // Sends one event; on RETRY / GIVE_UP writes a one-line reason to
    // error[cap]. `json` is ft_gallery_event_json of `ev`, `len` bytes.
    ft_deliver__result (*send)(void *impl, const ft_outbox_item *row, const ft_event *ev,
                               const char *json, size_t len, char *error, size_t cap);
    // Connected to its receiver (MQTT); NULL: the last attempt's outcome.
    bool (*connected)(void *impl);
    // A source went online/offline (MQTT); NULL: not interested.
    void (*source_state)(void *impl, const char *source, bool online);
    void (*close)(void *impl); // NULL is a no-op
} ft_deliver__sink_ops;

extern const ft_deliver__sink_ops ft_deliver__webhook_ops;
extern const ft_deliver__sink_ops ft_deliver__mqtt_ops;
extern const ft_deliver__sink_ops ft_deliver__hook_ops;

// Splits a command line into words: blanks separate words, '…' quotes
// anything literally, "…" too except \" and \\; no other escapes, no
// expansion of any kind. *argv is one ft_malloc'd block (pointers, then
// strings), NULL-terminated; free with ft_free. FT_E_INVALID for an empty
// line or an unterminated quote.
ft_status ft_deliver__split_argv(const char *line, char ***argv, size_t *argc, ft_err *err);

// A finite double as the shortest of %.15g / %.17g that reads back
// exactly; "" for NaN and infinities. out[32].
void ft_deliver__real_str(double v, char *out);

#endif
