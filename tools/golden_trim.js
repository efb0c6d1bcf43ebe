#!/usr/bin/env node
// Combines two oracle outputs (face-api on the JPEG; face-api on
// facetracker's decoded pixels) into one golden file with a magic/version
// header, keeping only what the tests read.
'use strict';
const fs = require('fs');
const [jpgPath, ppmPath, name] = process.argv.slice(2);
const jpg = JSON.parse(fs.readFileSync(jpgPath, 'utf8'));
const ppm = JSON.parse(fs.readFileSync(ppmPath, 'utf8'));
const dets = (d) => d.detections.map((x) => ({
  score: x.score, box: [x.box.x, x.box.y, x.box.width, x.box.height],
}));
const golden = {
  magic: 'facetracker-golden/faceapi',
  version: 1,
  made_by: 'tools/gen_goldens.sh: @vladmandic/face-api ' + jpg.versions['face-api'] +
    ', tfjs ' + jpg.versions['tfjs-core'] + ', backend ' + jpg.backend.name,
  image: name,
  width: jpg.image.width,
  height: jpg.image.height,
  jpeg: {
    decoder: jpg.image.decoder,
    rgb_sha256: jpg.image.rgb_sha256,
    ssd: dets(jpg.ssd),
    tiny: dets(jpg.tiny),
  },
  same_pixels: {
    rgb_sha256: ppm.image.rgb_sha256,
    ssd: dets(ppm.ssd),
    tiny: dets(ppm.tiny),
    ssd_raw_top: ppm.ssd.raw.top,
    faces: ppm.faces.map((f) => ({
      box: [f.box.x, f.box.y, f.box.width, f.box.height],
      score: f.score,
      landmark_crop: [f.landmark_crop.x, f.landmark_crop.y, f.landmark_crop.width, f.landmark_crop.height],
      landmarks: f.landmarks,
      landmarks_tiny: f.landmarks_tiny,
      descriptor_crop: [f.descriptor_crop.x, f.descriptor_crop.y, f.descriptor_crop.width, f.descriptor_crop.height],
      descriptor: f.descriptor,
    })),
  },
};
process.stdout.write(JSON.stringify(golden) + '\n');
