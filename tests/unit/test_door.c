// The door pipeline (src/door): the rules of door.h, tested once, here.
// Tracker association on synthetic boxes; then the whole pipeline with the
// real face-api networks on crops of the npm demo photos, against a
// gallery in a mkdtemp() folder. Every adapter (CLI access and watch, the
// HTTP endpoints, the cameras) is tested elsewhere only to go through it.
//
// The people: "Rachel" is the woman on the right of demo/sample1 (box
// 1476,200 203x240), who is, by eye and by a descriptor distance of 0.42,
// the one in the middle of demo/sample3 (1075,215 220x299)
// (tests/unit/test_http.c says how that was established). She is enrolled
// from sample1; the door sees sample3. Strangers are the other faces of
// sample3 and sample2.
#include "ft_test.h"

#include "core/mem.h"
#include "door/door.h"
#include "door/door_internal.h"
#include "face/descriptor.h"
#include "face/faceres.h"
#include "gallery/gallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char p[512];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ft_door_XXXXXX");
        FT_ASSERT(mkdtemp(tmp_dir) != NULL);
    }
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

// The door's options these tests were written for: the SSD's boxes (the
// scores, crops and distances quoted below are the SSD's; the fixtures load
// no YuNet) and 2 of 3 unless a test sets its own k of n. Both are stated
// here rather than taken from ft_door_opts_default(), which since issue 11
// is YuNet and 3 of 5 (test defaults checks that).
static ft_door_opts door_opts_ssd(void)
{
    ft_door_opts o = ft_door_opts_default();
    o.describe.detect.kind = FT_DETECTOR_SSD;
    o.k = 2;
    o.n = 3;
    return o;
}

static ft_describe_opts describe_opts_ssd(void)
{
    ft_describe_opts o = ft_describe_opts_default();
    o.detect.kind = FT_DETECTOR_SSD;
    return o;
}

// ---- Association (no networks) ----

static ft_door__track track_at(int64_t id, double x, double y, double w, double h, double t)
{
    ft_door__track tr;
    memset(&tr, 0, sizeof tr);
    tr.id = id;
    tr.x = x;
    tr.y = y;
    tr.w = w;
    tr.h = h;
    tr.t_first = tr.t_last = t;
    tr.frames = 1;
    return tr;
}

static void test_iou(void)
{
    // Exact fractions: identical boxes 1; half-overlapping 100x100 boxes
    // 5000 / 15000; disjoint and touching 0.
    FT_CHECK_DBL_EXACT(ft_door__iou(0, 0, 100, 100, 0, 0, 100, 100), 1.0);
    FT_CHECK_NEAR(ft_door__iou(0, 0, 100, 100, 50, 0, 100, 100), 1.0 / 3.0, 1e-12);
    FT_CHECK_DBL_EXACT(ft_door__iou(0, 0, 100, 100, 100, 0, 100, 100), 0.0);
    FT_CHECK_DBL_EXACT(ft_door__iou(0, 0, 10, 10, 500, 500, 10, 10), 0.0);
}

static void test_associate_motion(void)
{
    // A face walking right at 1000 px/s (40 px a frame at 25 fps) and one
    // standing at x 330. The walker's velocity is learnt from one step
    // (exponentially averaged: 500 px/s), then a frame is skipped: at
    // t = 0.12 it is at x 220, 80 px from where it was last seen. Its old
    // box overlaps that detection by IoU 0.11 (< 0.3: a new track without
    // prediction); the predicted box (x 180) by 0.43.
    ft_door__track tr[2] = {track_at(1, 100, 100, 100, 100, 0),
                            track_at(2, 330, 100, 100, 100, 0)};
    ft_face_box step = {140, 100, 100, 100, 0.9};
    ft_door__track_update(&tr[0], &step, 0.04);
    FT_CHECK_NEAR(tr[0].vx, 500.0, 1e-9);
    ft_door__det d[2] = {{{330, 100, 100, 100, 0.9}, NULL}, {{220, 100, 100, 100, 0.9}, NULL}};
    ft_door__assoc_opts o = {0.3, 0.6, ft_descriptor_net_resnet()};
    int match[2];
    ft_door__associate(tr, 2, d, 2, 0.12, &o, match);
    FT_CHECK_EQ(match[0], 1);
    FT_CHECK_EQ(match[1], 0);
    // Without the velocity, the walker's detection starts a new track.
    tr[0].vx = 0;
    ft_door__associate(tr, 2, d, 2, 0.12, &o, match);
    FT_CHECK_EQ(match[1], -1);
}

static void test_associate_descriptor_gate(void)
{
    // Same place, different face: a detection whose descriptor is further
    // than assoc_distance from the track's never joins it.
    ft_door__track tr = track_at(1, 100, 100, 100, 100, 0);
    tr.has_desc = true;
    float other[FT_DESCRIPTOR_DIM];
    for (int i = 0; i < FT_DESCRIPTOR_DIM; i++) {
        tr.last_desc[i] = 0.05f;
        other[i] = i < 64 ? 0.12f : -0.02f;
    }
    ft_door__det d = {{102, 101, 100, 100, 0.9}, other};
    ft_door__assoc_opts o = {0.3, 0.6, ft_descriptor_net_resnet()};
    int match[1];
    ft_door__associate(&tr, 1, &d, 1, 0.04, &o, match);
    FT_CHECK_EQ(match[0], -1);
    // The same descriptor at the same place joins.
    d.desc = tr.last_desc;
    ft_door__associate(&tr, 1, &d, 1, 0.04, &o, match);
    FT_CHECK_EQ(match[0], 0);
    // Little overlap (a jump of 1.2 box widths) joins only on a close
    // descriptor.
    ft_door__det far = {{220, 100, 100, 100, 0.9}, NULL};
    ft_door__associate(&tr, 1, &far, 1, 0.04, &o, match);
    FT_CHECK_EQ(match[0], -1);
    far.desc = tr.last_desc;
    ft_door__associate(&tr, 1, &far, 1, 0.04, &o, match);
    FT_CHECK_EQ(match[0], 0);
}

