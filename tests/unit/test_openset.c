// Unit tests for src/access/openset (the agreement of descriptor spaces
// and the pair calibration) and face/face.h's ft_face_pick_subject. Every
// expected value is worked out by hand in the comments, from the
// hand-made inputs, not from our own output.
#include "access/access.h"
#include "access/openset.h"
#include "face/face.h"
#include "core/mem.h"
#include "ft_test.h"

#include <math.h>

// A match result as ft_match reports it: nearest person at `d`, the next
// other person `p2` at `d2`.
static ft_match_result mr(int64_t p, double d, int64_t p2, double d2)
{
    ft_match_result r = {FT_MATCH_KNOWN, p, 1, d, p2, d2, d2 - d};
    return r;
}

static void test_decide(void)
{
    ft_openset_rule rules[2] = {{0.51, 0.05, 0}, {0.37, 0.04, 0}};
    ft_openset_result o;
    // Both spaces name person 7 well inside threshold and margin.
    ft_match_result r[2] = {mr(7, 0.40, 8, 0.60), mr(7, 0.20, 9, 0.50)};
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_GRANTED);
    FT_CHECK_EQ(o.person_id, 7);
    // The look-alike stranger of docs/ACCURACY.md: the ResNet accepts (0.39
    // < 0.51), faceres does not (0.45 >= 0.37): unknown, space 1.
    r[1] = mr(7, 0.45, 9, 0.60);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_UNKNOWN);
    FT_CHECK_EQ(o.space, 1);
    // Exactly at the threshold is not below it: unknown (space 0).
    r[0] = mr(7, 0.51, 8, 0.90);
    r[1] = mr(7, 0.10, 9, 0.60);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_UNKNOWN);
    FT_CHECK_EQ(o.space, 0);
    // Both accept, but different people: disagree, never granted.
    r[0] = mr(7, 0.30, 8, 0.60);
    r[1] = mr(8, 0.10, 7, 0.60);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_DISAGREE);
    // faceres's margin 0.30 - 0.28 = 0.02 < 0.04: ambiguous in space 1.
    r[1] = mr(7, 0.28, 8, 0.30);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_AMBIGUOUS);
    FT_CHECK_EQ(o.space, 1);
    // Unknown is reported before ambiguous even in a later space.
    r[0] = mr(7, 0.30, 8, 0.31); // ambiguous in space 0
    r[1] = mr(7, 0.50, 8, 0.90); // unknown in space 1
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_UNKNOWN);
    FT_CHECK_EQ(o.space, 1);
    // One person enrolled: the margin is +inf (ft_match's rule) and never
    // refuses; an empty gallery (person 0, +inf) is unknown.
    r[0] = mr(7, 0.30, 0, INFINITY);
    r[1] = mr(7, 0.30, 0, INFINITY);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_GRANTED);
    r[1] = mr(0, INFINITY, 0, INFINITY);
    ft_openset_decide(r, rules, NULL, 2, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_UNKNOWN);
    // A single space is the plain threshold + margin rule.
    r[0] = mr(3, 0.36, 4, 0.41);
    ft_openset_decide(r, rules + 1, NULL, 1, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_GRANTED);
    FT_CHECK_EQ(o.person_id, 3);
    FT_CHECK_STREQ(ft_openset_status_str(FT_OPENSET_DISAGREE), "spaces disagree");
}

static void test_defaults(void)
{
    ft_openset_rule r = {0, 0, 0};
    FT_CHECK(ft_openset_rule_default("resnet128", &r));
    FT_CHECK_DBL_EXACT(r.threshold, 0.51);
    FT_CHECK(ft_openset_rule_default("faceres", &r));
    FT_CHECK_DBL_EXACT(r.threshold, 0.37);
    FT_CHECK_DBL_EXACT(r.alpha, 0.8);
    FT_CHECK(!ft_openset_rule_default("mobileface", &r));
    FT_CHECK_DBL_EXACT(r.threshold, 0.37); // untouched
}

