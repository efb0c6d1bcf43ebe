#!/usr/bin/python3
"""Builds the labelme folder used by docs/TRAINING.md from ../shared/data.

Human ground truth only: every face box comes from the `boxes` of
detection_mitcmu/annotations.jsonl (boxes derived by James Hays from the CMU
hand-marked landmarks) or detection_pascal_dlib/annotations.jsonl (dlib's
hand-drawn boxes). The sets' photos mostly hold several faces, so each
photo is cut into one-face photos:

* one-face photos: for each annotated face (box clipped to the photo), a
  square crop of side k * max(w, h) with k drawn from U(1.6, 2.6) (seeded),
  placed at a random offset that keeps the whole face inside; if any *other*
  annotated face has more than 10% of its area inside the crop, k is
  retried smaller (down to 1.25, 12 tries); if no crop works, the face is
  skipped. The labelme rectangle is the human box in the crop's pixels.
* face-free photos: the 7 MIT+CMU photos annotated with no face, whole,
  plus random square crops (side 80..320 px) of any photo of both sets that
  touch no annotated box (box grown by 10% on each side), up to --neg.

Writes DIR/<name>.jpg (PIL, quality 95) and, for one-face photos, a
labelme 5 JSON DIR/<name>.json (imagePath = the jpg, imageData = null).
Usage: /usr/bin/python3 tools/make_train_dataset.py OUT_DIR [--seed 7] [--neg 60]
"""
import argparse
import json
import os
import random

from PIL import Image

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
SETS = ["detection_mitcmu", "detection_pascal_dlib"]


def inter(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--neg", type=int, default=60)
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    n_face = n_skip = n_neg = 0
    photos = []
    for s in SETS:
        for line in open(os.path.join(a.data, s, "annotations.jsonl")):
            d = json.loads(line)
            path = os.path.join(a.data, s, d["image"])
            W, H = d["width"], d["height"]
            boxes = []
            for (x, y, w, h) in d["boxes"]:
                b = (max(0.0, x), max(0.0, y), min(float(W), x + w), min(float(H), y + h))
                if b[2] > b[0] and b[3] > b[1]:
                    boxes.append(b)
            photos.append((s, path, W, H, boxes))
    for (s, path, W, H, boxes) in photos:
        img = Image.open(path).convert("RGB")
        assert img.size == (W, H), path
        stem = s.split("_")[1] + "_" + os.path.splitext(os.path.basename(path))[0]
        for fi, b in enumerate(boxes):
            bw, bh = b[2] - b[0], b[3] - b[1]
            ok = None
            k = rnd.uniform(1.6, 2.6)
            for _ in range(12):
                side = int(round(k * max(bw, bh)))
                side = min(side, W, H)
                if side < max(bw, bh):
                    break
                # offsets keeping the face inside the crop and the crop inside the photo
                lo_x, hi_x = max(0, int(b[2] - side + 0.999)), min(int(b[0]), W - side)
                lo_y, hi_y = max(0, int(b[3] - side + 0.999)), min(int(b[1]), H - side)
                if lo_x <= hi_x and lo_y <= hi_y:
                    cx, cy = rnd.randint(lo_x, hi_x), rnd.randint(lo_y, hi_y)
                    crop = (cx, cy, cx + side, cy + side)
                    clash = any(inter(o, crop) > 0.1 * (o[2] - o[0]) * (o[3] - o[1])
                                for j, o in enumerate(boxes) if j != fi)
                    if not clash:
                        ok = crop
                        break
                k = max(1.25, k * 0.9)
            if ok is None:
                n_skip += 1
                continue
            cx, cy, cx2, cy2 = ok
            name = "%s_f%02d" % (stem, fi)
            img.crop(ok).save(os.path.join(a.out, name + ".jpg"), quality=95)
            side = cx2 - cx
            shape = {"label": "face",
                     "points": [[b[0] - cx, b[1] - cy], [b[2] - cx, b[3] - cy]],
                     "group_id": None, "description": "", "shape_type": "rectangle", "flags": {}}
            doc = {"version": "5.2.1", "flags": {}, "shapes": [shape],
                   "imagePath": name + ".jpg", "imageData": None,
                   "imageHeight": side, "imageWidth": side}
            with open(os.path.join(a.out, name + ".json"), "w") as f:
                json.dump(doc, f, indent=2)
            n_face += 1
        if not boxes and s == "detection_mitcmu":
            img.save(os.path.join(a.out, stem + "_whole.jpg"), quality=95)
            n_neg += 1
    # random face-free crops
    tries = 0
    while n_neg < a.neg and tries < 100000:
        tries += 1
        (s, path, W, H, boxes) = photos[rnd.randrange(len(photos))]
        side = rnd.randint(80, 320)
        if side > min(W, H):
            continue
        cx, cy = rnd.randint(0, W - side), rnd.randint(0, H - side)
        crop = (cx, cy, cx + side, cy + side)
        grown = [(b[0] - 0.1 * (b[2] - b[0]), b[1] - 0.1 * (b[3] - b[1]),
                  b[2] + 0.1 * (b[2] - b[0]), b[3] + 0.1 * (b[3] - b[1])) for b in boxes]
        if any(inter(g, crop) > 0 for g in grown):
            continue
        stem = s.split("_")[1] + "_" + os.path.splitext(os.path.basename(path))[0]
        name = "%s_neg%03d" % (stem, n_neg)
        Image.open(path).convert("RGB").crop(crop).save(os.path.join(a.out, name + ".jpg"),
                                                         quality=95)
        n_neg += 1
    print(json.dumps({"one_face_photos": n_face, "faces_skipped": n_skip,
                      "face_free_photos": n_neg, "seed": a.seed}))


if __name__ == "__main__":
    main()
