// SMART App Launch, standalone launch, in a real headless Chromium driven by playwright-core.
//
// Run by cmd/fhirgate/smart_launch_test.go (go test), which starts fhirgate serve --dev with the demo
// data and serves e2e/app/ on 127.0.0.1. Environment:
//
//   E2E_APP_URL      the SMART app page (its redirect_uri), e.g. http://127.0.0.1:4321/
//   E2E_FHIR_BASE    the FHIR base URL, e.g. http://127.0.0.1:8080/fhir
//   E2E_SCREENSHOTS  a directory for the screenshots (created when missing)
//
// What it does:
//   1. opens the app, which reads the smart-configuration and goes to the authorization endpoint;
//   2. on the development issuer's page, signs in as "Alice Dupont (patient)" with Alice in context;
//   3. waits for the app to exchange the code and show the patient's name and the status of reading
//      another patient;
//   4. replays the app's token request (same code, same verifier): the token endpoint must refuse it;
//   5. launches again, this time changing the code_verifier of the app's token request on its way:
//      the token endpoint must refuse it too, and the app must show the error.
// It prints one JSON object on stdout and exits 0, or prints why it failed on stderr and exits 1.
// Every request the browser makes to a host other than 127.0.0.1 is blocked, and fails the run.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Belt and braces: no name resolves except the loopback address.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const OVERALL_TIMEOUT_MS = 45_000;
const STEP_TIMEOUT_MS = 15_000;

const USER_LABEL = 'Alice Dupont (patient)';
const USER_REF = 'Patient/pat-alice';
const PATIENT_LABEL = 'Alice Dupont';
const PATIENT_REF = 'Patient/pat-alice';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const s256 = (verifier) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

let context; // the browser, closed on every way out
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
  process.stderr.write(`smart-launch: FAIL: ${message}\n`);
  await cleanup();
  process.exit(1);
}

