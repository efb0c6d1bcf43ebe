#!/usr/bin/python3
"""Held-out check of a trained model on ../shared/data/detection_compreface_points.

That set has no boxes, only one nose-tip point per face, and none of its
photos are in the training data. For each photo with exactly one face
(9) or none (1), runs `facetracker detect --model MODEL` and counts: a face
photo is "hit" when the model reports a face (score > 0.5) whose box holds
the nose point; the face-free photo is right when no face is reported.
Usage: heldout_points.py FACETRACKER MODEL.h5
"""
import json
import os
import subprocess
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                    "data", "detection_compreface_points")


def main():
    ft, model = sys.argv[1], sys.argv[2]
    rows = [json.loads(l) for l in open(os.path.join(DATA, "annotations.jsonl"))]
    rows = [r for r in rows if len(r["points"]) <= 1]
    hit = right_empty = n_face = n_empty = 0
    for r in rows:
        out = subprocess.run([ft, "detect", "--model", model, os.path.join(DATA, r["image"])],
                             capture_output=True, text=True, check=True).stdout
        faces = json.loads(out.splitlines()[0])["faces"]
        if r["points"]:
            n_face += 1
            px, py = r["points"][0]
            ok = any(f["box"][0] <= px <= f["box"][0] + f["box"][2] and
                     f["box"][1] <= py <= f["box"][1] + f["box"][3] for f in faces)
            hit += ok
            print(r["image"], "hit" if ok else "miss", faces[0]["box"] if faces else None)
        else:
            n_empty += 1
            right_empty += not faces
            print(r["image"], "no face reported" if not faces else "false face")
    print(json.dumps({"face_photos": n_face, "nose_in_box": hit, "face_free_photos": n_empty,
                      "face_free_right": right_empty}))


main()
