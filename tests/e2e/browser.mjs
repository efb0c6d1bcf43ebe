// Browser test of the facetracker page: Debian's Chromium (headless)
// driven by playwright-core, against e2e_server on 127.0.0.1 (free port,
// fresh database). Uploads a demo photo and waits for its boxes; sets the
// threshold; enrols a person from two photos and sees their name on a new
// photo (a resampled copy of the demo photo); runs Live mode on Chromium's fake camera (a .y4m made from a demo
// photo) until boxes and names follow the stream; reads the access log.
// Saves screenshots in --out. Exit 77 = skipped (no Chromium/playwright).
//   node browser.mjs --server PATH --assets-tool PATH --out DIR
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, chromium, assets, requireBrowser, checks, startServer, demo } from './harness.mjs';

const playwright = requireBrowser();

const out = args.out || join(tmpdir(), 'ft-e2e');
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'ft-e2e-'));
execFileSync(args['assets-tool'], [work, demo(1), demo(2)]);

const { check, fail, finish } = checks();

// ---- The server ----
// face-api's SSD, not the default YuNet: the checks count its faces (three on
// sample1, face-api's golden) and crop and enrol its boxes.
const { server, port } = await startServer(args.server, ['--db', join(work, 'e2e.db'), '--models', join(assets, 'model'), '--gap', '3', '--detector', 'ssd'], 20000);
const base = `http://127.0.0.1:${port}`;

