// "Ambiguous" names both people, from the API to the page (issue 10,
// finding 6: "ambiguous" never said between whom; the page's access log
// had no reason). Her face is enrolled twice, as Rachel and (forced) as
// Twin; another photo of her is then as close to both, so the margin rule
// denies it as "ambiguous". Checked: POST /api/v1/access answers one
// decision for the one face, reason "ambiguous", its event naming both; the access
// log (GET /api/v1/events) holds exactly one event for it, naming both;
// and the page's access log, in Debian's Chromium, shows "ambiguous
// (Rachel / Twin)" in the row's Reason cell. Exit 77 = skipped (no Chromium
// or playwright-core; both are installed by tools/setup.sh --test).
//   node ambiguous.mjs --server PATH --assets-tool PATH
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, chromium, assets, demo, requireBrowser, checks, startServer } from './harness.mjs';

const playwright = requireBrowser();
const work = mkdtempSync(join(tmpdir(), 'ft-ambiguous-'));
execFileSync(args['assets-tool'], [work, demo(1), demo(2)]);

const { check, fail, finish } = checks();

// face-api's SSD and ResNet space (e2e_server's default), as the other
// browser tests: enrol1.jpg and enrol2.jpg are cut on its boxes.
const { server, port } = await startServer(args.server, ['--db', join(work, 'amb.db'), '--models', join(assets, 'model'), '--detector', 'ssd']);
const base = `http://127.0.0.1:${port}`;

// A script's multipart POST (X-Requested-With: no Origin is sent).
async function post(path, file, fields = {}) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('photo', new Blob([readFileSync(join(work, file))], { type: 'image/jpeg' }), file);
  const r = await fetch(base + path, { method: 'POST', body: fd, headers: { 'X-Requested-With': 'ambiguous.mjs' } });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, json, text };
}
const both = (a, b) => [a, b].sort().join('/') === 'Rachel/Twin';

const browser = await playwright.chromium.launch({ executablePath: chromium, headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
try {
  for (let i = 0; i < 600 && (await fetch(base + '/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  let r = await post('/api/v1/enrol', 'enrol1.jpg', { name: 'Rachel' });
  check(r.status === 201, `Rachel enrolled (${r.status})`);
  r = await post('/api/v1/enrol', 'enrol1.jpg', { name: 'Twin' });
  check(r.status === 409 && /Rachel/.test(r.text), `her face as Twin is refused, naming Rachel (${r.status})`);
  r = await post('/api/v1/enrol?force=1', 'enrol1.jpg', { name: 'Twin' });
  check(r.status === 201, `  ... enrolled when forced (${r.status})`);

  r = await post('/api/v1/access?source=amb', 'enrol2.jpg');
  const a = r.json || {};
  check(r.status === 200 && a.decision === 'denied' && a.reason === 'ambiguous', `another photo of her: denied, ambiguous (${a.decision}, ${a.reason})`);
  const ae = (a.events || [])[0] || {};
  check((a.events || []).length === 1, `  ... one event in the answer (${(a.events || []).length})`);
  check(ae.nearest && ae.second && both(ae.nearest.name, ae.second.name), `  ... which names both (${ae.nearest && ae.nearest.name} / ${ae.second && ae.second.name})`);
  const ev = await (await fetch(base + '/api/v1/events?source=amb')).json();
  const list = Array.isArray(ev) ? ev : ev.events;
  check(list.length === 1, `one event for the one face (${list.length})`);
  const e = list[0] || {};
  check(e.reason === 'ambiguous' && e.nearest && e.second && both(e.nearest.name, e.second.name),
    `  ... its reason ambiguous, naming both (${e.reason}: ${e.nearest && e.nearest.name} / ${e.second && e.second.name})`);

  // bypassCSP as the other browser tests: waitForFunction's polling
  // evaluates a string, which the page's CSP (script-src 'self') forbids.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (x) => problems.push(String(x)));
  await page.goto(base + '/');
  await page.click('#tab-events');
  await page.waitForFunction(() => document.querySelectorAll('#events-table tbody tr').length > 0, null, { timeout: 30000 });
  const heads = await page.$$eval('#events-table thead th', (t) => t.map((x) => x.textContent.trim()));
  const rows = await page.$$eval('#events-table tbody tr', (t) => t.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
  const col = heads.indexOf('Reason');
  check(col >= 0, `the access log has a Reason column (${heads.join(', ')})`);
  const cell = rows.length ? rows[0][col] : '';
  check(/^ambiguous \((Rachel \/ Twin|Twin \/ Rachel)\)$/.test(cell), `the page's Reason cell names both: "${cell}"`);
  check(problems.length === 0, `no page errors ${problems.join(' | ')}`);
} catch (e) {
  fail(e);
} finally {
  await browser.close();
  server.stdin.end();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
finish();
