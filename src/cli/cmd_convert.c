// `facetracker convert IN OUT`: decode an image (EXIF orientation applied)
// and write it as JPEG, PNG or PPM. The golden generator uses it to hand
// face-api exactly the pixels our decoder produces.
#include "cli/cli.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker convert [--crop X,Y,W,H] IN OUT\n"
    "\n"
    "Decodes IN (JPEG, PNG, WebP, HEIC, PPM; '-' = stdin; EXIF orientation applied) and writes\n"
    "OUT as .jpg, .png or .ppm (by its extension). The pixels written to a .ppm or .png are\n"
    "exactly the RGB values every facetracker command sees. --crop keeps a rectangle (pixels,\n"
    "clipped to the image).\n";

int ft_cmd_convert(int argc, char **argv)
{
    int crop[4] = {0, 0, 0, 0};
    bool do_crop = false;
    if (argc == 2 && ft_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return FT_EXIT_OK;
    }
    if (argc == 5 && strcmp(argv[1], "--crop") == 0) {
        if (sscanf(argv[2], "%d,%d,%d,%d", &crop[0], &crop[1], &crop[2], &crop[3]) != 4 ||
            crop[2] <= 0 || crop[3] <= 0) {
            ft_cli_errorf("convert", "--crop %s: expected X,Y,W,H with W, H > 0", argv[2]);
            return FT_EXIT_USAGE;
        }
        do_crop = true;
        argv += 2;
        argc -= 2;
    }
    if (argc != 3) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_image_limits lim = ft_image_limits_default();
    ft_image im;
    ft_err err = {0};
    ft_status st = ft_image_load(argv[1], &lim, &im, &err);
    if (st == FT_OK && do_crop) {
        ft_image c;
        st = ft_image_crop(&im, crop[0], crop[1], crop[2], crop[3], &c);
        ft_image_deinit(&im);
        if (st != FT_OK)
            ft_err_set(&err, st, "--crop: the rectangle is outside the image");
        else
            im = c;
    }
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
