// Cross-site requests in a real browser: Debian's Chromium (headless, via
// playwright-core) opens a page served from a second origin on loopback
// (another port of 127.0.0.1, a tiny server in this script), which tries
// what issue 10 found working: a multipart POST adding a stranger's photo
// to an enrolled person (fetch no-cors, and a plain HTML form), a
// text/plain POST creating a person, and a JSON PATCH loosening the
// threshold. The server must refuse each (403, or the browser's failed
// CORS preflight for the PATCH), the gallery must be unchanged, and the
// page itself must still enrol and save settings. A DNS-rebound Host is
// refused too (421). Exit 77 = skipped (no Chromium/playwright).
//   node csrf.mjs --server PATH --assets-tool PATH
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, chromium, assets, requireBrowser, checks, startServer, demo } from './harness.mjs';

const playwright = requireBrowser();

const work = mkdtempSync(join(tmpdir(), 'ft-csrf-'));
execFileSync(args['assets-tool'], [work, demo(1), demo(2)]);

const { check, fail, finish } = checks();

// ---- The facetracker server (key-less, loopback: the default) ----
// face-api's SSD, not the default YuNet: the enrolment photos are cut and
// told apart (one sample, then a second one) on its boxes.
const { server, port } = await startServer(args.server, ['--db', join(work, 'csrf.db'), '--models', join(assets, 'model'), '--detector', 'ssd']);
const base = `http://127.0.0.1:${port}`;

// A request from this script (a non-browser client: no Origin).
function api(method, path, { body, headers = {}, host } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (host) h.Host = host;
    if (body) h['Content-Length'] = Buffer.byteLength(body);
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
const samplesOf = async (id) => {
  const r = await api('GET', `/api/v1/people/${id}/samples`);
  return Array.isArray(r.json) ? r.json.length : (r.json && r.json.samples ? r.json.samples.length : -1);
};
const threshold = async () => (await api('GET', '/api/v1/settings')).json.threshold;
const peopleCount = async () => {
  const r = await api('GET', '/api/v1/people');
  return Array.isArray(r.json) ? r.json.length : (r.json && r.json.people ? r.json.people.length : -1);
};

// ---- The other origin: 127.0.0.1 on another port ----
const photo = readFileSync(join(work, 'enrol2.jpg'));
const evilPage = (pid) => `<!doctype html><html><head><title>evil</title></head><body>
<form id="f" method="POST" enctype="multipart/form-data" target="sink" action="${base}/api/v1/people/${pid}/samples">
<input type="file" name="photo" id="file"></form>
<iframe name="sink" id="sink"></iframe>
<script>
(async () => {
  const out = {};
  const blob = await (await fetch('/photo.jpg')).blob();
  // 1. fetch, no-cors, multipart: a CORS "simple request", no preflight.
  const fd = new FormData();
  fd.append('photo', blob, 'stranger.jpg');
  try { await fetch('${base}/api/v1/people/${pid}/samples', { method: 'POST', mode: 'no-cors', body: fd }); out.multipart = 'sent'; }
  catch (e) { out.multipart = 'error ' + e; }
  // 2. text/plain JSON creating a person: also a simple request.
  try { await fetch('${base}/api/v1/keys', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{"name":"mallory","role":"admin"}' }); out.textplain = 'sent'; }
  catch (e) { out.textplain = 'error ' + e; }
  // 3. JSON PATCH of the settings: needs a preflight the server never grants.
  try { const r = await fetch('${base}/api/v1/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"threshold":0.9}' }); out.patch = 'status ' + r.status; }
  catch (e) { out.patch = 'blocked'; }
  // 4. A plain HTML form posting the photo (top-level form submission into a frame).
  const dt = new DataTransfer();
  dt.items.add(new File([blob], 'stranger.jpg', { type: 'image/jpeg' }));
  document.getElementById('file').files = dt.files;
  const loaded = new Promise((res) => document.getElementById('sink').addEventListener('load', res, { once: true }));
  document.getElementById('f').submit();
  await Promise.race([loaded, new Promise((res) => setTimeout(res, 10000))]);
  out.form = 'submitted';
  window.done = out;
})();
</script></body></html>`;
let personId = 0;
const evil = createServer((req, res) => {
  if (req.url === '/photo.jpg') { res.writeHead(200, { 'Content-Type': 'image/jpeg' }); res.end(photo); return; }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(evilPage(personId));
});
await new Promise((r) => evil.listen(0, '127.0.0.1', r));
const evilBase = `http://127.0.0.1:${evil.address().port}`;

const browser = await playwright.chromium.launch({
  executablePath: chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1100, height: 850 }, bypassCSP: true });
