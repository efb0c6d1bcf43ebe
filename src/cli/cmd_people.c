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
    "       facetracker people [--db PATH] delete PERSON [--yes]\n"
    "       facetracker people [--db PATH] erase PERSON [--yes]\n"
    "\n"
    "PERSON is an exact name, or --id N. A bare number is refused (names cannot be all\n"
    "digits, so `people delete 12` never guesses between the person with id 12 and one\n"
    "named \"12\"): write --id 12.\n"
    "\n"
    "delete removes the person with every sample and thumbnail, and the face images of\n"
    "their access events; the events stay, with the name they had. erase also blanks\n"
    "their name in those events (for a request to be forgotten). Both ask for\n"
    "confirmation on a terminal; scripts pass --yes. Both are recorded in\n"
    "`facetracker audit`. JSON on stdout.\n";

// The person named by `arg` (an exact name) or by --id (id > 0).
static ft_status resolve(ft_gallery *g, int64_t id, const char *arg, ft_person *p, ft_err *err)
{
    if (id > 0)
        return ft_gallery_person_get(g, id, p, err);
    if (*arg && strspn(arg, "0123456789") == strlen(arg))
        return ft_err_set(err, FT_E_INVALID,
                          "'%s' looks like an id: write --id %s (names cannot be all digits)",
                          arg, arg);
    return ft_gallery_person_find(g, arg, p, err);
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
    const char *db = NULL, *pos[3];
    int np = 0;
    long id = 0;
    bool yes = false;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--id") == 0) {
            if (!ft_cli_int(argc, argv, &i, 1, 0x7fffffffL, &id))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--yes") == 0) {
            yes = true;
        } else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") != 0) {
            ft_cli_errorf("people", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (np < 3) {
            pos[np++] = argv[i];
        } else {
            fputs(usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (np == 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    const char *verb = pos[0];
    // With --id the person is not a positional argument.
    int want = id > 0 ? 0 : 1;
    bool known = strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0 ||
                 strcmp(verb, "delete") == 0 || strcmp(verb, "erase") == 0 ||
                 strcmp(verb, "rename") == 0;
    bool ok_usage = (strcmp(verb, "list") == 0 && np == 1 && id == 0) ||
                    ((strcmp(verb, "show") == 0 || strcmp(verb, "delete") == 0 ||
                      strcmp(verb, "erase") == 0) &&
                     np == 1 + want) ||
                    (strcmp(verb, "rename") == 0 && np == 2 + want);
    if (!ok_usage) {
        if (!known)
            ft_cli_errorf("people", "unknown subcommand '%s'", verb);
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    const char *who = want ? pos[1] : "";
    bool ro = strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0;
    ft_gallery *g;
    if (ft_cli_gallery("people", db, ro, &g) != FT_OK)
        return FT_EXIT_INPUT;
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    ft_audit_cli_actor(actor);
    ft_err err = {0};
    ft_status st = FT_OK;
    int rc = FT_EXIT_OK;
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
        st = resolve(g, id, who, &p, &err);
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
                              "\"detector\": \"%s\", \"detector_score\": %.4f, \"face\": "
                              "[%d, %d], \"source_sha256\": \"%s\", \"thumbnail_bytes\": %zu, "
                              "\"created_at\": %.3f}",
                              k ? ", " : "", (long long)smp[k].id, smp[k].model, smp[k].alignment,
                              smp[k].detector, smp[k].detector_score, smp[k].face_w, smp[k].face_h,
                              smp[k].source_sha256, smp[k].thumbnail_len, smp[k].created_at);
            ft_buf_puts(&b, "]}");
        }
        ft_free(smp);
    } else if (strcmp(verb, "rename") == 0) {
        const char *new_name = pos[1 + want];
        st = resolve(g, id, who, &p, &err);
        char old[FT_GALLERY_NAME_MAX + 1];
        snprintf(old, sizeof old, "%s", st == FT_OK ? p.name : "");
        if (st == FT_OK) {
            // The rename and its audit row: one transaction.
            ft_buf d;
            ft_buf_init(&d, 0);
            ft_buf_puts(&d, "{\"old\": ");
            ft_buf_json_str(&d, old);
            ft_buf_puts(&d, ", \"new\": ");
            ft_buf_json_str(&d, new_name);
            ft_buf_puts(&d, "}");
            ft_buf_append(&d, "", 1);
            ft_audit_entry a = {actor, "person.rename", NULL, (const char *)d.data};
            st = ft_gallery_person_rename_audited(g, p.id, new_name, &a, &err);
            ft_buf_deinit(&d);
        }
        if (st == FT_OK)
            st = ft_gallery_person_get(g, p.id, &p, &err);
        if (st == FT_OK) {
            ft_buf_puts(&b, "{\"renamed\": ");
            person_json(&b, &p);
            ft_buf_puts(&b, "}");
        }
    } else {
        bool erase = strcmp(verb, "erase") == 0;
        st = resolve(g, id, who, &p, &err);
        if (st == FT_OK &&
            !ft_cli_confirm("people", yes,
                            erase ? "Erase %s (id %lld): the person, %lld samples, the face "
                                    "images of their events and their name in them?"
                                  : "Delete %s (id %lld) and their %lld samples?",
                            p.name, (long long)p.id, (long long)p.n_samples)) {
            ft_buf_deinit(&b);
            ft_gallery_close(g);
            return FT_EXIT_USAGE;
        }
        if (st == FT_OK && erase) {
            ft_erase_result er;
            st = ft_gallery_person_erase(g, p.id, actor, &er, &err);
            if (st == FT_OK)
                ft_buf_printf(&b, "{\"erased\": {\"id\": %lld, \"samples\": %lld, "
                                  "\"events\": %lld}}",
                              (long long)p.id, (long long)er.samples, (long long)er.events);
        } else if (st == FT_OK) {
            // The deletion and its audit row: one transaction.
            ft_buf d;
            ft_buf_init(&d, 0);
            ft_buf_puts(&d, "{\"name\": ");
            ft_buf_json_str(&d, p.name);
            ft_buf_printf(&d, ", \"samples\": %lld}", (long long)p.n_samples);
            ft_buf_append(&d, "", 1);
            ft_audit_entry a = {actor, "person.delete", NULL, (const char *)d.data};
            st = ft_gallery_person_delete_audited(g, p.id, &a, &err);
            ft_buf_deinit(&d);
            if (st == FT_OK) {
                ft_buf_printf(&b, "{\"deleted\": {\"id\": %lld, \"name\": ", (long long)p.id);
                ft_buf_json_str(&b, p.name);
                ft_buf_printf(&b, ", \"samples\": %lld}}", (long long)p.n_samples);
            }
        }
    }
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
