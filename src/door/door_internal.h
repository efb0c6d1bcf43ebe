// Declarations shared by the files of src/door (not for other modules):
// the track and its association (track.c), the per-track decision state.
#ifndef FT_DOOR_INTERNAL_H
#define FT_DOOR_INTERNAL_H

#include "core/buf.h"
#include "door/door.h"

// One described frame of a track, as the k-of-n rule reads it.
typedef struct ft_door__obs {
    int64_t person_id; // the frame's match (rules 1-5 passed); 0 = no match
    ft_access_reason reason;
} ft_door__obs;

typedef struct ft_door__track {
    int64_t id;
    // Motion: the last box, its velocity (pixels per second, per
    // coordinate) and when it was last seen / first seen.
    double x, y, w, h;
    double vx, vy, vw, vh;
    double t_first, t_last;
    int32_t frames; // described frames
    int32_t since_desc; // detected frames since the last described one
    // The last descriptor (association) and the fused one: the sum of the
    // unit descriptors of frames that passed the quality gate, and the sum
    // of their lengths.
    // Sized for the longest network (face/descriptor.h); the door's
    // network's length is used.
    float last_desc[FT_DESCRIPTOR_DIM_MAX];
    bool has_desc;
    double fused[FT_DESCRIPTOR_DIM_MAX];
    double fused_len_sum;
    int32_t n_fused;
    // The last n frames' outcomes (ring) and counts of gate failures.
    ft_door__obs ring[FT_DOOR_MAX_N];
    int32_t ring_len, ring_pos;
    int32_t n_small, n_low_score;
    double best_score; // the detector score of the best face seen
    // Decision.
    ft_track_state state;
    int64_t person_id;
    char name[FT_GALLERY_NAME_MAX + 1];
    // The best face so far (largest min side x score), as a JPEG.
    double thumb_quality;
    ft_buf thumb;
    bool seen_now; // matched a detection in the current frame
} ft_door__track;

struct ft_door_source {
    char name[FT_GALLERY_NAME_MAX + 1];
    ft_door_mode mode;
    bool record;
    ft_door__track *tracks; // FT_DOOR_MAX_TRACKS slots
    size_t n_tracks;
    int64_t next_track_id;
    int64_t frame_count;
    ft_door_source_stats stats;
};

// A detection as association sees it.
typedef struct ft_door__det {
    ft_face_box box;
    const float *desc; // NULL when not described
} ft_door__det;

typedef struct ft_door__assoc_opts {
    double iou_min, assoc_distance;
    const ft_descriptor_net *net; // the descriptors' network (length, distance)
} ft_door__assoc_opts;

double ft_door__iou(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                    double bh);

// The track's box predicted at time t (constant velocity since t_last).
void ft_door__predict(const ft_door__track *tr, double t, ft_face_box *out);

// Associates `n_det` detections at time t with the live tracks: match[i]
// is the index of detection i's track in `tracks`, or -1 (a new track).
// Greedy by cost, each track at most once.
void ft_door__associate(const ft_door__track *tracks, size_t n_tracks, const ft_door__det *dets,
                        size_t n_det, double t, const ft_door__assoc_opts *o, int *match);

// Moves a track to a new detection at time t (box and velocity).
void ft_door__track_update(ft_door__track *tr, const ft_face_box *b, double t);

#endif
