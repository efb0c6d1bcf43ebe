#!/usr/bin/env node
// face-api's own pipeline on the recognition sets, as the baseline next to
// facetracker's numbers in docs/ACCURACY.md:
//   detectAllFaces(img, SsdMobilenetv1Options()).withFaceLandmarks()
//     .withFaceDescriptors()
// with face-api's defaults (SSD minConfidence 0.5), jpeg-js/pngjs decoding,
// the tfjs wasm backend. Per photo the face nearest the centre is taken (the
// same rule facetracker's evaluator uses); a photo where face-api finds no
// face makes its pairs errors. Prints one JSON object: pair accuracy at the
// best threshold and at face-api's 0.6, per set and over all sets.
//
// usage: node tools/faceapi_recognition.js DIR...   (needs `npm ci` in tools/faceapi-oracle)
'use strict';
const fs = require('fs');
const path = require('path');
const req = (m) => require(path.join(__dirname, 'faceapi-oracle', 'node_modules', m));

function decode(file) {
  const buf = fs.readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') {
    const png = req('pngjs').PNG.sync.read(buf);
    const n = png.width * png.height, rgb = new Int32Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = png.data[4 * i + c];
    return { w: png.width, h: png.height, rgb };
  }
  const img = req('jpeg-js').decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048, maxResolutionInMP: 500 });
  return { w: img.width, h: img.height, rgb: Int32Array.from(img.data) };
}

function readCsv(file) {
  return fs.readFileSync(file, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
}

function verify(pairs) {
  const ok = pairs.filter((p) => p.d !== null).map((p) => p.d).sort((a, b) => a - b);
  const th = [0, ...ok.map((d, i) => (i + 1 < ok.length ? (d + ok[i + 1]) / 2 : d + 1e-6))];
  const acc = (t) => pairs.filter((p) => p.d !== null && (p.d < t) === p.same).length / pairs.length;
  let best = 0, bestT = 0;
  for (const t of th) { const a = acc(t); if (a > best) { best = a; bestT = t; } }
  return { pairs: pairs.length, missing: pairs.filter((p) => p.d === null).length,
    accuracy_best: +best.toFixed(4), best_threshold: +bestT.toFixed(4), accuracy_at_0_6: +acc(0.6).toFixed(4) };
}

async function main() {
  const dirs = process.argv.slice(2);
  const tf = req('@tensorflow/tfjs');
  const wasm = req('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(path.dirname(require.resolve(path.join(__dirname, 'faceapi-oracle/node_modules/@tensorflow/tfjs-backend-wasm/package.json'))), 'dist') + path.sep);
  const faceapi = req('@vladmandic/face-api/dist/face-api.node-wasm.js');
  await tf.setBackend('wasm');
  await tf.ready();
  const modelDir = path.join(__dirname, 'faceapi-oracle/node_modules/@vladmandic/face-api/model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const opts = new faceapi.SsdMobilenetv1Options();
  const all = [], sets = [];
  let photos = 0, noFace = 0;
  for (const dir of dirs) {
    const desc = new Map();
    for (const [, img] of readCsv(path.join(dir, 'identities.csv'))) {
      const im = decode(path.join(dir, img));
      const t = tf.tensor3d(im.rgb, [im.h, im.w, 3], 'int32');
      const faces = await faceapi.detectAllFaces(t, opts).withFaceLandmarks().withFaceDescriptors();
      t.dispose();
      photos++;
      let best = null, bd = Infinity;
      for (const f of faces) {
        const b = f.detection.box;
        const d = (b.x + b.width / 2 - im.w / 2) ** 2 + (b.y + b.height / 2 - im.h / 2) ** 2;
        if (d < bd) { bd = d; best = f.descriptor; }
      }
      if (!best) noFace++;
      desc.set(img, best);
    }
    const pairs = readCsv(path.join(dir, 'pairs.csv')).map(([a, b, s]) => {
      const da = desc.get(a), db = desc.get(b);
      return { same: s === '1', d: da && db ? faceapi.euclideanDistance(da, db) : null };
    });
    all.push(...pairs);
    sets.push({ dir, ...verify(pairs) });
  }
  process.stdout.write(JSON.stringify({ pipeline: 'face-api 1.7.15 detectAllFaces(SSD, minConfidence 0.5).withFaceLandmarks().withFaceDescriptors(), tfjs wasm',
    photos, photos_without_face: noFace, sets, all: verify(all) }) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
