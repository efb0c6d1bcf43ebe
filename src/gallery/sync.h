// Many servers on one PostgreSQL gallery (issue 13): a server's link to
// the shared store. One ft_gallery_sync per server process and database:
//
// - The change feed. A thread of its own holds one more libpq connection
//   that LISTENs on facetracker_gallery (every write transaction sends a
//   NOTIFY when it commits, store_pg.c). A notification whose generation
//   moved (people or samples changed) calls on_change, where the server
//   reloads its in-memory templates at once. NOTIFY keeps nothing for a
//   listener that is away: after every (re)connection the sync reads the
//   current generation and calls on_change as a full resynchronisation.
// - Degraded mode. While the listener cannot reach the database, every
//   gallery handle of this process opened on the same connection string
//   fails fast (FT_E_IO, no connection attempt, so no decision waits on a
//   dead server), and the reads a door decision needs answer from what
//   was last read (policy settings, people's names, key hashes, row
//   counts, the generation): doors keep deciding from the gallery in
//   memory. Writes (enrolment, settings, keys...) fail with FT_E_IO and a
//   message that says why.
// - The spool. An event that cannot be stored in the database (down, or
//   a write that failed for the connection) goes to a local SQLite file
//   (synchronous=FULL: a decision given is on disk), with its delivery
//   sinks. While the spool holds anything, new events join its end, so a
//   server's events reach the database in the order they were decided.
//   When the database is back the listener thread replays them one
//   transaction each, oldest first, as INSERT ... ON CONFLICT (uid) DO
//   NOTHING (the event's uid is its idempotency key), and removes each
//   from the spool after its commit: a crash in between replays it, and
//   the database keeps the first copy. Nothing is lost, nothing is stored
//   twice. An event the database refuses for another reason (a constraint)
//   stays in the spool file, marked with the refusal, and is counted.
//
// Handles attach to the sync by their exact connection string when they
// are opened (ft_gallery_open after ft_gallery_sync_start): handles
// opened before it, or on another string, behave as without it.
#ifndef FT_GALLERY_SYNC_H
#define FT_GALLERY_SYNC_H

#include "core/status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ft_gallery_sync ft_gallery_sync;

typedef struct ft_gallery_sync_opts {
    // The spool file (created if missing; locked: one server per file).
    // Required.
    const char *spool_path;
    // Called on the listener thread when the gallery's people/samples
    // changed elsewhere or here (a NOTIFY whose generation moved), after
    // each (re)connection (a full resync), and after ft_gallery_sync_poke.
    // May be NULL. The latency measured is from the commit to its return.
    void (*on_change)(void *arg);
    void *arg;
    int retry_ms; // pause between reconnection attempts; default 250
} ft_gallery_sync_opts;

ft_gallery_sync_opts ft_gallery_sync_opts_default(void);

// Connects the listener (FT_E_IO if the database is unreachable now),
// opens and locks the spool (FT_E_BUSY if another server holds it),
// starts the thread. One sync per connection string per process
// (FT_E_EXISTS otherwise). The string is kept (for reconnecting), never
// shown.
ft_status ft_gallery_sync_start(const char *url, const ft_gallery_sync_opts *o,
                                ft_gallery_sync **out, ft_err *err);
// Stops the thread; handles still attached keep working without it.
// NULL is a no-op.
void ft_gallery_sync_stop(ft_gallery_sync *s);
// Asks the listener thread to call on_change once soon (thread-safe).
void ft_gallery_sync_poke(ft_gallery_sync *s);

typedef struct ft_gallery_sync_status {
    bool connected;          // the listener is connected: the database is reachable
    double down_since;       // Unix seconds the connection was lost; 0 when connected
    int64_t version;         // the gallery's write version, as last heard
    int64_t generation;      // its people/samples generation, as last heard
    int64_t notifies;        // notifications received
    int64_t connects;        // connections made (the first, then one per resync)
    int64_t spooled;         // events waiting in the spool now
    int64_t refused;         // events the database refused (kept in the spool file)
    int64_t flushed;         // spooled events stored since start
    int64_t duplicates;      // of those, already in the database (same uid)
    // NOTIFY-to-applied: from the commit (the database's clock) to
    // on_change returning here, for notifications that moved the
    // generation.
    int64_t lag_count;
    double lag_last_ms, lag_max_ms, lag_sum_ms;
} ft_gallery_sync_status;

void ft_gallery_sync_status_get(ft_gallery_sync *s, ft_gallery_sync_status *out);

#endif
