// NOTIFY-to-applied latency between two servers on one PostgreSQL gallery
// (docs/DEPLOYMENT.md): a throwaway cluster (tests/tools/pg_cluster.sh),
// servers A and B, Rachel enrolled through A, then N synthetic people of
// one sample each (zero vectors: a reload's cost does not depend on the
// values), then 20 rounds of "delete her samples through A, add the
// photo again through A". B's change feed measures each change from the commit (the database's
// clock) to its door's templates reloaded; this prints their median, p90
// and max as B reports them (/readyz -> database.notify_apply_ms.last).
//
// Usage: FT_ASSETS_DIR=.cache/face-api-1.7.15 node bench/pg_notify_lag.mjs \
//            BUILD/facetracker tests/tools/pg_cluster.sh PORT FACE.jpg [N]
// FACE.jpg: a photo of one face (e.g. the crop of demo/sample1.jpg that
// tests/e2e/pg_servers.mjs makes: ffmpeg -vf crop=420:450:1390:100).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

const [bin, clusterSh, pgPort, photo, nArg] = process.argv.slice(2);
const nPeople = Number(nArg || 0);
const pgDir = `/tmp/ft_pglag_${pgPort}`;
const cluster = (c) => execFileSync('sh', [clusterSh, c, pgDir, pgPort], { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const url = cluster('start');
const procs = [];
async function start(n) {
  const port = await freePort();
  const p = spawn(bin, ['serve', '--db', url, '--port', String(port), '--threads', '1', '--spool', `${pgDir}-${n}.spool`], { stdio: 'ignore' });
  procs.push(p);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(base + '/readyz')).status === 200) return base; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('server did not start');
}
const post = async (u, f) => (await fetch(u, { method: 'POST', body: f, headers: { 'X-Requested-With': 'bench' } })).json();
const photoForm = (name) => {
  const f = new FormData();
  if (name) f.append('name', name);
  f.append('photo', new Blob([fs.readFileSync(photo)], { type: 'image/jpeg' }), 'face.jpg');
  return f;
};
try {
  const A = await start('A'), B = await start('B');
  const lagB = async () => (await (await fetch(B + '/readyz')).json()).database.notify_apply_ms;
  const until = async (count) => { let z; while ((z = await lagB()).count === count) await sleep(2); return z; };
  let z = await lagB();
  const first = await post(A + '/api/v1/enrol', photoForm('Rachel'));
  z = await until(z.count);
  if (nPeople > 0) {
    // Same space, alignment and length as her sample.
    execFileSync('psql', [url, '-q', '-c',
      `INSERT INTO people(name, created_at, updated_at) SELECT 'p' || i, 0, 0 FROM generate_series(1, ${nPeople}) i;
       INSERT INTO samples(person_id, descriptor, dim, model, alignment, created_at)
         SELECT p.id, decode(repeat('00', 4 * s.dim), 'hex'), s.dim, s.model, s.alignment, 0
         FROM people p, (SELECT dim, model, alignment FROM samples ORDER BY id LIMIT 1) s
         WHERE p.name LIKE 'p%';`]);
  }
  const lags = [];
  // Each round: her samples deleted (one change per sample), then the
  // photo added again (one change); a photo she already has is skipped.
  let ids = first.added.map((a) => a.sample_id);
  for (let i = 0; i < 20; i++) {
    for (const id of ids) {
      await fetch(A + `/api/v1/samples/${id}`, { method: 'DELETE', headers: { 'X-Requested-With': 'bench' } });
      z = await until(z.count);
      lags.push(z.last);
    }
    const e = await post(A + `/api/v1/people/${first.person_id}/samples`, photoForm(null));
    z = await until(z.count);
    lags.push(z.last);
    ids = e.added.map((a) => a.sample_id);
    await sleep(50);
  }
  lags.sort((a, b) => a - b);
  const q = (p) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
  console.log(`samples=${nPeople + 1} changes=${lags.length} median=${q(0.5).toFixed(2)} ms p90=${q(0.9).toFixed(2)} ms max=${lags[lags.length - 1].toFixed(2)} ms`);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await sleep(500);
  cluster('stop');
}