// ---- The pipeline on real photos ----

typedef struct fixture {
    ft_face_models *m;
    ft_nn_ctx *nn;
    ft_gallery *g;
    ft_door *door;
    ft_door_result *res;
    int64_t rachel;
} fixture;

static bool load_photo(int sample, ft_image *im)
{
    char path[512];
    snprintf(path, sizeof path, "%s/demo/sample%d.jpg", ft_test_assets(), sample);
    ft_err err = {0};
    ft_status st = ft_image_load(path, NULL, im, &err);
    FT_CHECK_OK(st, &err);
    return st == FT_OK;
}

// A 1.6x crop around a face box, shifted by (dx, dy), as a new image.
static bool crop_around(const ft_image *src, double x, double y, double w, double h, int dx,
                        int dy, double scale, ft_image *out)
{
    ft_image c;
    if (ft_image_crop(src, (int32_t)(x - 0.3 * w) + dx, (int32_t)(y - 0.3 * h) + dy,
                      (int32_t)(1.6 * w), (int32_t)(1.6 * h), &c) != FT_OK)
        return false;
    if (scale == 1.0) {
        *out = c;
        return true;
    }
    // Nearest-neighbour scaling: only for making faces small.
    int32_t w2 = (int32_t)(c.w * scale), h2 = (int32_t)(c.h * scale);
    bool ok = ft_image_new(w2, h2, out) == FT_OK;
    for (int32_t yy = 0; ok && yy < h2; yy++)
        for (int32_t xx = 0; xx < w2; xx++)
            memcpy(out->rgb + ((size_t)yy * w2 + xx) * 3,
                   c.rgb + ((size_t)(yy / scale) * c.w + (size_t)(xx / scale)) * 3, 3);
    ft_image_deinit(&c);
    return ok;
}

// Pastes `src` into `dst` at (x, y) (clipped).
static void paste(ft_image *dst, const ft_image *src, int32_t x, int32_t y)
{
    for (int32_t r = 0; r < src->h; r++)
        for (int32_t c = 0; c < src->w; c++) {
            int32_t X = x + c, Y = y + r;
            if (X < 0 || Y < 0 || X >= dst->w || Y >= dst->h)
                continue;
            memcpy(dst->rgb + ((size_t)Y * dst->w + X) * 3, src->rgb + ((size_t)r * src->w + c) * 3,
                   3);
        }
}

// A grey 640x480 frame with `src` pasted at (x, y).
static void on_canvas(const ft_image *src, int32_t x, int32_t y, ft_image *out)
{
    FT_ASSERT(ft_image_new(640, 480, out) == FT_OK);
    memset(out->rgb, 128, (size_t)out->w * out->h * 3);
    paste(out, src, x, y);
}

// Describes the single face of `im` and enrols it under `name`.
static int64_t enrol(fixture *f, const ft_image *im, const char *name)
{
    ft_describe_opts o = describe_opts_ssd();
    ft_face faces[4];
    size_t n = 0;
    ft_err err = {0};
    FT_CHECK_OK(ft_faces_describe(f->m, f->nn, im, &o, faces, 4, &n, NULL, &err), &err);
    FT_CHECK_EQ(n, 1);
    if (n != 1)
        return 0;
    ft_sample s;
    memset(&s, 0, sizeof s);
    s.descriptor = faces[0].descriptor; // faces outlives the enrolment
    s.dim = FT_DESCRIPTOR_DIM;
    snprintf(s.model, sizeof s.model, "%s", ft_descriptor_space(o.align));
    snprintf(s.alignment, sizeof s.alignment, "%s", ft_align_name(o.align));
    s.detector_score = faces[0].box.score;
    s.face_w = (int32_t)faces[0].box.w;
    s.face_h = (int32_t)faces[0].box.h;
    int64_t pid = 0;
    FT_CHECK_OK(ft_gallery_enroll(f->g, 0, name, &s, 1, &pid, NULL, &err), &err);
    return pid;
}

static bool fixture_init(fixture *f, const char *db, const ft_door_opts *o)
{
    memset(f, 0, sizeof *f);
    ft_err err = {0};
    unlink(db);
    ft_models_opts mo = ft_models_opts_default();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", ft_test_assets());
    mo.dir = dir;
    mo.tiny = mo.landmarks_tiny = false;
    mo.yunet = false;
    FT_CHECK_OK(ft_face_models_load(&mo, &f->m, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &f->nn), NULL);
    FT_CHECK_OK(ft_gallery_open(db, NULL, &f->g, &err), &err);
    if (!f->m || !f->nn || !f->g)
        return false;
    // 0.45: Rachel's two photos are 0.42 apart; every two different people
    // of the demo photos are at least 0.55 apart.
    ft_gallery_policy p = ft_gallery_policy_default();
    p.threshold = 0.45;
    // The SSD scores faces in composed frames (several crops on one
    // canvas) 0.7-0.9; these tests are about the door's rules, not the
    // default gate, so the score gate is the detector's own 0.5.
    p.min_detector_score = 0.5;
    FT_CHECK_OK(ft_gallery_policy_save(f->g, &p, &err), &err);
    // These tests are written in face-api's ResNet space (the distances
    // above); test faceres_box_only runs the door in faceres's.
    ft_door_opts oo = *o;
    if (!oo.descriptor)
        oo.descriptor = ft_descriptor_net_resnet();
    FT_CHECK_OK(ft_door_new(f->m, &oo, NULL, &f->door, &err), &err);
    f->res = ft_malloc(sizeof *f->res);
    ft_image s1, c;
    if (!f->door || !f->res || !load_photo(1, &s1))
        return false;
    bool ok = crop_around(&s1, 1476, 200, 203, 240, 0, 0, 1.0, &c);
    ft_image_deinit(&s1);
    if (!ok)
        return false;
    f->rachel = enrol(f, &c, "Rachel");
    ft_image_deinit(&c);
    return f->rachel > 0;
}

