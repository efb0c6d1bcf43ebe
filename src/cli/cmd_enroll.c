// `facetracker enroll NAME IMAGE...`: add a person (or more samples of
// one) from photos showing exactly one face each.
#include "cli/cli.h"

#include "access/enroll.h"
#include "core/mem.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker enroll [options] NAME IMAGE...\n"
    "\n"
    "Enrols NAME (created if new) from photos that each show one face. A photo with no face,\n"
    "several faces, or a face below the quality gate (minimum face size and detector score:\n"
    "`facetracker settings`) is an error naming the photo, and nothing is written: all the\n"
    "photos go in together, or none. A face that matches ANOTHER enrolled person (closer to\n"
    "them than the threshold plus the margin) is refused with their name, unless --force.\n"
    "A photo the person already has (same file, or a face within 0.05 of one of their\n"
    "samples) is skipped, not stored twice. Names cannot be all digits. Prints\n"
    "  {\"person\": {\"id\": N, \"name\": S}, \"samples\": [{\"image\": P, \"sample_id\": N, ...}\n"
    "   or {\"image\": P, \"skipped\": \"duplicate\", \"of_sample\": N}]}\n"
    "Recorded in `facetracker audit`.\n"
    "\n"
    "options:\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n"
    "  --external-id ID      a badge or HR number for a new person\n"
    "  --notes TEXT          notes for a new person\n"
    "  --force               enrol even a face that matches another person\n" FT_CLI_FACE_OPTS_HELP;

