// DNS rebinding in a real browser (issue 10): Debian's Chromium, told by
// --host-resolver-rules that attacker.example is 127.0.0.1, loads a page of
// http://attacker.example:PORT/ (its document served by the attacker: here
// by playwright's route, as if the name still pointed at the attacker's
// machine), whose script then calls /api/v1/... on its OWN origin, which
// now reaches the facetracker server on PORT. No Origin check can catch
// this (the requests are same-origin, and the page may read the answers);
// only the Host check can: every request must be refused with 421 E_HOST,
// the page must read no name, and nothing may change. The server's real
// names (127.0.0.1, localhost) still serve the page. csrf.mjs covers the
// second origin's cross-site writes. Exit 77 = skipped (no Chromium or
// playwright-core; both are installed by tools/setup.sh --test).
//   node rebind.mjs --server PATH
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 ? a : [...a, [v.replace(/^--/, ''), all[i + 1]]]), []));
const here = dirname(fileURLToPath(import.meta.url));
const chromium = process.env.FT_CHROMIUM || '/usr/bin/chromium';
let playwright;
try {
  playwright = createRequire(join(here, 'package.json'))('playwright-core');
} catch (e) {
  console.log('SKIP: playwright-core is not installed (npm ci --prefix tests/e2e)');
  process.exit(77);
}
if (!existsSync(chromium)) {
  console.log(`SKIP: no Chromium at ${chromium} (apt-get install chromium)`);
  process.exit(77);
}
const assets = process.env.FT_ASSETS_DIR || join(here, '../../.cache/face-api-1.7.15');
const work = mkdtempSync(join(tmpdir(), 'ft-rebind-'));

let failures = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log(`ok: ${what}`); } else { failures++; console.log(`FAILED: ${what}`); }
}

// The facetracker server: key-less on loopback, the default.
const server = spawn(args.server, ['--db', join(work, 'rebind.db'), '--models', join(assets, 'model')],
  { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let buf = '';
  const t = setTimeout(() => reject(new Error('server did not start')), 30000);
  server.stdout.on('data', (d) => { buf += d; const m = /PORT (\d+)/.exec(buf); if (m) { clearTimeout(t); resolve(Number(m[1])); } });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});

// A request from this script (not a browser: no Origin, its own Host).
function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const h = {};
    if (body) { h['Content-Type'] = 'application/json'; h['Content-Length'] = Buffer.byteLength(body); }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: h }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(data); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, json, text: data });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const people = async () => (await api('GET', '/api/v1/people')).json.people.map((p) => p.name);
const keys = async () => (await api('GET', '/api/v1/keys')).json.keys.map((k) => k.name);

// A person comes only with a photo (POST /api/v1/enrol; the JSON route
// refuses): a demo photo, as a script sends it; of a group photo the
// largest face the server lists (?face=N).
async function enrol(name, file, query = '') {
  const fd = new FormData();
  fd.append('name', name);
  fd.append('photo', new Blob([readFileSync(file)], { type: 'image/jpeg' }), 'photo.jpg');
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/enrol${query}`,
    { method: 'POST', body: fd, headers: { 'X-Requested-With': 'rebind-test' } });
  const text = await r.text();
  let faces = null;
  try { faces = JSON.parse(text).rejected[0].faces; } catch (e) { /* not a group photo */ }
  if (r.status === 422 && Array.isArray(faces) && faces.length && !query) {
    const area = (f) => f.box.width * f.box.height;
    let best = 0;
    faces.forEach((f, i) => { if (area(f) > area(faces[best])) best = i; });
    return enrol(name, file, `?face=${faces[best].index}`);
  }
  return { status: r.status, text };
}
const threshold = async () => (await api('GET', '/api/v1/settings')).json.threshold;

const evilPage = `<!doctype html><html><head><title>rebound</title></head><body><script>
(async () => {
  const out = {};
  const grab = async (name, path, init) => {
    try { const r = await fetch(path, init); out[name] = { status: r.status, text: await r.text() }; }
    catch (e) { out[name] = { status: -1, text: String(e) }; }
  };
  // Same-origin requests: no CORS, the page reads whatever comes back.
  await grab('get', '/api/v1/people');
  await grab('post', '/api/v1/keys', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'x' }, body: '{"name":"mallory","role":"admin"}' });
  await grab('patch', '/api/v1/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"threshold":0.9}' });
  window.done = out;
})();
</script></body></html>`;

const browser = await playwright.chromium.launch({
  executablePath: chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP attacker.example 127.0.0.1',
    // Chromium's Private Network Access blocks this page's fetches to a
    // loopback address on its own; Firefox and older browsers have no such
    // rule, so the server must refuse on its own: the browser's guard is
    // turned off to test the server's.
    '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults'],
});
try {
  const created = await enrol('Rachel', join(assets, 'demo', 'sample1.jpg'));
  check(created.status === 201, `Rachel enrolled (${created.status} ${created.text.slice(0, 120)})`);
  const before = { people: await people(), threshold: await threshold(), keys: await keys() };

  const context = await browser.newContext({ bypassCSP: true }); // waitForFunction polls by eval
  const page = await context.newPage();
  const rebound = `http://attacker.example:${port}`;
  // The attacker's document, for the first load of the name only.
  await context.route(rebound + '/', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: evilPage }));
  await page.goto(rebound + '/');
  await page.waitForFunction(() => window.done !== undefined, null, { timeout: 60000 });
  const done = await page.evaluate(() => window.done);
  console.log(`rebound page read: ${JSON.stringify(done).slice(0, 600)}`);
  for (const k of ['get', 'post', 'patch']) {
    check(done[k].status === 421 && /"E_HOST"/.test(done[k].text),
      `the rebound page's ${k.toUpperCase()} reached the server and was refused 421 E_HOST (${done[k].status})`);
  }
  check(!/Rachel/.test(done.get.text), 'the rebound page read no name');
  // The document itself, fetched by the browser from the rebound name.
  const direct = await page.goto(rebound + '/api/v1/people');
  check(direct.status() === 421 && !/Rachel/.test(await direct.text()), `navigating the rebound name: 421 (${direct.status()})`);
  const after = { people: await people(), threshold: await threshold(), keys: await keys() };
  check(JSON.stringify(after.people) === JSON.stringify(before.people), `gallery unchanged (${after.people.join(', ')})`);
  check(JSON.stringify(after.keys) === JSON.stringify(before.keys), `no key created (${after.keys.join(', ')})`);
  check(after.threshold === before.threshold, `settings unchanged (threshold ${after.threshold})`);

  // The server's own names still serve the page to the browser.
  for (const host of ['127.0.0.1', 'localhost']) {
    const r = await page.goto(`http://${host}:${port}/`);
    check(r.status() === 200, `the page loads from http://${host}:${port}/ (${r.status()})`);
    const listed = await page.evaluate(async () => (await fetch('/api/v1/people')).status);
    check(listed === 200, `  ... and reads /api/v1/people (${listed})`);
  }
  await context.close();
} catch (e) {
  failures++;
  console.log('FAILED: ' + (e.stack || e));
} finally {
  await browser.close();
  server.stdin.end();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