static void test_person_decide(void)
{
    ft_openset_rule rule = {0.37, 0.04, 0.8};
    ft_openset_result o;
    ft_match_result r = mr(7, 0.35, 8, 0.60);
    ft_openset_decide(&r, &rule, NULL, 1, &o); // 0.35 < 0.37
    FT_CHECK_EQ(o.status, FT_OPENSET_GRANTED);
    double tp = 0.30; // person 7 has a look-alike: 0.35 >= 0.30
    ft_openset_decide(&r, &rule, &tp, 1, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_UNKNOWN);
    tp = NAN; // no entry: the rule's threshold
    ft_openset_decide(&r, &rule, &tp, 1, &o);
    FT_CHECK_EQ(o.status, FT_OPENSET_GRANTED);
}

static void test_person_thresholds(void)
{
    ft_err err = {0};
    ft_openset_person *t = NULL;
    size_t np = 0;
    // Euclidean, 2-d, rows of one person not contiguous:
    //   person 1: (0, 0), (0, 0.2); person 2: (0.5, 0.2); person 3: (3, 0), (3, 1).
    // D_1 = D_2 = |(0, 0.2) - (0.5, 0.2)| = 0.5; D_3 = |(3, 0) - (0.5, 0.2)| =
    // sqrt(6.29). Threshold 0.6, alpha 0.8: t_1 = t_2 = 0.4, t_3 = 0.6.
    const float e[10] = {0, 0, 3, 0, 0.5f, 0.2f, 0, 0.2f, 3, 1};
    const int64_t ids[5] = {1, 3, 2, 1, 3};
    FT_CHECK_OK(ft_openset_person_thresholds(e, 2, FT_METRIC_EUCLIDEAN, ids, 5, 0.6, 0.8, &t, &np,
                                             &err),
                &err);
    FT_CHECK_EQ(np, 3);
    FT_CHECK_EQ(t[0].person_id, 1); // order of first appearance
    FT_CHECK_EQ(t[1].person_id, 3);
    FT_CHECK_EQ(t[2].person_id, 2);
    // The inputs are floats (0.2f, 0.5f): distances carry float rounding,
    // about 1e-8 relative; 1e-7 covers it.
    FT_CHECK_NEAR(t[0].nearest, 0.5, 1e-7);
    FT_CHECK_NEAR(t[0].threshold, 0.4, 1e-7);
    FT_CHECK_NEAR(t[2].threshold, 0.4, 1e-7);
    FT_CHECK_NEAR(t[1].nearest, sqrt(6.29), 1e-7);
    FT_CHECK_DBL_EXACT(t[1].threshold, 0.6);
    FT_CHECK_NEAR(ft_openset_person_threshold(t, np, 2, 0.6), 0.4, 1e-7);
    FT_CHECK_DBL_EXACT(ft_openset_person_threshold(t, np, 99, 0.6), 0.6);
    ft_free(t);
    // Cosine on raw rows: person 1 (1, 0), person 2 (1, 1), person 3 (-1, 0.2).
    // d(1,2) = 1 - 1/sqrt(2) = 0.292893; d(2,3) = 1 + 0.8/sqrt(2.08) =
    // 1.554700; d(1,3) = 1 + 1/sqrt(1.04) = 1.980581. With 0.37 / 0.8:
    // t_1 = t_2 = 0.8 * 0.292893 = 0.234315, t_3 = 0.37.
    const float c[6] = {1, 0, 1, 1, -1, 0.2f};
    const int64_t cid[3] = {1, 2, 3};
    FT_CHECK_OK(ft_openset_person_thresholds(c, 2, FT_METRIC_COSINE, cid, 3, 0.37, 0.8, &t, &np,
                                             &err),
                &err);
    FT_CHECK_EQ(np, 3);
    FT_CHECK_NEAR(t[0].threshold, 0.8 * (1 - 1 / sqrt(2.0)), 1e-12); // exact inputs
    FT_CHECK_NEAR(t[1].nearest, 1 - 1 / sqrt(2.0), 1e-12);
    FT_CHECK_NEAR(t[2].nearest, 1 + 0.8 / sqrt(2.08), 1e-7); // 0.2f rounding
    FT_CHECK_DBL_EXACT(t[2].threshold, 0.37);
    ft_free(t);
    // alpha 0: no cap. One person alone: nearest +inf, the threshold.
    FT_CHECK_OK(ft_openset_person_thresholds(c, 2, FT_METRIC_COSINE, cid, 3, 0.37, 0, &t, &np,
                                             &err),
                &err);
    FT_CHECK_DBL_EXACT(t[0].threshold, 0.37);
    ft_free(t);
    FT_CHECK_OK(ft_openset_person_thresholds(c, 2, FT_METRIC_COSINE, cid, 1, 0.37, 0.8, &t, &np,
                                             &err),
                &err);
    FT_CHECK_EQ(np, 1);
    FT_CHECK(isinf(t[0].nearest));
    FT_CHECK_DBL_EXACT(t[0].threshold, 0.37);
    ft_free(t);
    // Invalid input.
    const int64_t bad_id[2] = {1, 0};
    FT_CHECK_EQ(ft_openset_person_thresholds(c, 2, FT_METRIC_COSINE, bad_id, 2, 0.37, 0.8, &t, &np,
                                             &err),
                FT_E_INVALID);
    const float z[4] = {1, 0, 0, 0};
    FT_CHECK_EQ(ft_openset_person_thresholds(z, 2, FT_METRIC_COSINE, cid, 2, 0.37, 0.8, &t, &np,
                                             &err),
                FT_E_INVALID);
    const float nanv[2] = {NAN, 0};
    FT_CHECK_EQ(ft_openset_person_thresholds(nanv, 2, FT_METRIC_EUCLIDEAN, cid, 1, 0.37, 0.8, &t,
                                             &np, &err),
                FT_E_INVALID);
    FT_CHECK_EQ(ft_openset_person_thresholds(c, 0, FT_METRIC_COSINE, cid, 1, 0.37, 0.8, &t, &np,
                                             &err),
                FT_E_INVALID);
}