const watchdog = setTimeout(() => die(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);

async function main() {
  const appURL = new URL(env('E2E_APP_URL'));
  const fhirBase = env('E2E_FHIR_BASE').replace(/\/+$/, '');
  const shots = env('E2E_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  for (const u of [appURL, new URL(fhirBase)]) {
    check(u.hostname === '127.0.0.1', `${u} is not on 127.0.0.1: this test talks to the loopback address only`);
  }

  // The endpoints, as the app will find them.
  const confResp = await fetch(fhirBase + '/.well-known/smart-configuration');
  check(confResp.ok, `smart-configuration: HTTP ${confResp.status}`);
  const conf = await confResp.json();
  const authz = conf.authorization_endpoint;
  const tokenEndpoint = conf.token_endpoint;
  check(authz && tokenEndpoint, 'smart-configuration has no authorization_endpoint or token_endpoint');
  check(new URL(authz).hostname === '127.0.0.1' && new URL(tokenEndpoint).hostname === '127.0.0.1',
    `the endpoints are not on 127.0.0.1: ${authz} ${tokenEndpoint}`);

  userDataDir = mkdtempSync(join(tmpdir(), 'fhirgate-e2e-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 900 },
    timeout: STEP_TIMEOUT_MS,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  // Every request goes through here: non-loopback ones are blocked; the app's token requests are
  // recorded (and, in the PKCE step, their code_verifier changed).
  const blocked = [];
  const tokenRequests = []; // {req, body, originalVerifier}
  let tamperVerifier = null;
  await context.route('**/*', (route) => {
    const req = route.request();
    if (new URL(req.url()).hostname !== '127.0.0.1') {
      blocked.push(req.url());
      return route.abort('blockedbyclient');
    }
    if (req.method() === 'POST' && req.url() === tokenEndpoint) {
      const sent = new URLSearchParams(req.postData() || '');
      const entry = { req, body: sent.toString() };
      tokenRequests.push(entry);
      if (tamperVerifier) {
        entry.originalVerifier = sent.get('code_verifier');
        sent.set('code_verifier', tamperVerifier);
        entry.body = sent.toString();
        return route.continue({ postData: entry.body });
      }
    }
    return route.continue();
  });
  // tokenResponse returns the status and JSON body the browser got for a recorded token request.
  async function tokenResponse(entry) {
    const resp = await entry.req.response();
    check(resp, 'a token request got no response');
    return { status: resp.status(), json: await resp.json().catch(() => null) };
  }

  const pageErrors = [];
  const authorizeRequests = [];
  context.on('request', (req) => {
    if (req.isNavigationRequest() && req.method() === 'GET' && req.url().startsWith(authz + '?')) {
      authorizeRequests.push(new URL(req.url()).searchParams);
    }
  });

  // launch opens the app in a new tab and signs in on the issuer's page; it returns the tab once the
  // app has finished (state done or error).
  async function launch(shotName) {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${appURL}?iss=${encodeURIComponent(fhirBase)}`);
    await page.waitForURL((u) => u.href.startsWith(authz + '?'));

    const body = await page.locator('body').innerText();
    check(body.includes('e2e-app'), 'the sign-in page does not name the client e2e-app');
    check(body.includes('patient/*.rs'), 'the sign-in page does not list the scope patient/*.rs');

    const user = page.getByRole('group', { name: 'Sign in as' })
      .getByRole('radio', { name: new RegExp('^' + escapeRE(USER_LABEL) + ' ') });
    check(await user.count() === 1, `the sign-in page offers no single user "${USER_LABEL}"`);
    check(await user.getAttribute('value') === USER_REF, `"${USER_LABEL}" is not ${USER_REF}`);
    await user.check();

    const patient = page.getByRole('group', { name: 'Patient in context' })
      .getByRole('radio', { name: new RegExp('^' + escapeRE(PATIENT_LABEL) + ' ') });
    check(await patient.count() === 1, `the sign-in page offers no single patient "${PATIENT_LABEL}"`);
    check(await patient.getAttribute('value') === PATIENT_REF, `patient "${PATIENT_LABEL}" is not ${PATIENT_REF}`);
    await patient.check();

    if (shotName) await page.screenshot({ path: join(shots, shotName), fullPage: true });
    await page.getByRole('button', { name: 'Sign in and allow' }).click();
    await page.waitForURL((u) => u.origin === appURL.origin && u.pathname === appURL.pathname);
    await page.locator('#status[data-state="done"], #status[data-state="error"]').waitFor();
    return page;
  }

  // 1-3. The launch.
  const page = await launch('smart-launch-1-sign-in.png');
  const state = await page.locator('#status').getAttribute('data-state');
  if (state !== 'done') {
    await page.screenshot({ path: join(shots, 'smart-launch-error.png'), fullPage: true }).catch(() => {});
    throw new Error(`the app failed: ${await page.locator('#error').innerText()}`);
  }
  const result = {
    patientName: (await page.locator('#patient-name').innerText()).trim(),
    patientId: (await page.locator('#patient-id').innerText()).trim(),
    otherStatus: Number((await page.locator('#other-status').innerText()).trim()),
    scopes: (await page.locator('#granted-scopes').innerText()).trim().split(/\s+/).filter(Boolean),
  };
  await page.screenshot({ path: join(shots, 'smart-launch-2-app.png'), fullPage: true });

  // What the app sent.
  check(authorizeRequests.length === 1, `expected one authorization request, saw ${authorizeRequests.length}`);
  check(tokenRequests.length === 1, `expected one token request, saw ${tokenRequests.length}`);
  const ar = authorizeRequests[0];
  const exchange = tokenRequests[0];
  Object.assign(exchange, await tokenResponse(exchange));
  const form = new URLSearchParams(exchange.body);
  result.authorizeRequest = Object.fromEntries(['response_type', 'client_id', 'redirect_uri', 'scope', 'aud',
    'code_challenge_method'].map((k) => [k, ar.get(k)]));
  result.authorizeRequest.stateLength = (ar.get('state') || '').length;
  result.pkce = {
    verifierLength: (form.get('code_verifier') || '').length,
    challengeMatchesVerifier: s256(form.get('code_verifier') || '') === ar.get('code_challenge'),
  };
  result.exchange = { status: exchange.status, grantType: form.get('grant_type'), clientId: form.get('client_id') };
  const accessToken = exchange.json && exchange.json.access_token;
  check(accessToken, 'the token response the app got has no access_token');
  result.tokenInStorage = await page.evaluate((t) => {
    const all = [];
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) all.push(s.getItem(s.key(i)));
    }
    return all.some((v) => v && v.includes(t)) || document.cookie.includes(t) || location.href.includes(t);
  }, accessToken);
  result.codeInAddressBar = new URL(page.url()).searchParams.has('code');

  // 4. Replay the app's exchange: same code, same verifier.
  const replay = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: exchange.body,
  });
  const replayBody = await replay.json().catch(() => ({}));
  result.replay = { status: replay.status, error: replayBody.error || '', description: replayBody.error_description || '' };

  // 5. PKCE: a second launch whose token request carries another (well-formed) verifier.
  tamperVerifier = createHash('sha256').update('not the verifier of this launch').digest('base64url');
  const page2 = await launch('');
  const tampered = tokenRequests[1];
  check(tampered, 'the second launch made no token request');
  check(tampered.originalVerifier !== tamperVerifier, 'the tampered verifier equals the real one');
  Object.assign(tampered, await tokenResponse(tampered));
  result.wrongVerifier = {
    status: tampered.status,
    error: (tampered.json && tampered.json.error) || '',
    description: (tampered.json && tampered.json.error_description) || '',
    appState: await page2.locator('#status').getAttribute('data-state'),
    appError: (await page2.locator('#error').innerText()).trim(),
  };
  await page2.screenshot({ path: join(shots, 'smart-launch-3-wrong-verifier.png'), fullPage: true });

  result.blockedRequests = blocked;
  result.pageErrors = pageErrors;
  result.screenshots = ['smart-launch-1-sign-in.png', 'smart-launch-2-app.png', 'smart-launch-3-wrong-verifier.png']
    .map((f) => join(shots, f));
  check(blocked.length === 0, `the browser tried to reach other hosts than 127.0.0.1: ${blocked.join(', ')}`);
  check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join('; ')}`);
  return result;
}

function escapeRE(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

try {
  const result = await main();
  await cleanup();
  clearTimeout(watchdog);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} catch (e) {
  await die(e && e.stack ? e.stack : String(e));
}
