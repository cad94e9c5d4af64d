// The patient's pages (/portal/) in a real headless Chromium driven by playwright-core.
//
// Run by cmd/fhirgate/portal_test.go (go test), which starts fhirgate serve --dev with the demo data and,
// before this script, makes accesses to Alice's record with practitioners' tokens: Dr Martin (care),
// Dr Durand of the insurer (refused by Alice's consent), Dr Durand again with break-the-glass.
// Environment:
//
//   E2E_PORTAL_URL     the pages, e.g. http://127.0.0.1:8080/portal/
//   E2E_FHIR_BASE      the FHIR base URL, e.g. http://127.0.0.1:8080/fhir
//   E2E_MARTIN_TOKEN   an access token of Dr Martin (Clinique Sud), to check what blocking does
//   E2E_SCREENSHOTS    a directory for the screenshots (created when missing)
//
// What it does:
//   1. signs in as Alice on the development issuer's page (authorization code + PKCE);
//   2. access history: Dr Martin, his organisation and purpose; the refused attempt; the break-the-glass
//      access highlighted; an access another system reported, shown apart; the signed checkpoint that
//      seals the newest access; the break-the-glass filter; the professional filter; the CSV download;
//   3. who may see my record: the insurer's denial in words; blocks Clinique Sud (Dr Martin then gets
//      404 on Alice's record), unblocks it (200 again);
//   4. notices: the first accesses and the break-the-glass access, unread; marks one as read;
//   5. French: the same pages in French;
//   6. tampering: requests rewritten to ask for Bob's data, and a response with an event about Bob
//      slipped in: nothing of Bob is shown.
// It prints one JSON object on stdout and exits 0, or prints why it failed on stderr and exits 1.
// Every request to a host other than 127.0.0.1 is blocked.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 15_000;

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const escapeRE = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let context;
let userDataDir;
let currentPage; // for the failure report

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
  process.stderr.write(`portal: FAIL: ${message}\n`);
  await cleanup();
  process.exit(1);
}

