// Many servers, one PostgreSQL (issue 13), end to end on a real server:
// a throwaway PostgreSQL 15 cluster (tests/tools/pg_cluster.sh) and two
// `facetracker serve` processes on it, each with its own event spool.
//
// 1. Enrol through server A, identify through server B: B's change feed
//    applies the NOTIFY within 1 s of A's answer (its /readyz reports the
//    NOTIFY-to-applied latency, printed here), and the first identify
//    request B gets after A's answer recognises her.
// 2. Faults: a run of door decisions (POST /api/v1/access, the npm demo
//    photos) on both servers, with PostgreSQL stopped in the middle and
//    started again. Every decision is answered; /readyz says degraded
//    while the database is away and not after; an enrolment meanwhile gets
//    503 with the reason; and at the end every event is in the database
//    exactly once (by its uid), each server's in the order it decided them.
//
// The people: "Rachel" is enrolled from demo/sample1 (the woman on the
// right) and seen in demo/sample3 (the middle); the stranger is the woman
// on the right of sample2 (as in door.mjs).
//
// Usage: node pg_servers.mjs FACETRACKER PG_CLUSTER_SH PORT
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const [bin, clusterSh, pgPort] = process.argv.slice(2);
const assets = process.env.FT_ASSETS_DIR;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-pgsrv-'));
fs.chmodSync(tmp, 0o755);
const pgDir = `/tmp/ft_pgsrv_${pgPort}`;
let failures = 0, checks = 0;
const check = (cond, what) => { checks++; if (!cond) { failures++; console.error('FAIL: ' + what); } else console.log('ok: ' + what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T = (f) => path.join(tmp, f);
const demo = (i) => path.join(assets, 'demo', `sample${i}.jpg`);
const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
for (const tool of ['ffmpeg', 'psql']) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) { console.error(`skip: ${tool} is not installed (tools/setup.sh --test)`); process.exit(77); }
}
const cluster = (cmd) => execFileSync('sh', [clusterSh, cmd, pgDir, pgPort], { encoding: 'utf8' }).trim();
const url = cluster('start');
const psql = (sql) => execFileSync('psql', [url, '-At', '-F', '\t', '-c', sql], { encoding: 'utf8' }).trim();

const servers = [];
async function cleanup() {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
  for (const s of servers) if (s.proc.exitCode === null) await new Promise((r) => s.proc.once('exit', r));
  try { cluster('stop'); } catch (e) { console.error('cluster stop: ' + e.message); }
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function start(name, extra = []) {
  const port = await freePort();
  // face-api's SSD, not the default YuNet: the crops below were cut so that
  // the SSD sees one face in each (faces.length === 1).
  const proc = spawn(bin, ['serve', '--detector', 'ssd', '--db', url, '--port', String(port), '--threads', '1', '--descriptor', 'resnet128', '--spool', T(`${name}.spool`), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const s = { name, port, proc, base: `http://127.0.0.1:${port}`, stderr: () => err };
  servers.push(s);
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(s.base + '/readyz')).status === 200) return s; } catch { /* not listening yet */ }
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`server ${name} did not become ready: ${err}`);
}

const form = (file, fields = {}) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  f.append('photo', new Blob([fs.readFileSync(file)], { type: 'image/jpeg' }), path.basename(file));
  return f;
};
const post = async (s, route, body) => {
  const r = await fetch(s.base + route, { method: 'POST', body, headers: { 'X-Requested-With': 'test' } });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
};
const readyz = async (s) => (await fetch(s.base + '/readyz')).json();