// The matrix version against the array version on the same hand-made
// rows (whose values are worked out in test_person_thresholds).
static void test_person_thresholds_matrix(void)
{
    ft_err err = {0};
    ft_match_matrix *m = NULL;
    ft_openset_person *t = NULL;
    size_t np = 0;
    const float e[10] = {0, 0, 3, 0, 0.5f, 0.2f, 0, 0.2f, 3, 1};
    const int64_t ids[5] = {1, 3, 2, 1, 3};
    FT_CHECK_OK(ft_match_matrix_new(e, 2, FT_METRIC_EUCLIDEAN, ids, NULL, 5, &m, &err), &err);
    FT_CHECK_OK(ft_openset_person_thresholds_matrix(m, 0.6, 0.8, &t, &np, &err), &err);
    FT_CHECK_EQ(np, 3);
    // The matrix groups rows by person id: 1, 2, 3. Its kernel sums
    // squares in float: 1e-6 covers float rounding of values near 1.
    FT_CHECK_EQ(t[0].person_id, 1);
    FT_CHECK_EQ(t[1].person_id, 2);
    FT_CHECK_EQ(t[2].person_id, 3);
    FT_CHECK_NEAR(t[0].threshold, 0.4, 1e-6);
    FT_CHECK_NEAR(t[1].threshold, 0.4, 1e-6);
    FT_CHECK_NEAR(t[2].nearest, sqrt(6.29), 1e-6);
    FT_CHECK_DBL_EXACT(t[2].threshold, 0.6);
    ft_free(t);
    ft_match_matrix_free(m);
    // Cosine: the matrix keeps unit rows and computes |a - b|^2 / 2.
    const float c[6] = {1, 0, 1, 1, -1, 0.2f};
    const int64_t cid[3] = {1, 2, 3};
    FT_CHECK_OK(ft_match_matrix_new(c, 2, FT_METRIC_COSINE, cid, NULL, 3, &m, &err), &err);
    FT_CHECK_OK(ft_openset_person_thresholds_matrix(m, 0.37, 0.8, &t, &np, &err), &err);
    FT_CHECK_EQ(np, 3);
    FT_CHECK_NEAR(t[0].threshold, 0.8 * (1 - 1 / sqrt(2.0)), 1e-6);
    FT_CHECK_NEAR(t[2].nearest, 1 + 0.8 / sqrt(2.08), 1e-6);
    FT_CHECK_DBL_EXACT(t[2].threshold, 0.37);
    ft_free(t);
    ft_match_matrix_free(m);
    // One person: +inf, the threshold.
    FT_CHECK_OK(ft_match_matrix_new(c, 2, FT_METRIC_COSINE, cid, NULL, 1, &m, &err), &err);
    FT_CHECK_OK(ft_openset_person_thresholds_matrix(m, 0.37, 0.8, &t, &np, &err), &err);
    FT_CHECK_EQ(np, 1);
    FT_CHECK(isinf(t[0].nearest));
    FT_CHECK_DBL_EXACT(t[0].threshold, 0.37);
    ft_free(t);
    ft_match_matrix_free(m);
}

