// The door end to end, with real parts on loopback: `facetracker watch` on
// videos made from the npm demo photos (tools/make_test_video.sh), an RTSP
// camera (tests/tools/ft_rtsp_server, gst-rtsp-server) cut and restarted in
// the middle, a webhook receiver that refuses for a while, a real MQTT
// broker (Debian's mosquitto), the door hook, and `facetracker serve` with
// cameras and the Live tab's stream frames. Each path is checked to go
// through the door pipeline (its events carry tracks and frames); the
// rules themselves are tested once, in tests/unit/test_door.c.
//
// The people: "Rachel" is enrolled from demo/sample1 (the woman on the
// right) and seen in demo/sample3 (the middle); strangers are the man on
// the left of sample3 and the woman on the right of sample2 (see
// tests/unit/test_door.c for how she was matched).
//
// Every command runs face-api's SSD (--detector ssd), not the default
// YuNet: the crops were cut so that the SSD sees one face in each, and the
// passages, events and distances below are counted on its boxes (YuNet
// also finds the partial faces at the crops' edges: more tracks). The k of
// n is the default, 3 of 5.
//
// Usage: node door.mjs FACETRACKER [FT_RTSP_SERVER]
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const bin = process.argv[2];
const rtspBin = process.argv[3] && fs.existsSync(process.argv[3]) ? process.argv[3] : null;
const assets = process.env.FT_ASSETS_DIR;
const here = path.dirname(new URL(import.meta.url).pathname);
const makeVideo = path.join(here, '..', '..', 'tools', 'make_test_video.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-door-'));
let failures = 0, checks = 0;
const check = (cond, what) => { checks++; if (!cond) { failures++; console.error('FAIL: ' + what); } else console.log('ok: ' + what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const run = (args, opts = {}) => {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 240000, ...opts });
  return { code: r.status, out: r.stdout, err: r.stderr, lines: () => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
};
const demo = (i) => path.join(assets, 'demo', `sample${i}.jpg`);
const T = (f) => path.join(tmp, f);
const SSD = ['--detector', 'ssd'];
const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
for (const tool of ['ffmpeg', '/usr/sbin/mosquitto', 'mosquitto_sub']) {
  if (spawnSync(tool, ['-h'], { stdio: 'ignore' }).error) { console.error(`skip: ${tool} is not installed (tools/setup.sh --test)`); process.exit(77); }
}

// ---- Photos and videos ----
const crop = (src, spec, out) => execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', src, '-vf', `crop=${spec}`, out]);
crop(demo(1), '420:450:1390:100', T('rachel1.jpg'));
crop(demo(3), '600:560:850:80', T('rachel3.jpg'));
crop(demo(2), '600:560:1250:50', T('stranger2.jpg'));
crop(demo(3), '560:560:400:200', T('stranger3.jpg'));
// Rachel for 4 s, then a cut to a stranger for 4 s: two passages.
execFileSync(makeVideo, [T('door.mp4'), '4', T('rachel3.jpg'), T('stranger2.jpg'), '4']);
execFileSync(makeVideo, ['--corrupt', T('corrupt.mp4'), '2', T('rachel3.jpg')]);

const db = T('g.db');
const enrol = run(['enroll', ...SSD, '--db', db, 'Rachel', T('rachel1.jpg')]);
check(enrol.code === 0, 'enrol Rachel: ' + enrol.err.trim());
// 0.45: her two photos are 0.42 apart; different people here are >= 0.55.
// The ResNet's threshold for the server below (pinned to resnet128); watch and access
// decide in the default space, faceres, at its shipped 0.37.
check(run(['settings', '--db', db, '--descriptor', 'resnet128', 'set', 'threshold', '0.45']).code === 0, 'threshold 0.45');

// ---- watch on a file: one decision per passage ----
{
  const r = run(['watch', ...SSD, '--db', db, '--name', 'door', T('door.mp4')]);
  check(r.code === 0, 'watch door.mp4: exit 0 ' + r.err.trim());
  const ev = r.lines();
  check(ev.length === 2, `two passages, two events (got ${ev.length})`);
  const [a, b] = ev;
  check(a && a.decision === 'granted' && a.person && a.person.name === 'Rachel' && a.reason === 'match', 'Rachel granted');
  check(a && a.frames >= 3, `granted once k = 3 frames matched, the default 3 of 5 (${a && a.frames} described frames)`);
  // Video time: the file's clock, so this is exact, not timing-dependent.
  check(a && a.decided_at - a.first_seen <= 0.3, `decided within 300 ms of video time (${a && (a.decided_at - a.first_seen).toFixed(3)} s)`);
  check(b && b.decision === 'denied' && b.reason === 'unknown' && b.person === null, 'the stranger denied, unknown');
  check(b && b.nearest && b.nearest.name === 'Rachel' && b.distance >= 0.45, 'the denial says whom the stranger was closest to');
  check(a && b && a.track !== b.track && a.source === 'door' && b.source === 'door', 'two tracks of one source');
  check(a && b && a.event_uid !== b.event_uid && /^[0-9a-f]{32}$/.test(a.event_uid), 'idempotency keys');
  check(/200 frames/.test(r.err) && /1 granted, 1 denied/.test(r.err), 'summary on stderr: ' + r.err.trim().split('\n').pop());
  const log = JSON.parse(run(['events', '--db', db]).out || '{}');
  check(log.total === 2, `the access log has the two events (${log.total})`);
}

// ---- the CLI's access: a still photo through the same door ----
{
  const adb = T('access.db');
  fs.copyFileSync(db, adb);
  const r = run(['access', ...SSD, '--db', adb, '--source', 'lobby', T('rachel3.jpg'), T('stranger2.jpg')]);
  const lines = r.lines();
  check(r.code === 0 && lines.length === 2, 'access on two photos: two lines');
  const [a, b] = lines.map((l) => l.faces[0] || {});
  check(a.decision === 'granted' && a.person && a.person.name === 'Rachel' && a.track > 0 && a.frames === 1 && /^[0-9a-f]{32}$/.test(a.event_uid),
    'access: Rachel granted, as one passage of the door (track, frames, event_uid)');
  check(b.decision === 'denied' && b.reason === 'unknown' && b.person === null && b.nearest && b.nearest.name === 'Rachel', 'access: the stranger denied, the nearest person named');
}

// ---- a corrupt source beside a good one ----
{
  const r = run(['watch', ...SSD, '--db', db, `good=${T('door.mp4')}`, `bad=${T('corrupt.mp4')}`]);
  check(r.code === 2, `a corrupt source: exit 2 (got ${r.code})`);
  check(/bad/.test(r.err), 'the error names the corrupt source: ' + r.err.trim().split('\n')[0]);
  const ev = r.lines();
  check(ev.filter((e) => e.source === 'good').length === 2, 'the good source still gives its two events');
}

// ---- webhook: refused for a while, then every event exactly once ----
{
  const secret = 's3cret-door';
  let n = 0;
  const accepted = new Map();
  let badSig = 0;
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      n++;
      const want = 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');
      if (req.headers['x-facetracker-signature'] !== want) badSig++;
      if (n <= 3) { res.writeHead(503); res.end(); return; } // down for the first three tries
      const uid = req.headers['x-facetracker-event'];
      accepted.set(uid, (accepted.get(uid) || 0) + 1);
      res.writeHead(200); res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}/door`;
  const wdb = T('webhook.db');
  fs.copyFileSync(db, wdb);
  const child = spawn(bin, ['watch', ...SSD, '--db', wdb, '--name', 'door', '--webhook', url, '--webhook-secret', secret, T('door.mp4')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  const code = await new Promise((r) => child.on('exit', r));
  const uids = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).event_uid);
  check(code === 0, 'watch with a webhook: exit 0');
  check(n > 3, `the receiver was retried (${n} requests)`);
  check(badSig === 0, 'every request carried a valid HMAC-SHA256 signature');
  check(uids.length === 2 && uids.every((u) => accepted.get(u) === 1), `each event accepted exactly once (${JSON.stringify([...accepted.values()])})`);
  check(accepted.size === 2, 'nothing else was accepted');
  srv.close();
}

// ---- MQTT: a real broker, QoS 1, retained source status ----
{
  const port = await freePort();
  fs.writeFileSync(T('mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const broker = spawn('/usr/sbin/mosquitto', ['-c', T('mosquitto.conf')], { stdio: 'ignore' });
  await sleep(500);
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-v', '-t', 'facetracker/#'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let got = '';
  sub.stdout.on('data', (c) => { got += c; });
  await sleep(300);
  const mdb = T('mqtt.db');
  fs.copyFileSync(db, mdb);
  const r = run(['watch', ...SSD, '--db', mdb, '--name', 'door', '--mqtt', `127.0.0.1:${port}`, T('door.mp4')]);
  check(r.code === 0, 'watch with MQTT: exit 0 ' + r.err.trim().split('\n')[0]);
  await sleep(500);
  const msgs = got.trim().split('\n').filter(Boolean);
  const access = msgs.filter((m) => m.startsWith('facetracker/door/access ')).map((m) => JSON.parse(m.slice(m.indexOf(' ') + 1)));
  const uids = r.lines().map((e) => e.event_uid);
  check(access.length === 2 && uids.every((u) => access.filter((a) => a.event_uid === u).length === 1), `MQTT: each event once on facetracker/door/access (${access.length})`);
  check(msgs.some((m) => m === 'facetracker/door/status online') && msgs.some((m) => m === 'facetracker/door/status offline'), 'MQTT: the source went online, then offline');
  // Retained: a late subscriber still learns the door's state.
  const late = spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'facetracker/door/status', '-C', '1', '-W', '3'], { encoding: 'utf8' });
  check(late.stdout.trim() === 'offline', `MQTT: the status is retained (${late.stdout.trim()})`);
  sub.kill();
  broker.kill();
}

// ---- the door hook: granted passages only, event in the environment ----
{
  const script = T('hook.sh');
  fs.writeFileSync(script, '#!/bin/sh\nenv | grep "^FT_" | sort >> "$1"\necho --- >> "$1"\n', { mode: 0o755 });
  const hdb = T('hook.db');
  fs.copyFileSync(db, hdb);
  const r = run(['watch', ...SSD, '--db', hdb, '--name', 'door', '--on-grant', `${script} ${T('hook.out')}`, T('door.mp4')]);
  check(r.code === 0, 'watch with a door hook: exit 0');
  const hook = fs.existsSync(T('hook.out')) ? fs.readFileSync(T('hook.out'), 'utf8') : '';
  check(hook.split('---').length - 1 === 1, 'the hook ran once (one granted passage)');
  check(/^FT_PERSON_NAME=Rachel$/m.test(hook) && /^FT_DECISION=granted$/m.test(hook) && /^FT_SOURCE=door$/m.test(hook), 'the hook saw the decision in its environment');
}

// ---- an RTSP camera, cut and restarted ----
if (rtspBin) {
  const port = await freePort();
  const startRtsp = () => spawn(rtspBin, [T('door.mp4'), String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let rtsp = startRtsp();
  await sleep(1000);
  const rdb = T('rtsp.db');
  fs.copyFileSync(db, rdb);
  const child = spawn(bin, ['watch', ...SSD, '--db', rdb, '--duration', '22', `cam=rtsp://127.0.0.1:${port}/test`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  await sleep(9000);
  rtsp.kill('SIGKILL'); // the camera drops off the network
  await sleep(2500);
  rtsp = startRtsp(); // and comes back
  const code = await new Promise((r) => child.on('exit', r));
  rtsp.kill();
  const ev = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  check(code === 0, 'watch on RTSP: exit 0');
  check(ev.some((e) => e.decision === 'granted' && e.person && e.person.name === 'Rachel' && e.source === 'cam'), 'RTSP: Rachel granted');
  const m = err.match(/(\d+) reconnects/);
  check(m && Number(m[1]) >= 1, `RTSP: the lost stream reconnected (${m && m[1]})`);
  check(ev.filter((e) => e.decision === 'granted').length >= 2, 'RTSP: a pass after the reconnection is a new passage');
} else {
  console.log('skip: RTSP (ft_rtsp_server was not built: gst-rtsp-server missing)');
}

