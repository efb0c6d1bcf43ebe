// facetracker: the command-line entry point. Each subcommand lives in
// cmd_<name>.c; this file only dispatches and is, with them, the only code
// that decides the process's exit status.
#include "cli/cli.h"

#include "nn/nn.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"detect", ft_cmd_detect, "find faces in photos (JSON lines, optional annotated copies)"},
    {"evaluate-detection", ft_cmd_evaluate_detection,
     "precision, recall, AP and IoU of a detector on annotated photos"},
    {"describe", ft_cmd_describe, "every face with box, score, 68 landmarks and 128-d descriptor"},
    {"verify", ft_cmd_verify, "are the faces in two photos the same person?"},
    {"evaluate-recognition", ft_cmd_evaluate_recognition,
     "verification accuracy, ROC and open-set identification on labelled photos"},
    {"enroll", ft_cmd_enroll, "enrol a person from photos showing one face each"},
    {"people", ft_cmd_people, "list, show, rename or delete enrolled people"},
    {"identify", ft_cmd_identify, "who is each face: a person, unknown or ambiguous"},
    {"access", ft_cmd_access, "the door's decision for each face, written to the access log"},
    {"watch", ft_cmd_watch, "cameras, videos, photos through the door: one decision per passage"},
    {"events", ft_cmd_events, "read the access log (JSON or CSV)"},
    {"calibrate", ft_cmd_calibrate, "threshold for a target false-accept rate from the gallery"},
    {"keys", ft_cmd_keys, "API keys of the web server: create, list, revoke"},
    {"settings", ft_cmd_settings, "show, set or reset the access policy and retention"},
    {"audit", ft_cmd_audit, "the audit trail of administrative actions (JSON or CSV)"},
    {"backup", ft_cmd_backup, "a consistent copy of the gallery, also while the server runs"},
    {"restore", ft_cmd_restore, "replace the gallery with a checked backup (server stopped)"},
    {"gallery", ft_cmd_gallery, "gallery copy SRC DST: move a gallery between SQLite and PostgreSQL"},
    {"dataset", ft_cmd_dataset, "labelme datasets: import, autolabel, split, augment"},
    {"train", ft_cmd_train, "train a face/no-face + box model on a dataset (.h5 out)"},
    {"evaluate-model", ft_cmd_evaluate_model, "accuracy and IoU of a trained model on a split"},
    {"model", ft_cmd_model, "model info FILE.h5: the layers of a Keras-layout model"},
    {"serve", ft_cmd_serve, "the web app and REST API (page, /api/prediction, /api/v1/...)"},
    {"convert", ft_cmd_convert, "decode a photo (EXIF applied) and write JPEG/PNG/PPM"},
};

static void print_usage(FILE *f)
{
    fprintf(f, "usage: facetracker COMMAND [options] ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-20s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nfacetracker COMMAND --help shows a command's options.\n"
               "facetracker --version prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return FT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("facetracker %s (kernels: %s)\n", FT_VERSION, ft_nn_init());
        return FT_EXIT_OK;
    }
    if (ft_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return FT_EXIT_OK;
    }
    ft_nn_init();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "facetracker: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return FT_EXIT_USAGE;
}
