// `facetracker convert IN OUT`: decode an image (EXIF orientation applied)
// and write it as JPEG, PNG or PPM. The golden generator uses it to hand
// face-api exactly the pixels our decoder produces.
#include "cli/cli.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker convert IN OUT\n"
    "\n"
    "Decodes IN (JPEG, PNG, WebP, HEIC, PPM; '-' = stdin; EXIF orientation applied) and writes\n"
    "OUT as .jpg, .png or .ppm (by its extension). The pixels written to a .ppm or .png are\n"
    "exactly the RGB values every facetracker command sees.\n";

int ft_cmd_convert(int argc, char **argv)
{
    if (argc == 2 && ft_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return FT_EXIT_OK;
    }
    if (argc != 3) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_image_limits lim = ft_image_limits_default();
    ft_image im;
    ft_err err = {0};
    ft_status st = ft_image_load(argv[1], &lim, &im, &err);
    if (st == FT_OK) {
        st = ft_image_save(&im, argv[2], &err);
        ft_image_deinit(&im);
    }
    if (st != FT_OK) {
        ft_cli_errorf("convert", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    return FT_EXIT_OK;
}
