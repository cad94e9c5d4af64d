// fhirclient (the SMART JS client) in a real headless Chromium: a standalone launch with
// offline_access whose short-lived access token is refreshed, then an EHR launch.
//
// Run by cmd/fhirgate/fhirclient_launch_test.go (go test), which starts fhirgate serve --dev with a
// short --dev-token-lifetime and serves e2e/fhirclient-app/ (with fhirclient's browser build) on
// 127.0.0.1. Environment:
//
//   E2E_APP_URL         the app's directory, e.g. http://127.0.0.1:4321/
//   E2E_FHIR_BASE       the FHIR base URL, e.g. http://127.0.0.1:8080/fhir
//   E2E_EHR_LAUNCH_URL  the app's launch URL with iss and launch, as fhirgate launch --app prints it
//
// It prints {"standalone": {...}, "ehr": {...}} (what the app page shows) on stdout and exits 0, or
// prints why it failed on stderr and exits 1. Requests to hosts other than 127.0.0.1 are blocked.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const OVERALL_TIMEOUT_MS = 50_000;
const STEP_TIMEOUT_MS = 15_000;

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

let context;
let userDataDir;

async function cleanup() {
  if (context) {
    const c = context;
    context = undefined;
    await c.close().catch(() => {});
  }
  if (userDataDir) {
    rmSync(userDataDir, { recursive: true, force: true });
    userDataDir = undefined;
  }
}

async function die(message) {
  process.stderr.write(`fhirclient-launch: FAIL: ${message}\n`);
  await cleanup();
  process.exit(1);
}

const watchdog = setTimeout(() => die(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);

async function main() {
  const app = env('E2E_APP_URL');
  const fhirBase = env('E2E_FHIR_BASE').replace(/\/+$/, '');
  const ehrURL = env('E2E_EHR_LAUNCH_URL');

  userDataDir = mkdtempSync(join(tmpdir(), 'fhirgate-e2e-fhirclient-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT_MS,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const blocked = [];
  const tokenGrants = [];
  await context.route('**/*', (route) => {
    const req = route.request();
    if (new URL(req.url()).hostname !== '127.0.0.1') {
      blocked.push(req.url());
      return route.abort('blockedbyclient');
    }
    if (req.method() === 'POST' && req.url().endsWith('/dev-issuer/token')) {
      tokenGrants.push(new URLSearchParams(req.postData() || '').get('grant_type'));
    }
    return route.continue();
  });
  const pageErrors = [];

  // run opens url, signs in on the issuer's page (as user, with patient when the page asks) and
  // returns what the app shows.
  async function run(url, userLabel, patientLabel) {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(url);
    await page.waitForURL((u) => u.pathname.endsWith('/dev-issuer/authorize'));
    await page.getByRole('group', { name: 'Sign in as' }).getByRole('radio', { name: new RegExp('^' + userLabel) }).check();
    if (patientLabel) {
      await page.getByRole('group', { name: 'Patient in context' }).getByRole('radio', { name: new RegExp('^' + patientLabel) }).check();
    }
    await page.getByRole('button', { name: 'Sign in and allow' }).click();
    await page.locator('#out[data-state="done"], #out[data-state="error"]').waitFor();
    const text = await page.locator('#out').innerText();
    if (await page.locator('#out').getAttribute('data-state') !== 'done') throw new Error(`the app failed: ${text}`);
    await page.close();
    return JSON.parse(text);
  }

  const standalone = await run(`${app}launch.html?iss=${encodeURIComponent(fhirBase)}`, 'Alice Dupont \\(patient\\)', 'Alice Dupont');
  standalone.tokenGrants = tokenGrants.splice(0);
  const ehr = await run(ehrURL, 'Dr Gregory House', '');
  ehr.tokenGrants = tokenGrants.splice(0);
  if (blocked.length) throw new Error(`the browser tried to reach other hosts: ${blocked.join(', ')}`);
  if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`);
  return { standalone, ehr };
}

try {
  const result = await main();
  await cleanup();
  clearTimeout(watchdog);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} catch (e) {
  await die(e && e.stack ? e.stack : String(e));
}