static void fixture_deinit(fixture *f)
{
    ft_free(f->res);
    ft_door_free(f->door);
    ft_gallery_close(f->g);
    ft_nn_ctx_free(f->nn);
    ft_face_models_free(f->m);
}

static int64_t count_events(ft_gallery *g, int decision)
{
    ft_event_query q = ft_event_query_default();
    q.decision = decision;
    ft_event *ev = NULL;
    size_t n = 0;
    int64_t total = 0;
    ft_err err = {0};
    FT_CHECK_OK(ft_gallery_events_query(g, &q, &ev, &n, &total, &err), &err);
    ft_free(ev);
    return total;
}

static void test_still_one_event_per_face(void)
{
    ft_door_opts o = door_opts_ssd();
    fixture f;
    if (!fixture_init(&f, tmp_path("still.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    // A photo of three people side by side: Rachel (from sample3) between
    // two strangers (the man on the left of sample3 and the person on the
    // right of sample2). Crops, since the SSD on the whole 1920-wide sample3
    // scores her face 0.61, under the door's 0.8 gate.
    ft_image s3, s2, a, b, c;
    FT_CHECK(load_photo(3, &s3));
    FT_CHECK(load_photo(2, &s2));
    ft_image d;
    FT_ASSERT(crop_around(&s3, 1075, 215, 220, 299, 0, 0, 1.0, &a));
    FT_ASSERT(crop_around(&s3, 585, 329, 199, 271, 0, 0, 1.0, &b));
    FT_ASSERT(crop_around(&s2, 1447, 153, 193, 243, 0, 0, 1.0, &d));
    FT_ASSERT(ft_image_new(1000, 500, &c) == FT_OK);
    memset(c.rgb, 128, (size_t)c.w * c.h * 3);
    paste(&c, &b, 0, 10);
    paste(&c, &a, b.w, 10);
    paste(&c, &d, b.w + a.w, 40);
    ft_image_deinit(&d);
    ft_image_deinit(&s3);
    s3 = c;
    ft_image_deinit(&a);
    ft_image_deinit(&b);
    ft_image_deinit(&s2);
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("front", FT_DOOR_STILL, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &s3, 1000.0, f.res, &err), &err);
    // Every face is one passage, decided now: as many events as faces,
    // each face's track its own.
    FT_CHECK_EQ(f.res->n_faces, 3);
    FT_CHECK_EQ(f.res->n_events, f.res->n_faces);
    size_t granted = 0;
    for (size_t i = 0; i < f.res->n_events; i++) {
        const ft_event *ev = &f.res->events[i];
        FT_CHECK_STREQ(ev->source, "front");
        FT_CHECK(ev->id > 0);
        FT_CHECK_EQ(strlen(ev->uid), 32);
        FT_CHECK_EQ(ev->frames, 1);
        if (ev->decision == FT_DECISION_GRANTED) {
            granted++;
            FT_CHECK_EQ(ev->person_id, f.rachel);
            FT_CHECK_STREQ(ev->name_at_time, "Rachel");
            FT_CHECK_STREQ(ev->reason, "match");
            FT_CHECK(ev->distance < 0.45);
        } else {
            FT_CHECK_EQ(ev->person_id, 0);
            // Strangers: unknown, or refused by the gate (small faces).
            FT_CHECK(strcmp(ev->reason, "unknown") == 0 ||
                     strcmp(ev->reason, "face too small") == 0 ||
                     strcmp(ev->reason, "low detector score") == 0);
        }
        for (size_t j = 0; j < i; j++)
            FT_CHECK(f.res->events[j].track_id != ev->track_id);
        if (getenv("FT_TEST_DEBUG"))
            fprintf(stderr, "event %s %s nearest %lld distance %.3f score %.2f\n",
                    ft_decision_str(ev->decision), ev->reason, (long long)ev->nearest_person_id,
                    ev->distance, ev->detector_score);
    }
    FT_CHECK_EQ(granted, 1);
    // Stored: the log has them all, with the thumbnails.
    FT_CHECK_EQ(count_events(f.g, -1), (int64_t)f.res->n_events);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_GRANTED), 1);
    // The same photo again: new passages, new events (still photos are
    // unrelated frames).
    FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &s3, 1000.5, f.res, &err), &err);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_GRANTED), 2);
    ft_door_source_free(ds);
    ft_image_deinit(&s3);
    fixture_deinit(&f);
}

// Frames of a slow pan over Rachel's face in sample3 (2 px a frame, 25 fps).
static void rachel_frame(const ft_image *s3, int i, ft_image *out)
{
    FT_ASSERT(crop_around(s3, 1075, 215, 220, 299, 2 * i, i, 1.0, out));
}

