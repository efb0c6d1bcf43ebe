// `facetracker settings show|set|reset`: the access policy (threshold and
// margin of one descriptor space, the shared quality gate and person_cap)
// and the log's retention, with the same bounds, confirmation and audit as
// the web page and the API.
#include "cli/cli.h"

#include "access/access.h"
#include "face/descriptor.h"
#include "gallery/gallery.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: facetracker settings [--db PATH] [--descriptor NAME] [show]\n"
    "       facetracker settings [--db PATH] [--descriptor NAME] set KEY VALUE [--force]\n"
    "       facetracker settings [--db PATH] [--descriptor NAME] reset [--yes]\n"
    "\n"
    "Threshold and margin (and the calibration) belong to one descriptor space:\n"
    "--descriptor resnet128|faceres (default: the product's default network). The other\n"
    "keys are shared by every space.\n"
    "\n"
    "KEY is one of\n"
    "  threshold                 a face is known when its distance to a person is below it;\n"
    "                            lower is stricter (resnet128: (0, 1], default 0.5; faceres:\n"
    "                            (0, 0.8], default its registry value)\n"
    "  margin                    the next other person must be this much further; [0, 0.5]\n"
    "                            (resnet128 0.05, faceres 0.04)\n"
    "  min_face_px               smallest face side the door judges; [20, 2000] (default 80)\n"
    "  min_detector_score        lowest detector score the door judges; [0, 1] (default 0.8)\n"
    "  person_cap                each person's threshold is at most this times the distance\n"
    "                            to their nearest other person; [0, 1], 0 = off (default 0.8)\n"
    "  retention_thumbnails_days face images of events older than this are removed (default\n"
    "                            90; 0 = keep)\n"
    "  retention_events_days     events older than this are removed (default 0 = keep)\n"
    "\n"
    "A threshold above the space's calibrated one (see `facetracker calibrate`) or above its\n"
    "safe maximum (resnet128 0.6, face-api's own equal-error point; faceres 0.40), and a\n"
    "person_cap raised or turned off, let more strangers in: they need --force, and the\n"
    "refusal says which false-accept rate the calibration expects. reset puts the space's\n"
    "and the shared defaults back (asks on a terminal; --yes in scripts). Every change is in\n"
    "`facetracker audit`. Prints the settings of the space as JSON.\n";

// Space sp's setting `base` ("calibrated_far", ...), NaN while unset.
static ft_status space_double(ft_gallery *g, const ft_policy_space *sp, const char *base,
                              double *out, ft_err *err)
{
    char key[72];
    ft_status st = ft_policy_space_key(sp, base, key, sizeof key, err);
    if (st == FT_OK)
        st = ft_gallery_setting_get_double(g, key, NAN, out, err);
    return st;
}

