// The gallery's storage interface (internal to src/gallery): one table of
// operations per backend, the way SQLite's VFS abstracts files. The public
// functions of gallery.h check their arguments where the rule is the
// contract's, then dispatch through g->ops; composed operations (typed
// settings, policy load/review/change, calibration, CSV and JSON, key
// verification) are written once on top of the table.
//
// Backends: SQLite (store_sqlite.c; the code in gallery.c, events.c,
// outbox.c, settings.c, keys.c, audit.c, retention.c, match.c, backup.c)
// and PostgreSQL through libpq (store_pg.c). ft_gallery_open picks one by
// the location string: "postgresql://" or "postgres://" is PostgreSQL,
// anything else a SQLite path.
//
// Every operation returns FT_OK or an ft_status with ft_err filled. A
// backend that lacks an operation leaves it NULL: the dispatcher answers
// FT_E_UNSUPPORTED naming the operation and the backend.
#ifndef FT_GALLERY_STORE_H
#define FT_GALLERY_STORE_H

#include "gallery/gallery.h"

// One settings write of a policy change or calibration: `n` keys with
// their values (NULL value = delete the key), plus (if action != NULL) one
// audit row, in ONE transaction.
typedef ft_audit_entry ft_store_audit;

// The change feed's position, as a matrix remembers it: `generation` is
// the gallery's people/samples version (bumped in the same transaction as
// every change to them, by any connection anywhere), `cookie` a
// backend-defined cheap marker (SQLite: data_version and this
// connection's commits) that says "nothing was committed at all".
typedef struct ft_store_mark {
    int64_t generation;
    int64_t cookie[2];
} ft_store_mark;

// Whole-table copies (ft_gallery_copy): the tables of a gallery as typed
// rows, described once (copy.c) with the column names both schemas share.
typedef enum ft_store_col { FT_COL_INT, FT_COL_REAL, FT_COL_TEXT, FT_COL_BLOB } ft_store_col;

typedef struct ft_store_table {
    const char *name;  // "people", ...
    const char *cols;  // "id, name, ..." in the order of types
    const char *where; // NULL or a filter ("key <> 'generation'")
    const char *order; // the ORDER BY column ("id", "key")
    int n;
    const ft_store_col *types;
    bool has_id; // an id column whose sequence continues after the copy
} ft_store_table;

typedef struct ft_store_value {
    bool null;
    int64_t i;
    double d;
    const void *p; // TEXT (not NUL-terminated) or BLOB bytes
    size_t len;
} ft_store_value;

typedef ft_status (*ft_store_row_fn)(void *arg, const ft_store_table *t, const ft_store_value *v,
                                     ft_err *err);

