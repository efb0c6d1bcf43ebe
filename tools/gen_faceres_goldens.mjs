#!/usr/bin/env node
// Makes tests/golden/faceres/*.txt: the faceres descriptor network of
// @vladmandic/human 3.3.6 (.cache/human-3.3.6/models/faceres.json + .bin,
// fetched by tools/setup.sh) run by tfjs itself (@tensorflow/tfjs 4.22.0,
// pure-JS cpu backend, pinned by tools/faceres-oracle/package-lock.json),
// never by facetracker. For each face-api demo photo the pixels are
// facetracker's JPEG decode (a PPM written by `facetracker convert`, whose
// RGB SHA-256 goes into the file so the test can check its own decode
// first), and the preprocessing is written here with tfjs ops:
//
//   box (x, y, w, h) in pixels -> scaled 1.4x about its centre ->
//   normalised corners [y1/(H-1), x1/(W-1), y2/(H-1), x2/(W-1)] (float32) ->
//   tf.image.cropAndResize(image, boxes, [0], [224, 224], 'bilinear', 0) ->
//   tf.reverse(-1) (BGR) -> tf.sub([103.939, 116.779, 123.68]) ->
//   model.execute({input_1}, 'global_pooling/Mean')
//
// Per face the file holds the input's SHA-256 (float32 little-endian) and
// float64 sums, every 251st input value, and the 1024 outputs; one more
// case runs the network on a synthetic input (a formula the test repeats)
// so the network is checked apart from any crop.
//
// usage: node tools/gen_faceres_goldens.mjs [BUILD_DIR]
//        (needs `npm ci` in tools/faceres-oracle and tools/setup.sh run)
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'tools/faceres-oracle/package.json'));
const tf = require('@tensorflow/tfjs');

const build = process.argv[2] || 'build';
const bin = process.env.FT_BIN || path.join(root, build, 'facetracker');
const modelDir = path.join(root, '.cache/human-3.3.6/models');
const demo = path.join(root, '.cache/face-api-1.7.15/demo');
const outDir = path.join(root, 'tests/golden/faceres');
const SIZE = 224, SCALE = 1.4, STRIDE = 251;
const MEAN_BGR = [103.939, 116.779, 123.68];

// Face boxes (x, y, w, h in pixels): face-api's SSD detections on the same
// pixels (tests/golden/faceapi/sampleN.json, same_pixels.ssd), plus one box
// per photo that sticks out of the top-left corner (extrapolated samples).
const boxes = {
  1: [[414.012508392334, 355.31576475439886, 177.5965118408203, 238.40983550219937],
      [838.2654190063477, 420.7428461785191, 186.7767333984375, 227.48943250549848],
      [1475.9272384643555, 200.02601780150292, 203.01063537597656, 240.38356568456743]],
  2: [[1447.1222305297852, 152.96612185125483, 193.13804626464844, 242.84893890798907],
      [901.5466690063477, 218.26212725704664, 151.11167907714844, 234.33357682946604],
      [361.06584548950195, 126.45878944919534, 152.68964767456055, 258.39416185143875]],
  3: [[585.1827621459961, 329.26551818847656, 199.3169403076172, 271.04558944702154],
      [1514.3362426757812, 292.1890068054199, 169.58885192871094, 279.0447807312012],
      [1074.9028015136719, 214.6803331375122, 220.45738220214844, 299.2651319503785]],
  4: [[664.1507720947266, 52.21534823877206, 187.1828842163086, 258.2493316966635],
      [257.25053787231445, 184.58897637085596, 162.1083641052246, 245.7402820488332],
      [988.4313583374023, 180.03066542235064, 169.3476104736328, 227.2932030870507],
      [1276.8776321411133, 144.20845948846846, 145.37338256835938, 242.54742233987915]],
  5: [[787.3996353149414, 108.88207377824962, 155.94440460205078, 211.79096121698538],
      [1112.5030517578125, 197.83179430923258, 159.11521911621094, 236.74274687984354],
      [1406.260643005371, 390.0921604678075, 165.88165283203125, 270.2850662517803],
      [597.5445556640625, 415.0844936831068, 166.59576416015625, 248.5345355895505],
      [376.94549560546875, 859.2286003869597, 171.71550750732422, 300.6523807310866]],
  6: [[680.6528663635254, 321.2816879272461, 159.45247650146484, 306.2358279344512],
      [1180.5344009399414, 304.7303610266709, 188.14682006835938, 280.0775646116675],
      [1487.182731628418, 262.9062268513005, 211.95213317871094, 295.01202400021435],
      [249.51953887939453, 467.5450469226372, 210.1823616027832, 290.69294106088034]],
};

function readPpm(file) {
  const b = fs.readFileSync(file);
  const txt = b.subarray(0, 64).toString('latin1');
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(txt);
  if (!m) throw new Error(`${file}: not a binary PPM with maxval 255`);
  const w = +m[1], h = +m[2];
  const rgb = b.subarray(m[0].length, m[0].length + w * h * 3);
  if (rgb.length !== w * h * 3) throw new Error(`${file}: truncated`);
  return { w, h, rgb };
}

function loadModel() {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'faceres.json'), 'utf8'));
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const data = fs.readFileSync(path.join(modelDir, 'faceres.bin'));
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      weightSpecs: specs,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    }),
  };
  return tf.loadGraphModel(handler);
}

const f9 = (v) => {
  if (Object.is(v, -0)) return '-0';
  return Number(v.toPrecision(9)).toString(); // float32 round-trips with 9 digits
};

