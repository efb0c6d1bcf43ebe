// Unit tests for src/access: the quality gate, the decision rules and
// ft_access_check writing events into a gallery in a mkdtemp() directory.
#define _GNU_SOURCE
#include "access/access.h"
#include "access/enroll.h"
#include "access/fused.h"
#include "core/mem.h"
#include "ft_test.h"

#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char p[512];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_access_XXXXXX");
        FT_ASSERT(mkdtemp(tmp_dir) != NULL);
    }
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static ft_face_box box(double side, double score)
{
    ft_face_box b = {10, 20, side, side * 1.2, score};
    return b;
}

static ft_match_result match(int64_t person, double dist, double margin)
{
    ft_match_result r = {FT_MATCH_KNOWN, person, 1, dist, person + 1, dist + margin, margin};
    return r;
}

static void test_reasons(void)
{
    FT_CHECK_STREQ(ft_access_reason_str(FT_REASON_MATCH), "match");
    FT_CHECK_STREQ(ft_access_reason_str(FT_REASON_UNKNOWN), "unknown");
    FT_CHECK_STREQ(ft_access_reason_str(FT_REASON_AMBIGUOUS), "ambiguous");
    FT_CHECK_STREQ(ft_access_reason_str(FT_REASON_FACE_TOO_SMALL), "face too small");
    FT_CHECK_STREQ(ft_access_reason_str(FT_REASON_LOW_SCORE), "low detector score");
}

static void test_quality(void)
{
    ft_err err = {0};
    ft_gallery_policy p = ft_gallery_policy_default(); // 80 px, score 0.8
    ft_access_reason r = FT_REASON_MATCH;
    ft_face_box b = box(80, 0.8); // both exactly at the limit: pass
    FT_CHECK_OK(ft_access_quality(&b, &p, &r, &err), &err);
    b = box(79.5, 0.99);
    FT_CHECK_EQ(ft_access_quality(&b, &p, &r, &err), FT_E_QUALITY);
    FT_CHECK_EQ(r, FT_REASON_FACE_TOO_SMALL);
    FT_CHECK(strstr(err.msg, "face too small") && strstr(err.msg, "80 px"));
    b = box(200, 0.6);
    FT_CHECK_EQ(ft_access_quality(&b, &p, &r, &err), FT_E_QUALITY);
    FT_CHECK_EQ(r, FT_REASON_LOW_SCORE);
    // The shorter side counts.
    b = box(200, 0.9);
    b.h = 50;
    FT_CHECK_EQ(ft_access_quality(&b, &p, NULL, &err), FT_E_QUALITY);
    // Small AND low score: size is reported first.
    b = box(10, 0.1);
    FT_CHECK_EQ(ft_access_quality(&b, &p, &r, &err), FT_E_QUALITY);
    FT_CHECK_EQ(r, FT_REASON_FACE_TOO_SMALL);
    b = box(NAN, 0.9);
    FT_CHECK_EQ(ft_access_quality(&b, &p, &r, &err), FT_E_QUALITY);
    b = box(100, NAN);
    FT_CHECK_EQ(ft_access_quality(&b, &p, &r, &err), FT_E_QUALITY);
}

