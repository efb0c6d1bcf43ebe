// `facetracker model info FILE.h5`: the layers of a Keras-layout model.
#include "cli/cli.h"

#include "model/h5.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker model info FILE.h5\n"
    "\n"
    "Prints the model's layers (type, output shape, parameters) as JSON.\n";

int ft_cmd_model(int argc, char **argv)
{
    if (argc == 2 && ft_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return FT_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "info") != 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_err err = {0};
    ft_status st = ft_h5_model_info(argv[2], &b, &err);
    if (st == FT_OK)
        ft_cli_emit(&b);
    else
        ft_cli_errorf("model", "%s", ft_err_msg(&err, st));
    ft_buf_deinit(&b);
    return st == FT_OK ? FT_EXIT_OK : FT_EXIT_INPUT;
}