try {
  const crop = (src, spec, out) => execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', src, '-vf', `crop=${spec}`, out]);
  crop(demo(1), '420:450:1390:100', T('rachel1.jpg'));
  crop(demo(3), '600:560:850:80', T('rachel3.jpg'));
  crop(demo(2), '600:560:1250:50', T('stranger2.jpg'));
  crop(demo(3), '560:560:400:200', T('stranger3.jpg'));

  // A opens the door through the hook: it appends the event's uid and the
  // time it ran to a file.
  const hookLog = T('hookA.log');
  const A = await start('A', ['--on-grant', `sh -c 'echo "$FT_EVENT_UID $(date +%s.%N)" >> ${hookLog}'`]);
  const B = await start('B');
  check(true, `two servers on one database (${A.port}, ${B.port})`);
  // 0.45: Rachel's two photos are 0.42 apart, different people here >= 0.55.
  check(spawnSync(bin, ['settings', '--db', url, '--descriptor', 'resnet128', 'set', 'threshold', '0.45']).status === 0, 'threshold 0.45');

  // ---- 1. Enrol through A, identify through B ----
  {
    const before = await post(B, '/api/v1/identify', form(T('rachel3.jpg')));
    check(before.status === 200 && before.json.faces.length === 1 && before.json.faces[0].match.status === 'unknown', 'B: nobody enrolled yet, unknown');
    const gen0 = (await readyz(B)).database.generation;
    const e = await post(A, '/api/v1/enrol', form(T('rachel1.jpg'), { name: 'Rachel' }));
    const t0 = performance.now();
    // Asked at once, answered when B's worker has run the networks.
    const identify = post(B, '/api/v1/identify', form(T('rachel3.jpg')));
    check(e.status === 201 || e.status === 200, `A: Rachel enrolled (${e.status} ${e.text.slice(0, 200)})`);
    // The feed: B hears the NOTIFY and reloads its door's templates.
    let applied = -1;
    for (let i = 0; i < 200 && applied < 0; i++) {
      const z = await readyz(B);
      if (z.database.generation > gen0 && z.database.notify_apply_ms.count >= 1) applied = performance.now() - t0;
      else await sleep(5);
    }
    // The identify request sent the moment A answered finds her (its own
    // time is mostly inference: seconds under the sanitizer builds).
    const r = await identify;
    const recognised = performance.now() - t0;
    const m = r.json && r.json.faces && r.json.faces[0] && r.json.faces[0].match;
    check(m && m.status === 'known' && m.name === 'Rachel', `B recognises Rachel at the first identify after A's answer (answered ${recognised.toFixed(0)} ms after it, inference included)`);
    const z = await readyz(B);
    check(applied >= 0 && applied <= 1000, `B's change feed applied the NOTIFY within 1 s: ${applied.toFixed(0)} ms after A's answer (seen by polling /readyz; B measured commit -> templates reloaded: last ${z.database.notify_apply_ms.last.toFixed(1)} ms, max ${z.database.notify_apply_ms.max.toFixed(1)} ms over ${z.database.notify_apply_ms.count})`);
    const acc = await post(B, '/api/v1/access?source=B-first', form(T('rachel3.jpg')));
    check(acc.status === 200 && acc.json.decision === 'granted' && acc.json.person && acc.json.person.name === 'Rachel', 'B: the door grants Rachel');
  }

  // ---- 2. The database goes away in the middle of a run ----
  {
    const photos = [T('rachel3.jpg'), T('stranger2.jpg'), T('stranger3.jpg')];
    const N = 24;
    const seen = { A: [], B: [] };
    const decided = { A: [], B: [] };
    let resumedAt = 0;
    let answered = 0, refused = [];
    let phase = 'up';
    const degradedSeen = { A: false, B: false };
    const run = async (s) => {
      for (let i = 0; i < N; i++) {
        // The outage happens between decisions 8 and 16 of each server.
        while ((i === 8 && phase === 'up') || (i === 16 && phase !== 'back')) await sleep(20);
        const at = phase;
        const r = await post(s, `/api/v1/access?source=${s.name}`, form(photos[i % photos.length]));
        if (r.status !== 200) { refused.push(`${s.name}#${i}: ${r.status} ${r.text.slice(0, 200)}`); continue; }
        answered++;
        for (const ev of r.json.events || []) { seen[s.name].push(ev.event_uid); decided[s.name].push({ uid: ev.event_uid, decision: ev.decision, phase: at, ms: r.json.timing_ms.total }); }
      }
    };
    const runs = [run(A), run(B)];
    const conductor = (async () => {
      while (seen.A.length < 8 || seen.B.length < 8) await sleep(20);
      cluster('halt');
      const t0 = performance.now();
      for (const s of [A, B]) {
        for (let i = 0; i < 100 && !degradedSeen[s.name]; i++) {
          if ((await readyz(s)).degraded === true) degradedSeen[s.name] = true;
          else await sleep(50);
        }
      }
      check(degradedSeen.A && degradedSeen.B, `both /readyz say degraded ${(performance.now() - t0).toFixed(0)} ms after the stop`);
      const z = await readyz(A);
      check(z.ready === true && z.database.connected === false, '/readyz stays 200 while degraded (the doors still decide)');
      const en = await post(A, '/api/v1/enrol', form(T('stranger2.jpg'), { name: 'Nobody' }));
      check(en.status === 503 && /unreachable/.test(en.text) && /degraded/.test(en.text), `enrolment meanwhile: 503 with the reason (${en.status} ${en.text.slice(0, 160)})`);
      phase = 'down';
      while (seen.A.length < 16 || seen.B.length < 16) await sleep(20);
      const zs = await readyz(A);
      check(zs.database.spooled >= 1, `A spooled its decisions (${zs.database.spooled} waiting)`);
      resumedAt = Date.now() / 1000;
      cluster('resume');
      phase = 'back';
    })();
    await Promise.all([...runs, conductor]);
    check(refused.length === 0, `every decision answered during the outage (${answered} answered${refused.length ? '; refused: ' + refused.join(' | ') : ''})`);
    // The spools empty once the database is back.
    let z = {};
    for (let i = 0; i < 200; i++) {
      z = { A: await readyz(A), B: await readyz(B) };
      if (!z.A.degraded && !z.B.degraded && z.A.database.spooled === 0 && z.B.database.spooled === 0) break;
      await sleep(50);
    }
    check(!z.A.degraded && !z.B.degraded, '/readyz no longer degraded once the database is back');
    check(z.A.database.spooled === 0 && z.B.database.spooled === 0 && z.A.database.refused === 0 && z.B.database.refused === 0, `the spools are flushed (A flushed ${z.A.database.flushed}, B ${z.B.database.flushed}; none refused)`);
    check(z.A.database.connects >= 2 && z.B.database.connects >= 2, 'both feeds reconnected (a full resync)');
    const rows = psql("SELECT source, uid FROM events WHERE source IN ('A', 'B') ORDER BY id").split('\n').filter(Boolean).map((l) => l.split('\t'));
    for (const name of ['A', 'B']) {
      const got = rows.filter((r) => r[0] === name).map((r) => r[1]);
      const want = seen[name];
      check(want.length >= N && new Set(want).size === want.length, `${name}: ${want.length} events answered, uids distinct`);
      check(got.length === want.length, `${name}: the database holds ${got.length} of its events (answered ${want.length}): none lost, none twice`);
      check(JSON.stringify(got) === JSON.stringify(want), `${name}: in the order they were decided`);
    }
    // The door hook ran for A's grants during the outage, then (the spool
    // flushed, the outbox rows made) not again.
    await sleep(1500); // a delivery pass after the flush (the threads poll every second)
    const ran = {};
    for (const l of (fs.existsSync(hookLog) ? fs.readFileSync(hookLog, 'utf8') : '').split('\n').filter(Boolean)) {
      const [uid, t] = l.split(' ');
      (ran[uid] = ran[uid] || []).push(Number(t));
    }
    // The hook refuses events older than 10 s: under the sanitizer builds
    // on a busy machine one decision can take that long, so only the grants
    // decided within 3 s are held to it.
    const grantsA = decided.A.filter((e) => e.decision === 'granted' && e.ms < 3000);
    const outage = grantsA.filter((e) => e.phase === 'down');
    if (grantsA.length < decided.A.filter((e) => e.decision === 'granted').length)
      console.log(`note: ${decided.A.filter((e) => e.decision === 'granted').length - grantsA.length} of A's grants took over 3 s to decide; the hook checks leave them out`);
    const hookStats = JSON.stringify((await readyz(A)).delivery);
    check(outage.length >= 1 && outage.every((e) => ran[e.uid] && ran[e.uid][0] < resumedAt), `the door hook opened for A's ${outage.length} grants during the outage, before the database was back (A's delivery: ${hookStats})`);
    check(grantsA.length >= 1 && grantsA.every((e) => ran[e.uid] && ran[e.uid].length === 1), `the hook ran exactly once for each of A's ${grantsA.length} grants (${Object.keys(ran).length} uids in its log)`);
    const dup = psql('SELECT count(*) - count(DISTINCT uid) FROM events');
    check(dup === '0', 'no uid twice in the database');
    // Rachel's passage (the first photo of each round of three) is granted
    // through the outage too: the templates stayed in memory.
    const granted = psql("SELECT count(*) FROM events WHERE source IN ('A', 'B') AND decision = 'granted' AND name_at_time = 'Rachel'");
    check(Number(granted) === 2 * (N / 3), `Rachel granted at every passage, outage included (${granted} of ${2 * (N / 3)})`);
  }
  const refresh = await post(A, '/api/v1/enrol', form(T('stranger2.jpg'), { name: 'Afterwards' }));
  check(refresh.status === 201 || refresh.status === 200, `enrolment works again (${refresh.status})`);
  for (const s of servers) {
    s.proc.kill('SIGTERM');
    const code = await new Promise((r) => s.proc.once('exit', (c) => r(c)));
    check(code === 0, `server ${s.name} stopped cleanly (exit ${code})`);
    check(!/AddressSanitizer|runtime error|ThreadSanitizer/.test(s.stderr()), `server ${s.name}: no sanitizer report`);
  }
} catch (e) {
  failures++;
  console.error('FAIL: ' + (e.stack || e));
} finally {
  await cleanup();
}
console.log(`${checks - failures}/${checks} checks passed`);
process.exit(failures ? 1 : 0);