static void test_decide(void)
{
    ft_gallery_policy p = ft_gallery_policy_default(); // 0.5, margin 0.05
    ft_access_decision d;
    ft_face_box good = box(120, 0.95);
    ft_match_result m = match(7, 0.3, 0.2);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.decision, FT_DECISION_GRANTED);
    FT_CHECK_EQ(d.reason, FT_REASON_MATCH);
    FT_CHECK_EQ(d.person_id, 7);
    // The decision copies the match's distance and the box's score: exact bits.
    FT_CHECK_DBL_EXACT(d.distance, 0.3);
    FT_CHECK_DBL_EXACT(d.detector_score, 0.95);
    // The policy decides, not the status ft_match computed.
    m.status = FT_MATCH_UNKNOWN;
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.decision, FT_DECISION_GRANTED);
    // Threshold is strict.
    m = match(7, 0.5, 0.2);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.decision, FT_DECISION_DENIED);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);
    FT_CHECK_EQ(d.person_id, 0);
    FT_CHECK_EQ(d.nearest_person_id, 7);
    FT_CHECK_DBL_EXACT(d.distance, 0.5);
    // Margin.
    m = match(7, 0.3, 0.04);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_AMBIGUOUS);
    FT_CHECK_EQ(d.decision, FT_DECISION_DENIED);
    m = match(7, 0.3, 0.05);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_MATCH);
    // Unknown beats ambiguous.
    m = match(7, 0.7, 0.0);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);
    // One enrolled person: margin +inf, granted.
    m = match(7, 0.3, INFINITY);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_MATCH);
    // Empty gallery, NaN distance.
    ft_match_result empty = {FT_MATCH_UNKNOWN, 0, 0, INFINITY, 0, INFINITY, INFINITY};
    ft_access_decide(&good, &empty, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);
    m = match(7, NAN, 1);
    ft_access_decide(&good, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);
    // The gate comes first, and needs no match.
    ft_face_box small = box(40, 0.99), weak = box(120, 0.5);
    ft_access_decide(&small, NULL, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_FACE_TOO_SMALL);
    FT_CHECK(isnan(d.distance) && d.person_id == 0);
    m = match(7, 0.1, 1);
    ft_access_decide(&weak, &m, &p, &d);
    FT_CHECK_EQ(d.reason, FT_REASON_LOW_SCORE);
    FT_CHECK_EQ(d.decision, FT_DECISION_DENIED);
}

// A test space of 128 floats, compared by Euclidean distance.
#define TEST_DIM 128
static const ft_gallery_space test_space = {"test@1", TEST_DIM, FT_METRIC_EUCLIDEAN};

// Descriptor for person k: 0.3 in component k (people are 0.42 apart).
static void desc(float *d, int k, float v)
{
    memset(d, 0, sizeof(float) * TEST_DIM);
    d[k] = v;
}