// D_p of one person through 1:N searches (gallery.h) and the decision
// path that uses it (ft_access_match), on the matrix of the test above:
// rows p1 (0,0) (0,0.2); p2 (0.5,0.2); p3 (3,0) (3,1). By hand: D_1 = 0.5
// ((0,0.2) to (0.5,0.2)), D_2 = 0.5, D_3 = |(3,0) - (0.5,0.2)| =
// sqrt(6.29). The same values as ft_openset_person_thresholds_matrix's
// all-pairs answer above.
static void test_person_nearest_one(void)
{
    ft_err err = {0};
    ft_match_matrix *m = NULL;
    const float e[10] = {0, 0, 3, 0, 0.5f, 0.2f, 0, 0.2f, 3, 1};
    const int64_t ids[5] = {1, 3, 2, 1, 3};
    FT_CHECK_OK(ft_match_matrix_new(e, 2, FT_METRIC_EUCLIDEAN, ids, NULL, 5, &m, &err), &err);
    double d = NAN;
    // 1e-6: the kernel sums squares in float.
    FT_CHECK_OK(ft_match_person_nearest(m, 1, &d, &err), &err);
    FT_CHECK_NEAR(d, 0.5, 1e-6);
    FT_CHECK_OK(ft_match_person_nearest(m, 2, &d, &err), &err);
    FT_CHECK_NEAR(d, 0.5, 1e-6);
    FT_CHECK_OK(ft_match_person_nearest(m, 3, &d, &err), &err);
    FT_CHECK_NEAR(d, sqrt(6.29), 1e-6);
    FT_CHECK_EQ(ft_match_person_nearest(m, 9, &d, &err), FT_E_NOT_FOUND);

    // A probe at (0,-0.45): 0.45 from person 1, next (p2) at
    // |(0.5,0.65)| = 0.820. Threshold 0.6, margin 0.05: known without
    // per-person thresholds; with person_cap 0.8 person 1's threshold is
    // 0.8 x 0.5 = 0.4 < 0.45: unknown.
    const float q[2] = {0, -0.45f};
    ft_gallery_policy pol = ft_gallery_policy_default();
    pol.threshold = 0.6;
    pol.margin = 0.05;
    pol.person_cap = 0;
    ft_match_result r;
    ft_gallery_policy eff;
    FT_CHECK_OK(ft_access_match(m, q, 2, &pol, &r, &eff, &err), &err);
    FT_CHECK_EQ(r.person_id, 1);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    FT_CHECK_DBL_EXACT(eff.threshold, 0.6);
    pol.person_cap = 0.8;
    FT_CHECK_OK(ft_access_match(m, q, 2, &pol, &r, &eff, &err), &err);
    FT_CHECK_EQ(r.person_id, 1);
    FT_CHECK_EQ(r.status, FT_MATCH_UNKNOWN);
    FT_CHECK_NEAR(eff.threshold, 0.4, 1e-6);
    ft_face_box box = {0, 0, 200, 200, 0.99};
    ft_access_decision dec;
    ft_access_decide(&box, &r, &eff, &dec);
    FT_CHECK_EQ(dec.decision, FT_DECISION_DENIED);
    FT_CHECK_EQ(dec.reason, FT_REASON_UNKNOWN);
    // A probe at (0,-0.3): 0.3 < 0.4, known under both.
    const float q2[2] = {0, -0.3f};
    FT_CHECK_OK(ft_access_match(m, q2, 2, &pol, &r, &eff, &err), &err);
    FT_CHECK_EQ(r.status, FT_MATCH_KNOWN);
    ft_access_decide(&box, &r, &eff, &dec);
    FT_CHECK_EQ(dec.decision, FT_DECISION_GRANTED);
    FT_CHECK_EQ(dec.person_id, 1);
    ft_match_matrix_free(m);

    // One person: nobody else, +inf.
    FT_CHECK_OK(ft_match_matrix_new(e, 2, FT_METRIC_EUCLIDEAN, ids, NULL, 1, &m, &err), &err);
    FT_CHECK_OK(ft_match_person_nearest(m, 1, &d, &err), &err);
    FT_CHECK(isinf(d));
    ft_match_matrix_free(m);
}