const watchdog = setTimeout(() => die(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);

async function main() {
  const portalURL = new URL(env('E2E_PORTAL_URL'));
  const fhirBase = env('E2E_FHIR_BASE').replace(/\/+$/, '');
  const martin = env('E2E_MARTIN_TOKEN');
  const shots = env('E2E_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  check(portalURL.hostname === '127.0.0.1' && new URL(fhirBase).hostname === '127.0.0.1', 'the test talks to 127.0.0.1 only');
  const result = { screenshots: [] };
  const shot = async (page, name) => {
    await page.screenshot({ path: join(shots, name), fullPage: true });
    result.screenshots.push(name);
  };

  userDataDir = mkdtempSync(join(tmpdir(), 'fhirgate-portal-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 900 },
    timeout: STEP_TIMEOUT_MS, acceptDownloads: true, locale: 'en-GB',
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  // Loopback only; and the tampering of step 6, when switched on.
  const blocked = [];
  const tamper = { rewritePatient: false, injectBob: false };
  const seenFHIR = [];
  await context.route('**/*', async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    if (url.hostname !== '127.0.0.1') {
      blocked.push(req.url());
      return route.abort('blockedbyclient');
    }
    if (req.url().startsWith(fhirBase + '/')) seenFHIR.push(req.method() + ' ' + req.url());
    if (tamper.rewritePatient && req.url().startsWith(fhirBase + '/') && url.searchParams.get('patient') === 'Patient/pat-alice') {
      url.searchParams.set('patient', 'Patient/pat-bob');
      return route.continue({ url: url.toString() });
    }
    if (tamper.injectBob && req.url().startsWith(fhirBase + '/AuditEvent?')) {
      const resp = await route.fetch();
      const bundle = await resp.json();
      bundle.entry = bundle.entry || [];
      bundle.entry.unshift({ fullUrl: fhirBase + '/AuditEvent/bob-event', search: { mode: 'match' }, resource: {
        resourceType: 'AuditEvent', id: 'bob-event', recorded: new Date().toISOString(), outcome: '0',
        type: { code: 'rest' }, subtype: [{ code: 'read' }], action: 'R',
        agent: [{ who: { reference: 'Practitioner/prac-martin' }, requestor: true }],
        source: { observer: { reference: 'Device/fhirgate' } },
        entity: [{ what: { reference: 'Patient/pat-bob' }, role: { code: '1' } }, { what: { reference: 'Observation/bob-secret' }, role: { code: '4' } }],
      } });
      return route.fulfill({ response: resp, json: bundle });
    }
    return route.continue();
  });

  const page = await context.newPage();
  currentPage = page;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  // 1. Sign in.
  await page.goto(portalURL.href);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname.endsWith('/authorize'));
  const consentPage = await page.locator('body').innerText();
  check(consentPage.includes('fhirgate-portal'), 'the issuer page does not name the client fhirgate-portal');
  check(consentPage.includes('patient/Consent.cruds'), 'the issuer page does not list patient/Consent.cruds');
  await page.getByRole('group', { name: 'Sign in as' }).getByRole('radio', { name: /^Alice Dupont \(patient\) / }).check();
  await page.getByRole('group', { name: 'Patient in context' }).getByRole('radio', { name: /^Alice Dupont / }).check();
  await shot(page, 'portal-0-sign-in.png');
  await page.getByRole('button', { name: 'Sign in and allow' }).click();
  await page.waitForURL((u) => u.origin === portalURL.origin && u.pathname === '/portal/');
  await page.locator('#history-list li').first().waitFor();
  await page.locator('#who').filter({ hasText: 'Alice' }).waitFor();
  result.codeInAddressBar = new URL(page.url()).searchParams.has('code');
  result.tokenStored = await page.evaluate(() => {
    const all = [];
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all.push(s.key(i) + '=' + s.getItem(s.key(i)));
    return all.join('\n') + document.cookie;
  });

  // 2. The access history.
  const items = page.locator('#history-list li');
  await page.locator('#history-list li', { hasText: 'Claire Martin' }).first().waitFor();
  const history = await items.evaluateAll((lis) => lis.map((li) => ({
    classes: li.className, text: li.innerText, event: li.dataset.event || '' })));
  result.history = history;
  const martinItem = history.find((h) => h.text.includes('Claire Martin') && h.classes.includes('allowed'));
  check(martinItem, 'no allowed access by Dr Martin in the history');
  check(martinItem.text.includes('Clinique Sud'), 'Dr Martin\'s organisation is not shown');
  check(/Why: .*care/.test(martinItem.text), `Dr Martin's purpose is not in words: ${martinItem.text}`);
  const refused = history.find((h) => h.text.includes('Paul Durand') && h.classes.includes('refused'));
  check(refused && /Refused by your consent/.test(refused.text), 'the refused attempt of the insurer\'s adviser is not shown as refused');
  const btg = history.find((h) => h.classes.split(' ').includes('btg'));
  check(btg && btg.text.includes('Paul Durand') && btg.text.includes('Emergency access'), 'the break-the-glass access is not highlighted');
  check(!history.some((h) => /\bYou\b/.test(h.text.split('\n')[1] || '')), 'the patient\'s own accesses are shown by default');
  const reported = history.find((h) => h.classes.split(' ').includes('reported'));
  check(reported && reported.text.includes('Reported by fhirgate-audit-source') && reported.text.includes('this server did not observe it'),
    'the access another system reported is not shown apart');
  await page.waitForFunction(() => document.querySelector('#history-seal').textContent !== '');
  result.seal = await page.locator('#history-seal').innerText();
  check(/signed checkpoint no\. \d+ of .* \(key [0-9a-f]{16}\)/.test(result.seal), `the seal of the newest access is not said: ${result.seal}`);
  await shot(page, 'portal-1-history.png');

  await page.locator('#f-btg').check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#history-list li')].every((li) => li.classList.contains('btg')));
  result.btgFiltered = await items.count();
  await shot(page, 'portal-2-history-break-the-glass.png');
  await page.getByRole('button', { name: 'Reset' }).click();
  await page.locator('#history-list li.refused').first().waitFor();

  await page.locator('#f-prac').selectOption(await page.locator('#f-prac option', { hasText: 'Claire Martin' }).getAttribute('value'));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => {
    const lis = [...document.querySelectorAll('#history-list li')];
    return lis.length > 0 && lis.every((li) => li.innerText.includes('Claire Martin'));
  });
  result.martinFiltered = await items.count();
  await page.getByRole('button', { name: 'Reset' }).click();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  result.csvLines = csv.trim().split(/\r?\n/).length;
  check(csv.includes('Claire Martin') && csv.includes('Clinique Sud') && csv.includes('Emergency access'), 'the CSV lacks the accesses');
  const [download2] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as FHIR Bundle' }).click()]);
  const bundle = JSON.parse(readFileSync(await download2.path(), 'utf8'));
  check(bundle.resourceType === 'Bundle' && bundle.entry.length >= 3 && bundle.entry.every((e) => e.resource.resourceType === 'AuditEvent'),
    'the FHIR download is not a Bundle of AuditEvents');
  result.bundleEntries = bundle.entry.length;

  // 3. Who may see my record.
  const martinReads = async () => (await fetch(fhirBase + '/Patient/pat-alice', { headers: { Authorization: 'Bearer ' + martin } })).status;
  result.martinBefore = await martinReads();
  await page.getByRole('link', { name: 'Who may see my record' }).click();
  await page.locator('#consent-sentences li', { hasText: 'Assur Plus may not see your record.' }).waitFor();
  result.sentences = await page.locator('#consent-sentences li').allInnerTexts();
  await shot(page, 'portal-3-consents.png');
  await page.locator('#b-kind').selectOption('Organization');
  await page.locator('#b-name').fill('Clinique');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('button', { name: 'Block Clinique Sud' }).click();
  await page.locator('#status', { hasText: 'Saved' }).waitFor();
  await page.locator('#blocked-list li', { hasText: 'Clinique Sud' }).waitFor();
  result.martinBlocked = await martinReads();
  await shot(page, 'portal-4-blocked.png');
  await page.getByRole('button', { name: 'Unblock Clinique Sud' }).click();
  await page.locator('#status', { hasText: 'Saved' }).waitFor();
  await page.locator('#blocked-list li', { hasText: 'Clinique Sud' }).waitFor({ state: 'detached' });
  result.martinUnblocked = await martinReads();

  // 4. Notices.
  await page.getByRole('link', { name: /Notices/ }).click();
  await page.locator('#notice-list li[data-notice]').first().waitFor();
  result.notices = await page.locator('#notice-list li').allInnerTexts();
  check(await page.locator('#notice-list li.btg').count() >= 1, 'no break-the-glass notice');
  const unreadBefore = Number(await page.locator('#unread').innerText());
  await shot(page, 'portal-5-notices.png');
  await page.getByRole('button', { name: 'Mark as read' }).first().click();
  await page.waitForFunction((n) => Number(document.getElementById('unread').textContent || '0') === n - 1 ||
    (n === 1 && document.getElementById('unread').hidden), unreadBefore);
  result.unread = { before: unreadBefore, after: Number((await page.locator('#unread').innerText().catch(() => '0')) || 0) };

  // 5. French.
  await page.locator('#lang').selectOption('fr');
  await page.locator('h1', { hasText: 'Avis' }).waitFor();
  await page.getByRole('link', { name: 'Qui a consulté mon dossier' }).click();
  await page.locator('#history-list li', { hasText: 'Autorisé' }).first().waitFor();
  result.french = await page.locator('#history-list li', { hasText: 'Claire Martin' }).first().innerText();
  check(/Pourquoi|Autorisé|Refusé/.test(result.french), 'the history is not in French');
  await shot(page, 'portal-6-history-fr.png');
  await page.locator('#lang').selectOption('en');
  await page.locator('h1', { hasText: 'Who accessed my record' }).waitFor();

  // 6. Tampering: ask for Bob's data instead of Alice's.
  tamper.rewritePatient = true;
  await page.getByRole('link', { name: 'Who may see my record' }).click();
  await page.waitForTimeout(300);
  await page.getByRole('link', { name: 'Who accessed my record' }).click();
  await page.waitForTimeout(1000);
  const tamperedText = await page.locator('main').innerText();
  result.tamperedRewrite = { showsBob: /Bob|pat-bob/.test(tamperedText), alert: await page.locator('#alert').innerText() };
  tamper.rewritePatient = false;
  tamper.injectBob = true;
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#alert', { hasText: 'not yours' }).waitFor();
  const injectedText = await page.locator('main').innerText();
  result.tamperedInject = { showsBob: /bob-event|bob-secret|pat-bob/.test(injectedText) || await page.locator('[data-event="bob-event"]').count() > 0,
    alert: await page.locator('#alert').innerText() };
  tamper.injectBob = false;
  await shot(page, 'portal-7-tampered.png');

  result.blocked = blocked;
  result.pageErrors = pageErrors;
  result.requests = seenFHIR.length;
  return result;
}

main().then(async (result) => {
  clearTimeout(watchdog);
  await cleanup();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}, async (e) => {
  let state = '';
  if (currentPage) {
    state = await currentPage.evaluate(() => `url: ${location.href}\nstatus: ${document.getElementById('status')?.textContent}\n` +
      `alert: ${document.getElementById('alert')?.textContent}\nmain: ${document.querySelector('main')?.innerText.slice(0, 1500)}`).catch(() => '');
    await currentPage.screenshot({ path: join(process.env.E2E_SCREENSHOTS || tmpdir(), 'portal-failure.png'), fullPage: true }).catch(() => {});
  }
  die((e && e.stack ? e.stack : String(e)) + '\n' + state);
});