static void test_check(void)
{
    ft_err err = {0};
    const char *path = tmp_path("door.db");
    char db[512];
    snprintf(db, sizeof db, "%s", path);
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    FT_ASSERT(g);
    ft_sample s;
    float sd[TEST_DIM];
    memset(&s, 0, sizeof s);
    s.descriptor = sd;
    s.dim = TEST_DIM;
    snprintf(s.model, sizeof s.model, "%s", test_space.name);
    s.detector_score = 0.9;
    s.face_w = s.face_h = 100;
    int64_t ann = 0, bob = 0, cy = 0;
    desc(s.descriptor, 0, 0.3f);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Ann", &s, 1, &ann, NULL, &err), &err);
    desc(s.descriptor, 1, 0.3f);
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Bob", &s, 1, &bob, NULL, &err), &err);
    // Cy sits close to Bob: a face between them is ambiguous.
    desc(s.descriptor, 1, 0.3f);
    s.descriptor[2] = 0.1f;
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Cy", &s, 1, &cy, NULL, &err), &err);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_gallery_matrix_load(g, &test_space, &m, &err), &err);
    ft_gallery_policy p;
    FT_CHECK_OK(ft_gallery_policy_load(g, &p, &err), &err);

    static const uint8_t thumb[] = {0xff, 0xd8, 0xff, 0xd9};
    float q[TEST_DIM];
    ft_access_request rq = {box(120, 0.95), q,           TEST_DIM, "front door", 1700000000.0,
                            thumb,          sizeof thumb};
    ft_access_decision d;

    desc(q, 0, 0.25f); // 0.05 from Ann
    FT_CHECK_OK(ft_access_check(g, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.decision, FT_DECISION_GRANTED);
    FT_CHECK_EQ(d.person_id, ann);
    FT_CHECK_STREQ(d.name, "Ann");
    FT_CHECK_NEAR(d.distance, 0.05, 1e-6); // float descriptors
    FT_CHECK(d.event_id > 0);

    desc(q, 5, 0.4f); // nobody
    FT_CHECK_OK(ft_access_check(g, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);

    desc(q, 1, 0.3f); // Bob exactly; Cy 0.1 away... margin 0.1 passes
    q[2] = 0.05f;     // halfway: margin 0
    FT_CHECK_OK(ft_access_check(g, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.reason, FT_REASON_AMBIGUOUS);

    rq.box = box(50, 0.95);
    FT_CHECK_OK(ft_access_check(g, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.reason, FT_REASON_FACE_TOO_SMALL);
    rq.box = box(120, 0.95);

    // A stale matrix still holding a deleted person: not let in.
    FT_CHECK_OK(ft_gallery_person_delete(g, ann, &err), &err);
    desc(q, 0, 0.3f);
    FT_CHECK_OK(ft_access_check(g, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.decision, FT_DECISION_DENIED);
    FT_CHECK_EQ(d.reason, FT_REASON_UNKNOWN);

    // The events, oldest first.
    ft_event *ev;
    size_t n;
    ft_event_query eq = ft_event_query_default();
    eq.oldest_first = true;
    FT_CHECK_OK(ft_gallery_events_query(g, &eq, &ev, &n, NULL, &err), &err);
    FT_CHECK_EQ(n, 5);
    if (n == 5) {
        const char *reasons[5] = {"match", "unknown", "ambiguous", "face too small", "unknown"};
        for (int i = 0; i < 5; i++) {
            FT_CHECK_STREQ(ev[i].reason, reasons[i]);
            FT_CHECK_STREQ(ev[i].source, "front door");
            FT_CHECK_DBL_EXACT(ev[i].time, 1700000000.0); // a REAL round trip through SQLite
            FT_CHECK_EQ(ev[i].thumbnail_len, i == 0 ? 0 : sizeof thumb); // Ann's went with her
            FT_CHECK_EQ(ev[i].decision, i == 0 ? FT_DECISION_GRANTED : FT_DECISION_DENIED);
            FT_CHECK_EQ(ev[i].person_id, 0); // Ann deleted; the rest unknown
        }
        FT_CHECK_STREQ(ev[0].name_at_time, "Ann");
        FT_CHECK_NEAR(ev[0].distance, 0.05, 1e-6); // float descriptors, as above
        FT_CHECK(!isnan(ev[1].distance) && ev[1].distance > 0.4);
        FT_CHECK(isnan(ev[3].distance));
        FT_CHECK_DBL_EXACT(ev[3].detector_score, 0.95); // a REAL round trip through SQLite
    }
    ft_free(ev);

    // Fail closed: when the event cannot be written there is no decision.
    sqlite3 *other;
    FT_CHECK_EQ(sqlite3_open(db, &other), SQLITE_OK);
    FT_CHECK_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; DELETE FROM settings WHERE key = 'x'",
                             NULL, NULL, NULL),
                SQLITE_OK);
    ft_gallery *g2 = NULL;
    ft_gallery_opts o = ft_gallery_opts_default();
    o.busy_timeout_ms = 50;
    FT_CHECK_OK(ft_gallery_open(db, &o, &g2, &err), &err);
    desc(q, 1, 0.3f);
    memset(&d, 0x5a, sizeof d);
    FT_CHECK_EQ(ft_access_check(g2, m, &p, &rq, &d, &err), FT_E_BUSY);
    FT_CHECK_EQ(d.event_id, 0x5a5a5a5a5a5a5a5a); // untouched
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    FT_CHECK_OK(ft_access_check(g2, m, &p, &rq, &d, &err), &err);
    FT_CHECK_EQ(d.person_id, bob);
    ft_gallery_close(g2);

    // Bad policy or request.
    ft_gallery_policy bad = p;
    bad.threshold = 0;
    FT_CHECK_EQ(ft_access_check(g, m, &bad, &rq, &d, &err), FT_E_INVALID);
    rq.source = "";
    FT_CHECK_EQ(ft_access_check(g, m, &p, &rq, &d, &err), FT_E_INVALID);
    ft_match_matrix_free(m);
    ft_gallery_close(g);
}


// The registry of descriptor networks (face/descriptor.h) as access uses
// it: names, spaces, the gallery's view, distances, per-network policy.
static void test_spaces(void)
{
    size_t n = 0;
    const ft_descriptor_net *all = ft_descriptor_nets(&n);
    FT_CHECK(n >= 2);
    const ft_descriptor_net *r = ft_descriptor_net_find("resnet128");
    const ft_descriptor_net *f = ft_descriptor_net_find("faceres");
    FT_ASSERT(r && f);
    FT_CHECK(r == &all[0] && r == ft_descriptor_net_resnet());
    // The product's default: faceres (docs/ACCURACY.md, "The default, and why").
    FT_CHECK(f == ft_descriptor_net_default());
    FT_CHECK(ft_descriptor_net_find("nope") == NULL && ft_descriptor_net_find(NULL) == NULL);
    FT_CHECK_EQ(r->dim, 128);
    FT_CHECK_EQ(f->dim, 1024);
    FT_CHECK(r->needs_landmarks && !f->needs_landmarks);
    for (size_t i = 0; i < n; i++)
        FT_CHECK(all[i].dim <= FT_DESCRIPTOR_DIM_MAX && all[i].dim <= FT_GALLERY_DIM_MAX);
    // Spaces: resnet128's per alignment (the strings galleries already
    // hold), faceres's one; and back.
    FT_CHECK_STREQ(r->space(FT_ALIGN_SIMILARITY), "face_recognition_model@face-api-1.7.15/similarity");
    FT_CHECK_STREQ(r->space(FT_ALIGN_FACEAPI), "face_recognition_model@face-api-1.7.15/faceapi");
    FT_CHECK_STREQ(f->space(FT_ALIGN_SIMILARITY), f->space(FT_ALIGN_FACEAPI));
    FT_CHECK(ft_descriptor_net_of_space(r->space(FT_ALIGN_FACEAPI)) == r);
    FT_CHECK(ft_descriptor_net_of_space(f->space(FT_ALIGN_FACEAPI)) == f);
    FT_CHECK(ft_descriptor_net_of_space("something@else") == NULL);
    ft_gallery_space gs = ft_access_space(f, FT_ALIGN_SIMILARITY);
    FT_CHECK(gs.dim == 1024 && gs.metric == FT_METRIC_COSINE && strcmp(gs.name, f->space(0)) == 0);
    gs = ft_access_space(r, FT_ALIGN_SIMILARITY);
    FT_CHECK(gs.dim == 128 && gs.metric == FT_METRIC_EUCLIDEAN);
    // Distances in each metric, exact for these small integers.
    static float a[1024], b[1024];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    a[0] = 3.0f;
    b[1] = 4.0f;
    FT_CHECK_DBL_EXACT(ft_descriptor_net_distance(r, a, b), 5.0);
    FT_CHECK_DBL_EXACT(ft_descriptor_net_distance(f, a, b), 1.0); // orthogonal
    b[0] = 6.0f;
    b[1] = 0.0f;
    FT_CHECK_DBL_EXACT(ft_descriptor_net_distance(f, a, b), 0.0); // same direction
    memset(b, 0, sizeof b);
    FT_CHECK_DBL_EXACT(ft_descriptor_net_distance(f, a, b), 1.0); // a zero vector
    // Each network's policy side: resnet128 owns the unsuffixed keys; the
    // safe maximum and the bound sit between the default and 1.
    for (size_t i = 0; i < n; i++) {
        ft_policy_space ps = ft_access_policy_space(&all[i]);
        FT_CHECK_OK(ft_policy_space_check(&ps, NULL), NULL);
        FT_CHECK(all[i].threshold < all[i].safe_threshold &&
                 all[i].safe_threshold <= all[i].threshold_max);
        FT_CHECK(ps.legacy_keys == (&all[i] == r));
    }
    FT_CHECK_DBL_EXACT(r->safe_threshold, FT_GALLERY_SAFE_THRESHOLD);
    FT_CHECK_DBL_EXACT(r->threshold_max, FT_GALLERY_THRESHOLD_MAX);
    // The stored policy (unsuffixed keys) is resnet128's; faceres keeps the
    // shared gate and reads its registry defaults until its own keys are
    // stored, never resnet128's threshold.
    ft_gallery *g = NULL;
    FT_CHECK_OK(ft_gallery_open(tmp_path("policy.db"), NULL, &g, NULL), NULL);
    ft_gallery_policy base = ft_gallery_policy_default();
    base.threshold = 0.44;
    base.min_face_px = 77;
    FT_CHECK_OK(ft_gallery_policy_save(g, &base, NULL), NULL);
    ft_gallery_policy pr, pf;
    FT_CHECK_OK(ft_access_policy_load(g, r, &pr, NULL), NULL);
    FT_CHECK_OK(ft_access_policy_load(g, f, &pf, NULL), NULL);
    FT_CHECK_DBL_EXACT(pr.threshold, 0.44);
    FT_CHECK_DBL_EXACT(pf.threshold, f->threshold);
    FT_CHECK_DBL_EXACT(pf.margin, f->margin);
    FT_CHECK_DBL_EXACT(pf.min_face_px, 77.0);
    FT_CHECK_OK(ft_gallery_policy_check(&pf, NULL), NULL);
    // NULL is the default network.
    FT_CHECK_OK(ft_access_policy_load(g, NULL, &pf, NULL), NULL);
    FT_CHECK_DBL_EXACT(pf.threshold, r == ft_descriptor_net_default() ? 0.44 : f->threshold);
    ft_gallery_close(g);
}


// The fused match (access/fused.h) on vectors whose distances are exact:
// per person the minimum in each space, w * dr / tr + (1 - w) * df / tf.
static void test_fused(void)
{
    const ft_descriptor_net *r = ft_descriptor_net_find("resnet128");
    const ft_descriptor_net *f = ft_descriptor_net_find("faceres");
    static float rz[128], r1[128], r2[128], fq[1024], f1[1024], f2[1024];
    memset(rz, 0, sizeof rz);
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    memset(fq, 0, sizeof fq);
    memset(f1, 0, sizeof f1);
    memset(f2, 0, sizeof f2);
    r1[0] = 0.25f; // person 1: 0.25 from the query in resnet128
    r2[1] = 0.5f;  // person 2: 0.5
    fq[0] = 1.0f;
    f1[0] = 2.0f; // person 1: the query's direction in faceres (0)
    f2[1] = 1.0f; // person 2: orthogonal (1)
    ft_sample s[5];
    memset(s, 0, sizeof s);
    const float *v[5] = {r1, f1, r2, f2, r1};
    const int64_t who[5] = {1, 1, 2, 2, 3}; // person 3: resnet128 only
    for (int i = 0; i < 5; i++) {
        const ft_descriptor_net *d = i % 2 == 0 ? r : f;
        s[i].person_id = who[i];
        s[i].descriptor = (float *)v[i];
        s[i].dim = (uint32_t)d->dim;
        snprintf(s[i].model, sizeof s[i].model, "%s", d->space(FT_ALIGN_SIMILARITY));
    }
    ft_gallery_policy pol = ft_gallery_policy_default(); // resnet128 0.5 / 0.05
    ft_gallery_policy pol_f = pol;                        // faceres: its registry values
    pol_f.threshold = f->threshold;
    pol_f.margin = f->margin;
    ft_fused_result z;
    ft_err err = {0};
    FT_CHECK_OK(ft_access_fused_match(s, 5, rz, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      0.5, &z, &err),
                &err);
    FT_CHECK_EQ(z.status, FT_MATCH_KNOWN);
    FT_CHECK_EQ(z.person_id, 1);
    FT_CHECK_DBL_EXACT(z.d_resnet, 0.25);
    FT_CHECK_DBL_EXACT(z.d_faceres, 0.0);
    FT_CHECK_DBL_EXACT(z.distance, 0.25); // 0.5 * 0.25 / 0.5
    FT_CHECK_EQ(z.second_person_id, 2);   // person 3 has no faceres sample
    // 0.5 * 0.5 / 0.5 + 0.5 * 1 / 0.37; a few ulps of the divisions.
    FT_CHECK_NEAR(z.second_distance, 0.5 + 0.5 / f->threshold, 1e-12);
    FT_CHECK_NEAR(z.margin_required, 0.5 * 0.05 / 0.5 + 0.5 * f->margin / f->threshold, 1e-12);
    // All weight on faceres: person 1 at 0; on resnet128: 0.25 / 0.5.
    FT_CHECK_OK(ft_access_fused_match(s, 5, rz, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      0.0, &z, &err),
                &err);
    FT_CHECK_DBL_EXACT(z.distance, 0.0);
    FT_CHECK_OK(ft_access_fused_match(s, 5, rz, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      1.0, &z, &err),
                &err);
    FT_CHECK_DBL_EXACT(z.distance, 0.5);
    // A query far from everyone is unknown; a bad weight is refused.
    static float rfar[128];
    memset(rfar, 0, sizeof rfar);
    rfar[5] = 3.0f;
    FT_CHECK_OK(ft_access_fused_match(s, 5, rfar, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      1.0, &z, &err),
                &err);
    FT_CHECK_EQ(z.status, FT_MATCH_UNKNOWN);
    FT_CHECK_EQ(ft_access_fused_match(s, 5, rz, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      1.5, &z, &err),
                FT_E_INVALID);
    // Nobody in both spaces: unknown, +inf.
    FT_CHECK_OK(ft_access_fused_match(s + 4, 1, rz, fq, FT_ALIGN_SIMILARITY, &pol, &pol_f,
                                      0.5, &z, &err),
                &err);
    FT_CHECK(z.status == FT_MATCH_UNKNOWN && z.person_id == 0 && isinf(z.distance));
    (void)r;
}

// The detector an enrolment sample records (ft_enroll_detector): the one
// the face says found it (door.single_names_detector checks that
// ft_face_single fills it, fallback included), by the gallery's names.
static void test_enroll_detector(void)
{
    ft_face f;
    memset(&f, 0, sizeof f);
    f.detector = FT_DETECTOR_YUNET;
    FT_CHECK_STREQ(ft_enroll_detector(&f), "yunet");
    f.detector = FT_DETECTOR_SSD;
    FT_CHECK_STREQ(ft_enroll_detector(&f), "ssd");
    f.detector = FT_DETECTOR_TINY;
    FT_CHECK_STREQ(ft_enroll_detector(&f), "tiny");
    // Every value it gives is one the gallery stores.
    for (int k = FT_DETECTOR_SSD; k <= FT_DETECTOR_YUNET; k++) {
        f.detector = (ft_detector_kind)k;
        FT_CHECK(ft_gallery_detector_valid(ft_enroll_detector(&f)));
    }
}

static const ft_test_case cases[] = {
    {"reasons", test_reasons},
    {"quality", test_quality},
    {"decide", test_decide},
    {"check", test_check},
    {"spaces", test_spaces},
    {"fused", test_fused},
    {"enroll_detector", test_enroll_detector},
};

int main(int argc, char **argv)
{
    int rc = ft_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
    if (tmp_dir[0])
        nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