static void test_pair_threshold(void)
{
    ft_err err = {0};
    double t = 0, acc = 0;
    // Separable: same at 0.1, 0.2, 0.3; different at 0.5, 0.6. Every t in
    // (0.3, 0.5] is 100 %; the candidates there are the midpoint 0.4 only
    // (between 0.3 and 0.5), so the plateau middle is 0.4.
    double d1[5] = {0.1, 0.2, 0.3, 0.5, 0.6};
    bool s1[5] = {true, true, true, false, false};
    FT_CHECK_OK(ft_openset_pair_threshold(d1, s1, 5, &t, &acc, &err), &err);
    FT_CHECK_NEAR(t, 0.4, 1e-12); // exact midpoint of two doubles; 1e-12 for rounding
    FT_CHECK_DBL_EXACT(acc, 1.0);
    // Overlap: same 0.1, 0.4; different 0.3, 0.6. Candidates: 0.05 (2/4:
    // both different right), 0.2 (3/4), 0.35 (2/4), 0.5 (3/4), 0.6+ (2/4).
    // Best 3/4 first at 0.2, and the first run is that single candidate.
    double d2[4] = {0.1, 0.3, 0.4, 0.6};
    bool s2[4] = {true, false, true, false};
    FT_CHECK_OK(ft_openset_pair_threshold(d2, s2, 4, &t, &acc, &err), &err);
    FT_CHECK_NEAR(t, 0.2, 1e-12);
    FT_CHECK_DBL_EXACT(acc, 0.75);
    // With a far same pair and a NaN pair (an error at every threshold):
    // same 0.1, 0.2, 0.8, NaN; different 0.5, 0.6, 0.7. Right of 7 at the
    // candidates 0.05, 0.15, 0.35, 0.55, 0.65, 0.75, 0.8+: 3, 4, 5, 4, 3,
    // 2, 3; best 5/7 at 0.35 alone.
    double d3[7] = {0.1, 0.2, 0.5, 0.6, 0.7, 0.8, NAN};
    bool s3[7] = {true, true, false, false, false, true, true};
    FT_CHECK_OK(ft_openset_pair_threshold(d3, s3, 7, &t, &acc, &err), &err);
    FT_CHECK_NEAR(t, 0.35, 1e-12);
    FT_CHECK_NEAR(acc, 5.0 / 7.0, 1e-15); // one division
    // Equal distances on both sides: same 0.3, different 0.3 and 0.9. A
    // threshold cannot split the two 0.3 pairs: candidates 0.3-1e-6 (2/3),
    // 0.6 (2/3: 0.3 same right, 0.3 diff wrong, 0.9 right), 0.9+ (1/3).
    // Best 2/3 first at 0.3 - 1e-6, run continues to 0.6: middle 0.45 - 5e-7.
    double d4[3] = {0.3, 0.3, 0.9};
    bool s4[3] = {true, false, false};
    FT_CHECK_OK(ft_openset_pair_threshold(d4, s4, 3, &t, &acc, &err), &err);
    FT_CHECK_NEAR(t, 0.45 - 5e-7, 1e-12);
    double dn[1] = {NAN};
    FT_CHECK_EQ(ft_openset_pair_threshold(dn, s4, 1, &t, &acc, &err), FT_E_INVALID);
}

