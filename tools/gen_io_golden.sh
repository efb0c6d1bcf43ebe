#!/bin/sh
# Golden pixel statistics for src/io's JPEG decoder, made with an independent
# decoder: libjpeg-turbo's djpeg (apt-get install libjpeg-turbo-progs) with
# -nosmooth (no fancy upsampling) and -dct int (ISLOW), the settings
# ft_image_decode uses. ft_image_decode converts YCbCr to RGB with jpeg-js's
# float formula instead of libjpeg's tables (to stay closer to face-api's
# decoder), so values differ by 1-3 levels here and there: the golden keeps,
# per photo, the mean of each channel over an 8x8 grid of blocks, which the
# test compares within one level. Writes tests/golden/io_decode_blocks.txt;
# see tests/golden/README-io.md.
#   sh tools/gen_io_golden.sh [assets dir]
set -eu
cd "$(dirname "$0")/.."
assets=${1:-${FT_ASSETS_DIR:-.cache/face-api-1.7.15}}
out=tests/golden/io_decode_blocks.txt
{
  echo "# ft-golden io-decode-blocks v2"
  echo "# file width height, then 8x8 blocks (row-major) x R,G,B means of: djpeg -nosmooth -dct int -ppm"
  for f in "$assets"/demo/sample*.jpg; do
    djpeg -nosmooth -dct int -ppm "$f" > /tmp/ft_golden_$$.ppm
    /usr/bin/python3 - "$(basename "$f")" /tmp/ft_golden_$$.ppm <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
d = open(path, 'rb').read()
# "P6\n<w> <h>\n255\n" as djpeg writes it
p = d.split(b'\n', 3)
w, h = map(int, p[1].split())
px = p[3]
out = [name, str(w), str(h)]
for by in range(8):
    for bx in range(8):
        y0, y1, x0, x1 = by * h // 8, (by + 1) * h // 8, bx * w // 8, (bx + 1) * w // 8
        s = [0, 0, 0]
        for y in range(y0, y1):
            row = px[(y * w + x0) * 3:(y * w + x1) * 3]
            for c in range(3):
                s[c] += sum(row[c::3])
        n = (y1 - y0) * (x1 - x0)
        out += ['%.3f' % (v / n) for v in s]
print(' '.join(out))
PY
  done
} > "$out"
rm -f /tmp/ft_golden_$$.ppm
