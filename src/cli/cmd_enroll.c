// `facetracker enroll NAME IMAGE...`: add a person (or more samples of
// one) from photos showing exactly one face each.
#include "cli/cli.h"

#include "access/enroll.h"
#include "core/mem.h"
#include "face/descriptor.h"
#include "face/faceres.h"

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
    "samples) is skipped, not stored twice. Names cannot be all digits.\n"
    "Each photo is described in every descriptor space (by default every network whose\n"
    "weights are present: resnet128, and faceres when .cache/human-3.3.6 or\n"
    "$FT_FACERES_MODEL holds it), one sample per space, and the face region is kept with\n"
    "them so that a space added later can be computed (facetracker gallery reindex), with\n"
    "the detector that found the face (--detector, default yunet; the SSD when YuNet finds\n"
    "none): the region's box is that detector's. Prints\n"
    "  {\"person\": {\"id\": N, \"name\": S}, \"samples\": [{\"image\": P, \"sample_id\": N,\n"
    "   \"detector\": S, ...,\n"
    "   \"spaces\": [{\"network\": D, \"space\": S, \"sample_id\": N}]}\n"
    "   or {\"image\": P, \"skipped\": \"duplicate\", \"of_sample\": N}]}\n"
    "Recorded in `facetracker audit`.\n"
    "\n"
    "options:\n"
    "  --descriptor NAME     a descriptor network to enrol in (repeat for several; default:\n"
    "                        every network whose weights are present)\n"
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
    const ft_descriptor_net *nets[8];
    size_t k_nets = 0;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        }
        int r = ft_cli_face_opt(argc, argv, &i, &fo);
        if (r == 0 && strcmp(argv[i], "--descriptor") == 0) {
            const ft_descriptor_net *d = NULL;
            r = ft_cli_descriptor_parse("enroll", argc, argv, &i, &d);
            bool dup = false;
            for (size_t j = 0; r > 0 && j < k_nets; j++)
                dup |= nets[j] == d;
            if (r > 0 && !dup && k_nets < sizeof nets / sizeof nets[0])
                nets[k_nets++] = d;
        }
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
    // The quality gate (shared by every space); the conflict screen loads
    // each space's own threshold and margin.
    if (ft_access_policy_load(g, NULL, &pol, &err) != FT_OK) {
        ft_cli_errorf("enroll", "%s", err.msg);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    ft_faceres *fr = NULL;
    if (k_nets == 0) {
        // Every network whose weights are present.
        size_t nn;
        const ft_descriptor_net *all = ft_descriptor_nets(&nn);
        for (size_t j = 0; j < nn && k_nets < sizeof nets / sizeof nets[0]; j++) {
            if (strcmp(all[j].name, "faceres") == 0) {
                if (ft_faceres_load(ft_descriptor_faceres_path(), NULL, &fr, NULL) != FT_OK)
                    continue;
            }
            nets[k_nets++] = &all[j];
        }
    } else {
        for (size_t j = 0; j < k_nets; j++)
            if (!fr && ft_cli_descriptor_load("enroll", nets[j], &fr) != FT_OK) {
                ft_gallery_close(g);
                return FT_EXIT_INPUT;
            }
    }
    ft_cli_face_opts fo_net = fo;
    fo_net.d.landmarks = fo_net.d.descriptors = false;
    for (size_t j = 0; j < k_nets; j++) {
        ft_describe_opts pj = ft_descriptor_net_pipeline(nets[j], &fo.d);
        fo_net.d.landmarks |= pj.landmarks;
        fo_net.d.descriptors |= pj.descriptors;
    }
    if (ft_cli_face_setup("enroll", &fo_net, &m, &ctx) != FT_OK) {
        ft_faceres_free(fr);
        ft_gallery_close(g);
        return FT_EXIT_INPUT;
    }
    // Photo p's sample in space j is smp[p * k_nets + j].
    size_t n_photos = (size_t)(argc - first - 1);
    size_t n = n_photos * k_nets;
    ft_sample *smp = ft_calloc(n, sizeof *smp);
    ft_buf *thumbs = ft_calloc(n_photos, sizeof *thumbs);
    ft_buf *regions = ft_calloc(n_photos, sizeof *regions);
    bool *low = ft_calloc(n_photos, sizeof *low);
    int64_t *ids = ft_calloc(n, sizeof *ids);
    int64_t *sid = ft_calloc(n, sizeof *sid);
    const char **labels = ft_calloc(n, sizeof *labels);
    float *descs = ft_calloc(n * FT_DESCRIPTOR_DIM_MAX, sizeof *descs);
    ft_descriptor_models mm = {m, fr};
    if (!smp || !thumbs || !regions || !low || !ids || !sid || !labels || !descs) {
        ft_cli_errorf("enroll", "out of memory");
        rc = FT_EXIT_INPUT;
    }
    for (size_t k = 0; k < n_photos && rc == FT_EXIT_OK; k++) {
        const char *path = argv[first + 1 + (int)k];
        ft_buf src;
        ft_image im;
        ft_image_limits lim = ft_image_limits_default();
        ft_buf_init(&thumbs[k], 0);
        ft_buf_init(&regions[k], 0);
        for (size_t j = 0; j < k_nets; j++)
            labels[k * k_nets + j] = path;
        ft_status st = ft_file_read(path, lim.max_bytes, &src, &err);
        if (st == FT_OK) {
            st = ft_image_decode(src.data, src.len, &lim, &im, &err);
            if (st == FT_OK) {
                st = ft_enroll_samples(&mm, ctx, &im, src.data, src.len, &fo.d, nets, k_nets,
                                       &pol, &smp[k * k_nets],
                                       descs + k * k_nets * FT_DESCRIPTOR_DIM_MAX, &thumbs[k],
                                       &regions[k], &low[k], &err);
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
            st = ft_enroll_conflict_error(vd, n, labels, &pol, &err);
        size_t nk = 0;
        for (size_t k = 0; k < n; k++)
            if (vd[k].kind != FT_ENROLL_DUPLICATE)
                keep[nk++] = smp[k];
        int64_t *kid = ids;
        if (st == FT_OK && nk > 0) {
            // The samples, the person if new (with --external-id and --notes),
            // and the audit row ("person:ID"): one transaction.
            char actor[FT_AUDIT_ACTOR_MAX + 1], detail[160];
            size_t nconf = 0;
            for (size_t k = 0; k < n; k++)
                nconf += vd[k].kind == FT_ENROLL_CONFLICT;
            ft_audit_cli_actor(actor);
            snprintf(detail, sizeof detail,
                     "{\"samples\": %zu, \"skipped\": %zu, \"new_person\": %s, "
                     "\"forced_conflicts\": %zu}",
                     nk, n - nk, is_new ? "true" : "false", nconf);
            ft_audit_entry a = {actor, "person.enrol", NULL, detail};
            st = ft_gallery_enroll_audited(g, is_new ? 0 : existing.id, name, is_new ? ext : NULL,
                                           is_new ? notes : NULL, keep, nk, &a, &pid, kid, &err);
        } else if (st == FT_OK) {
            pid = existing.id; // every photo was a duplicate: nothing to write
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
            // The stored samples' ids, in smp's order (0 = skipped).
            for (size_t k = 0, j = 0; st == FT_OK && k < n; k++)
                sid[k] = vd[k].kind == FT_ENROLL_DUPLICATE ? 0 : kid[j++];
            for (size_t p = 0; p < n_photos; p++) {
                // One entry per photo: its first stored space's sample (or,
                // when every space was a duplicate, the first's verdict).
                size_t k = p * k_nets;
                for (size_t q = 0; q < k_nets; q++)
                    if (sid[p * k_nets + q]) {
                        k = p * k_nets + q;
                        break;
                    }
                ft_buf_puts(&b, p ? ", {\"image\": " : "{\"image\": ");
                ft_buf_json_str(&b, argv[first + 1 + (int)p]);
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
                ft_buf_printf(&b, ", \"sample_id\": %lld, \"detector\": \"%s\", \"score\": ",
                              (long long)sid[k], smp[k].detector);
                ft_cli_json_num(&b, smp[k].detector_score);
                ft_buf_printf(&b, ", \"face\": [%d, %d], \"below_threshold\": %s, \"region\": %s",
                              smp[k].face_w, smp[k].face_h, low[p] ? "true" : "false",
                              smp[k].region_len ? "true" : "false");
                ft_buf_puts(&b, ", \"spaces\": [");
                for (size_t q = 0; q < k_nets; q++) {
                    size_t x = p * k_nets + q;
                    ft_buf_printf(&b, "%s{\"network\": \"%s\", \"space\": ", q ? ", " : "",
                                  nets[q]->name);
                    ft_buf_json_str(&b, smp[x].model);
                    if (sid[x])
                        ft_buf_printf(&b, ", \"sample_id\": %lld}", (long long)sid[x]);
                    else
                        ft_buf_puts(&b, ", \"skipped\": \"duplicate\"}");
                }
                ft_buf_puts(&b, "]");
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
                fprintf(stderr, "facetracker enroll: %zu sample(s) skipped: the person already "
                                "has them\n", n - nk);
        }
    }
    ft_free(vd);
    ft_free(keep);
    for (size_t k = 0; thumbs && regions && k < n_photos; k++) {
        ft_buf_deinit(&thumbs[k]);
        ft_buf_deinit(&regions[k]);
    }
    ft_free(smp);
    ft_free(thumbs);
    ft_free(regions);
    ft_free(low);
    ft_free(ids);
    ft_free(sid);
    ft_free(labels);
    ft_free(descs);
    ft_nn_ctx_free(ctx);
    ft_faceres_free(fr);
    ft_face_models_free(m);
    ft_gallery_close(g);
    return rc;
}
