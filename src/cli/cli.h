// Shared helpers of the subcommands: option parsing, JSON output, model
// loading, progress. Exit codes: 0 success, 1 bad usage, 2 bad input.
#ifndef FT_CLI_H
#define FT_CLI_H

#include "core/buf.h"
#include "core/status.h"
#include "face/face.h"
#include "io/image.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { FT_EXIT_OK = 0, FT_EXIT_USAGE = 1, FT_EXIT_INPUT = 2 };

// Option parsing: `argv[*i]` is the option; its value is argv[*i + 1].
// On a missing or malformed value prints an error and returns false.
bool ft_cli_double(int argc, char **argv, int *i, double lo, double hi, double *out);
bool ft_cli_int(int argc, char **argv, int *i, long lo, long hi, long *out);
bool ft_cli_str(int argc, char **argv, int *i, const char **out);
bool ft_cli_is_help(const char *a);

// Prints "facetracker CMD: message" to stderr.
void ft_cli_errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Writes a JSON number that round-trips doubles compactly.
ft_status ft_cli_json_num(ft_buf *b, double v);

// Prints b + newline to stdout and flushes.
void ft_cli_emit(ft_buf *b);

// The error line for an image that failed: {"image": P, "error": {...}}.
void ft_cli_emit_error(const char *image, ft_status st, const ft_err *err);

// Loads the requested nets from `dir` (NULL = default), printing a clear
// message on failure.
ft_status ft_cli_load_models(const char *cmd, const char *dir, bool ssd, bool tiny, bool lm,
                             bool lm_tiny, bool rec, ft_face_models **out);

// The same for one detector (and YuNet's file when it is the one).
ft_status ft_cli_load_detector(const char *cmd, const char *dir, ft_detector_kind k, bool lm,
                               bool lm_tiny, bool rec, ft_face_models **out);

// A progress line on stderr when it is a terminal and there are several
// items: "[i/n] extra, T left".
typedef struct ft_progress {
    bool on;
    int n;
    double t0;
} ft_progress;
void ft_progress_start(ft_progress *p, int n);
void ft_progress_step(ft_progress *p, int done, const char *extra);
void ft_progress_end(ft_progress *p);

// Draws detection boxes (and optional labels) on a copy and saves it.
ft_status ft_cli_draw(const ft_image *im, const ft_face_box *boxes, const char *const *labels,
                      const uint32_t *colours, size_t n, const char *path, ft_err *err);

// Resolves --draw's target for `image`: OUT itself, or OUT/<stem>.jpg
// when OUT is a directory (or ends with '/').
void ft_cli_draw_path(const char *out, const char *image, char *path, size_t cap);

// Subcommands.
int ft_cmd_detect(int argc, char **argv);
int ft_cmd_convert(int argc, char **argv);
int ft_cmd_evaluate_detection(int argc, char **argv);


// Appends a face as JSON: {"box": [...], "score": s[, "landmarks": [[x,
// y]...]][, "descriptor": [...]]}.
ft_status ft_cli_json_face(ft_buf *b, const ft_face *f, bool landmarks, bool descriptor);

// Parses the options shared by the commands that compute descriptors
// (--detector, --min-score, --align, --tiny-landmarks, --models,
// --threads). Returns 1 if argv[*i] was one of them (consumed), 0 if not,
// -1 on a bad value.
typedef struct ft_cli_face_opts {
    ft_describe_opts d;
    const char *models;
    long threads;
} ft_cli_face_opts;
void ft_cli_face_opts_init(ft_cli_face_opts *o);
int ft_cli_face_opt(int argc, char **argv, int *i, ft_cli_face_opts *o);
#define FT_CLI_FACE_OPTS_HELP                                                                      \
    "  --detector yunet|ssd|tiny  face detector (default yunet; ssd and tiny are face-api's)\n"   \
    "  --min-score S         detector threshold (default 0.5)\n"                                  \
    "  --align faceapi|similarity  descriptor crop: face-api's (conforms to the reference) or\n"   \
    "                        a similarity warp from eyes and mouth (default similarity)\n"        \
    "  --tiny-landmarks      use the tiny 68-point net\n"                                         \
    "  --threads N           threads per inference (default: all cores)\n"                        \
    "  --models DIR          folder with the model files\n"

// --descriptor NAME (cli_descriptor.c): the descriptor network a command
// describes and matches with (face/descriptor.h), resnet128 by default.
// ft_cli_descriptor_parse: argv[*i] is "--descriptor"; 1 if consumed, 0
// if not this option, -1 on an unknown name. ft_cli_descriptor_load loads
// the weights the network needs beyond the face-api set (faceres's),
// printing a clear message on failure; *fr stays NULL for resnet128.
struct ft_descriptor_net;
struct ft_faceres;
int ft_cli_descriptor_parse(const char *cmd, int argc, char **argv, int *i,
                            const struct ft_descriptor_net **net);
ft_status ft_cli_descriptor_load(const char *cmd, const struct ft_descriptor_net *net,
                                 struct ft_faceres **fr);
#define FT_CLI_DESCRIPTOR_HELP                                                                     \
    "  --descriptor resnet128|faceres  descriptor network and space (default resnet128;\n"        \
    "                        faceres: weights from $FT_FACERES_MODEL or .cache/human-3.3.6)\n"

// Loads the nets these options need and an inference context.
ft_status ft_cli_face_setup(const char *cmd, const ft_cli_face_opts *o, ft_face_models **m,
                            ft_nn_ctx **ctx);

int ft_cmd_describe(int argc, char **argv);
int ft_cmd_verify(int argc, char **argv);
int ft_cmd_evaluate_recognition(int argc, char **argv);
int ft_cmd_enroll(int argc, char **argv);
int ft_cmd_people(int argc, char **argv);
int ft_cmd_identify(int argc, char **argv);
int ft_cmd_access(int argc, char **argv);
int ft_cmd_watch(int argc, char **argv);
int ft_cmd_events(int argc, char **argv);
int ft_cmd_calibrate(int argc, char **argv);
int ft_cmd_keys(int argc, char **argv);
int ft_cmd_model(int argc, char **argv);
int ft_cmd_serve(int argc, char **argv);
int ft_cmd_dataset(int argc, char **argv);
int ft_cmd_train(int argc, char **argv);
int ft_cmd_evaluate_model(int argc, char **argv);
int ft_cmd_settings(int argc, char **argv);
int ft_cmd_audit(int argc, char **argv);
int ft_cmd_backup(int argc, char **argv);
int ft_cmd_restore(int argc, char **argv);
int ft_cmd_gallery(int argc, char **argv);

// Asks before a destructive step. With `yes` (the --yes option): true.
// On a terminal (stdin and stderr): prints the question (printf-style,
// " [y/N] " appended) to stderr and reads the answer; true only for y or
// yes. Not on a terminal and no --yes: prints "facetracker CMD: refusing
// to ... without --yes (not a terminal)" and returns false.
bool ft_cli_confirm(const char *cmd, bool yes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Opens the gallery at `path` (NULL = ./facetracker.db), printing a clear
// message on failure. `read_only` also refuses to create a missing file.
struct ft_gallery;
ft_status ft_cli_gallery(const char *cmd, const char *path, bool read_only, struct ft_gallery **g);

#endif