static void test_stream_k_of_n(void)
{
    ft_door_opts o = door_opts_ssd();
    o.k = 3;
    o.n = 5;
    o.gap_s = 1.0;
    fixture f;
    if (!fixture_init(&f, tmp_path("stream.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s3;
    FT_CHECK(load_photo(3, &s3));
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("cam", FT_DOOR_STREAM, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    double t = 2000.0;
    int64_t track = 0;
    for (int i = 0; i < 8; i++, t += 0.04) {
        ft_image fr;
        rachel_frame(&s3, i, &fr);
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &fr, t, f.res, &err), &err);
        ft_image_deinit(&fr);
        FT_CHECK_EQ(f.res->n_faces, 1);
        if (f.res->n_faces != 1)
            break;
        const ft_door_face *fc = &f.res->faces[0];
        if (i == 0)
            track = fc->track_id;
        FT_CHECK_EQ(fc->track_id, track); // one track all along
        FT_CHECK_EQ(fc->frames, i < 3 ? i + 1 : i == 7 ? 4 : 3); // described frames
        if (i < 2) {
            // Fewer than k frames: undecided, nothing logged.
            FT_CHECK_EQ(fc->state, FT_TRACK_PENDING);
            FT_CHECK_EQ(f.res->n_events, 0);
        } else if (i == 2) {
            // The k-th matching frame decides: granted, once.
            FT_CHECK_EQ(fc->state, FT_TRACK_GRANTED);
            FT_CHECK_EQ(f.res->n_events, 1);
            FT_CHECK_EQ(f.res->events[0].person_id, f.rachel);
            FT_CHECK_EQ(f.res->events[0].frames, 3);
            FT_CHECK_EQ(f.res->events[0].track_id, track);
            FT_CHECK_NEAR(f.res->events[0].first_seen, 2000.0, 1e-9); // stored as given
        } else {
            FT_CHECK_EQ(fc->state, FT_TRACK_GRANTED);
            FT_CHECK_STREQ(fc->name, "Rachel");
            FT_CHECK_EQ(f.res->n_events, 0);
            // Decided: her face is described again only every 5th frame
            // (redescribe_every), on frame 7 here.
            FT_CHECK_EQ(f.res->n_described, i == 7 ? 1 : 0);
            FT_CHECK_EQ(fc->described, i == 7);
        }
    }
    FT_CHECK_EQ(count_events(f.g, -1), 1);
    // She leaves (no face for longer than the gap) and comes back: a new
    // passage, a new track, a new event. The granted track ends silently.
    ft_image empty;
    FT_CHECK(ft_image_new(320, 240, &empty) == FT_OK);
    memset(empty.rgb, 128, (size_t)empty.w * empty.h * 3);
    t += 1.5;
    FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &empty, t, f.res, &err), &err);
    FT_CHECK_EQ(f.res->n_faces, 0);
    FT_CHECK_EQ(f.res->n_events, 0);
    ft_door_source_stats st;
    ft_door_source_stats_get(ds, &st);
    FT_CHECK_EQ(st.live_tracks, 0);
    for (int i = 0; i < 3; i++, t += 0.04) {
        ft_image fr;
        rachel_frame(&s3, i, &fr);
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &fr, t, f.res, &err), &err);
        ft_image_deinit(&fr);
    }
    FT_CHECK_EQ(f.res->n_events, 1);
    FT_CHECK(f.res->n_events == 1 && f.res->events[0].track_id != track);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_GRANTED), 2);
    ft_door_source_stats_get(ds, &st);
    FT_CHECK_EQ(st.tracks, 2);
    FT_CHECK_EQ(st.granted, 2);
    FT_CHECK_EQ(st.denied, 0);
    ft_image_deinit(&empty);
    ft_door_source_free(ds);
    ft_image_deinit(&s3);
    fixture_deinit(&f);
}

static void test_stream_strangers_not_merged(void)
{
    // Two different unknown people, one after the other at the same place
    // with no gap between them (the picture cuts from one to the other):
    // two tracks, two denied events, never one.
    ft_door_opts o = door_opts_ssd();
    fixture f;
    if (!fixture_init(&f, tmp_path("strangers.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s3, s2;
    FT_CHECK(load_photo(3, &s3));
    FT_CHECK(load_photo(2, &s2));
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("cam", FT_DOOR_STREAM, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    // Describe both photos once to find each one's largest face.
    ft_describe_opts dopt = describe_opts_ssd();
    ft_face faces[16];
    size_t n3 = 0, n2 = 0;
    FT_CHECK_OK(ft_faces_describe(f.m, f.nn, &s3, &dopt, faces, 16, &n3, NULL, &err), &err);
    ft_face_box a = faces[0].box;
    for (size_t i = 1; i < n3; i++) // the first face that is not Rachel (x < 1000)
        if (a.x > 1000 && faces[i].box.x < 1000)
            a = faces[i].box;
    FT_CHECK_OK(ft_faces_describe(f.m, f.nn, &s2, &dopt, faces, 16, &n2, NULL, &err), &err);
    ft_face_box b = faces[0].box;
    double t = 3000.0;
    for (int i = 0; i < 6; i++, t += 0.04) {
        ft_image fr, sized;
        const ft_image *src = i < 3 ? &s3 : &s2;
        const ft_face_box *bx = i < 3 ? &a : &b;
        FT_ASSERT(crop_around(src, bx->x, bx->y, bx->w, bx->h, 0, 0, 1.0, &fr));
        // Both crops to one size, so the face is at the same place.
        FT_ASSERT(ft_image_new(300, 360, &sized) == FT_OK);
        for (int32_t y = 0; y < sized.h; y++)
            for (int32_t x = 0; x < sized.w; x++)
                memcpy(sized.rgb + ((size_t)y * sized.w + x) * 3,
                       fr.rgb + ((size_t)(y * fr.h / sized.h) * fr.w + x * fr.w / sized.w) * 3,
                       3);
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &sized, t, f.res, &err), &err);
        ft_image_deinit(&fr);
        ft_image_deinit(&sized);
    }
    FT_CHECK_OK(ft_door_flush(f.door, &w, ds, t, f.res, &err), &err);
    ft_door_source_stats st;
    ft_door_source_stats_get(ds, &st);
    FT_CHECK_EQ(st.tracks, 2);
    FT_CHECK_EQ(st.denied, 2);
    FT_CHECK_EQ(st.granted, 0);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_DENIED), 2);
    ft_door_source_free(ds);
    ft_image_deinit(&s3);
    ft_image_deinit(&s2);
    fixture_deinit(&f);
}