const browser = await playwright.chromium.launch({
  executablePath: chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${join(work, 'camera.y4m')}`],
});
// bypassCSP: playwright's waitForFunction evaluates strings, which the
// page's own Content-Security-Policy (no eval) would refuse.
const context = await browser.newContext({ viewport: { width: 1100, height: 850 }, permissions: ['camera'], bypassCSP: true, acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
page.on('pageerror', (e) => problems.push(String(e)));
page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) problems.push('external request: ' + r.url()); });

try {
  await page.goto(base + '/');
  check(await page.title() === 'facetracker', 'page served from the binary');

  // 1. Detect: a demo photo, its boxes drawn.
  await page.setInputFiles('#detect-file', demo(1));
  await page.waitForFunction(() => document.querySelector('#detect-canvas').dataset.faces !== undefined, null, { timeout: 60000 });
  const nFaces = await page.$eval('#detect-canvas', (c) => Number(c.dataset.faces));
  check(nFaces === 3, `detect: 3 boxes drawn on sample1 (got ${nFaces})`);
  const json = await page.$eval('#detect-json', (p) => JSON.parse(p.textContent));
  check(json.width === 1920 && json.faces.length === 3, 'detect: JSON one click away');
  await page.click('details summary');
  await page.screenshot({ path: join(out, 'detect.png'), fullPage: true });

  // 2. Settings: a stricter threshold (0.45, the default is 0.5) through the
  // form, and the detector-score gate at 0.5 (the default 0.8): the SSD
  // scores the fake camera's face 0.5-0.8 (a 0.6x resampled photo, slightly
  // soft), and the door names no face its gate refuses.
  await page.click('#tab-settings');
  await page.waitForFunction(() => document.querySelector('#set-threshold').value !== '');
  await page.fill('#set-threshold', '0.45');
  await page.fill('#set-min_detector_score', '0.5');
  await page.click('#settings-form button[type=submit]');
  await page.waitForFunction(() => /Saved|people/.test(document.querySelector('#settings-status').textContent));
  check(await page.inputValue('#set-threshold') === '0.45', 'settings: threshold saved');

  // 3. Enrol from two photos.
  await page.click('#tab-people');
  await page.fill('#enrol-name', 'Rachel');
  await page.setInputFiles('#enrol-files', [join(work, 'enrol1.jpg'), join(work, 'enrol2.jpg')]);
  await page.click('#enrol-submit');
  await page.waitForFunction(() => /added|Error/.test(document.querySelector('#enrol-status').textContent), null, { timeout: 60000 });
  const enrolStatus = await page.textContent('#enrol-status');
  check(/2 sample\(s\) added/.test(enrolStatus), `enrol: ${enrolStatus}`);
  await page.waitForSelector('.person img[src^="blob:"]', { timeout: 10000 }).catch(() => {});
  check((await page.textContent('#people-list')).includes('Rachel'), 'people: Rachel listed with her samples');
  await page.screenshot({ path: join(out, 'people.png'), fullPage: true });

  // 4. Her name on a new photo: sample1 resampled to 60 % (1152x768; the
  // demo photos do not show one person twice for certain).
  await page.click('#tab-detect');
  await page.setInputFiles('#detect-file', join(work, 'new.jpg'));
  await page.waitForFunction(() => /"height": 768/.test(document.querySelector('#detect-json').textContent), null, { timeout: 60000 });
  const names = await page.textContent('#detect-result');
  check(names.includes('Rachel'), `detect: Rachel recognised on the new photo (${names})`);
  check((names.match(/Rachel/g) || []).length === 1, `detect: only one face named Rachel (${names})`);
  await page.screenshot({ path: join(out, 'detect-known.png'), fullPage: true });

  // 5. Live: the fake camera, boxes following the stream.
  await page.click('#tab-live');
  await page.click('#live-start');
  await page.waitForFunction(() => Number(document.querySelector('#live-canvas').dataset.faces || 0) > 0, null, { timeout: 60000 });
  const seen = new Set();
  const t0 = Date.now();
  let frames = 0;
  while (Date.now() - t0 < 6000) {
    const n = await page.$eval('#live-canvas', (c) => c.dataset.names || '');
    n.split(',').forEach((x) => x && seen.add(x));
    frames++;
    await page.waitForTimeout(300);
  }
  const banner = await page.textContent('#live-banner');
  const stats = await page.textContent('#live-stats');
  check(seen.size > 0, `live: boxes on the stream (names seen: ${[...seen].join(', ')})`);
  check(seen.has('Rachel'), 'live: Rachel named on the stream');
  check(/fps/.test(stats) && !/–/.test(stats), `live: frame rate and latency shown (${stats})`);
  // The banner and the box say the same thing: the door's decision for
  // the track (granted once k of n frames matched).
  check(/Access granted: Rachel/.test(banner), `live: access banner (${banner})`);
  const decisions = await page.$eval('#live-canvas', (c) => c.dataset.decisions || '');
  check(decisions.split(',').includes('granted'), `live: the box is green (granted) as the banner says (${decisions})`);
  await page.screenshot({ path: join(out, 'live.png'), fullPage: true });
  await page.click('#live-stop');

  // 6. The access log shows the new events.
  await page.click('#tab-events');
  await page.waitForFunction(() => document.querySelectorAll('#events-table tbody tr').length > 0, null, { timeout: 10000 });
  const rows = await page.$$eval('#events-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
  check(rows.some((r) => r.includes('browser') && r.includes('Rachel') && r.includes('granted')), `events: a granted 'browser' event for Rachel (${rows.length} rows)`);
  await page.waitForSelector('#events-table img[src^="blob:"]', { timeout: 10000 }).catch(() => {});
  await page.screenshot({ path: join(out, 'events.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#events-csv')]);
  const csvPath = join(work, 'events.csv');
  await download.saveAs(csvPath);
  check(existsSync(csvPath), 'events: CSV downloaded');

  // 7. The same page on a phone-sized screen.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.click('#tab-detect');
  await page.screenshot({ path: join(out, 'phone.png'), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow, 'phone: no horizontal overflow');
  check(problems.length === 0, `no console errors or external requests (${problems.join(' | ')})`);
} catch (e) {
  fail(e);
  await page.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
  server.stdin.end();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
console.log(`screenshots in ${out}`);
finish();
