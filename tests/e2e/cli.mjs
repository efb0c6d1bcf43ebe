// End-to-end test of the CLI: runs the facetracker binary as a user would
// and checks its JSON, exit codes and the gallery it writes. Expected face
// counts come from face-api's goldens (tests/golden/faceapi), not from
// facetracker: the commands checked against them, and those whose counts
// follow from them (the gallery section's 3-face photo), run face-api's SSD
// (--detector ssd). The default detector, YuNet, is checked on its own.
// Usage: node cli.mjs FACETRACKER_BINARY
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = process.argv[2];
const assets = process.env.FT_ASSETS_DIR;
const here = path.dirname(new URL(import.meta.url).pathname);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-cli-'));
const db = path.join(tmp, 'g.db');
let failures = 0, checks = 0;
const check = (cond, what) => { checks++; if (!cond) { failures++; console.error('FAIL: ' + what); } };
const run = (args, input) => {
  const r = spawnSync(bin, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr, json: () => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
};
// face-api's SSD, whose counts the goldens are.
const ssd = ['--detector', 'ssd'];
const demo = (i) => path.join(assets, 'demo', `sample${i}.jpg`);
const golden = (i) => JSON.parse(fs.readFileSync(path.join(here, '..', 'golden', 'faceapi', `sample${i}.json`), 'utf8'));

// ---- usage, help, exit codes ----
check(run(['--version']).code === 0 && /^facetracker \d/.test(run(['--version']).out), '--version');
check(run([]).code === 1, 'no command: exit 1');
check(run(['no-such-command']).code === 1, 'unknown command: exit 1');
for (const c of ['detect', 'describe', 'verify', 'enroll', 'people', 'identify', 'access', 'events',
  'calibrate', 'keys', 'serve', 'evaluate-detection', 'evaluate-recognition', 'dataset', 'train',
  'evaluate-model', 'model', 'convert']) {
  const r = run([c, '--help']);
  check(r.code === 0 && r.out.includes('usage'), `${c} --help`);
}
check(run(['detect']).code === 1, 'detect without images: exit 1');
check(run(['detect', '--min-score', '7', demo(1)]).code === 1, 'detect --min-score 7: exit 1');

// ---- detect: the default detector is YuNet (issue 11) ----
// Every face with YuNet's five keypoints, and the line says which detector
// found them. Counts are not checked here: face-api's goldens are the SSD's.
const dy = run(['detect', demo(1), demo(2)]);
check(dy.code === 0 && dy.json().length === 2, 'detect with no --detector: exit 0');
dy.json().forEach((d, k) => {
  check(d.detector === 'yunet', `detect with no --detector: sample${k + 1} says yunet (${d.detector})`);
  check(d.faces.length >= 1 && d.faces.every((f) => f.keypoints && f.keypoints.length === 5 &&
    f.keypoints.every((p) => p.length === 2 && p[0] >= f.box[0] - f.box[2] && p[0] <= f.box[0] + 2 * f.box[2])),
    `detect with no --detector: sample${k + 1}: five keypoints per face, near its box`);
});
const dssd = run(['detect', ...ssd, demo(1)]).json()[0];
check(dssd.detector === 'ssd' && dssd.faces.every((f) => !f.keypoints), 'detect --detector ssd: says ssd, no keypoints');

// ---- detect --detector ssd: face-api's counts, JSON shape, bad input ----
const dets = run(['detect', ...ssd, ...[1, 2, 3, 4, 5, 6].map(demo)]);
check(dets.code === 0, 'detect on the demo photos: exit 0');
dets.json().forEach((d, k) => {
  const g = golden(k + 1);
  check(d.width === g.width && d.height === g.height, `sample${k + 1}: size`);
  check(d.faces.length === g.jpeg.ssd.length, `sample${k + 1}: ${d.faces.length} faces, face-api ${g.jpeg.ssd.length}`);
  check(d.faces.every((f) => f.box.length === 4 && f.score > 0.5 && f.score <= 1), `sample${k + 1}: face fields`);
  check(typeof d.ms.decode === 'number' && typeof d.ms.detect === 'number', `sample${k + 1}: ms`);
});
const tiny = run(['detect', '--detector', 'tiny', demo(5)]).json()[0];
check(tiny.faces.length === golden(5).jpeg.tiny.length, 'tiny detector count');
const bad = run(['detect', path.join(here, '..', 'data', 'images', 'bad', 'bad_huffman.jpg'), demo(2)]);
check(bad.code === 2, 'corrupt image: exit 2');
const badLines = bad.json();
check(badLines.length === 2 && badLines[0].error && badLines[0].error.code === 'E_FORMAT' && badLines[1].faces, 'corrupt image: error line, next image still processed');
check(run(['detect', ...ssd, '-'], fs.readFileSync(demo(2))).json()[0].faces.length === golden(2).jpeg.ssd.length, 'detect from stdin');
const drawn = path.join(tmp, 'drawn.png');
check(run(['detect', ...ssd, '--draw', drawn, demo(1)]).code === 0 && fs.statSync(drawn).size > 1000, '--draw writes a PNG');
check(run(['detect', ...ssd, drawn]).json()[0].faces.length === 3, 'the annotated copy still has 3 faces');

// ---- one-face crops for enrolment ----
const s1 = dets.json()[0].faces;
const cropOf = (img, f, name, grow = 0.6) => {
  const [x, y, w, h] = f.box;
  const out = path.join(tmp, name);
  const r = run(['convert', '--crop', [x - w * grow, y - h * grow, w * (1 + 2 * grow), h * (1 + 2 * grow)].map(Math.round).join(','), img, out]);
  check(r.code === 0, `crop ${name}`);
  return out;
};
const alice = cropOf(demo(1), s1[0], 'alice.jpg');
const alice2 = cropOf(demo(1), s1[0], 'alice2.png', 0.4);
const bob = cropOf(demo(1), s1[1], 'bob.jpg');
const d1 = run(['describe', '--descriptor', 'resnet128', alice]).json()[0];
check(d1.faces.length === 1 && d1.faces[0].landmarks.length === 68 && d1.faces[0].descriptor.length === 128, 'describe --descriptor resnet128: 68 landmarks, 128-d descriptor');
// The default network is faceres (1024-d, from the detector's box alone).
const d0 = run(['describe', alice]).json()[0];
check(d0.faces.length === 1 && d0.faces[0].descriptor.length === 1024, `describe: the default is faceres's 1024-d descriptor: ${JSON.stringify(d0.faces[0] && Object.keys(d0.faces[0]))}`);

// ---- verify ----
const v = run(['verify', alice, alice2]);
check(v.code === 0 && v.json()[0].same === true && v.json()[0].distance < 0.3, `verify same face: ${v.out.trim()}`);
const vm = run(['verify', ...ssd, alice, demo(1)]);
check(vm.code === 2 && /3 faces/.test(vm.err), 'verify with a 3-face photo: exit 2, says why');

// ---- gallery: enrol, identify, access, events, people, keys ----
// With the SSD: sample1's three faces (and so three events) are face-api's count.
const e1 = run(['enroll', ...ssd, '--db', db, 'Alice', alice, alice2]);
check(e1.code === 0 && e1.json()[0].person.new === true && e1.json()[0].samples.length === 2, 'enroll Alice');
check(run(['enroll', ...ssd, '--db', db, 'Bob', bob]).code === 0, 'enroll Bob');
const many = run(['enroll', ...ssd, '--db', db, 'Carol', alice, demo(1)]);
check(many.code === 2 && many.err.includes('sample1.jpg') && /nothing was enrolled/.test(many.err), 'enrolling a 3-face photo fails, names it');
const people = run(['people', '--db', db, 'list']).json()[0].people;
check(people.length === 2 && people.every((p) => p.name !== 'Carol'), 'the failed enrolment wrote nothing');
const id = run(['identify', ...ssd, '--db', db, demo(1)]).json()[0].faces;
const near = (a, b) => Math.abs(a.box[0] - b.box[0]) < 2 && Math.abs(a.box[1] - b.box[1]) < 2;
const fa = id.find((f) => near(f, s1[0])), fb = id.find((f) => near(f, s1[1]));
check(fa && fa.status === 'known' && fa.person.name === 'Alice' && fa.distance < 0.3, 'identify: Alice');
check(fb && fb.status === 'known' && fb.person.name === 'Bob', 'identify: Bob');
const acc = run(['access', ...ssd, '--db', db, '--source', 'door1', demo(1)]);
check(acc.code === 0 && acc.json()[0].faces.length === 3, 'access: a decision per face');
check(acc.json()[0].faces.filter((f) => f.decision === 'granted').length >= 1, 'access: somebody granted');
const ev = run(['events', '--db', db, '--source', 'door1']).json()[0];
check(ev.total === 3 && ev.events.every((e) => e.thumbnail_bytes > 0), 'events: 3 logged, with thumbnails');
const csv = run(['events', '--db', db, '--csv']).out.trim().split(/\r?\n/);
check(csv.length === 4 && csv[0].startsWith('id,time'), 'events --csv');
check(run(['events', '--db', db, '--decision', 'granted', '--person', 'Alice']).json()[0].total === 1, 'events filter');
check(run(['people', '--db', db, 'rename', 'Alice', 'Alicia']).code === 0, 'rename');
// One sample per photo and descriptor space (faceres too when its weights are present).
const nSpaces = e1.json()[0].samples[0].spaces.length;
check(nSpaces >= 1 && e1.json()[0].samples.every((x) => x.region === true), 'enroll: spaces listed, face regions kept');
check(run(['people', '--db', db, 'show', 'Alicia']).json()[0].samples.length === 2 * nSpaces, 'show after rename');
check(run(['people', '--db', db, 'delete', 'Bob']).code === 1, 'delete without --yes in a script: refused');
check(run(['people', '--db', db, 'delete', 'Bob', '--yes']).code === 0, 'delete');
check(run(['people', '--db', db, 'list']).json()[0].people.length === 1, 'one person left');
check(run(['events', '--db', db]).json()[0].total === 3, 'events kept after delete');
check(run(['people', '--db', db, 'show', 'Nobody']).code === 2, 'unknown person: exit 2');
const key = run(['keys', '--db', db, 'create', 'door', '--role', 'device']).json()[0];
check(/^ftk_/.test(key.token) && key.role === 'device', 'keys create');
check(run(['keys', '--db', db, 'revoke', String(key.id)]).code === 0, 'keys revoke');
check(run(['keys', '--db', db, 'list']).json()[0].keys[0].revoked === true, 'keys list');
check(run(['identify', '--db', path.join(tmp, 'missing.db'), demo(1)]).code === 2, 'identify on a missing database: exit 2');

// ---- samples record their detector; reindex cuts the landmark crop as it did (issue 11) ----
// A sample keeps its face region and the detection box in it; the 68-point landmark net is
// given YuNet's boxes moved to the SSD's frame (ft_landmark_box) and the SSD's as they are.
// Alice is enrolled with the default detector (YuNet), Bob with the SSD, both in resnet128's
// faceapi-aligned space only; reindexing resnet128's default (similarity) space must then give
// the vector `identify` computes live from the same photo with the same detector. Tolerance
// 0.05: the region is the photo cut and saved again as JPEG (quality 95), which alone puts the
// two vectors 0.018-0.022 apart (measured on both crops with both detectors); reindexing
// Alice's YuNet box as if it were the SSD's (no recorded detector) put them 0.136 apart.
{
  const db4 = path.join(tmp, 'g4.db');
  const r128 = ['--descriptor', 'resnet128'];
  const ea = run(['enroll', '--db', db4, ...r128, '--align', 'faceapi', 'Alice', alice]);
  check(ea.code === 0 && ea.json()[0].samples[0].detector === 'yunet', `enroll with the default detector records yunet: ${ea.out.trim()}`);
  const eb = run(['enroll', ...ssd, '--db', db4, ...r128, '--align', 'faceapi', 'Bob', bob]);
  check(eb.code === 0 && eb.json()[0].samples[0].detector === 'ssd', `enroll --detector ssd records ssd: ${eb.out.trim()}`);
  const sa = run(['people', '--db', db4, 'show', 'Alice']).json()[0];
  check(sa.samples.length === 1 && sa.samples[0].detector === 'yunet', 'people show lists the sample\'s detector');
  const rx = run(['gallery', 'reindex', '--db', db4, ...r128]);
  const rxj = rx.code === 0 ? rx.json()[0] : {};
  check(rx.code === 0 && rxj.added.length === 2 && rxj.detector_unknown.length === 0 &&
    rxj.added.map((a) => a.detector).join() === 'yunet,ssd', `reindex resnet128 from both detectors' samples: ${rx.out.trim()}`);
  const live = (who, photo, det) => {
    const f = run(['identify', '--db', db4, ...det, ...r128, photo]).json()[0].faces[0];
    check(f && f.person && f.person.name === who && f.distance < 0.05,
      `reindexed ${who} (${det.length ? det[1] : 'yunet'}) is the live vector within 0.05: ${JSON.stringify(f)}`);
  };
  live('Alice', alice, []);
  live('Bob', bob, ssd);
  const sa2 = run(['people', '--db', db4, 'show', 'Alice']).json()[0];
  check(sa2.samples.length === 2 && sa2.samples.every((x) => x.detector === 'yunet'), 'the reindexed sample keeps its source\'s detector');
  // A sample from before schema 6 (detector ''): its box is used as stored, and it is listed.
  const py6 = spawnSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); ' +
    'c.execute("DELETE FROM samples WHERE alignment = \'similarity\'"); c.execute("UPDATE samples SET detector = \'\'"); c.commit()', db4]);
  if (py6.status === 0) {
    const ru = run(['gallery', 'reindex', '--db', db4, ...r128]);
    const ruj = ru.code === 0 ? ru.json()[0] : {};
    check(ru.code === 0 && ruj.added.length === 2 && ruj.detector_unknown.length === 2 &&
      ruj.detector_unknown.join() === ruj.added.map((a) => a.from_sample).join(), `reindex lists samples without a detector: ${ru.out.trim()}`);
  }
}