static ft_status show(ft_gallery *g, const ft_policy_space *sp, ft_buf *b, ft_err *err)
{
    ft_gallery_policy p;
    int64_t td, ed;
    double ct, cf, ctarget, cat;
    ft_status st = ft_gallery_policy_load_for(g, sp, &p, err);
    if (st == FT_OK)
        st = ft_gallery_setting_get_int(g, "retention_thumbnails_days",
                                        FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS, &td, err);
    if (st == FT_OK)
        st = ft_gallery_setting_get_int(g, "retention_events_days",
                                        FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS, &ed, err);
    if (st == FT_OK)
        st = space_double(g, sp, "calibrated_threshold", &ct, err);
    if (st == FT_OK)
        st = space_double(g, sp, "calibrated_far", &cf, err);
    if (st == FT_OK)
        st = space_double(g, sp, "calibrated_target", &ctarget, err);
    if (st == FT_OK)
        st = space_double(g, sp, "calibrated_at", &cat, err);
    if (st != FT_OK)
        return st;
    ft_buf_puts(b, "{\"descriptor\": ");
    ft_buf_json_str(b, sp->name);
    ft_buf_puts(b, ", \"threshold\": ");
    ft_cli_json_num(b, p.threshold);
    ft_buf_puts(b, ", \"margin\": ");
    ft_cli_json_num(b, p.margin);
    ft_buf_puts(b, ", \"min_face_px\": ");
    ft_cli_json_num(b, p.min_face_px);
    ft_buf_puts(b, ", \"min_detector_score\": ");
    ft_cli_json_num(b, p.min_detector_score);
    ft_buf_puts(b, ", \"person_cap\": ");
    ft_cli_json_num(b, p.person_cap);
    ft_buf_printf(b, ", \"retention_thumbnails_days\": %lld, \"retention_events_days\": %lld",
                  (long long)td, (long long)ed);
    ft_buf_puts(b, ", \"calibrated\": ");
    if (isnan(ct)) {
        ft_buf_puts(b, "null");
    } else {
        ft_buf_puts(b, "{\"threshold\": ");
        ft_cli_json_num(b, ct);
        ft_buf_puts(b, ", \"far\": ");
        ft_cli_json_num(b, cf);
        ft_buf_puts(b, ", \"target_far\": ");
        ft_cli_json_num(b, ctarget);
        ft_buf_puts(b, ", \"at\": ");
        ft_cli_json_num(b, cat);
        ft_buf_puts(b, "}");
    }
    double far = NAN;
    if (ft_gallery_calibrated_far_for(g, sp, p.threshold, &far, NULL) == FT_OK && !isnan(far)) {
        ft_buf_puts(b, ", \"expected_far\": ");
        ft_cli_json_num(b, far);
    }
    ft_buf_printf(b, ", \"safe_threshold_max\": %g, \"threshold_max\": %g}", sp->safe_threshold,
                  sp->threshold_max);
    return FT_OK;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static ft_status set_one(ft_gallery *g, const ft_policy_space *sp, const char *key,
                         const char *val, bool force, const char *actor, ft_err *err)
{
    double v;
    if (!parse_num(val, &v))
        return ft_err_set(err, FT_E_INVALID, "%s: '%s' is not a number", key, val);
    if (strcmp(key, "retention_thumbnails_days") == 0 ||
        strcmp(key, "retention_events_days") == 0) {
        if (!(v >= 0 && v <= 100000 && v == floor(v)))
            return ft_err_set(err, FT_E_INVALID, "%s: expected whole days from 0 to 100000",
                              key);
        int64_t old = 0;
        ft_status st = ft_gallery_setting_get_int(
            g, key,
            key[10] == 't' ? FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS
                           : FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS,
            &old, err);
        if (st == FT_OK) {
            // The value and its audit row: one transaction.
            char detail[160], target[96], num[32];
            snprintf(detail, sizeof detail, "{\"old\": %lld, \"new\": %lld}", (long long)old,
                     (long long)v);
            snprintf(target, sizeof target, "settings:%s", key);
            snprintf(num, sizeof num, "%lld", (long long)v);
            const char *vp = num;
            ft_audit_entry a = {actor, "settings.change", target, detail};
            st = ft_gallery_settings_set_audited(g, &key, &vp, 1, &a, err);
        }
        return st;
    }
    ft_gallery_policy p;
    ft_status st = ft_gallery_policy_load_for(g, sp, &p, err);
    if (st == FT_E_INVALID) // a stored value out of today's bounds: repair from the defaults
        p = ft_gallery_policy_default_for(sp), st = FT_OK;
    if (st != FT_OK)
        return st;
    if (strcmp(key, "threshold") == 0)
        p.threshold = v;
    else if (strcmp(key, "margin") == 0)
        p.margin = v;
    else if (strcmp(key, "min_face_px") == 0)
        p.min_face_px = v;
    else if (strcmp(key, "min_detector_score") == 0)
        p.min_detector_score = v;
    else if (strcmp(key, "person_cap") == 0)
        p.person_cap = v;
    else
        return ft_err_set(err, FT_E_INVALID,
                          "unknown setting '%s' (threshold, margin, min_face_px, "
                          "min_detector_score, person_cap, retention_thumbnails_days, "
                          "retention_events_days)",
                          key);
    return ft_gallery_policy_change_for(g, sp, &p, force, actor, NULL, err);
}

static ft_status reset(ft_gallery *g, const ft_policy_space *sp, const char *actor, ft_err *err)
{
    ft_gallery_policy p = ft_gallery_policy_default_for(sp);
    // The user confirmed (--yes or the prompt): going back to the defaults
    // may raise a calibrated threshold, and that is what they asked for.
    ft_status st = ft_gallery_policy_change_for(g, sp, &p, true, actor, NULL, err);
    // The retention settings back to their defaults, with the reset's
    // audit row, in one transaction (the policy above has its own row).
    static const char *const keys[2] = {"retention_thumbnails_days", "retention_events_days"};
    const char *const none[2] = {NULL, NULL};
    ft_audit_entry a = {actor, "settings.reset", "settings", NULL};
    if (st == FT_OK)
        st = ft_gallery_settings_set_audited(g, keys, none, 2, &a, err);
    return st;
}

int ft_cmd_settings(int argc, char **argv)
{
    const char *db = NULL, *pos[3];
    int np = 0;
    bool force = false, yes = false;
    const ft_descriptor_net *net = ft_descriptor_net_default();
    for (int i = 1; i < argc; i++) {
        int r;
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if ((r = ft_cli_descriptor_parse("settings", argc, argv, &i, &net)) != 0) {
            if (r < 0)
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--yes") == 0) {
            yes = true;
        } else if (argv[i][0] == '-' && argv[i][1] && !(np == 2 && strcmp(pos[0], "set") == 0)) {
            ft_cli_errorf("settings", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (np < 3) {
            pos[np++] = argv[i];
        } else {
            fputs(usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    const char *verb = np ? pos[0] : "show";
    if (strcmp(verb, "get") == 0) // as in the other tools' "settings get"
        verb = "show";
    ft_policy_space sp = ft_access_policy_space(net);
    if (!((strcmp(verb, "show") == 0 && np <= 1) || (strcmp(verb, "set") == 0 && np == 3) ||
          (strcmp(verb, "reset") == 0 && np == 1))) {
        if (np && strcmp(verb, "show") != 0 && strcmp(verb, "set") != 0 &&
            strcmp(verb, "reset") != 0)
            ft_cli_errorf("settings", "unknown subcommand '%s'", verb);
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    bool ro = strcmp(verb, "show") == 0;
    ft_gallery *g;
    if (ft_cli_gallery("settings", db, ro, &g) != FT_OK)
        return FT_EXIT_INPUT;
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    ft_audit_cli_actor(actor);
    ft_err err = {0};
    ft_status st = FT_OK;
    int rc = FT_EXIT_OK;
    if (strcmp(verb, "set") == 0) {
        st = set_one(g, &sp, pos[1], pos[2], force, actor, &err);
    } else if (strcmp(verb, "reset") == 0) {
        if (!ft_cli_confirm("settings", yes,
                            "Reset the access policy and retention to the defaults?")) {
            ft_gallery_close(g);
            return FT_EXIT_USAGE;
        }
        st = reset(g, &sp, actor, &err);
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    if (st == FT_OK)
        st = show(g, &sp, &b, &err);
    if (st == FT_OK) {
        ft_cli_emit(&b);
    } else {
        ft_cli_errorf("settings", "%s", ft_err_msg(&err, st));
        rc = st == FT_E_CONFIRM ? FT_EXIT_USAGE : FT_EXIT_INPUT;
    }
    ft_buf_deinit(&b);
    ft_gallery_close(g);
    return rc;
}
