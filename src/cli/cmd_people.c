// `facetracker people list|show|rename|delete`: the enrolled people.
#include "cli/cli.h"

#include "core/mem.h"
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker people [--db PATH] list\n"
    "       facetracker people [--db PATH] show PERSON\n"
    "       facetracker people [--db PATH] rename PERSON NEW_NAME\n"
    "       facetracker people [--db PATH] delete PERSON\n"
    "\n"
    "PERSON is a name or a numeric id. delete removes the person with every sample and\n"
    "thumbnail; their access events stay, with the name they had. JSON on stdout.\n";

// A person by id ("12") or exact name.
static ft_status resolve(ft_gallery *g, const char *s, ft_person *p, ft_err *err)
{
    char *end;
    long long id = strtoll(s, &end, 10);
    if (*s && !*end && id > 0)
        return ft_gallery_person_get(g, id, p, err);
    return ft_gallery_person_find(g, s, p, err);
}

static void person_json(ft_buf *b, const ft_person *p)
{
    ft_buf_printf(b, "{\"id\": %lld, \"name\": ", (long long)p->id);
    ft_buf_json_str(b, p->name);
    ft_buf_puts(b, ", \"external_id\": ");
    if (p->external_id[0])
        ft_buf_json_str(b, p->external_id);
    else
        ft_buf_puts(b, "null");
    ft_buf_puts(b, ", \"notes\": ");
    ft_buf_json_str(b, p->notes);
    ft_buf_printf(b, ", \"samples\": %lld, \"created_at\": %.3f, \"updated_at\": %.3f}",
                  (long long)p->n_samples, p->created_at, p->updated_at);
}

int ft_cmd_people(int argc, char **argv)
{
    const char *db = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else
            break;
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    const char *verb = argv[i];
    int nargs = argc - i - 1;
    bool ok_usage = (strcmp(verb, "list") == 0 && nargs == 0) ||
                    ((strcmp(verb, "show") == 0 || strcmp(verb, "delete") == 0) && nargs == 1) ||
                    (strcmp(verb, "rename") == 0 && nargs == 2);
    if (!ok_usage) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    bool ro = strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0;
    ft_gallery *g;
    if (ft_cli_gallery("people", db, ro, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_status st = FT_OK;
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_person p;
    if (strcmp(verb, "list") == 0) {
        ft_person *list = NULL;
        size_t n = 0;
        st = ft_gallery_people_list(g, &list, &n, &err);
        if (st == FT_OK) {
            ft_buf_puts(&b, "{\"people\": [");
            for (size_t k = 0; k < n; k++) {
                if (k)
                    ft_buf_puts(&b, ", ");
                person_json(&b, &list[k]);
            }
            ft_buf_puts(&b, "]}");
        }
        ft_free(list);
    } else if (strcmp(verb, "show") == 0) {
        st = resolve(g, argv[i + 1], &p, &err);
        ft_sample *smp = NULL;
        size_t n = 0;
        if (st == FT_OK)
            st = ft_gallery_samples_list(g, p.id, &smp, &n, &err);
        if (st == FT_OK) {
            ft_buf_puts(&b, "{\"person\": ");
            person_json(&b, &p);
            ft_buf_puts(&b, ", \"samples\": [");
            for (size_t k = 0; k < n; k++)
                ft_buf_printf(&b,
                              "%s{\"id\": %lld, \"model\": \"%s\", \"alignment\": \"%s\", "
                              "\"detector_score\": %.4f, \"face\": [%d, %d], \"source_sha256\": "
                              "\"%s\", \"thumbnail_bytes\": %zu, \"created_at\": %.3f}",
                              k ? ", " : "", (long long)smp[k].id, smp[k].model, smp[k].alignment,
                              smp[k].detector_score, smp[k].face_w, smp[k].face_h,
                              smp[k].source_sha256, smp[k].thumbnail_len, smp[k].created_at);
            ft_buf_puts(&b, "]}");
        }
        ft_free(smp);
    } else if (strcmp(verb, "rename") == 0) {
        st = resolve(g, argv[i + 1], &p, &err);
        if (st == FT_OK)
            st = ft_gallery_person_rename(g, p.id, argv[i + 2], &err);
        if (st == FT_OK)
            st = ft_gallery_person_get(g, p.id, &p, &err);
        if (st == FT_OK) {
            ft_buf_puts(&b, "{\"renamed\": ");
            person_json(&b, &p);
            ft_buf_puts(&b, "}");
        }
    } else {
        st = resolve(g, argv[i + 1], &p, &err);
        if (st == FT_OK)
            st = ft_gallery_person_delete(g, p.id, &err);
        if (st == FT_OK) {
            ft_buf_printf(&b, "{\"deleted\": {\"id\": %lld, \"name\": ", (long long)p.id);
            ft_buf_json_str(&b, p.name);
            ft_buf_printf(&b, ", \"samples\": %lld}}", (long long)p.n_samples);
        }
    }
    int rc = FT_EXIT_OK;
    if (st == FT_OK)
        ft_cli_emit(&b);
    else {
        ft_cli_errorf("people", "%s", ft_err_msg(&err, st));
        rc = FT_EXIT_INPUT;
    }
    ft_buf_deinit(&b);
    ft_gallery_close(g);
    return rc;
}
