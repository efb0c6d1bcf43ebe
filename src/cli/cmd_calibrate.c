// `facetracker calibrate`: the threshold for a target false-accept rate,
// from the enrolled samples.
#include "access/access.h"
#include "cli/cli.h"

#include "gallery/gallery.h"

#include <math.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker calibrate [options]\n"
    "\n"
    "Leave-one-out over the enrolled samples: each sample in turn is the probe and the others\n"
    "the gallery. Genuine distances (to the nearest other sample of the same person) and\n"
    "impostor distances (to each other person's nearest sample) give a table of false-accept\n"
    "(FAR) and false-reject (FRR) rates by threshold, and the largest threshold whose FAR is\n"
    "at most the target, which is stored as the gallery's threshold setting, together with\n"
    "the table (so later threshold changes can say which false-accept rate to expect) and a\n"
    "row in `facetracker audit`.\n"
    "\n"
    "Samples, threshold and record are those of one descriptor space (--descriptor; default\n"
    "the product's default network): resnet128's go to the settings \"threshold\",\n"
    "\"calibrated_threshold\", ...; faceres's to \"threshold.faceres\",\n"
    "\"calibrated_threshold.faceres\", ... (see `facetracker settings --descriptor`).\n"
    "\n"
    "A target above 0.01 (1 %) lets more strangers in than a door should: it is stored only\n"
    "with --force. A stored threshold above the space's safe maximum (resnet128 0.6,\n"
    "face-api's equal-error point; faceres 0.40) is reported.\n"
    "\n"
    "options:\n"
    FT_CLI_DESCRIPTOR_HELP
    "  --target-far F        default 0.001 (0.1 %)\n"
    "  --force               store even a target above 0.01\n"
    "  --dry-run             print, store nothing\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n";

int ft_cmd_calibrate(int argc, char **argv)
{
    const char *db = NULL;
    bool dry = false;
    ft_calib_opts o = ft_calib_opts_default();
    const ft_descriptor_net *net = ft_descriptor_net_default();
    for (int i = 1; i < argc; i++) {
        int dr;
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if ((dr = ft_cli_descriptor_parse("calibrate", argc, argv, &i, &net)) != 0) {
            if (dr < 0)
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--target-far") == 0) {
            if (!ft_cli_double(argc, argv, &i, 1e-9, 1, &o.target_far))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--force") == 0) {
            o.confirm = true;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else {
            ft_cli_errorf("calibrate", "unknown argument %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        }
    }
    ft_gallery *g;
    if (ft_cli_gallery("calibrate", db, dry, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_calib_result r = {0};
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    ft_audit_cli_actor(actor);
    o.actor = actor;
    // Samples of the network's space (under the alignment every command
    // uses unless told otherwise), stored into its policy keys. The table
    // first, then the decision to store it: the table is printed whether
    // or not it is stored.
    ft_gallery_space sp = ft_access_space(net, ft_align_default());
    ft_policy_space ps = ft_access_policy_space(net);
    ft_status st = ft_gallery_calibrate(g, &sp, &o, false, &r, &err);
    bool have = st == FT_OK;
    if (have && !dry)
        st = ft_gallery_calibration_save_for(g, &ps, &r, &o, &err);
    int rc = FT_EXIT_OK;
    if (have) {
        ft_buf b;
        ft_buf_init(&b, 0);
        ft_buf_puts(&b, "{\"descriptor\": ");
        ft_buf_json_str(&b, net->name);
        ft_buf_printf(&b, ", \"samples\": %zu, \"people\": %zu, \"genuine_trials\": %zu, "
                          "\"impostor_trials\": %zu, \"target_far\": ",
                      r.n_samples, r.n_people, r.n_genuine, r.n_impostor);
        ft_cli_json_num(&b, o.target_far);
        ft_buf_puts(&b, ", \"threshold\": ");
        ft_cli_json_num(&b, r.threshold);
        ft_buf_puts(&b, ", \"far\": ");
        ft_cli_json_num(&b, r.far);
        ft_buf_puts(&b, ", \"frr\": ");
        ft_cli_json_num(&b, r.frr);
        ft_buf_printf(&b, ", \"stored\": %s, \"table\": [", st == FT_OK && !dry ? "true" : "false");
        for (size_t k = 0; k < r.n_rows; k++) {
            ft_buf_printf(&b, "%s{\"threshold\": %.2f, \"far\": ", k ? ", " : "", r.rows[k].threshold);
            ft_cli_json_num(&b, r.rows[k].far);
            ft_buf_puts(&b, ", \"frr\": ");
            ft_cli_json_num(&b, r.rows[k].frr);
            ft_buf_puts(&b, "}");
        }
        ft_buf_puts(&b, "]}");
        ft_cli_emit(&b);
        ft_buf_deinit(&b);
        if (st == FT_OK && !dry && r.threshold > ps.safe_threshold)
            fprintf(stderr,
                    "facetracker calibrate: note: the stored %s threshold %.2f is above its "
                    "safe maximum %.2f (its equal-error point); it rests on %zu impostor "
                    "trials\n",
                    net->name, r.threshold, ps.safe_threshold, r.n_impostor);
    }
    if (st != FT_OK) {
        ft_cli_errorf("calibrate", "%s", ft_err_msg(&err, st));
        rc = st == FT_E_CONFIRM ? FT_EXIT_USAGE : FT_EXIT_INPUT;
    }
    ft_calib_result_deinit(&r);
    ft_gallery_close(g);
    return rc;
}