typedef struct ft_store_ops {
    const char *name; // "sqlite", "postgresql"

    void (*close)(ft_gallery *g);
    ft_status (*counts_get)(ft_gallery *g, ft_gallery_counts *out, ft_err *err);
    ft_status (*check)(ft_gallery *g, ft_err *err);

    // ---- People ----
    ft_status (*person_add)(ft_gallery *g, const char *name, const char *external_id,
                            const char *notes, int64_t *id_out, ft_err *err);
    ft_status (*person_get)(ft_gallery *g, int64_t id, ft_person *out, ft_err *err);
    ft_status (*person_find)(ft_gallery *g, const char *name, ft_person *out, ft_err *err);
    ft_status (*people_list)(ft_gallery *g, ft_person **out, size_t *n, ft_err *err);
    ft_status (*person_rename)(ft_gallery *g, int64_t id, const char *name, ft_err *err);
    ft_status (*person_update)(ft_gallery *g, int64_t id, const char *external_id,
                               const char *notes, ft_err *err);
    ft_status (*person_delete)(ft_gallery *g, int64_t id, ft_err *err);
    ft_status (*person_erase)(ft_gallery *g, int64_t id, const char *actor, ft_erase_result *out,
                              ft_err *err);

    // ---- Samples (descriptor space = model, vector = dim floats) ----
    // external_id and notes (NULL = none) are a new person's; ignored
    // when the person exists.
    ft_status (*enroll)(ft_gallery *g, int64_t person_id, const char *name,
                        const char *external_id, const char *notes, const ft_sample *samples,
                        size_t n, int64_t *person_out, int64_t *sample_ids, ft_err *err);
    ft_status (*samples_list)(ft_gallery *g, int64_t person_id, ft_sample **out, size_t *n,
                              ft_err *err);
    ft_status (*sample_delete)(ft_gallery *g, int64_t sample_id, ft_err *err);
    ft_status (*sample_thumbnail)(ft_gallery *g, int64_t sample_id, ft_buf *out, ft_err *err);
    ft_status (*sample_region)(ft_gallery *g, int64_t sample_id, ft_buf *out, float box[4],
                               ft_err *err);

    // ---- Events and outbox ----
    ft_status (*event_add_outbox)(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                  size_t n_sinks, ft_err *err);
    ft_status (*events_query)(ft_gallery *g, const ft_event_query *q, ft_event **out, size_t *n,
                              int64_t *total, ft_err *err);
    ft_status (*event_get)(ft_gallery *g, int64_t id, ft_event *out, ft_err *err);
    ft_status (*event_thumbnail)(ft_gallery *g, int64_t event_id, ft_buf *out, ft_err *err);
    // Optional (streams rows); NULL = the generic export over events_query.
    ft_status (*events_csv)(ft_gallery *g, const ft_event_query *q, ft_buf *out, ft_err *err);
    ft_status (*outbox_due)(ft_gallery *g, const char *sink, double now, size_t limit,
                            ft_outbox_item **out, size_t *n, ft_err *err);
    ft_status (*outbox_done)(ft_gallery *g, int64_t id, ft_err *err);
    ft_status (*outbox_retry)(ft_gallery *g, int64_t id, double next_at, const char *error,
                              ft_err *err);
    ft_status (*outbox_fail)(ft_gallery *g, int64_t id, const char *error, ft_err *err);
    ft_status (*outbox_count)(ft_gallery *g, const char *sink, int64_t *pending, int64_t *failed,
                              ft_err *err);

    // ---- Settings (keys and values already checked) ----
    ft_status (*setting_get)(ft_gallery *g, const char *key, char *out, size_t cap, ft_err *err);
    ft_status (*settings_write)(ft_gallery *g, const char *const *keys, const char *const *values,
                                size_t n, const ft_store_audit *audit, ft_err *err);

    // ---- API keys ----
    // Inserts a key row and, in the same transaction, its hash: hash(id,
    // arg, out) computes the stored hash once the id is known.
    ft_status (*key_insert)(ft_gallery *g, const char *name, ft_key_role role, const char *salt,
                            void (*hash)(int64_t id, void *arg, char out[65]), void *arg,
                            int64_t *id_out, ft_err *err);
    ft_status (*keys_list)(ft_gallery *g, ft_api_key **out, size_t *n, ft_err *err);
    ft_status (*key_revoke)(ft_gallery *g, int64_t id, ft_err *err);
    // One key with its salt and stored hash; FT_E_NOT_FOUND if no such id.
    ft_status (*key_lookup)(ft_gallery *g, int64_t id, ft_api_key *k, bool *revoked, char salt[40],
                            char hash[65], ft_err *err);
    // Records last_used_at (advisory: callers ignore failures).
    ft_status (*key_touch)(ft_gallery *g, int64_t id, double now, ft_err *err);

    // ---- Audit ----
    ft_status (*audit_add)(ft_gallery *g, const char *actor, const char *action, const char *target,
                           const char *detail_json, ft_err *err);
    ft_status (*audit_query)(ft_gallery *g, double since, size_t limit, bool oldest_first,
                             ft_audit_row **out, size_t *n, int64_t *total, ft_err *err);

    // ---- Retention ----
    // Deletes events before events_before (0 = none) and clears event
    // thumbnails before thumbs_before (0 = none), with an audit row
    // ("events.purge", the day counts in its detail) when something went,
    // in one transaction.
    ft_status (*retention)(ft_gallery *g, double events_before, double thumbs_before,
                           int64_t event_days, int64_t thumb_days, ft_retention_result *res,
                           ft_err *err);

    // ---- Matching and the change feed ----
    // All samples of one space (a length other than sp->dim is FT_E_DB),
    // rows grouped by person, and the feed position they were read at (one
    // snapshot). The caller sets the matrix's space name.
    ft_status (*matrix_load)(ft_gallery *g, const ft_gallery_space *sp, ft_match_matrix **out,
                             ft_err *err);
    // The current generation (people/samples version).
    ft_status (*generation)(ft_gallery *g, int64_t *out, ft_err *err);
    // Optional: true when nothing at all was committed since `mark` was
    // taken (then the generation cannot have moved); updates nothing.
    // cookie_now receives the current cookie for the next check.
    bool (*quiet_since)(ft_gallery *g, const ft_store_mark *mark, int64_t cookie_now[2]);

    // ---- Whole-table copies ----
    // Every row of t (ordered, filtered) to row(); the values live until it returns.
    ft_status (*rows_read)(ft_gallery *g, const ft_store_table *t, ft_store_row_fn row, void *arg,
                           ft_err *err);
    // A write transaction of rows_write calls with ids as given, then
    // rows_end (continues the id sequences; commits, or rolls back if !ok).
    ft_status (*rows_begin)(ft_gallery *g, ft_err *err);
    ft_status (*rows_write)(ft_gallery *g, const ft_store_table *t, const ft_store_value *v,
                            ft_err *err);
    ft_status (*rows_end)(ft_gallery *g, bool ok, ft_err *err);

    // ---- Storage health and copies (backend-specific; NULL = unsupported) ----
    ft_status (*writable_probe)(ft_gallery *g, ft_err *err);
    ft_status (*backup)(ft_gallery *g, const char *dest, ft_err *err);
} ft_store_ops;

extern const ft_store_ops ft_store_sqlite;
extern const ft_store_ops ft_store_pg;

// Whether `loc` names a PostgreSQL database ("postgresql://", "postgres://").
bool ft_store_is_pg_url(const char *loc);

// The backend openers: fill g (allocated and zeroed by ft_gallery_open,
// with ops, hook, busy_ms and nonce set) or fail; ft_gallery_open then
// closes g through ops->close.
ft_status ft_store__sqlite_open(ft_gallery *g, const char *path, const ft_gallery_opts *o,
                                ft_err *err);
ft_status ft_store__pg_open(ft_gallery *g, const char *url, const ft_gallery_opts *o, ft_err *err);

// Copies `url` to out with any password (userinfo after ':' or a
// password=... parameter) replaced by "***": the only form of a
// connection string that may appear in messages and logs.
void ft_store_url_mask(const char *url, char *out, size_t cap);

#endif
