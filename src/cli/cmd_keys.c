// `facetracker keys create|list|revoke`: API keys of the web server.
#include "cli/cli.h"

#include "core/mem.h"
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker keys [--db PATH] create NAME --role admin|device|viewer\n"
    "       facetracker keys [--db PATH] list\n"
    "       facetracker keys [--db PATH] revoke ID\n"
    "\n"
    "Roles: admin (people, samples, settings, keys), device (access checks), viewer (read).\n"
    "create prints the token once; only a salted hash is stored. Clients send it as\n"
    "`Authorization: Bearer TOKEN` (or `X-API-Key: TOKEN`).\n";

int ft_cmd_keys(int argc, char **argv)
{
    const char *db = NULL, *role_s = NULL, *pos[3];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--role") == 0) {
            if (!ft_cli_str(argc, argv, &i, &role_s))
                return FT_EXIT_USAGE;
        } else if (np < 3) {
            pos[np++] = argv[i];
        } else {
            fputs(usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (np == 0 || !((strcmp(pos[0], "create") == 0 && np == 2 && role_s) ||
                     (strcmp(pos[0], "list") == 0 && np == 1) ||
                     (strcmp(pos[0], "revoke") == 0 && np == 2))) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_err err = {0};
    ft_key_role role = FT_ROLE_VIEWER;
    if (role_s && ft_key_role_parse(role_s, &role, &err) != FT_OK) {
        ft_cli_errorf("keys", "%s", err.msg);
        return FT_EXIT_USAGE;
    }
    ft_gallery *g;
    if (ft_cli_gallery("keys", db, strcmp(pos[0], "list") == 0, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_status st;
    ft_buf b;
    ft_buf_init(&b, 0);
    if (strcmp(pos[0], "create") == 0) {
        char token[FT_KEY_TOKEN_MAX];
        int64_t id = 0;
        // The key and its audit row ("key:ID"): one transaction.
        char actor[FT_AUDIT_ACTOR_MAX + 1];
        ft_audit_cli_actor(actor);
        ft_buf d;
        ft_buf_init(&d, 0);
        ft_buf_puts(&d, "{\"name\": ");
        ft_buf_json_str(&d, pos[1]);
        ft_buf_printf(&d, ", \"role\": \"%s\"}", ft_key_role_str(role));
        ft_buf_append(&d, "", 1);
        ft_audit_entry a = {actor, "key.create", NULL, (const char *)d.data};
        st = ft_gallery_key_create_audited(g, pos[1], role, &a, token, &id, &err);
        ft_buf_deinit(&d);
        if (st == FT_OK) {
            ft_buf_printf(&b, "{\"id\": %lld, \"name\": ", (long long)id);
            ft_buf_json_str(&b, pos[1]);
            ft_buf_printf(&b, ", \"role\": \"%s\", \"token\": \"%s\"}", ft_key_role_str(role), token);
            fprintf(stderr, "facetracker keys: the token is shown only now; keep it safe\n");
        }
    } else if (strcmp(pos[0], "list") == 0) {
        ft_api_key *keys = NULL;
        size_t n = 0;
        st = ft_gallery_keys_list(g, &keys, &n, &err);
        if (st == FT_OK) {
            ft_buf_puts(&b, "{\"keys\": [");
            for (size_t k = 0; k < n; k++) {
                ft_buf_printf(&b, "%s{\"id\": %lld, \"name\": ", k ? ", " : "", (long long)keys[k].id);
                ft_buf_json_str(&b, keys[k].name);
                ft_buf_printf(&b, ", \"role\": \"%s\", \"created_at\": %.3f, \"revoked\": %s, "
                                  "\"last_used_at\": ",
                              ft_key_role_str(keys[k].role), keys[k].created_at,
                              keys[k].revoked_at > 0 ? "true" : "false");
                if (keys[k].last_used_at > 0)
                    ft_buf_printf(&b, "%.3f}", keys[k].last_used_at);
                else
                    ft_buf_puts(&b, "null}");
            }
            ft_buf_puts(&b, "]}");
        }
        ft_free(keys);
    } else {
        char *end;
        long long id = strtoll(pos[1], &end, 10);
        if (*end || id <= 0)
            st = ft_err_set(&err, FT_E_INVALID, "revoke: %s is not a key id", pos[1]);
        else {
            char actor[FT_AUDIT_ACTOR_MAX + 1];
            ft_audit_cli_actor(actor);
            ft_audit_entry a = {actor, "key.revoke", NULL, NULL};
            st = ft_gallery_key_revoke_audited(g, id, &a, &err);
        }
        if (st == FT_OK)
            ft_buf_printf(&b, "{\"revoked\": %lld}", id);
    }
    if (st == FT_OK)
        ft_cli_emit(&b);
    else
        ft_cli_errorf("keys", "%s", ft_err_msg(&err, st));
    ft_buf_deinit(&b);
    ft_gallery_close(g);
    return st == FT_OK ? FT_EXIT_OK : FT_EXIT_INPUT;
}
