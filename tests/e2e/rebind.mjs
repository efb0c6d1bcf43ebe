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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, chromium, assets, requireBrowser, checks, startServer, here } from './harness.mjs';

const playwright = requireBrowser();
const work = mkdtempSync(join(tmpdir(), 'ft-rebind-'));

const { check, fail, finish } = checks();

// The facetracker server: key-less on loopback, the default.
const { server, port } = await startServer(args.server, ['--db', join(work, 'rebind.db'), '--models', join(assets, 'model')]);

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
  fail(e);
} finally {
  await browser.close();
  server.stdin.end();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
finish();
