// The page's data-safety flows in Debian's Chromium (issue 10), against
// e2e_server on 127.0.0.1 with a fresh database: a failed first enrolment
// leaves nobody behind; a group photo makes the page ask which face (no
// silent "largest"); a face of someone else is enrolled only after a yes;
// a looser threshold is saved only after a yes that states what it means;
// the audit trail and the access log's Reason column are shown.
// Exit 77 = skipped (no Chromium/playwright).
//   node safety_page.mjs --server PATH --out DIR
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, chromium, assets, demo, requireBrowser, checks, startServer } from './harness.mjs';

const playwright = requireBrowser();
const out = args.out || join(tmpdir(), 'ft-e2e');
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'ft-safety-page-'));
writeFileSync(join(work, 'notes.jpg'), 'this is not a photo');

const { check, fail, finish } = checks();

// face-api's SSD, not the default YuNet: the group photo's faces offered are
// its three (face-api's golden for sample1).
const { server, port } = await startServer(args.server, ['--db', join(work, 'e2e.db'), '--models', join(assets, 'model'), '--detector', 'ssd'], 20000);
const base = `http://127.0.0.1:${port}`;
const browser = await playwright.chromium.launch({ executablePath: chromium, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
const page = await context.newPage();
const problems = [];
page.on('pageerror', (e) => problems.push(String(e)));
// Dialogs (confirm) are answered by the test: `answer` says how, `dialogs` keeps the texts.
let answer = false;
const dialogs = [];
page.on('dialog', async (d) => { dialogs.push(d.message()); if (answer) await d.accept(); else await d.dismiss(); });
const people = async () => (await (await page.request.get(base + '/api/v1/people')).json()).people;
const status = () => page.textContent('#enrol-status');
const waitStatus = (re) => page.waitForFunction((src) => new RegExp(src).test(document.querySelector('#enrol-status').textContent), re.source, { timeout: 60000 });

try {
  await page.goto(base + '/#people');
  // 1. A failed first enrolment: nobody created.
  await page.fill('#enrol-name', 'Nobody Yet');
  await page.setInputFiles('#enrol-files', join(work, 'notes.jpg'));
  await page.click('#enrol-submit');
  await waitStatus(/Error|added/);
  check(/Error/.test(await status()), `a text file is refused: ${await status()}`);
  check((await people()).length === 0, 'no empty person left behind');

  // 2. A group photo: the page asks which face, then enrols that one.
  await page.fill('#enrol-name', 'Rachel');
  await page.setInputFiles('#enrol-files', demo(1));
  await page.click('#enrol-submit');
  await page.waitForSelector('.face-choice button', { timeout: 60000 });
  const buttons = await page.$$eval('.face-choice button', (bs) => bs.map((b) => b.textContent));
  check(buttons.filter((t) => /^Face \d$/.test(t)).length === 3, `three faces offered: ${buttons.join(', ')}`);
  check((await people()).length === 0, 'nothing enrolled before the choice');
  await page.screenshot({ path: join(out, 'safety_choose_face.png'), fullPage: true });
  await page.click('.face-choice button:has-text("Face 2")');
  await waitStatus(/added|Error|Not enrolled/);
  check(/Rachel: 1 sample\(s\) added/.test(await status()), `the chosen face enrolled: ${await status()}`);
  const p1 = await people();
  check(p1.length === 1 && p1[0].n_samples === 1, 'Rachel has one sample');

  // 3. The same face under another name: asked, refused on "no", enrolled on "yes".
  answer = false;
  await page.fill('#enrol-name', 'Someone Else');
  await page.setInputFiles('#enrol-files', demo(1));
  await page.click('#enrol-submit');
  await page.waitForSelector('.face-choice button', { timeout: 60000 });
  await page.click('.face-choice button:has-text("Face 2")');
  await waitStatus(/Not enrolled|added|Error/);
  check(dialogs.some((m) => /looks like Rachel/.test(m)), 'asked: the face looks like Rachel');
  check(/Not enrolled/.test(await status()) && (await people()).length === 1, 'refused on "no": nobody added');

  // 4. Settings: a looser threshold only after a yes that says what it means.
  await page.click('#tab-settings');
  await page.waitForFunction(() => document.querySelector('#set-threshold').value !== '');
  dialogs.length = 0;
  answer = false;
  await page.fill('#set-threshold', '0.7');
  await page.click('#settings-form button[type=submit]');
  await page.waitForFunction(() => /Not saved|Saved|Error/.test(document.querySelector('#settings-status').textContent));
  check(dialogs.some((m) => /safe maximum 0.6/.test(m)), `the confirmation says why: ${dialogs[0] || ''}`);
  const s1 = await (await page.request.get(base + '/api/v1/settings')).json();
  check(s1.threshold === 0.5, 'not saved on "no"');
  answer = true;
  await page.fill('#set-threshold', '0.7');
  await page.click('#settings-form button[type=submit]');
  await page.waitForFunction(() => /Saved/.test(document.querySelector('#settings-status').textContent));
  const s2 = await (await page.request.get(base + '/api/v1/settings')).json();
  check(s2.threshold === 0.7, 'saved on "yes"');
  await page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr').length > 0);
  const audit = await page.textContent('#audit-table');
  check(/settings\.change/.test(audit) && /person\.enrol/.test(audit), 'the audit trail lists the changes');
  await page.screenshot({ path: join(out, 'safety_settings.png'), fullPage: true });

  // 4b. The tab says whose threshold it shows, and switches space: faceres's
  // own threshold is stored without touching the server's (resnet128) one.
  const opts = await page.$$eval('#set-descriptor option', (o) => o.map((x) => x.textContent));
  check((await page.inputValue('#set-descriptor')) === 'resnet128' && opts.includes('resnet128 (this server)') && opts.includes('faceres'),
    `the space selector: ${opts.join(', ')}`);
  check(/threshold and margin of resnet128/.test(await page.textContent('#settings-status')), 'the status names the space');
  await page.selectOption('#set-descriptor', 'faceres');
  await page.waitForFunction(() => /of faceres/.test(document.querySelector('#settings-status').textContent));
  const f0 = await (await page.request.get(base + '/api/v1/settings?descriptor=faceres')).json();
  check(Number(await page.inputValue('#set-threshold')) === f0.threshold, `faceres's threshold shown (${f0.threshold})`);
  check((await page.getAttribute('#set-threshold', 'max')) === '0.8', 'faceres\'s bound on the input');
  await page.fill('#set-threshold', '0.33');
  await page.click('#settings-form button[type=submit]');
  await page.waitForFunction(() => /Saved/.test(document.querySelector('#settings-status').textContent));
  const f1 = await (await page.request.get(base + '/api/v1/settings?descriptor=faceres')).json();
  const r1 = await (await page.request.get(base + '/api/v1/settings')).json();
  check(f1.threshold === 0.33 && r1.threshold === 0.7, `faceres saved (${f1.threshold}), resnet128 kept (${r1.threshold})`);

  // 5. The access log has a Reason column.
  await page.click('#tab-events');
  const heads = await page.$$eval('#events-table thead th', (t) => t.map((x) => x.textContent));
  check(heads.includes('Reason'), 'access log: Reason column');
  check(problems.length === 0, `no page errors ${problems.join(' | ')}`);
} catch (e) {
  fail(e);
} finally {
  await browser.close();
  server.stdin.end();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
finish();