static void test_calibrate_cosine(void)
{
    // ft_calibrate in a cosine space (gallery/calibrate.c), by hand:
    // person 1 (1, 0), (0.8, 0.6); person 2 (0, 1), (-0.6, 0.8), all unit.
    // Leave one out: every genuine trial is 1 - 0.8 = 0.2; the impostor
    // trials (nearest sample of the other person) are 1 - 0 = 1.0 for
    // (1, 0), 1 - 0.6 = 0.4 for (0.8, 0.6), 0.4 for (0, 1), 1.0 for
    // (-0.6, 0.8). So FAR is 0 below 0.4, 0.5 from just above 0.4 to 1.0;
    // FRR 0 from just above 0.2. Grid 0.30..0.80 step 0.01; rows 5
    // (t = 0.35) and 15 (0.45) are far from the trial values.
    const float d[8] = {1, 0, 0.8f, 0.6f, 0, 1, -0.6f, 0.8f};
    const int64_t ids[4] = {1, 1, 2, 2};
    ft_calib_result r;
    ft_err err = {0};
    FT_CHECK_OK(ft_calibrate(d, 2, FT_METRIC_COSINE, ids, 4, NULL, &r, &err), &err);
    FT_CHECK_EQ(r.n_genuine, 4);
    FT_CHECK_EQ(r.n_impostor, 4);
    FT_CHECK_EQ(r.n_rows, 51);
    FT_CHECK_DBL_EXACT(r.rows[5].far, 0.0);
    FT_CHECK_DBL_EXACT(r.rows[5].frr, 0.0);
    FT_CHECK_DBL_EXACT(r.rows[15].far, 0.5);
    FT_CHECK_DBL_EXACT(r.rows[50].far, 0.5);
    FT_CHECK(isnan(r.threshold)); // 4 impostor trials cannot measure 0.1 %
    ft_calib_result_deinit(&r);
    // The same rows compared by Euclidean distance: genuine sqrt(0.4) =
    // 0.632, so at t = 0.45 every genuine trial is rejected.
    FT_CHECK_OK(ft_calibrate(d, 2, FT_METRIC_EUCLIDEAN, ids, 4, NULL, &r, &err), &err);
    FT_CHECK_DBL_EXACT(r.rows[15].frr, 1.0);
    ft_calib_result_deinit(&r);
}

static void test_subject(void)
{
    // A 250 x 250 portrait (LFW Ariel_Sharon_0004's SSD candidates, rounded):
    // the subject in the centre scored 0.26, a bystander at the lower left
    // 0.83, a fragment at the left edge 0.21.
    ft_face_box b[3] = {{55, 151, 62, 85, 0.83}, {92, 63, 112, 121, 0.26}, {1, 143, 44, 65, 0.21}};
    // Values: centre (125, 125), half diagonal 176.78.
    //  bystander: centre (86, 193.5), off 78.83 -> 0.554; 0.83 * 5270 * 0.554 = 2424
    //  subject:   centre (148, 123.5), off 23.05 -> 0.870; 0.26 * 13552 * 0.870 = 3065
    //  fragment:  0.21 >= 0.25 * 0.83 = 0.2075, so it competes: centre
    //             (23, 175.5), off 113.8 -> 0.356; 0.21 * 2860 * 0.356 = 214
    FT_CHECK_EQ(ft_face_pick_subject(b, 3, 250, 250), 1);
    FT_CHECK_NEAR(ft_face_subject_value(&b[1], 250, 250), 13552 * (1 - hypot(23, -1.5) / hypot(125, 125)), 1e-9);
    // The case: a 0.20 box, big and central, against a 0.99 face:
    // 0.20 < 0.25 * 0.99, so it does not compete however big it is.
    ft_face_box c[2] = {{300, 200, 60, 70, 0.99}, {100, 100, 400, 300, 0.20}};
    FT_CHECK_EQ(ft_face_pick_subject(c, 2, 600, 500), 0);
    // Two confident faces: the bigger, central one wins over a sharper
    // smaller one in a corner (0.9 * 200*200 * 1 = 36000 > 0.99 * 100*100 *
    // 0.216 = 2138; closeness 1 - |(240, 190)| / |(300, 250)|).
    ft_face_box e[2] = {{10, 10, 100, 100, 0.99}, {200, 150, 200, 200, 0.90}};
    FT_CHECK_EQ(ft_face_pick_subject(e, 2, 600, 500), 1);
    // A box centred outside the image has closeness 0, not negative.
    ft_face_box f = {-500, -500, 10, 10, 0.9};
    FT_CHECK_DBL_EXACT(ft_face_subject_value(&f, 100, 100), 0.0);
    FT_CHECK_EQ(ft_face_pick_subject(NULL, 0, 100, 100), 0);
}

static const ft_test_case cases[] = {
    {"decide", test_decide},
    {"defaults", test_defaults},
    {"person_decide", test_person_decide},
    {"person_thresholds", test_person_thresholds},
    {"person_thresholds_matrix", test_person_thresholds_matrix},
    {"person_nearest_one", test_person_nearest_one},
    {"pair_threshold", test_pair_threshold},
    {"calibrate_cosine", test_calibrate_cosine},
    {"subject", test_subject},
};

FT_TEST_MAIN(cases)