static void test_granted_face_replaced(void)
{
    // Rachel is granted; then, with no gap, a stranger stands exactly where
    // she stood. While her track is decided its face is not described on
    // every frame (redescribe_every 5), but within 5 frames it is, the
    // descriptor gate splits the stranger off, and the stranger's passage
    // is logged on its own (denied), never as Rachel's.
    ft_door_opts o = door_opts_ssd();
    fixture f;
    if (!fixture_init(&f, tmp_path("replaced.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s3, s2;
    FT_CHECK(load_photo(3, &s3));
    FT_CHECK(load_photo(2, &s2));
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("cam", FT_DOOR_STREAM, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    double t = 7000;
    // The stranger's crop: the same size as Rachel's, about her face's
    // centre, so her face lands where Rachel's was.
    int granted_at = -1;
    for (int i = 0; i < 14; i++, t += 0.04) {
        ft_image fr;
        if (i < 5)
            rachel_frame(&s3, i, &fr);
        else
            FT_ASSERT(crop_around(&s2, 1543.5 - 110, 274.5 - 149.5, 220, 299, 2 * i, i, 1.0, &fr));
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &fr, t, f.res, &err), &err);
        ft_image_deinit(&fr);
        for (size_t e = 0; e < f.res->n_events; e++) {
            FT_CHECK_EQ(f.res->events[e].decision, FT_DECISION_GRANTED);
            granted_at = i;
        }
    }
    FT_CHECK_EQ(granted_at, o.k - 1); // the k-th frame
    FT_CHECK_OK(ft_door_flush(f.door, &w, ds, t, f.res, &err), &err);
    ft_door_source_stats st;
    ft_door_source_stats_get(ds, &st);
    FT_CHECK_EQ(st.tracks, 2);
    FT_CHECK_EQ(st.granted, 1);
    FT_CHECK_EQ(st.denied, 1);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_GRANTED), 1);
    FT_CHECK_EQ(count_events(f.g, FT_DECISION_DENIED), 1);
    ft_door_source_free(ds);
    ft_image_deinit(&s3);
    ft_image_deinit(&s2);
    fixture_deinit(&f);
}

