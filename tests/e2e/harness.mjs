// What the browser tests (browser, csrf, rebind, safety_page, ambiguous)
// share: their `--name value` arguments, Debian's Chromium driven by
// playwright-core (exit 77 = skipped when either is missing; both come
// with tools/setup.sh --test), the face-api demo photos, a check counter,
// and a test server started on a free loopback port (it prints "PORT n").
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 ? a : [...a, [v.replace(/^--/, ''), all[i + 1]]]), []));
export const chromium = process.env.FT_CHROMIUM || '/usr/bin/chromium';
export const assets = process.env.FT_ASSETS_DIR || join(here, '../../.cache/face-api-1.7.15');
export const demo = (i) => join(assets, 'demo', `sample${i}.jpg`);

// playwright-core, or exit 77 (skipped) without it or without Chromium.
export function requireBrowser() {
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
  return playwright;
}

// check(cond, what) prints ok/FAILED; fail(e) counts an exception;
// finish() prints the totals and exits 1 if anything failed.
export function checks() {
  let failures = 0, passed = 0;
  return {
    check(cond, what) {
      if (cond) { passed++; console.log(`ok: ${what}`); } else { failures++; console.log(`FAILED: ${what}`); }
    },
    fail(e) {
      failures++;
      console.log('FAILED: ' + (e.stack || e));
    },
    finish() {
      console.log(`${passed} passed, ${failures} failed`);
      process.exit(failures ? 1 : 0);
    },
  };
}

// Starts `bin argv...` and waits (at most timeoutMs) for its "PORT n" line.
export async function startServer(bin, argv, timeoutMs = 30000) {
  const server = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('server did not start')), timeoutMs);
    server.stdout.on('data', (d) => { buf += d; const m = /PORT (\d+)/.exec(buf); if (m) { clearTimeout(t); resolve(Number(m[1])); } });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { server, port };
}