int ft_cmd_enroll(int argc, char **argv)
{
    ft_cli_face_opts fo;
    ft_cli_face_opts_init(&fo);
    const char *db = NULL, *ext = NULL, *notes = NULL;
    bool force = false;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r < 0)
            return FT_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--external-id") == 0) {
            if (!ft_cli_str(argc, argv, &i, &ext))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--notes") == 0) {
            if (!ft_cli_str(argc, argv, &i, &notes))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("enroll", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else {
            first = i;
            break;
        }
    }
    if (argc - first < 2) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    const char *name = argv[first];
    ft_err err = {0};
    if (ft_gallery_name_check(name, &err) != FT_OK) {
        ft_cli_errorf("enroll", "%s", err.msg);
        return FT_EXIT_USAGE;
    }
    ft_gallery *g = NULL;
    if (ft_cli_gallery("enroll", db, false, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_gallery_policy pol;
    ft_face_models *m = NULL;
    ft_nn_ctx *ctx = NULL;
    int rc = FT_EXIT_OK;
    if (ft_gallery_policy_load(g, &pol, &err) != FT_OK) {
        ft_cli_errorf("enroll", "%s", err.msg);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    if (ft_cli_face_setup("enroll", &fo, &m, &ctx) != FT_OK) {
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    size_t n = (size_t)(argc - first - 1);
    ft_sample *smp = ft_calloc(n, sizeof *smp);
    ft_buf *thumbs = ft_calloc(n, sizeof *thumbs);
    bool *low = ft_calloc(n, sizeof *low);
    int64_t *ids = ft_calloc(n, sizeof *ids);
    float *descs = ft_calloc(n * FT_DESCRIPTOR_DIM_MAX, sizeof *descs);
    ft_descriptor_models mm = {m, NULL};
    if (!smp || !thumbs || !low || !ids || !descs) {
        ft_cli_errorf("enroll", "out of memory");
        rc = FT_EXIT_INPUT;
    }
    for (size_t k = 0; k < n && rc == FT_EXIT_OK; k++) {
        const char *path = argv[first + 1 + (int)k];
        ft_buf src;
        ft_image im;
        ft_image_limits lim = ft_image_limits_default();
        ft_buf_init(&thumbs[k], 0);
        ft_status st = ft_file_read(path, lim.max_bytes, &src, &err);
        if (st == FT_OK) {
            st = ft_image_decode(src.data, src.len, &lim, &im, &err);
            if (st == FT_OK) {
                st = ft_enroll_sample(&mm, ctx, &im, src.data, src.len, &fo.d,
                                      ft_descriptor_net_default(), &pol, &smp[k],
                                      descs + k * FT_DESCRIPTOR_DIM_MAX, &thumbs[k], &low[k],
                                      &err);
                ft_image_deinit(&im);
            }
            ft_buf_deinit(&src);
        }
        if (st != FT_OK) {
            ft_cli_errorf("enroll", "%s: %s; nothing was enrolled", path, ft_err_msg(&err, st));
            rc = FT_EXIT_INPUT;
        }
    }
    int64_t pid = 0;
    ft_enroll_verdict *vd = rc == FT_EXIT_OK ? ft_calloc(n, sizeof *vd) : NULL;
    ft_sample *keep = rc == FT_EXIT_OK ? ft_calloc(n, sizeof *keep) : NULL;
    if (rc == FT_EXIT_OK && (!vd || !keep)) {
        ft_cli_errorf("enroll", "out of memory");
        rc = FT_EXIT_INPUT;
    }
    if (rc == FT_EXIT_OK) {
        ft_person existing;
        bool is_new = ft_gallery_person_find(g, name, &existing, NULL) != FT_OK;
        // Screened before the write: a face of someone else is refused
        // with their name, a photo the person already has is skipped.
        ft_status st = ft_enroll_screen(g, is_new ? 0 : existing.id, &pol, smp, n, vd, &err);
        if (st == FT_OK && !force)
            st = ft_enroll_conflict_error(vd, n, (const char *const *)argv + first + 1, &pol,
                                          &err);
        size_t nk = 0;
        for (size_t k = 0; k < n; k++)
            if (vd[k].kind != FT_ENROLL_DUPLICATE)
                keep[nk++] = smp[k];
        int64_t *kid = ids;
        if (st == FT_OK && nk > 0) {
            st = ft_gallery_enroll(g, is_new ? 0 : existing.id, name, keep, nk, &pid, kid, &err);
            if (st == FT_OK && is_new && (ext || notes))
                st = ft_gallery_person_update(g, pid, ext, notes, &err);
        } else if (st == FT_OK) {
            pid = existing.id; // every photo was a duplicate: nothing to write
        }
        if (st == FT_OK && nk > 0) {
            char actor[FT_AUDIT_ACTOR_MAX + 1], target[48], detail[160];
            size_t nconf = 0;
            for (size_t k = 0; k < n; k++)
                nconf += vd[k].kind == FT_ENROLL_CONFLICT;
            ft_audit_cli_actor(actor);
            snprintf(target, sizeof target, "person:%lld", (long long)pid);
            snprintf(detail, sizeof detail,
                     "{\"samples\": %zu, \"skipped\": %zu, \"new_person\": %s, "
                     "\"forced_conflicts\": %zu}",
                     nk, n - nk, is_new ? "true" : "false", nconf);
            st = ft_gallery_audit_add(g, actor, "person.enrol", target, detail, &err);
        }
        if (st != FT_OK) {
            ft_cli_errorf("enroll", "%s%s", ft_err_msg(&err, st),
                          st == FT_E_EXISTS ? "; nothing was enrolled" : "");
            rc = FT_EXIT_INPUT;
        } else {
            ft_buf b;
            ft_buf_init(&b, 0);
            ft_buf_printf(&b, "{\"person\": {\"id\": %lld, \"name\": ", (long long)pid);
            ft_buf_json_str(&b, name);
            ft_buf_printf(&b, ", \"new\": %s}, \"samples\": [", is_new ? "true" : "false");
            size_t j = 0;
            for (size_t k = 0; k < n; k++) {
                ft_buf_puts(&b, k ? ", {\"image\": " : "{\"image\": ");
                ft_buf_json_str(&b, argv[first + 1 + (int)k]);
                if (vd[k].kind == FT_ENROLL_DUPLICATE) {
                    ft_buf_puts(&b, ", \"skipped\": \"duplicate\", \"of_sample\": ");
                    if (vd[k].dup_sample_id > 0)
                        ft_buf_printf(&b, "%lld", (long long)vd[k].dup_sample_id);
                    else
                        ft_buf_puts(&b, "null");
                    ft_buf_puts(&b, ", \"distance\": ");
                    ft_cli_json_num(&b, vd[k].distance);
                    ft_buf_puts(&b, "}");
                    continue;
                }
                ft_buf_printf(&b, ", \"sample_id\": %lld, \"score\": ", (long long)kid[j++]);
                ft_cli_json_num(&b, smp[k].detector_score);
                ft_buf_printf(&b, ", \"face\": [%d, %d], \"below_threshold\": %s", smp[k].face_w,
                              smp[k].face_h, low[k] ? "true" : "false");
                if (vd[k].kind == FT_ENROLL_CONFLICT) {
                    ft_buf_printf(&b, ", \"forced_match\": {\"id\": %lld, \"name\": ",
                                  (long long)vd[k].other_person_id);
                    ft_buf_json_str(&b, vd[k].other_name);
                    ft_buf_puts(&b, ", \"distance\": ");
                    ft_cli_json_num(&b, vd[k].distance);
                    ft_buf_puts(&b, "}");
                }
                ft_buf_puts(&b, "}");
            }
            ft_buf_puts(&b, "]}");
            ft_cli_emit(&b);
            ft_buf_deinit(&b);
            if (nk < n)
                fprintf(stderr, "facetracker enroll: %zu photo(s) skipped: the person already "
                                "has them\n", n - nk);
        }
    }
    ft_free(vd);
    ft_free(keep);
    for (size_t k = 0; thumbs && k < n; k++)
        ft_buf_deinit(&thumbs[k]);
    ft_free(smp);
    ft_free(thumbs);
    ft_free(low);
    ft_free(ids);
    ft_free(descs);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(m);
    ft_gallery_close(g);
    return rc;
}