static void test_gate_reason_and_fail_closed(void)
{
    ft_door_opts o = door_opts_ssd();
    fixture f;
    if (!fixture_init(&f, tmp_path("gate.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s3, small, tiny;
    FT_CHECK(load_photo(3, &s3));
    // Rachel at a third of her size (a face of about 70 px, under the 80 px
    // gate) in a 640x480 frame.
    FT_ASSERT(crop_around(&s3, 1075, 215, 220, 299, 0, 0, 0.33, &tiny));
    on_canvas(&tiny, 280, 180, &small);
    ft_image_deinit(&tiny);
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("cam", FT_DOOR_STREAM, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    double t = 4000.0;
    for (int i = 0; i < 5; i++, t += 0.04)
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &small, t, f.res, &err), &err);
    FT_CHECK_EQ(f.res->n_faces, 1);
    if (f.res->n_faces == 1) {
        FT_CHECK_EQ(f.res->faces[0].state, FT_TRACK_PENDING);
        FT_CHECK_EQ(f.res->faces[0].frame.reason, FT_REASON_FACE_TOO_SMALL);
    }
    FT_CHECK_OK(ft_door_flush(f.door, &w, ds, t, f.res, &err), &err);
    FT_CHECK_EQ(f.res->n_events, 1);
    if (f.res->n_events == 1) {
        FT_CHECK_EQ(f.res->events[0].decision, FT_DECISION_DENIED);
        FT_CHECK_STREQ(f.res->events[0].reason, "face too small");
        FT_CHECK_EQ(f.res->events[0].frames, 5);
    }
    // A deleted person is never let in, even though the door's matrix was
    // loaded with her.
    FT_CHECK_OK(ft_gallery_person_delete(f.g, f.rachel, &err), &err);
    ft_image full;
    FT_ASSERT(crop_around(&s3, 1075, 215, 220, 299, 0, 0, 1.0, &full));
    ft_door_source *still = NULL;
    FT_CHECK_OK(ft_door_source_new("front", FT_DOOR_STILL, &still, &err), &err);
    FT_CHECK_OK(ft_door_frame(f.door, &w, still, &full, t, f.res, &err), &err);
    FT_CHECK_EQ(f.res->n_events, 1);
    if (f.res->n_events == 1)
        FT_CHECK_EQ(f.res->events[0].decision, FT_DECISION_DENIED);
    // Re-enrolled, then the log cannot be written: no decision is given
    // (fail closed), and nothing is returned as granted.
    ft_image s1, c;
    FT_CHECK(load_photo(1, &s1));
    FT_ASSERT(crop_around(&s1, 1476, 200, 203, 240, 0, 0, 1.0, &c));
    int64_t again = enrol(&f, &c, "Rachel");
    FT_CHECK(again > 0);
    ft_gallery *ro = NULL;
    ft_gallery_opts go = ft_gallery_opts_default();
    go.flags = FT_GALLERY_READONLY;
    FT_CHECK_OK(ft_gallery_open(tmp_path("gate.db"), &go, &ro, &err), &err);
    ft_door_worker wr = {.nn = f.nn, .g = ro};
    ft_status st = ft_door_frame(f.door, &wr, still, &full, t + 1, f.res, &err);
    FT_CHECK(st == FT_E_DB || st == FT_E_IO);
    FT_CHECK_EQ(f.res->n_events, 0);
    ft_gallery_close(ro);
    ft_image_deinit(&s1);
    ft_image_deinit(&c);
    ft_image_deinit(&full);
    ft_door_source_free(still);
    ft_door_source_free(ds);
    ft_image_deinit(&small);
    ft_image_deinit(&s3);
    fixture_deinit(&f);
}

static void test_ambiguous_names_both(void)
{
    // Rachel enrolled twice, under two names: her face is as close to both,
    // so the margin rule refuses her and the event names the two people.
    ft_door_opts o = door_opts_ssd();
    fixture f;
    if (!fixture_init(&f, tmp_path("ambiguous.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s1, c, s3, full;
    FT_CHECK(load_photo(1, &s1));
    FT_ASSERT(crop_around(&s1, 1476, 200, 203, 240, 2, 1, 1.0, &c));
    int64_t twin = enrol(&f, &c, "Rachel's twin");
    FT_CHECK(twin > 0);
    FT_CHECK(load_photo(3, &s3));
    FT_ASSERT(crop_around(&s3, 1075, 215, 220, 299, 0, 0, 1.0, &full));
    ft_door_source *still = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("front", FT_DOOR_STILL, &still, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    FT_CHECK_OK(ft_door_frame(f.door, &w, still, &full, 5000, f.res, &err), &err);
    FT_CHECK_EQ(f.res->n_events, 1);
    if (f.res->n_events == 1) {
        const ft_event *ev = &f.res->events[0];
        FT_CHECK_EQ(ev->decision, FT_DECISION_DENIED);
        FT_CHECK_STREQ(ev->reason, "ambiguous");
        FT_CHECK((ev->nearest_person_id == f.rachel && ev->second_person_id == twin) ||
                 (ev->nearest_person_id == twin && ev->second_person_id == f.rachel));
        FT_CHECK(ev->nearest_name[0] && ev->second_name[0]);
        FT_CHECK(ev->second_distance >= ev->distance);
    }
    ft_door_source_free(still);
    ft_image_deinit(&s1);
    ft_image_deinit(&c);
    ft_image_deinit(&s3);
    ft_image_deinit(&full);
    fixture_deinit(&f);
}

static void test_detect_every(void)
{
    // Detection on every 2nd frame: frames in between carry the tracks'
    // predicted boxes (not described), with the same track ids; k counts
    // described frames only. (The default k; the redescribe rule is off so
    // that every detected frame is described.)
    ft_door_opts o = door_opts_ssd();
    o.detect_every = 2;
    o.redescribe_every = 1;
    fixture f;
    if (!fixture_init(&f, tmp_path("every.db"), &o)) {
        fixture_deinit(&f);
        return;
    }
    ft_image s3;
    FT_CHECK(load_photo(3, &s3));
    ft_door_source *ds = NULL;
    ft_err err = {0};
    FT_CHECK_OK(ft_door_source_new("cam", FT_DOOR_STREAM, &ds, &err), &err);
    ft_door_worker w = {.nn = f.nn, .g = f.g};
    double t = 6000;
    int64_t track = 0;
    int granted_at = -1;
    for (int i = 0; i < 6; i++, t += 0.04) {
        ft_image fr;
        rachel_frame(&s3, i, &fr);
        FT_CHECK_OK(ft_door_frame(f.door, &w, ds, &fr, t, f.res, &err), &err);
        ft_image_deinit(&fr);
        FT_CHECK_EQ(f.res->detected, i % 2 == 0);
        FT_CHECK_EQ(f.res->n_faces, 1);
        if (f.res->n_faces != 1)
            break;
        FT_CHECK_EQ(f.res->faces[0].described, i % 2 == 0);
        if (i == 0)
            track = f.res->faces[0].track_id;
        FT_CHECK_EQ(f.res->faces[0].track_id, track);
        if (f.res->n_events && granted_at < 0)
            granted_at = i;
    }
    FT_CHECK_EQ(granted_at, 2 * (o.k - 1)); // the k-th described frame
    ft_door_source_free(ds);
    ft_image_deinit(&s3);
    fixture_deinit(&f);
}

static void test_opts_check(void)
{
    ft_door_opts o = ft_door_opts_default();
    FT_CHECK_EQ(ft_door_opts_check(&o, NULL), FT_OK);
    o.k = 6;
    FT_CHECK_EQ(ft_door_opts_check(&o, NULL), FT_E_INVALID); // k > n
    o = ft_door_opts_default();
    o.n = FT_DOOR_MAX_N + 1;
    FT_CHECK_EQ(ft_door_opts_check(&o, NULL), FT_E_INVALID);
    o = ft_door_opts_default();
    o.gap_s = 0;
    FT_CHECK_EQ(ft_door_opts_check(&o, NULL), FT_E_INVALID);
    ft_door_source *s = NULL;
    FT_CHECK_EQ(ft_door_source_new("", FT_DOOR_STREAM, &s, NULL), FT_E_INVALID);
    FT_CHECK_EQ(ft_door_source_new("bad\nname", FT_DOOR_STREAM, &s, NULL), FT_E_INVALID);
}


// The door in faceres's space (face/descriptor.h): the crop comes from the
// detector's box alone, so the door runs with NO landmark or ResNet
// weights loaded (it would fail if it tried them). Rachel is enrolled in
// faceres's space from sample1 and recognised in sample3; the man on the
// left of sample3 is a stranger. Needs .cache/human-3.3.6 (tools/setup.sh):
// skipped without it.
static void test_faceres_box_only(void)
{
    ft_err err = {0};
    ft_faceres *fr = NULL;
    if (ft_faceres_load(ft_descriptor_faceres_path(), NULL, &fr, &err) != FT_OK) {
        printf("SKIP: no faceres weights (%s)\n", err.msg);
        fflush(NULL);
        exit(77); // ctest: SKIP_RETURN_CODE
    }
    const ft_descriptor_net *net = ft_descriptor_net_find("faceres");
    FT_ASSERT(net && !net->needs_landmarks);
    ft_models_opts mo = ft_models_opts_default();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", ft_test_assets());
    mo.dir = dir;
    mo.tiny = mo.landmarks = mo.landmarks_tiny = mo.recognition = mo.yunet = false;
    ft_face_models *m = NULL;
    ft_nn_ctx *nn = NULL;
    ft_gallery *g = NULL;
    ft_door *door = NULL;
    ft_door_source *ds = NULL;
    ft_door_result *res = ft_malloc(sizeof *res);
    const char *db = tmp_path("faceres.db");
    unlink(db);
    FT_CHECK_OK(ft_face_models_load(&mo, &m, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &nn), NULL);
    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    ft_gallery_policy p = ft_gallery_policy_default();
    p.min_detector_score = 0.5; // as fixture_init: the door's rules, not the gate
    FT_CHECK_OK(ft_gallery_policy_save(g, &p, &err), &err);
    ft_door_opts o = door_opts_ssd();
    o.descriptor = net;
    o.faceres = fr;
    o.describe.landmarks = false;
    FT_CHECK_OK(ft_door_new(m, &o, NULL, &door, &err), &err);
    FT_CHECK_OK(ft_door_source_new("front", FT_DOOR_STILL, &ds, &err), &err);
    ft_image s1, s3, her, him;
    FT_ASSERT(res && m && nn && g && door && ds);
    FT_ASSERT(load_photo(1, &s1) && load_photo(3, &s3));
    FT_ASSERT(crop_around(&s1, 1476, 200, 203, 240, 0, 0, 1.0, &her));
    // Enrolment in faceres's space: the detector's box, then the network.
    ft_describe_opts dopt = describe_opts_ssd();
    ft_describe_opts po = ft_descriptor_net_pipeline(net, &dopt);
    FT_CHECK(!po.landmarks && !po.descriptors);
    ft_face f;
    bool low = false;
    static float d[FT_DESCRIPTOR_DIM_MAX];
    FT_CHECK_OK(ft_face_single(m, nn, &her, &po, FT_SINGLE_FACE_FLOOR, false, &f, &low, &err),
                &err);
    ft_descriptor_models mm = {m, fr};
    FT_CHECK_OK(ft_descriptor_net_face(net, &mm, nn, &her, &f, &dopt, d, &err), &err);
    ft_sample sm;
    memset(&sm, 0, sizeof sm);
    sm.descriptor = d;
    sm.dim = (uint32_t)net->dim;
    snprintf(sm.model, sizeof sm.model, "%s", net->space(dopt.align));
    snprintf(sm.alignment, sizeof sm.alignment, "%s", net->align_name(dopt.align));
    sm.detector_score = f.box.score;
    int64_t rachel = 0;
    FT_CHECK_OK(ft_gallery_enroll(g, 0, "Rachel", &sm, 1, &rachel, NULL, &err), &err);
    ft_image_deinit(&her);

    ft_door_worker w = {.nn = nn, .g = g};
    FT_ASSERT(crop_around(&s3, 1075, 215, 220, 299, 0, 0, 1.0, &her));
    FT_CHECK_OK(ft_door_frame(door, &w, ds, &her, 1000.0, res, &err), &err);
    FT_CHECK_EQ(res->n_events, 1);
    if (res->n_events == 1) {
        FT_CHECK_EQ(res->events[0].decision, FT_DECISION_GRANTED);
        FT_CHECK_EQ(res->events[0].person_id, rachel);
        // Issue 12 / the e2e test: these two photos are 0.28 apart in
        // faceres's space, under its 0.38.
        FT_CHECK(res->events[0].distance < net->threshold);
    }
    FT_ASSERT(crop_around(&s3, 585, 329, 199, 271, 0, 0, 1.0, &him));
    FT_CHECK_OK(ft_door_frame(door, &w, ds, &him, 1001.0, res, &err), &err);
    FT_CHECK_EQ(res->n_events, 1);
    if (res->n_events == 1) {
        FT_CHECK_EQ(res->events[0].decision, FT_DECISION_DENIED);
        FT_CHECK_EQ(res->events[0].person_id, 0);
    }
    ft_image_deinit(&her);
    ft_image_deinit(&him);
    ft_image_deinit(&s1);
    ft_image_deinit(&s3);
    ft_door_source_free(ds);
    ft_door_free(door);
    ft_gallery_close(g);
    ft_nn_ctx_free(nn);
    ft_face_models_free(m);
    ft_faceres_free(fr);
    ft_free(res);
}

// Issue 11: YuNet is the default detector of the pipeline and of the door,
// and the door grants at 3 of 5 (with YuNet, 2 of 3 let 1 of 83 stranger
// passages through, 3 of 5 none: docs/BENCHMARKS.md, the door's k of n).
static void test_defaults(void)
{
    FT_CHECK_EQ(ft_detect_opts_default().kind, FT_DETECTOR_YUNET);
    FT_CHECK_EQ(ft_describe_opts_default().detect.kind, FT_DETECTOR_YUNET);
    ft_door_opts o = ft_door_opts_default();
    FT_CHECK_EQ(o.describe.detect.kind, FT_DETECTOR_YUNET);
    FT_CHECK_EQ(o.k, 3);
    FT_CHECK_EQ(o.n, 5);
}

// The default door runs YuNet: with YuNet the only detector loaded, a door
// with default options (the ResNet space, so no faceres weights are
// needed) finds sample1's faces, and the pipeline's default describes them
// with YuNet's five keypoints. An SSD default fails here ("the SSD
// detector is not loaded").
static void test_default_runs_yunet(void)
{
    ft_err err = {0};
    ft_models_opts mo = ft_models_opts_default();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", ft_test_assets());
    mo.dir = dir;
    mo.ssd = mo.tiny = mo.landmarks_tiny = false;
    ft_face_models *m = NULL;
    ft_nn_ctx *nn = NULL;
    ft_gallery *g = NULL;
    ft_door *door = NULL;
    ft_door_source *ds = NULL;
    ft_door_result *res = ft_malloc(sizeof *res);
    const char *db = tmp_path("default.db");
    unlink(db);
    FT_CHECK_OK(ft_face_models_load(&mo, &m, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &nn), NULL);
    FT_CHECK_OK(ft_gallery_open(db, NULL, &g, &err), &err);
    ft_image s1;
    if (!res || !m || !nn || !g || !load_photo(1, &s1))
        goto done;
    ft_describe_opts dopt = ft_describe_opts_default();
    ft_face faces[16];
    size_t n = 0;
    FT_CHECK_OK(ft_faces_describe(m, nn, &s1, &dopt, faces, 16, &n, NULL, &err), &err);
    FT_CHECK(n >= 1);
    for (size_t i = 0; i < n && i < 16; i++)
        FT_CHECK_EQ(faces[i].kps.n, FT_KEYPOINTS);
    ft_door_opts o = ft_door_opts_default();
    o.descriptor = ft_descriptor_net_resnet();
    FT_CHECK_OK(ft_door_new(m, &o, NULL, &door, &err), &err);
    FT_CHECK_OK(ft_door_source_new("front", FT_DOOR_STILL, &ds, &err), &err);
    if (door && ds) {
        ft_door_worker w = {.nn = nn, .g = g};
        FT_CHECK_OK(ft_door_frame(door, &w, ds, &s1, 1000.0, res, &err), &err);
        FT_CHECK(res->detected);
        FT_CHECK_EQ(res->n_faces, n); // the same detector as the pipeline's default
    }
    ft_image_deinit(&s1);
done:
    ft_door_source_free(ds);
    ft_door_free(door);
    ft_gallery_close(g);
    ft_nn_ctx_free(nn);
    ft_face_models_free(m);
    ft_free(res);
}

// ft_face_single says which detector found its face, the fallback's when
// the asked one found nothing, and cuts the landmark crop as that
// detector's (ft_landmark_box). Sample1's three faces score 0.91-0.94 with
// YuNet, 0.72-0.78 with the tiny detector and 0.989-0.995 with the SSD
// (`facetracker detect --detector D`, this build), so at a floor and
// threshold of 0.96 only the SSD finds one: YuNet and tiny requests fall
// back to it; at the default threshold each finds its own.
static void test_single_names_detector(void)
{
    ft_err err = {0};
    ft_models_opts mo = ft_models_opts_default();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", ft_test_assets());
    mo.dir = dir;
    mo.landmarks_tiny = false;
    ft_face_models *m = NULL;
    ft_nn_ctx *nn = NULL;
    FT_CHECK_OK(ft_face_models_load(&mo, &m, &err), &err);
    FT_CHECK_OK(ft_nn_ctx_new(1, &nn), NULL);
    ft_image s1;
    if (!m || !nn || !load_photo(1, &s1))
        goto done;
    static const struct {
        ft_detector_kind asked;
        double thr;
        ft_detector_kind found;
        int kps;
    } cases[] = {
        {FT_DETECTOR_YUNET, 0.5, FT_DETECTOR_YUNET, FT_KEYPOINTS},
        {FT_DETECTOR_TINY, 0.5, FT_DETECTOR_TINY, 0},
        {FT_DETECTOR_SSD, 0.5, FT_DETECTOR_SSD, 0},
        {FT_DETECTOR_YUNET, 0.96, FT_DETECTOR_SSD, 0},
        {FT_DETECTOR_TINY, 0.96, FT_DETECTOR_SSD, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ft_describe_opts o = ft_describe_opts_default();
        o.detect.kind = cases[i].asked;
        o.detect.min_score = cases[i].thr;
        o.descriptors = false;
        ft_face f;
        bool low = true;
        FT_CHECK_OK(ft_face_single(m, nn, &s1, &o, cases[i].thr, true, &f, &low, &err), &err);
        FT_CHECK_EQ(f.detector, cases[i].found);
        FT_CHECK_EQ(f.kps.n, cases[i].kps);
        FT_CHECK(!low);
        // The 68 points were cut from the finder's landmark box: the same
        // net on the same crop of the same image gives the same bits, so the
        // compare is exact (another crop moves them by pixels).
        ft_point lm[FT_LANDMARKS];
        ft_face_box lb = ft_landmark_box(cases[i].found, &f.box);
        FT_CHECK_OK(ft_landmarks(m, nn, &s1, &lb, false, lm, &err), &err);
        FT_CHECK(f.has_landmarks);
        for (int k = 0; k < FT_LANDMARKS; k++) {
            FT_CHECK_DBL_EXACT(lm[k].x, f.landmarks[k].x);
            FT_CHECK_DBL_EXACT(lm[k].y, f.landmarks[k].y);
        }
    }
    ft_image_deinit(&s1);
done:
    ft_nn_ctx_free(nn);
    ft_face_models_free(m);
}

static const ft_test_case cases[] = {
    {"iou", test_iou},
    {"associate_motion", test_associate_motion},
    {"associate_descriptor_gate", test_associate_descriptor_gate},
    {"opts_check", test_opts_check},
    {"still_one_event_per_face", test_still_one_event_per_face},
    {"stream_k_of_n", test_stream_k_of_n},
    {"stream_strangers_not_merged", test_stream_strangers_not_merged},
    {"granted_face_replaced", test_granted_face_replaced},
    {"gate_reason_and_fail_closed", test_gate_reason_and_fail_closed},
    {"ambiguous_names_both", test_ambiguous_names_both},
    {"detect_every", test_detect_every},
    {"faceres_box_only", test_faceres_box_only},
    {"defaults", test_defaults},
    {"default_runs_yunet", test_default_runs_yunet},
    {"single_names_detector", test_single_names_detector},
};

FT_TEST_MAIN(cases)
