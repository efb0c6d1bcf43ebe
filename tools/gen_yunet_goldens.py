#!/usr/bin/python3
"""YuNet-s conformance goldens from an independent implementation.

Runs Debian's python3-opencv (OpenCV 4.6, cv2.dnn) on models/yunet/
yunet_s_640_640.onnx for the six face-api demo photos and three frames of
other sizes cut from them, and writes tests/golden/yunet/<name>.txt:

  - the input: source photo and the SHA-256 of its RGB pixels. JPEG
    decoders differ by a few levels per pixel (cv2.imread's and ours do),
    which is not what these goldens test, so the photo is decoded once by
    facetracker (`facetracker convert` to a lossless PPM, as
    tools/gen_goldens.sh does for face-api) and cv2 reads that PPM: both
    sides see the same pixels, and the test checks the SHA-256. Then the
    frame operation (full photo; 2x2 box downscale with (a+b+c+d+2)>>2; crop);
  - raw head outputs, summarised so every value counts: per output its
    count, sum and sum of absolute values (float64 over the float32 values),
    plus every value of a deterministic subset of cells: all cells whose
    score sqrt(cls*obj) exceeds 0.05 and every 331st cell of each stride;
  - final detections decoded as models/yunet's README says (score
    sqrt(clip(cls)*clip(obj)), box and 5 keypoints from the cell and
    stride), score > 0.3, NMS by cv2.dnn.NMSBoxes at IoU 0.3.

Usage: tools/gen_yunet_goldens.py FACETRACKER_BIN [ASSETS_DIR]
       (default assets: .cache/face-api-1.7.15)
Needs: python3-opencv, python3-numpy (Debian 12). Never feed it our output.
"""
import hashlib
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "yunet", "yunet_s_640_640.onnx")
OUT = os.path.join(ROOT, "tests", "golden", "yunet")
SHA = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
STRIDES = (8, 16, 32)
MIN_SCORE = 0.3
NMS_IOU = 0.3
SAMPLE_EVERY = 331
SAMPLE_SCORE = 0.05

# name, photo, downscale 2x first, crop (x, y, w, h) or None
FRAMES = [("sample%d" % i, i, False, None) for i in range(1, 7)] + [
    ("frame320x240", 1, True, (150, 130, 320, 240)),
    ("frame640x480", 2, True, (160, 100, 640, 480)),
    ("frame333x257", 3, False, (700, 300, 333, 257)),
]


def down2(im):
    h, w = im.shape[0] // 2, im.shape[1] // 2
    a = im[: 2 * h, : 2 * w].astype(np.uint32)
    s = a[0::2, 0::2] + a[0::2, 1::2] + a[1::2, 0::2] + a[1::2, 1::2]
    return ((s + 2) >> 2).astype(np.uint8)


def run(net, bgr):
    h, w = bgr.shape[:2]
    H, W = (h + 31) // 32 * 32, (w + 31) // 32 * 32
    pad = np.zeros((H, W, 3), np.float32)
    pad[:h, :w] = bgr
    blob = pad.transpose(2, 0, 1)[None].copy()
    net.setInput(blob)
    names = ["%s_%d" % (k, s) for k in ("cls", "obj", "bbox", "kps") for s in STRIDES]
    outs = net.forward(names)
    res = {}
    for n, o in zip(names, outs):
        width = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}[n.split("_")[0]]
        res[n] = np.asarray(o, np.float32).reshape(-1, width)
    return H, W, res