function prepare(img, im4, box) {
  const [x, y, w, h] = box;
  // The same expressions, in the same order, as ft_faceres_prepare.
  const cx = x + w / 2, cy = y + h / 2;
  const hw = w * SCALE / 2, hh = h * SCALE / 2;
  const wm1 = img.w - 1, hm1 = img.h - 1;
  const nb = tf.tensor2d([[(cy - hh) / hm1, (cx - hw) / wm1, (cy + hh) / hm1, (cx + hw) / wm1]],
    [1, 4], 'float32');
  const crop = tf.image.cropAndResize(im4, nb, [0], [SIZE, SIZE], 'bilinear', 0);
  const bgr = tf.reverse(crop, -1);
  const input = tf.sub(bgr, tf.tensor1d(MEAN_BGR, 'float32'));
  tf.dispose([nb, crop, bgr]);
  return input;
}

// The synthetic input: u = i * 2654435761 mod 2^32, value = u / 2^32 * 255 - 120
// in double, rounded to float32 (the test computes the same).
function synthetic() {
  const n = SIZE * SIZE * 3, v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.imul(i, 2654435761) >>> 0;
    v[i] = (u / 4294967296) * 255 - 120;
  }
  return tf.tensor4d(v, [1, SIZE, SIZE, 3]);
}

function inputLines(tag, vals) {
  const lines = [];
  const sha = crypto.createHash('sha256')
    .update(Buffer.from(vals.buffer, vals.byteOffset, vals.byteLength)).digest('hex');
  let sum = 0, sumAbs = 0;
  for (const v of vals) { sum += v; sumAbs += Math.abs(v); }
  lines.push(`input ${tag} ${vals.length} ${sha} ${sum.toPrecision(17)} ${sumAbs.toPrecision(17)}`);
  const picked = [];
  for (let i = 0; i < vals.length; i += STRIDE) picked.push(f9(vals[i]));
  lines.push(`input_at ${tag} ${STRIDE} ${picked.join(' ')}`);
  return lines;
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  if (!fs.existsSync(path.join(modelDir, 'faceres.json')))
    throw new Error(`${modelDir}: run tools/setup.sh first`);
  const model = await loadModel();
  const modelSha = crypto.createHash('sha256')
    .update(fs.readFileSync(path.join(modelDir, 'faceres.json'))).digest('hex');
  const header = (what) => [
    '# facetracker-golden/faceres 1',
    '# Made by tools/gen_faceres_goldens.mjs (never from facetracker\'s outputs):',
    `# @tensorflow/tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, node ${process.version},`,
    `# running @vladmandic/human 3.3.6 models/faceres.json (sha256 ${modelSha}).`,
    `# ${what}`,
    '# input TAG N SHA256(float32 LE) SUM SUM_ABS; input_at TAG STRIDE values[0], [STRIDE], ...;',
    '# desc TAG v0 .. v1023 (global_pooling/Mean, float32 printed with 9 digits).',
  ];
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faceres-'));
  try {
    // The network alone.
    {
      const input = synthetic();
      const t0 = Date.now();
      const out = model.execute({ input_1: input }, 'global_pooling/Mean');
      const desc = out.dataSync();
      const lines = header('Synthetic input: u = i*2654435761 mod 2^32, x[i] = f32(u/2^32*255 - 120).');
      lines.push(...inputLines('0', input.dataSync()));
      lines.push(`desc 0 ${Array.from(desc, f9).join(' ')}`);
      fs.writeFileSync(path.join(outDir, 'synthetic.txt'), lines.join('\n') + '\n');
      console.error(`golden: synthetic (${Date.now() - t0} ms)`);
      tf.dispose([input, out]);
    }
    for (const [n, list] of Object.entries(boxes)) {
      const jpg = path.join(demo, `sample${n}.jpg`);
      const ppm = path.join(tmp, `sample${n}.ppm`);
      execFileSync(bin, ['convert', jpg, ppm], { stdio: ['ignore', 'ignore', 'inherit'] });
      const img = readPpm(ppm);
      const rgbSha = crypto.createHash('sha256').update(img.rgb).digest('hex');
      const im4 = tf.tensor4d(Int32Array.from(img.rgb), [1, img.h, img.w, 3], 'int32');
      const all = [...list, [-0.25 * list[0][2], -0.3 * list[0][3], list[0][2], list[0][3]]];
      const lines = header(`Photo sample${n}.jpg (face-api 1.7.15 demo) decoded by facetracker.`);
      lines.push(`photo sample${n}.jpg ${img.w} ${img.h} ${rgbSha}`);
      for (let i = 0; i < all.length; i++) {
        const t0 = Date.now();
        const input = prepare(img, im4, all[i]);
        const out = model.execute({ input_1: input }, 'global_pooling/Mean');
        const desc = out.dataSync();
        lines.push(`face ${i} ${all[i].map((v) => v.toPrecision(17)).join(' ')}`);
        lines.push(...inputLines(String(i), input.dataSync()));
        lines.push(`desc ${i} ${Array.from(desc, f9).join(' ')}`);
        tf.dispose([input, out]);
        console.error(`golden: sample${n} face ${i} (${Date.now() - t0} ms)`);
      }
      tf.dispose(im4);
      fs.writeFileSync(path.join(outDir, `sample${n}.txt`), lines.join('\n') + '\n');
      console.error(`golden: ${path.join('tests/golden/faceres', `sample${n}.txt`)}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
