// The registry of descriptor networks ("descriptor spaces as data"): for
// each network its name, the space string galleries store on its samples,
// the vector length, how two vectors compare, what it needs from the face
// (the 68 landmarks or only the detector's box), its input crop, its
// default threshold and margin, and the door's track gate. Nothing outside
// this table should assume a length or a metric.
//
// Entries are static and read-only (thread-safe).
#ifndef FT_FACE_DESCRIPTOR_H
#define FT_FACE_DESCRIPTOR_H

#include "core/status.h"
#include "face/face.h"
#include "io/image.h"
#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>

// The longest vector of any registered network (faceres: 1024).
#define FT_DESCRIPTOR_DIM_MAX 1024

// Same values as the gallery's ft_metric (gallery.h); src/face does not
// include the gallery.
typedef enum ft_desc_metric {
    FT_DESC_EUCLIDEAN = 0, // |a - b| of the raw vectors
    FT_DESC_COSINE = 1,    // 1 - a.b / (|a| |b|)
} ft_desc_metric;

struct ft_faceres;

// The loaded networks a describe function may use (borrowed).
typedef struct ft_descriptor_models {
    const ft_face_models *face;      // resnet128, and the landmark nets
    const struct ft_faceres *faceres; // NULL when its weights are absent
} ft_descriptor_models;

typedef struct ft_descriptor_net ft_descriptor_net;

struct ft_descriptor_net {
    const char *name; // "resnet128", "faceres": what --descriptor takes
    size_t dim;
    ft_desc_metric metric;
    // True: the crop comes from the 68-point landmarks (or, with the
    // similarity alignment and a detector with five keypoints, from those);
    // false: from the detector's box alone (the 68-point net need not run).
    bool needs_landmarks;
    const char *crop; // one line: the input crop and preprocessing
    // The crop's extent around the box centre, in box sizes (for the face
    // region a sample keeps: every space's crop must fit in it).
    double crop_extent;
    double threshold; // default: same face iff distance < threshold
    double margin;    // default margin to the next other person
    // The policy's bounds in this space (gallery.h, ft_policy_space):
    // raising the stored threshold above safe_threshold needs an
    // administrator's confirmation; threshold_max is the largest threshold
    // the gallery accepts at all.
    double safe_threshold;
    double threshold_max;
    // True: the gallery keeps this network's threshold, margin and
    // calibration in the unsuffixed settings ("threshold", "margin", ...),
    // as galleries stored them before there were several networks; false:
    // in "threshold.<name>", "margin.<name>", ...
    bool legacy_policy_keys;
    // Enrolment: a new sample closer than this to one the person has is
    // a copy of it (the same photo re-encoded), not stored twice.
    double dup_distance;
    // The door: two detections whose descriptors are further apart than
    // this are never one track (ft_door_opts.assoc_distance).
    double track_gate;
    // The space string galleries store on samples (ft_sample.model) for
    // the given alignment (resnet128's depends on it; faceres has one).
    const char *(*space)(ft_align_mode align);
    // The alignment string stored with samples ("faceapi", "similarity",
    // "box").
    const char *(*align_name)(ft_align_mode align);
    // The descriptor of face f (its box; its landmarks when
    // needs_landmarks, or its keypoints with o->align_kps) into out (dim
    // floats). FT_E_UNSUPPORTED if the network's weights are not loaded;
    // FT_E_INVALID if f lacks what the crop needs.
    ft_status (*describe)(const ft_descriptor_models *mm, ft_nn_ctx *ctx, const ft_image *im,
                          const ft_face *f, const ft_describe_opts *o, float *out, ft_err *err);
};

// All networks (resnet128 first, then faceres).
const ft_descriptor_net *ft_descriptor_nets(size_t *n);
// The product's default network: faceres, the best space by
// leave-one-set-out on the development sets (94.69 % against the ResNet's
// 91.85 %) and, with per-person thresholds, the one that let no
// development stranger in (docs/ACCURACY.md, "The default, and why").
// Its weights come from @vladmandic/human (tools/setup.sh).
const ft_descriptor_net *ft_descriptor_net_default(void);
// face-api's 128-d ResNet (the space of galleries made before there were
// several; its policy keys are the unsuffixed ones).
const ft_descriptor_net *ft_descriptor_net_resnet(void);
// By name; NULL if unknown.
const ft_descriptor_net *ft_descriptor_net_find(const char *name);
// The network whose space string `space` is (any alignment); NULL if none.
const ft_descriptor_net *ft_descriptor_net_of_space(const char *space);
// The distance between two vectors of the network (dim floats each), in
// double. Cosine with a zero vector: 1.
double ft_descriptor_net_distance(const ft_descriptor_net *d, const float *a, const float *b);

// The pipeline options to run before describing faces in d's space:
// `o` with the 68 landmarks only when d needs them, and the ResNet's own
// descriptor only when d is resnet128.
ft_describe_opts ft_descriptor_net_pipeline(const ft_descriptor_net *d, const ft_describe_opts *o);
// The descriptor of f (found by ft_faces_describe or ft_face_single with
// ft_descriptor_net_pipeline's options) in d's space, into out (d->dim
// floats): the pipeline's own vector for resnet128 when it has one, else
// d->describe.
ft_status ft_descriptor_net_face(const ft_descriptor_net *d, const ft_descriptor_models *mm,
                                 ft_nn_ctx *ctx, const ft_image *im, const ft_face *f,
                                 const ft_describe_opts *o, float *out, ft_err *err);

// Where faceres's weights are looked for: $FT_FACERES_MODEL, else the
// build's .cache/human-3.3.6 (beside the face-api cache; tools/setup.sh
// fetches them there), else .cache/human-3.3.6 under the current folder.
const char *ft_descriptor_faceres_path(void);

#endif