def decode(H, W, r):
    boxes, scores, kps = [], [], []
    for s in STRIDES:
        cols = W // s
        cls = np.clip(r["cls_%d" % s][:, 0].astype(np.float64), 0, 1)
        obj = np.clip(r["obj_%d" % s][:, 0].astype(np.float64), 0, 1)
        sc = np.sqrt(cls * obj)
        bb = r["bbox_%d" % s].astype(np.float64)
        kp = r["kps_%d" % s].astype(np.float64)
        for i in np.nonzero(sc > MIN_SCORE)[0]:
            row, col = i // cols, i % cols
            cx, cy = (col + bb[i, 0]) * s, (row + bb[i, 1]) * s
            bw, bh = np.exp(bb[i, 2]) * s, np.exp(bb[i, 3]) * s
            boxes.append((cx - bw / 2, cy - bh / 2, bw, bh))
            scores.append(float(sc[i]))
            kps.append([((col + kp[i, 2 * k]) * s, (row + kp[i, 2 * k + 1]) * s)
                        for k in range(5)])
    keep = cv2.dnn.NMSBoxes(boxes, scores, MIN_SCORE, NMS_IOU) if boxes else []
    keep = [int(k) for k in np.array(keep).reshape(-1)]
    return [(boxes[k], scores[k], kps[k]) for k in keep]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ft_bin = sys.argv[1]
    assets = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, ".cache", "face-api-1.7.15")
    tmp = tempfile.mkdtemp()
    with open(MODEL, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == SHA, "not the YuNet-s file"
    net = cv2.dnn.readNet(MODEL)
    os.makedirs(OUT, exist_ok=True)
    for name, photo, half, crop in FRAMES:
        path = os.path.join(assets, "demo", "sample%d.jpg" % photo)
        ppm = os.path.join(tmp, "sample%d.ppm" % photo)
        subprocess.run([ft_bin, "convert", path, ppm], check=True, stdout=subprocess.DEVNULL)
        bgr = cv2.imread(ppm, cv2.IMREAD_COLOR)
        os.unlink(ppm)
        rgb_sha = hashlib.sha256(np.ascontiguousarray(bgr[:, :, ::-1]).tobytes()).hexdigest()
        im = down2(bgr) if half else bgr
        if crop:
            x, y, w, h = crop
            assert y + h <= im.shape[0] and x + w <= im.shape[1]
            im = im[y:y + h, x:x + w]
        im = np.ascontiguousarray(im)
        H, W, r = run(net, im)
        dets = decode(H, W, r)
        lines = [
            "# facetracker-golden/yunet 1",
            "# Made by tools/gen_yunet_goldens.py with OpenCV %s cv2.dnn (Debian python3-opencv)"
            % cv2.__version__,
            "# on models/yunet/yunet_s_640_640.onnx (SHA-256 %s)." % SHA,
            "# Raw outputs: count/sum/sum|x| per output and every value of the sampled cells;",
            "# detections: score > %g, cv2.dnn.NMSBoxes IoU %g, decoded per models/yunet README."
            % (MIN_SCORE, NMS_IOU),
            "# Pixels: facetracker's JPEG decode (via PPM), read by cv2.",
            "photo sample%d.jpg %d %d %s" % (photo, bgr.shape[1], bgr.shape[0], rgb_sha),
            "frame %d %d %d %d %d" % ((1 if half else 0,) + (crop if crop else
                                                                  (0, 0, im.shape[1], im.shape[0]))),
            "input %d %d" % (W, H),
        ]
        for k in ("cls", "obj", "bbox", "kps"):
            for s in STRIDES:
                a = r["%s_%d" % (k, s)].astype(np.float64)
                lines.append("sum %s_%d %d %.17g %.17g" % (k, s, a.size, a.sum(), np.abs(a).sum()))
        cells = []
        for si, s in enumerate(STRIDES):
            n = r["cls_%d" % s].shape[0]
            sc = np.sqrt(np.clip(r["cls_%d" % s][:, 0].astype(np.float64), 0, 1) *
                         np.clip(r["obj_%d" % s][:, 0].astype(np.float64), 0, 1))
            pick = sorted(set(range(0, n, SAMPLE_EVERY)) | set(np.nonzero(sc > SAMPLE_SCORE)[0].tolist()))
            for i in pick:
                vals = np.concatenate([r["cls_%d" % s][i], r["obj_%d" % s][i],
                                       r["bbox_%d" % s][i], r["kps_%d" % s][i]])
                cells.append("cell %d %d %s" % (s, i, " ".join("%.9g" % v for v in vals)))
        lines.append("cells %d" % len(cells))
        lines += cells
        lines.append("faces %d" % len(dets))
        for (x, y, w, h), score, kp in dets:
            lines.append("face %.9g %.9g %.9g %.9g %.12g %s" % (
                x, y, w, h, score, " ".join("%.9g %.9g" % p for p in kp)))
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("%s: %dx%d, %d sampled cells, %d faces" % (name, W, H, len(cells), len(dets)))


if __name__ == "__main__":
    main()
