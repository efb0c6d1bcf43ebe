// Frame sources: where the door pipeline's frames come from. One small
// ops table (open / next frame / close, with a name and a health state)
// and one implementation per kind of input:
//   - still images: a file path or "-" (stdin), one frame (io/ decoders);
//   - FFmpeg (libavformat/libavcodec/libavdevice/libswscale): video files,
//     rtsp:// and rtsps://, http(s):// MJPEG (or any stream FFmpeg reads),
//     and V4L2 devices (/dev/videoN or v4l2:/dev/videoN).
// Sits on io/ and core/; knows nothing of faces or the gallery.
//
// Live sources (streams and devices) decode every packet on a thread of
// their own and keep only the newest frame: ft_source_next hands the caller
// the newest frame it has not seen yet and counts the frames it never got
// (dropped). A lost live stream is reopened with exponential backoff
// (0.5 s doubling to 30 s by default); while it is down, ft_source_next
// waits (up to its timeout) and the health says "reconnecting" with the
// last error. Files are read in order, every frame, as fast as the caller
// asks, or at their own frame rate with `realtime`.
//
// A live stream counts as lost on a read error, the end of the stream, no
// packet for 5 s (an FFmpeg interrupt deadline, so a stalled connection is
// noticed) or packets but no decodable frame for 10 s; opening (connect +
// probe) may take at most 5 s. `reconnects` counts successful reopens
// after the first successful open. FFmpeg's own log never reaches
// stdout/stderr: its last error line is appended to our messages.
//
// Threading: one ft_source is used by one thread at a time (its own
// decoder thread is internal); ft_source_health_get and ft_source_stop may
// be called from any thread.
#ifndef FT_SOURCE_SOURCE_H
#define FT_SOURCE_SOURCE_H

#include "core/status.h"
#include "io/image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ft_source_kind {
    FT_SOURCE_IMAGE = 0, // a still photo: one frame
    FT_SOURCE_FILE,      // a video file: every frame, in order, then end
    FT_SOURCE_STREAM,    // rtsp(s)://, http(s)://: live, newest frame, reconnects
    FT_SOURCE_DEVICE,    // V4L2: live, newest frame, reopened when lost
} ft_source_kind;

typedef enum ft_source_state {
    FT_SOURCE_STARTING = 0, // opening, no frame yet
    FT_SOURCE_RUNNING,      // frames arrive
    FT_SOURCE_RECONNECTING, // lost; reopening with backoff (live only)
    FT_SOURCE_ENDED,        // a file or image has no more frames
    FT_SOURCE_FAILED,       // gave up (bad file, corrupt stream of a file, stopped)
} ft_source_state;

const char *ft_source_state_str(ft_source_state s); // "starting", "running", ...
const char *ft_source_kind_str(ft_source_kind k);   // "image", "file", "stream", "device"

typedef struct ft_source_opts {
    bool realtime;          // files: deliver at the file's own frame rate (default: as fast as asked)
    double timeout_s;       // ft_source_next waits at most this for a frame; default 10
    double backoff_min_s;   // first reconnect delay; default 0.5
    double backoff_max_s;   // longest reconnect delay; default 30
    int max_reconnects;     // live: give up after this many failed reopens in a row; <0 = never (default)
    uint64_t max_pixels;    // frames larger than this are an error; default 50,000,000
    const char *rtsp_transport; // "tcp" (default) or "udp"
} ft_source_opts;

ft_source_opts ft_source_opts_default(void);

// One decoded frame. `im` is owned by the frame (ft_source_frame_deinit).
typedef struct ft_source_frame {
    ft_image im;
    double t;        // seconds: the frame's presentation time for files (from 0),
                     // the wall clock (Unix seconds) when received for live sources
    int64_t index;   // frames decoded so far by the source, 0-based (counts drops too)
} ft_source_frame;

void ft_source_frame_deinit(ft_source_frame *f);

typedef struct ft_source_health {
    ft_source_state state;
    ft_source_kind kind;
    int64_t frames_decoded;  // every frame the decoder produced
    int64_t frames_delivered; // handed to the caller by ft_source_next
    int64_t frames_dropped;  // live: decoded but superseded before the caller took them
    int64_t reconnects;      // successful reopens after a loss
    double fps;              // decoded frames per second over the last few seconds
    double last_frame_t;     // wall clock (Unix s) of the newest decoded frame; 0 = none
    char last_error[256];    // "" = none
} ft_source_health;

typedef struct ft_source ft_source;

// The ops table every kind implements (STYLE.md §12). `impl` is the
// implementation's own state.
typedef struct ft_source_ops {
    const char *name; // "image", "ffmpeg"
    // Whether this implementation takes `url` (cheap: the text, and for the
    // image implementation the first 64 bytes of a local file).
    bool (*accepts)(const char *url);
    ft_status (*open)(const char *url, const ft_source_opts *o, void **impl, ft_err *err);
    // The next frame, as described above. FT_E_NOT_FOUND at the end of a
    // file or image (no frame written); FT_E_BUSY when a live source had no
    // new frame within the timeout; FT_E_FORMAT / FT_E_IO / FT_E_UNSUPPORTED
    // when a file is corrupt or a source cannot be used at all.
    ft_status (*next)(void *impl, ft_source_frame *out, ft_err *err);
    void (*health)(void *impl, ft_source_health *out);
    // Makes a blocked next() return FT_E_NOT_FOUND soon; from any thread.
    void (*stop)(void *impl);
    void (*close)(void *impl);
} ft_source_ops;

// Opens `url` with the first implementation that accepts it:
//   "-" or a path of a still image (by content)      -> image
//   a path of anything else (video file)             -> FFmpeg, FT_SOURCE_FILE
//   rtsp://, rtsps://, http://, https://             -> FFmpeg, FT_SOURCE_STREAM
//   /dev/videoN, v4l2:/dev/videoN                    -> FFmpeg (v4l2), FT_SOURCE_DEVICE
// `name` is the source's name for logs and events (copied; NULL = derived
// from the url without its credentials). A source that cannot be opened at
// all fails here: FT_E_NOT_FOUND (missing file, absent V4L2 device node),
// FT_E_FORMAT (corrupt file), FT_E_UNSUPPORTED (no video stream, no
// decoder, unknown scheme), FT_E_LIMIT (frames over max_pixels),
// FT_E_INVALID (empty url, rtsp_transport not "tcp"/"udp"); messages name
// the path or url (without credentials) and carry FFmpeg's reason. A live
// stream that is down at start does not fail: it starts reconnecting
// (ft_source_next then says FT_E_BUSY until frames come, or the error that
// made it give up after max_reconnects). After ft_source_stop the state is
// FAILED (ENDED if it had ended) and next returns FT_E_NOT_FOUND.
// Files and images: frames are decoded on the caller's thread inside
// ft_source_next; `t` of a file's frame is its pts minus the stream's start
// time, so a 25 fps file gives 0, 0.04, 0.08, ...
ft_status ft_source_open(const char *url, const char *name, const ft_source_opts *o,
                         ft_source **out, ft_err *err);
ft_status ft_source_next(ft_source *s, ft_source_frame *out, ft_err *err);
void ft_source_health_get(ft_source *s, ft_source_health *out);
const char *ft_source_name(const ft_source *s); // borrowed, lives as long as s
// The url with any user:password@ replaced by "***@", for logs and pages.
const char *ft_source_url_safe(const ft_source *s);
void ft_source_stop(ft_source *s);
void ft_source_close(ft_source *s); // NULL is a no-op

#endif
