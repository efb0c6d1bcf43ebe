#!/bin/sh
# Golden pixel hashes for src/io's JPEG decoder, made with an independent
# decoder: libjpeg-turbo's djpeg (apt-get install libjpeg-turbo-progs) with
# -nosmooth (no fancy upsampling) and -dct int (ISLOW), the settings
# ft_image_decode uses. The demo photos carry no EXIF orientation, so
# djpeg's raw output is what we must produce. Writes
# tests/golden/io_decode_sha256.txt; see tests/golden/README-io.md.
#   sh tools/gen_io_golden.sh [assets dir]
set -eu
cd "$(dirname "$0")/.."
assets=${1:-${FT_ASSETS_DIR:-.cache/face-api-1.7.15}}
out=tests/golden/io_decode_sha256.txt
{
  echo "# ft-golden io-decode-sha256 v1"
  echo "# file width height sha256(RGB rows, no header) from: djpeg -nosmooth -dct int -ppm"
  for f in "$assets"/demo/sample*.jpg; do
    n=$(basename "$f")
    djpeg -nosmooth -dct int -ppm "$f" > /tmp/ft_golden_$$.ppm
    # PPM header from djpeg: "P6\n<w> <h>\n255\n"
    set -- $(head -c 64 /tmp/ft_golden_$$.ppm | head -n 2 | tail -n 1)
    w=$1 h=$2
    hdr=$(printf 'P6\n%s %s\n255\n' "$w" "$h" | wc -c)
    sum=$(tail -c +$((hdr + 1)) /tmp/ft_golden_$$.ppm | sha256sum | cut -d' ' -f1)
    echo "$n $w $h $sum"
  done
} > "$out"
rm -f /tmp/ft_golden_$$.ppm
cat "$out"
