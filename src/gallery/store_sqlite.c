// The SQLite backend's table of operations (store.h). The operations live
// beside their subject: gallery.c (opening, migrations, people, samples),
// events.c, outbox.c, settings.c, keys.c, audit.c, retention.c, match.c
// and backup.c.
#include "gallery/gallery_internal.h"

#include <stdio.h>

// ---- Whole-table copies ----

static ft_status sq_rows_read(ft_gallery *g, const ft_store_table *t, ft_store_row_fn row,
                              void *arg, ft_err *err)
{
    char sql[512];
    sqlite3_stmt *s;
    ft_store_value v[32];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s%s%s ORDER BY %s", t->cols, t->name,
             t->where ? " WHERE " : "", t->where ? t->where : "", t->order);
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    int rc;
    while (st == FT_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int c = 0; c < t->n; c++) {
            ft_store_value *x = &v[c];
            x->null = sqlite3_column_type(s, c) == SQLITE_NULL;
            x->i = 0, x->d = 0, x->p = NULL, x->len = 0;
            if (x->null)
                continue;
            switch (t->types[c]) {
            case FT_COL_INT:
                x->i = sqlite3_column_int64(s, c);
                break;
            case FT_COL_REAL:
                x->d = sqlite3_column_double(s, c);
                break;
            case FT_COL_TEXT:
                x->p = sqlite3_column_text(s, c);
                x->len = (size_t)sqlite3_column_bytes(s, c);
                break;
            case FT_COL_BLOB:
                x->p = sqlite3_column_blob(s, c);
                x->len = (size_t)sqlite3_column_bytes(s, c);
                break;
            }
        }
        st = row(arg, t, v, err);
    }
    if (st == FT_OK && rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, "read rows");
    sqlite3_finalize(s);
    return st;
}

static ft_status sq_rows_begin(ft_gallery *g, ft_err *err)
{
    return ft_gallery__begin(g, err);
}

static ft_status sq_rows_write(ft_gallery *g, const ft_store_table *t, const ft_store_value *v,
                               ft_err *err)
{
    char sql[768], *p = sql;
    sqlite3_stmt *s;
    p += snprintf(p, 512, "INSERT INTO %s(%s) VALUES (?", t->name, t->cols);
    for (int c = 1; c < t->n; c++)
        p += snprintf(p, 8, ", ?");
    snprintf(p, 4, ")");
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    for (int c = 0; c < t->n; c++) {
        if (v[c].null)
            continue; // unbound: NULL
        switch (t->types[c]) {
        case FT_COL_INT:
            sqlite3_bind_int64(s, c + 1, v[c].i);
            break;
        case FT_COL_REAL:
            sqlite3_bind_double(s, c + 1, v[c].d);
            break;
        case FT_COL_TEXT:
            sqlite3_bind_text(s, c + 1, v[c].p, (int)v[c].len, SQLITE_TRANSIENT);
            break;
        case FT_COL_BLOB:
            sqlite3_bind_blob(s, c + 1, v[c].p ? v[c].p : "", (int)v[c].len, SQLITE_TRANSIENT);
            break;
        }
    }
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        st = ft_gallery__dberr(g, rc, err, t->name);
    sqlite3_finalize(s);
    return st;
}

static ft_status sq_rows_end(ft_gallery *g, bool ok, ft_err *err)
{
    if (!ok) {
        ft_gallery__rollback(g);
        return FT_OK;
    }
    return ft_gallery__commit(g, err);
}

const ft_store_ops ft_store_sqlite = {
    .name = "sqlite",
    .close = ft_gallery__sq_close,
    .counts_get = ft_gallery__sq_counts_get,
    .check = ft_gallery__sq_check,
    .person_add = ft_gallery__sq_person_add,
    .person_get = ft_gallery__sq_person_get,
    .person_find = ft_gallery__sq_person_find,
    .people_list = ft_gallery__sq_people_list,
    .person_rename = ft_gallery__sq_person_rename,
    .person_update = ft_gallery__sq_person_update,
    .person_delete = ft_gallery__sq_person_delete,
    .person_erase = ft_gallery__sq_person_erase,
    .enroll = ft_gallery__sq_enroll,
    .samples_list = ft_gallery__sq_samples_list,
    .sample_delete = ft_gallery__sq_sample_delete,
    .sample_thumbnail = ft_gallery__sq_sample_thumbnail,
    .sample_region = ft_gallery__sq_sample_region,
    .event_add_outbox = ft_gallery__sq_event_add_outbox,
    .events_query = ft_gallery__sq_events_query,
    .event_get = ft_gallery__sq_event_get,
    .event_thumbnail = ft_gallery__sq_event_thumbnail,
    .events_csv = ft_gallery__sq_events_csv,
    .outbox_due = ft_gallery__sq_outbox_due,
    .outbox_done = ft_gallery__sq_outbox_done,
    .outbox_retry = ft_gallery__sq_outbox_retry,
    .outbox_fail = ft_gallery__sq_outbox_fail,
    .outbox_count = ft_gallery__sq_outbox_count,
    .setting_get = ft_gallery__sq_setting_get,
    .settings_write = ft_gallery__sq_settings_write,
    .key_insert = ft_gallery__sq_key_insert,
    .keys_list = ft_gallery__sq_keys_list,
    .key_revoke = ft_gallery__sq_key_revoke,
    .key_lookup = ft_gallery__sq_key_lookup,
    .key_touch = ft_gallery__sq_key_touch,
    .audit_add = ft_gallery__sq_audit_add,
    .audit_query = ft_gallery__sq_audit_query,
    .retention = ft_gallery__sq_retention,
    .matrix_load = ft_gallery__sq_matrix_load,
    .generation = ft_gallery__generation,
    .quiet_since = ft_gallery__sq_quiet_since,
    .rows_read = sq_rows_read,
    .rows_begin = sq_rows_begin,
    .rows_write = sq_rows_write,
    .rows_end = sq_rows_end,
    .writable_probe = ft_gallery__sq_writable_probe,
    .backup = ft_gallery__sq_backup,
};