// ---- the server: cameras, the Live tab's stream, one event per face ----
{
  const port = await freePort();
  const sdb = T('serve.db');
  fs.copyFileSync(db, sdb);
  // A looping file as a camera (at its own frame rate).
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-stream_loop', '3', '-i', T('door.mp4'), '-c', 'copy', T('loop.mp4')]);
  const srv = spawn(bin, ['serve', ...SSD, '--db', sdb, '--port', String(port), '--descriptor', 'resnet128', '--camera', `front=${T('loop.mp4')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let serr = '';
  srv.stderr.on('data', (c) => { serr += c; });
  const base = `http://127.0.0.1:${port}`;
  const H = { 'X-Requested-With': 'door-test' };
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) { await sleep(200); try { ready = (await fetch(base + '/readyz')).status === 200; } catch (e) { /* not up yet */ } }
  check(ready, 'serve is ready');
  await sleep(3000);
  let cams = await (await fetch(base + '/api/v1/cameras')).json();
  check(cams.cameras.length === 1 && cams.cameras[0].name === 'front' && cams.cameras[0].state === 'running', 'the camera runs: ' + JSON.stringify(cams.cameras[0] && cams.cameras[0].state));
  const fr = await fetch(base + '/api/v1/cameras/front/frame.jpg');
  const jpg = Buffer.from(await fr.arrayBuffer());
  check(fr.status === 200 && jpg[0] === 0xff && jpg[1] === 0xd8 && Number(fr.headers.get('x-frame-seq')) > 0, 'an annotated frame (JPEG) of the camera');
  // The live view: an MJPEG stream of annotated frames; two parts, then we
  // hang up (the server must carry on).
  {
    const ctl = new AbortController();
    const res = await fetch(base + '/api/v1/cameras/front/stream.mjpeg', { signal: ctl.signal });
    const reader = res.body.getReader();
    let buf = Buffer.alloc(0);
    const t0 = Date.now();
    while ((buf.toString('latin1').match(/--ftframe\r\nContent-Type: image\/jpeg/g) || []).length < 3 && Date.now() - t0 < 15000) {
      const { value, done } = await reader.read();
      if (done) break;
      buf = Buffer.concat([buf, Buffer.from(value)]);
    }
    ctl.abort();
    const parts = (buf.toString('latin1').match(/--ftframe\r\nContent-Type: image\/jpeg/g) || []).length;
    check(res.status === 200 && /multipart\/x-mixed-replace/.test(res.headers.get('content-type')) && parts >= 3,
      `MJPEG stream of the camera (${parts} parts in ${Date.now() - t0} ms)`);
    const soi = buf.indexOf(Buffer.from([0xff, 0xd8]));
    check(soi > 0, 'the parts are JPEGs');
    check((await fetch(base + '/healthz')).status === 200, 'the server carries on after the viewer hangs up');
  }
  // Add a second camera, then a broken one; remove the second.
  let r = await fetch(base + '/api/v1/cameras', { method: 'POST', headers: { ...H, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'side', url: T('door.mp4') }) });
  check(r.status === 201, `add a camera: ${r.status}`);
  r = await fetch(base + '/api/v1/cameras', { method: 'POST', headers: { ...H, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'broken', url: T('corrupt.mp4') }) });
  check(r.status >= 400 && r.status < 500, `a corrupt camera is refused with a clear error (${r.status} ${(await r.json()).error.message})`);
  r = await fetch(base + '/api/v1/cameras/side', { method: 'DELETE', headers: H });
  check(r.status === 200, 'remove a camera while it runs');
  cams = await (await fetch(base + '/api/v1/cameras')).json();
  check(cams.cameras.length === 1 && cams.cameras[0].name === 'front' && cams.cameras[0].running, 'the other camera keeps running');
  const audit = JSON.stringify(await (await fetch(base + '/api/v1/audit')).json());
  check(/camera\.add/.test(audit) && /camera\.remove/.test(audit) && /camera:side/.test(audit), 'camera add and remove are audited');
  // Wait for the camera's first passage.
  let evs = [];
  for (let i = 0; i < 60 && !evs.some((e) => e.source === 'front'); i++) { await sleep(500); evs = (await (await fetch(base + '/api/v1/events?limit=50')).json()).events; }
  check(evs.some((e) => e.source === 'front' && e.decision === 'granted' && e.name === 'Rachel' && e.track > 0), 'the camera decided through the door (event with a track)');
  const metrics = await (await fetch(base + '/metrics')).text();
  check(/facetracker_camera_frames_total\{camera="front"\} \d+/.test(metrics), '/metrics has the camera');

  // The Live tab: frames of one stream source, tracked; the server's default k of n, 3 of 5.
  const post = async (file, q) => {
    const fd = new FormData();
    fd.append('photo', new Blob([fs.readFileSync(file)], { type: 'image/jpeg' }), 'f.jpg');
    const res = await fetch(base + '/api/v1/access' + q, { method: 'POST', headers: H, body: fd });
    return res.json();
  };
  const live = [];
  for (let i = 0; i < 4; i++) live.push(await post(T('rachel3.jpg'), '?stream=1&source=live-tab'));
  check(live[0].decision === 'pending' && live[1].decision === 'pending', `the first two frames are undecided (${live[0].decision}, ${live[1].decision})`);
  check(live[2].decision === 'granted' && live[2].person && live[2].person.name === 'Rachel' && live[2].events.length === 1, `the third frame grants (${live[2].decision})`);
  check(live[3].decision === 'granted' && live[3].events.length === 0, 'the fourth frame changes nothing (one event per passage)');
  check(new Set(live.map((l) => l.faces[0] && l.faces[0].track)).size === 1, 'one track across the frames');
  // Still photos: three different strangers at one door within a second
  // are three events (no shared cooldown), each face its own.
  const st = [];
  for (const f of ['stranger2.jpg', 'stranger3.jpg', 'rachel3.jpg']) st.push(await post(T(f), '?source=lobby'));
  const ids = st.map((s) => s.event_id);
  check(ids.every((id) => id > 0) && new Set(ids).size === 3, `three photos, three events (${ids})`);
  check(st[0].decision === 'denied' && st[2].decision === 'granted', 'strangers denied, Rachel granted');
  // The prototype's endpoint still answers the same way, through the door.
  const fd = new FormData();
  fd.append('fileImg', new Blob([fs.readFileSync(T('rachel3.jpg'))], { type: 'image/jpeg' }), 'f.jpg');
  const pred = await (await fetch(base + '/api/prediction', { method: 'POST', headers: H, body: fd })).json();
  check(pred.faces.length === 1 && pred.faces[0].person === 'Rachel', '/api/prediction: Rachel');
  srv.kill('SIGTERM');
  await new Promise((r) => srv.on('exit', r));
  check(!/AddressSanitizer|runtime error/.test(serr), 'the server stopped cleanly');
}

console.log(`${checks - failures} passed, ${failures} failed`);
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(failures ? 1 : 0);