const page = await context.newPage();
try {
  // 1. The page itself enrols a person and saves the settings.
  await page.goto(base + '/');
  await page.click('#tab-settings');
  await page.waitForFunction(() => document.querySelector('#set-threshold').value !== '');
  await page.fill('#set-threshold', '0.45');
  await page.click('#settings-form button[type=submit]');
  let saved = await threshold();
  for (let i = 0; i < 100 && saved !== 0.45; i++) {
    await page.waitForTimeout(100);
    saved = await threshold();
  }
  check(saved === 0.45, `the page saves the settings (threshold ${saved}; ${await page.textContent('#settings-status')})`);
  // Enrolment through the page's own request function (app.js api(), with
  // its headers and the browser's Origin), so the test does not depend on
  // the enrolment form's layout.
  await page.click('#tab-people');
  await page.setInputFiles('#enrol-files', [join(work, 'enrol1.jpg')]);
  const enrolled = await page.evaluate(async () => {
    const file = document.querySelector('#enrol-files').files[0];
    // A person comes only with a sample: the enrolment route, as the page's form.
    const fd = photoForm([file], 'photo');
    fd.append('name', 'Rachel');
    const r = await api('POST', '/api/v1/enrol', fd);
    return { id: r.person_id, reply: JSON.stringify(r) };
  }).catch((e) => ({ id: 0, reply: String(e) }));
  check(enrolled.id > 0 && /sample/.test(enrolled.reply), `the page enrols (${enrolled.reply.slice(0, 120)})`);
  personId = enrolled.id;
  const before = { samples: await samplesOf(personId), people: await peopleCount(), threshold: await threshold() };
  check(before.samples === 1, `Rachel has 1 sample (${before.samples})`);

  // 2. A page of another origin tries to write.
  const statuses = [];
  page.on('response', (r) => { if (r.url().startsWith(base)) statuses.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`); });
  await page.goto(evilBase + '/');
  await page.waitForFunction(() => window.done !== undefined, null, { timeout: 60000 });
  const done = await page.evaluate(() => window.done);
  await page.waitForTimeout(500);
  console.log(`evil page: ${JSON.stringify(done)}; server answers seen: ${statuses.join(', ')}`);
  check(statuses.filter((s) => s === `POST /api/v1/people/${personId}/samples 403`).length === 2,
    'cross-site multipart POSTs (fetch and form) answered 403');
  check(statuses.includes('POST /api/v1/keys 403'), 'cross-site text/plain POST answered 403');
  check(done.patch === 'blocked', `cross-site JSON PATCH blocked by the browser (${done.patch})`);
  check(!statuses.some((s) => /^PATCH .* 200$/.test(s)), 'no PATCH reached the handler');
  const after = { samples: await samplesOf(personId), people: await peopleCount(), threshold: await threshold() };
  check(after.samples === before.samples, `gallery unchanged: Rachel still has ${after.samples} sample(s)`);
  check(after.people === before.people, `gallery unchanged: ${after.people} people (no Mallory)`);
  check(after.threshold === before.threshold, `settings unchanged: threshold ${after.threshold}`);
  const formText = await page.frameLocator('#sink').locator('body').textContent().catch(() => '');
  check(/E_ORIGIN/.test(formText), 'the form post got the JSON 403 E_ORIGIN');

  // 3. DNS rebinding: a foreign Host is refused.
  const rebound = await api('GET', '/api/v1/people', { host: `attacker.example:${port}` });
  check(rebound.status === 421 && !/Rachel/.test(rebound.text), `foreign Host refused (${rebound.status})`);

  // 4. Back on the page: it still works after all this.
  await page.goto(base + '/');
  await page.click('#tab-people');
  await page.setInputFiles('#enrol-files', [join(work, 'enrol2.jpg')]);
  const second = await page.evaluate(async (id) => {
    const file = document.querySelector('#enrol-files').files[0];
    return JSON.stringify(await api('POST', `/api/v1/people/${id}/samples`, photoForm([file], 'photo')));
  }, personId).catch((e) => String(e));
  check(await samplesOf(personId) === 2, `the page adds a second sample (${second.slice(0, 120)})`);
} catch (e) {
  fail(e);
} finally {
  await browser.close();
  evil.close();
  server.stdin.end();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
finish();
