#!/bin/sh
# Makes the image fixtures of tests/data/images/ (good) and
# tests/data/images/bad/ with Debian tools, independently of our decoder:
#   apt-get install imagemagick webp libheif-examples libimage-exiftool-perl
#   sh tools/make_io_fixtures.sh
# The canonical test pattern is 48x32 in four flat quadrants:
#   red (255,0,0) top-left      green (0,255,0) top-right
#   blue (0,0,255) bottom-left  white (255,255,255) bottom-right
# Bad files are crafted by tools/make_io_bad.py (byte-level edits).
set -eu
cd "$(dirname "$0")/.."
out=tests/data/images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
IM=/usr/bin/convert # the real ImageMagick, not a stand-in

# The pattern, as a PPM written by hand (ImageMagick then only converts).
python3 - "$tmp/quad.ppm" <<'PY'
import sys
w, h = 48, 32
px = bytearray()
for y in range(h):
    for x in range(w):
        top, left = y < h // 2, x < w // 2
        px += bytes((255, 0, 0) if top and left else (0, 255, 0) if top else
                    (0, 0, 255) if left else (255, 255, 255))
open(sys.argv[1], 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + px)
PY
cp "$tmp/quad.ppm" $out/quad.ppm
$IM "$tmp/quad.ppm" -colorspace Gray -depth 8 pgm:$out/quad_grey.pgm

# JPEG: RGB (4:2:0), grey, CMYK (ImageMagick writes Adobe-inverted CMYK).
$IM "$tmp/quad.ppm" -strip -quality 95 $out/quad.jpg
$IM "$tmp/quad.ppm" -strip -quality 95 -colorspace Gray -type Grayscale $out/quad_grey.jpg
$IM "$tmp/quad.ppm" -strip -quality 95 -colorspace CMYK $out/quad_cmyk.jpg
$IM "$tmp/quad.ppm" -strip -quality 95 -interlace JPEG $out/quad_progressive.jpg

# EXIF orientation N: store the pattern transformed by the inverse of N, so
# every file displays as the canonical pattern. Odd N get little-endian
# ("II") EXIF, even N big-endian ("MM"). The script checks each file with
# ImageMagick's own -auto-orient before keeping it.
for n in 1 2 3 4 5 6 7 8; do
  case $n in
    1) op="" ;; 2) op="-flop" ;; 3) op="-rotate 180" ;; 4) op="-flip" ;;
    5) op="-transpose" ;; 6) op="-rotate 270" ;; 7) op="-transverse" ;; 8) op="-rotate 90" ;;
  esac
  bo=MM; [ $((n % 2)) -eq 1 ] && bo=II
  # shellcheck disable=SC2086
  $IM "$tmp/quad.ppm" $op -strip -quality 95 "$tmp/o$n.jpg"
  exiftool -q -overwrite_original -n -ExifByteOrder=$bo -Orientation=$n "$tmp/o$n.jpg"
  cp "$tmp/o$n.jpg" $out/orient_$n.jpg
  $IM $out/orient_$n.jpg -auto-orient -format '%w %h %[pixel:p{4,4}] %[pixel:p{43,4}]\n' info: \
    | grep -q '^48 32 srgb(25[0-5],[0-5],[0-5]) srgb([0-5],25[0-5],[0-5])' \
    || { echo "orient_$n.jpg does not auto-orient to the pattern" >&2; exit 1; }
done

# PNG: RGB, RGBA (alpha 128, colours kept), grey, grey+alpha, 16-bit RGB,
# palette (with a tRNS entry), Adam7 interlaced, and RGB with an eXIf
# chunk saying orientation 6 (stored pattern rotated 90 ccw).
$IM "$tmp/quad.ppm" -strip -define png:color-type=2 $out/quad_rgb.png
$IM "$tmp/quad.ppm" -strip -alpha set -channel A -evaluate set 50% +channel \
    -define png:color-type=6 $out/quad_rgba.png
$IM "$tmp/quad.ppm" -strip -colorspace Gray -define png:color-type=0 -depth 8 $out/quad_grey.png
$IM "$tmp/quad.ppm" -strip -colorspace Gray -alpha set -channel A -evaluate set 50% +channel \
    -define png:color-type=4 -depth 8 $out/quad_greya.png
$IM "$tmp/quad.ppm" -strip -depth 16 -define png:bit-depth=16 -define png:color-type=2 $out/quad_16.png
$IM "$tmp/quad.ppm" -strip -transparent white -define png:color-type=3 $out/quad_palette.png
$IM "$tmp/quad.ppm" -strip -interlace PNG -define png:color-type=2 $out/quad_interlaced.png
$IM "$tmp/quad.ppm" -rotate 270 -strip -define png:color-type=2 "$tmp/r.png"
exiftool -q -overwrite_original -n -Orientation=6 -o $out/orient_6.png "$tmp/r.png" 2>/dev/null \
  || { cp "$tmp/r.png" $out/orient_6.png; exiftool -q -overwrite_original -n -Orientation=6 $out/orient_6.png; }

# WebP: lossy, lossless, lossy with alpha.
$IM "$tmp/quad.ppm" "$tmp/quad.png"
cwebp -quiet -q 95 "$tmp/quad.png" -o $out/quad_lossy.webp
cwebp -quiet -lossless "$tmp/quad.png" -o $out/quad_lossless.webp
cwebp -quiet -q 95 $out/quad_rgba.png -o $out/quad_alpha.webp

# HEIC (x265), written by ImageMagick through libheif's encoder API
# (heif-enc 1.15 garbles small PNG inputs). orient_6.heic is the stored
# orient_6.jpg pattern with an EXIF orientation of 6 added by exiftool but
# no irot: HEIF says EXIF orientation is not applied, so it must decode
# unrotated (32x48).
$IM "$tmp/quad.ppm" -quality 95 $out/quad.heic
$IM $out/orient_6.jpg -strip -quality 95 $out/orient_6.heic
exiftool -q -overwrite_original -n -Orientation=6 $out/orient_6.heic
exiftool -q -n -s3 -Orientation $out/orient_6.heic | grep -qx 6 \
  || { echo "orient_6.heic has no EXIF orientation" >&2; exit 1; }
echo "fixtures written to $out"
