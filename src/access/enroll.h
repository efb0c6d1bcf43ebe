// Turning a photo into an enrolment sample: the one-face rule, the same
// quality gate the door applies, the descriptor, a thumbnail and the
// photo's fingerprint. The CLI and the HTTP server both enrol through it.
#ifndef FT_ACCESS_ENROLL_H
#define FT_ACCESS_ENROLL_H

#include "access/access.h"
#include "core/buf.h"
#include "face/face.h"
#include "gallery/gallery.h"

// Fills *sample (descriptor in `net`'s space, written to `desc`, which
// holds FT_DESCRIPTOR_DIM_MAX floats and must outlive the sample; space,
// alignment, detector score, face size, source SHA-256 of `src`/`src_len`
// if given) and the thumbnail JPEG in `thumb` (sample->thumbnail points
// into it: keep `thumb` alive until the sample is stored). Errors:
// FT_E_NO_FACE, FT_E_MANY_FACES, FT_E_QUALITY (with the reason),
// decode/inference errors. *below_threshold tells that the face was the
// best candidate under the detector threshold.
ft_status ft_enroll_sample(const ft_descriptor_models *mm, ft_nn_ctx *ctx, const ft_image *im,
                           const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                           const ft_descriptor_net *net, const ft_gallery_policy *p,
                           ft_sample *sample, float *desc, ft_buf *thumb, bool *below_threshold,
                           ft_err *err);

// The detector that found face f (f->detector: the one asked for, or the
// one ft_face_single fell back to), as ft_sample.detector records it
// ("yunet", "ssd", "tiny"). Both enrolment functions fill
// sample.detector with it.
const char *ft_enroll_detector(const ft_face *f);

// One photo in several descriptor spaces: the one face found once (with
// the 68 landmarks if any of `nets` needs them), then out[i] in nets[i]'s
// space (its vector written to descs + i * FT_DESCRIPTOR_DIM_MAX), all
// sharing the source SHA-256, the thumbnail (`thumb`) and the face region
// (`region`: a JPEG crop of the photo, FT_ENROLL_REGION_EXTENT box sizes
// about the face's centre, clipped to the photo, with the box inside it in
// sample.region_box; left out, region_len 0, if the JPEG would pass
// FT_GALLERY_THUMB_MAX). Keep descs, thumb and region alive until the
// samples are stored. Errors as ft_enroll_sample.
#define FT_ENROLL_REGION_EXTENT 2.5 // > every registered crop_extent (face/descriptor.h)
ft_status ft_enroll_samples(const ft_descriptor_models *mm, ft_nn_ctx *ctx, const ft_image *im,
                            const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                            const ft_descriptor_net *const *nets, size_t n_nets,
                            const ft_gallery_policy *p, ft_sample *out, float *descs,
                            ft_buf *thumb, ft_buf *region, bool *below_threshold, ft_err *err);

// The face region of box b in im, as ft_enroll_samples keeps it: the JPEG
// into `region` and the box inside it into box[4]. FT_E_LIMIT if the JPEG
// passes FT_GALLERY_THUMB_MAX.
ft_status ft_enroll_region(const ft_image *im, const ft_face_box *b, ft_buf *region, float box[4],
                           ft_err *err);

// ---- Screening new samples against the gallery ----
//
// Before samples are stored, each is compared with what is enrolled:
//  - CONFLICT: its face matches ANOTHER person, i.e. its distance to that
//    person's nearest sample is below the policy threshold plus the margin
//    (the distance under which the door would grant that person, or call
//    the two ambiguous). Enrolling it would make the real person's photos
//    ambiguous (denied) or labelled with the wrong name. Refused unless the
//    caller forces it.
//  - DUPLICATE: it repeats a sample the person already has (or an earlier
//    one of the same batch): the same source photo (source_sha256), or a
//    descriptor closer than its space's dup_distance (face/descriptor.h; the
//    ResNet's is FT_ENROLL_DUP_DISTANCE). Never stored twice.
//  - NEW otherwise.
//
// FT_ENROLL_DUP_DISTANCE: 0.05. The same pixels give distance 0 (the
// pipeline is deterministic), and the same photo saved again as JPEG
// (quality 90) lands at 0.06-0.07, two crops of one photo at about 0.16,
// and two different photos of one person at 0.2-0.45 (measured with
// `facetracker verify` on the demo photos). 0.05 is under all of these
// but the same pixels: it skips re-uploads of the same image under
// another file (other metadata, PNG/lossless copies, tiny re-crops), and
// never discards a genuinely different photo, which is what the gallery
// needs more of.
#define FT_ENROLL_DUP_DISTANCE 0.05

typedef enum ft_enroll_verdict_kind {
    FT_ENROLL_NEW = 0,
    FT_ENROLL_DUPLICATE,
    FT_ENROLL_CONFLICT,
} ft_enroll_verdict_kind;

const char *ft_enroll_verdict_str(ft_enroll_verdict_kind k); // "new", "duplicate", "conflict"

typedef struct ft_enroll_verdict {
    ft_enroll_verdict_kind kind;
    // CONFLICT: the other person and the distance to their nearest sample.
    // DUPLICATE: the repeated sample (0 when it repeats one of the same
    // batch) and the distance (0 for the same source photo).
    int64_t other_person_id;
    char other_name[FT_GALLERY_NAME_MAX + 1];
    int64_t dup_sample_id;
    double distance;
    // CONFLICT: the threshold and margin of the sample's space (the limit
    // is their sum).
    double threshold, margin;
} ft_enroll_verdict;

// Screens `n` samples meant for `person_id` (0 = a new person) against
// every enrolled sample of the same descriptor space (distances in that
// space's metric; the conflict limit is the stored threshold plus margin
// of its network, ft_access_policy_load; samples of spaces no registered
// network makes are skipped). Fills verdicts[n].
// Read-only; FT_OK whatever the verdicts (callers decide: refuse
// conflicts unless forced, skip duplicates). The screen and the write
// are separate transactions: two enrolments of one face under two names
// at the same moment can both pass (the door then says "ambiguous").
ft_status ft_enroll_screen(ft_gallery *g, int64_t person_id, const ft_gallery_policy *p,
                           const ft_sample *samples, size_t n, ft_enroll_verdict *verdicts,
                           ft_err *err);

// The first CONFLICT in verdicts as an FT_E_EXISTS error naming the other
// person ("photo %s: the face matches Alice (id 3) at distance 0.31 ..."),
// or FT_OK if there is none. `labels` (may be NULL) names each sample
// (file names) in the message.
ft_status ft_enroll_conflict_error(const ft_enroll_verdict *verdicts, size_t n,
                                   const char *const *labels, const ft_gallery_policy *p,
                                   ft_err *err);

#endif