// ---- descriptor spaces: describe --descriptor, reindex, identify in the new space ----
// faceres's weights come from tools/setup.sh (.cache/human-3.3.6); without them these
// checks are skipped, as the network is optional.
const faceresDir = path.join(assets, '..', 'human-3.3.6');
if (fs.existsSync(path.join(faceresDir, 'models', 'faceres.json')) || fs.existsSync(path.join(faceresDir, 'faceres.json'))) {
  const dfr = run(['describe', '--descriptor', 'faceres', alice]).json()[0];
  check(dfr.network === 'faceres' && dfr.space === 'faceres@human-3.3.6' && dfr.dim === 1024 && dfr.metric === 'cosine' &&
    dfr.faces.length === 1 && dfr.faces[0].descriptor.length === 1024 && !dfr.faces[0].landmarks,
    'describe --descriptor faceres: 1024 values, its space, no landmarks');
  check(run(['describe', '--descriptor', 'nope', alice]).code === 1, 'describe --descriptor nope: exit 1');
  // Two photos of one person: sample1's face at x~1476 and sample3's at x~1075 (the
  // same woman by eye; on the SSD's boxes face-api's ResNet puts them 0.415 apart and
  // faceres 0.282, each under its threshold, while every other cross-photo pair of the
  // demo is over 0.54 / 0.44). The stranger: sample5's face at x~1113. The crops are cut
  // from the SSD's boxes (dets); the commands below run the default detector, YuNet, and
  // check only each network's own threshold, not those distances.
  const faceAt = (k, x) => dets.json()[k - 1].faces.find((f) => Math.abs(f.box[0] - x) < 15);
  const her1 = cropOf(demo(1), faceAt(1, 1476), 'her1.jpg');
  const her3 = cropOf(demo(3), faceAt(3, 1075), 'her3.jpg');
  const other = cropOf(demo(5), faceAt(5, 1113), 'other.jpg');
  const db2 = path.join(tmp, 'g2.db');
  const eh = run(['enroll', '--db', db2, '--descriptor', 'resnet128', 'Her', her1]);
  check(eh.code === 0 && eh.json()[0].samples[0].spaces.length === 1, 'enroll in resnet128 only');
  check(run(['enroll', '--db', db2, '--descriptor', 'resnet128', 'Bob', bob]).code === 0, 'enroll Bob in resnet128 only');
  const noSpace = run(['identify', '--db', db2, '--descriptor', 'faceres', her3]).json()[0].faces[0];
  check(noSpace.status === 'unknown', 'identify in faceres before reindex: nobody is in that space');
  const ri = run(['gallery', 'reindex', '--db', db2, '--descriptor', 'faceres']);
  const rj = ri.code === 0 ? ri.json()[0] : {};
  check(ri.code === 0 && rj.space === 'faceres@human-3.3.6' && rj.added.length === 2 && rj.without_region.length === 0, `reindex faceres: ${ri.out.trim()}`);
  const f3 = run(['identify', '--db', db2, '--descriptor', 'faceres', her3]).json()[0].faces[0];
  check(f3 && f3.status === 'known' && f3.person.name === 'Her' && f3.distance < 0.37, `identify --descriptor faceres on another photo of her: ${JSON.stringify(f3)}`);
  const fo = run(['identify', '--db', db2, '--descriptor', 'faceres', other]).json()[0].faces[0];
  check(fo && fo.status === 'unknown', 'identify --descriptor faceres: a stranger is unknown');
  const ri2 = run(['gallery', 'reindex', '--db', db2, '--descriptor', 'faceres']).json()[0];
  check(ri2.added.length === 0 && ri2.already === 2, 'reindex again: nothing to add');
  // Fused (both spaces, each distance over its own threshold): her again, and the stranger not.
  const dfu = run(['describe', '--descriptor', 'fused', her3]).json()[0];
  check(dfu.network === 'fused' && dfu.spaces.length === 2 && dfu.faces[0].descriptors.resnet128.length === 128 &&
    dfu.faces[0].descriptors.faceres.length === 1024, 'describe --descriptor fused: both vectors');
  const fz = run(['identify', '--db', db2, '--descriptor', 'fused', '--fuse-weight', '0.5', her3]).json()[0].faces[0];
  check(fz && fz.status === 'known' && fz.person.name === 'Her' && fz.distance < 1 &&
    // 0.5: the gallery's default threshold; 0.37: faceres's (src/face/descriptor.c)
    Math.abs(fz.distance - (0.5 * fz.distances.resnet128 / 0.5 + 0.5 * fz.distances.faceres / 0.37)) < 1e-9,
    `identify --descriptor fused: ${JSON.stringify(fz)}`);
  check(run(['identify', '--db', db2, '--descriptor', 'fused', other]).json()[0].faces[0].status === 'unknown', 'fused: a stranger is unknown');
  const acf = run(['access', '--db', db2, '--descriptor', 'faceres', her3]).json()[0].faces[0];
  check(acf.decision === 'granted' && acf.person.name === 'Her', 'access --descriptor faceres: granted');
  // serve --descriptor faceres: the server enrols, identifies and decides in that space.
  {
    const port = 20000 + (process.pid % 20000);
    const db3 = path.join(tmp, 'g3.db');
    const srv = spawn(bin, ['serve', '--db', db3, '--port', String(port), '--descriptor', 'faceres', '--threads', '1'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let srvErr = '';
    srv.stderr.on('data', (d) => { srvErr += d; });
    const base = `http://127.0.0.1:${port}`;
    let ready = false;
    for (let t = 0; t < 120 && !ready; t++) {
      await new Promise((res) => setTimeout(res, 500));
      try { ready = (await (await fetch(`${base}/readyz`)).json()).ready === true; } catch { /* not yet */ }
    }
    check(ready, `serve --descriptor faceres: ready (${srvErr.trim()})`);
    const post = async (route, fields) => {
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) {
        if (v.startsWith('/')) fd.append(k, new Blob([fs.readFileSync(v)]), path.basename(v)); // a file
        else fd.append(k, v);
      }
      const r = await fetch(`${base}${route}`, { method: 'POST', body: fd, headers: { 'X-Requested-With': 'e2e' } });
      return r.json();
    };
    if (ready) {
      const en = await post('/api/v1/enrol', { name: 'Her', photo: her1 });
      check(en.person_id > 0 && en.added && en.added.length === 1, `server enrol in faceres: ${JSON.stringify(en)}`);
      const idh = await post('/api/v1/identify', { photo: her3 });
      const mh = idh.faces && idh.faces[0] && idh.faces[0].match;
      check(mh && mh.status === 'known' && mh.name === 'Her' && idh.threshold === 0.37, `server identify her (faceres): ${JSON.stringify(idh)}`);
      const ido = await post('/api/v1/identify', { photo: other });
      check(ido.faces && ido.faces[0].match.status === 'unknown', 'server identify a stranger (faceres): unknown');
      const sh = run(['people', '--db', db3, 'show', 'Her']).json()[0];
      check(sh.samples.length === 1 && sh.samples[0].model === 'faceres@human-3.3.6', 'the server enrolled in its space');
      check(en.added[0].detector === 'yunet' && sh.samples[0].detector === 'yunet', `the server's enrolment records its detector, yunet: ${JSON.stringify(en.added[0])}`);
      const ls = await (await fetch(`${base}/api/v1/people/${en.person_id}/samples`)).json();
      check(ls.samples && ls.samples.length === 1 && ls.samples[0].detector === 'yunet', `GET /api/v1/people/{id}/samples lists the detector: ${JSON.stringify(ls)}`);
    }
    srv.kill('SIGTERM');
    await new Promise((res) => srv.on('exit', res));
  }
  // A sample without a face region (as galleries from before schema 5): reported, not guessed.
  const py = spawnSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); ' +
    'c.execute("UPDATE samples SET region = NULL WHERE person_id = (SELECT id FROM people WHERE name = \'Bob\')"); c.commit()', db2]);
  if (py.status === 0) {
    const ri3 = run(['gallery', 'reindex', '--db', db2, '--descriptor', 'resnet128', '--align', 'faceapi']);
    const r3 = ri3.json()[0];
    check(ri3.code === 0 && r3.added.length === 1 && r3.without_region.length === 1, `reindex with a sample without region: ${ri3.out.trim()}`);
  }
}

// ---- detect --model: a foreign Keras model of the prototype's shape ----
// (tests/data/h5: the same random-weight VGG16-in-a-functional-model in the
// Keras 2 and Keras 3 layouts, made by tools/gen_keras_h5.py)
const h5 = (n) => path.join(here, '..', 'data', 'h5', n);
const k2 = run(['detect', '--model', h5('k2_facetracker.h5'), '--min-score', '0', demo(1)]);
const k3 = run(['detect', '--model', h5('k3_facetracker.h5'), '--min-score', '0', demo(1)]);
check(k2.code === 0 && k2.json()[0].faces.length === 1, 'detect --model (Keras 2 layout): one box');
check(k3.code === 0 && JSON.stringify(k3.json()[0].faces) === JSON.stringify(k2.json()[0].faces), 'Keras 3 layout: the same box');
const kbad = run(['detect', '--model', h5('bad_truncated.h5'), demo(1)]);
check(kbad.code === 2 && /bad_truncated/.test(kbad.err), 'detect --model on a truncated .h5: exit 2, names it');

fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
