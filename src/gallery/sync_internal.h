// Between the PostgreSQL backend (store_pg.c) and the sync (sync_pg.c):
// attaching handles, the degraded-mode caches and the spool. See sync.h.
#ifndef FT_GALLERY_SYNC_INTERNAL_H
#define FT_GALLERY_SYNC_INTERNAL_H

#include "gallery/gallery_internal.h"
#include "gallery/sync.h"

#include <libpq-fe.h>

// ---- store_pg.c, for the sync ----

// PQconnectdbParams on `url` with bounded waits as defaults the string
// may override: connect_timeout 3 s, TCP keepalives (idle 5 s, every 2 s,
// 3 probes) and tcp_user_timeout 5 s, so a vanished server is noticed
// within seconds instead of the kernel's minutes. NULL only without memory.
PGconn *ft_store__pg_connect(const char *url);

// A handle's connection and the sync it is attached to (NULL if none).
PGconn *ft_store__pg_conn(ft_gallery *g);
ft_gallery_sync *ft_store__pg_sync(ft_gallery *g);

// Stores a spooled event as one transaction on g (a handle of its own):
// INSERT ... ON CONFLICT (uid) DO NOTHING, with its outbox rows when it
// was new. *inserted false: the database had it already. A person deleted
// meanwhile is stored as NULL (the name stays in name_at_time).
ft_status ft_store__pg_event_replay(ft_gallery *g, const ft_event *ev, const char *const *sinks,
                                    size_t n_sinks, bool *inserted, ft_err *err);

// ---- sync_pg.c, for store_pg.c ----

// The table of an attached handle: the PostgreSQL backend's, with
// degraded-mode fallbacks and the spool (sync_pg.c).
const ft_store_ops *ft_sync__ops(void);

// The sync started for exactly `url` (a reference), or NULL.
ft_gallery_sync *ft_sync__attach(const char *url);
void ft_sync__detach(ft_gallery_sync *s);
// True while the listener cannot reach the database; *since (may be
// NULL) gets when it was lost.
bool ft_sync__down(ft_gallery_sync *s, double *since);
// A generation read or committed by a handle (keeps the last known one).
void ft_sync__generation_put(ft_gallery_sync *s, int64_t gen);
bool ft_sync__generation_get(ft_gallery_sync *s, int64_t *gen);

// Last-read values, answered while the database is unreachable.
// setting: value NULL = the key is absent. Returns FT_OK (found),
// FT_E_NOT_FOUND (known absent), or FT_E_IO (never read).
void ft_sync__setting_put(ft_gallery_sync *s, const char *key, const char *value);
ft_status ft_sync__setting_get(ft_gallery_sync *s, const char *key, char *out, size_t cap);
// People's names (all of them, from a matrix load; or one, from a read).
void ft_sync__names_set(ft_gallery_sync *s, const int64_t *ids, char *const *names, size_t n);
void ft_sync__name_put(ft_gallery_sync *s, int64_t id, const char *name);
bool ft_sync__name_get(ft_gallery_sync *s, int64_t id, char *out, size_t cap);
void ft_sync__counts_put(ft_gallery_sync *s, const ft_gallery_counts *c);
bool ft_sync__counts_get(ft_gallery_sync *s, ft_gallery_counts *c);
void ft_sync__key_put(ft_gallery_sync *s, const ft_api_key *k, bool revoked, const char *salt,
                      const char *hash);
bool ft_sync__key_get(ft_gallery_sync *s, int64_t id, ft_api_key *k, bool *revoked, char salt[40],
                      char hash[65]);

// The event path. ft_sync__spooling: true when the event must go to the
// spool now (the database is down, or the spool is not empty: order).
bool ft_sync__spooling(ft_gallery_sync *s);
// Appends ev (with its uid and time already set) and its sinks to the
// spool, durably. FT_E_IO/FT_E_DB if the spool file cannot be written.
ft_status ft_sync__spool_add(ft_gallery_sync *s, const ft_event *ev, const char *const *sinks,
                             size_t n_sinks, ft_err *err);

#endif
