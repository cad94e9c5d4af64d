// A minimal SMART on FHIR standalone launch, as a public browser client would do it.
//
// First visit (?iss=<FHIR base>): read the server's smart-configuration, make a PKCE verifier and
// state, keep them in sessionStorage for the return trip, and go to the authorization endpoint.
// Return (?code=...&state=...): check the state, exchange the code (with the verifier) at the token
// endpoint, keep the access token in memory only, then read the patient in context and try another one.
'use strict';

const CLIENT_ID = 'e2e-app';
const SCOPE = 'openid fhirUser launch/patient patient/*.rs';
const LAUNCH_KEY = 'fhirgate-e2e-launch';

const $ = (id) => document.getElementById(id);

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function fail(message) {
  $('error').textContent = message;
  setStatus('error', 'Failed');
}

// The redirect_uri: this page, without query or fragment.
function redirectURI() {
  return location.origin + location.pathname;
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function getJSON(url, options) {
  const resp = await fetch(url, options);
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    // not JSON: body stays null
  }
  return { status: resp.status, body };
}

async function startLaunch(iss) {
  const fhirBase = iss.replace(/\/+$/, '');
  setStatus('discovering', 'Reading the SMART configuration…');
  const conf = await getJSON(fhirBase + '/.well-known/smart-configuration', { headers: { Accept: 'application/json' } });
  if (conf.status !== 200 || !conf.body) throw new Error('smart-configuration: HTTP ' + conf.status);
  const { authorization_endpoint: authz, token_endpoint: tokenEndpoint } = conf.body;
  if (!authz || !tokenEndpoint) throw new Error('smart-configuration has no authorization or token endpoint');
  if (!(conf.body.code_challenge_methods_supported || []).includes('S256')) {
    throw new Error('the server does not announce PKCE S256');
  }

  const verifier = randomString(32); // 43 characters
  const state = randomString(16);
  sessionStorage.setItem(LAUNCH_KEY, JSON.stringify({ state, verifier, fhirBase, tokenEndpoint }));

  const url = new URL(authz);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectURI(),
    scope: SCOPE,
    state,
    aud: fhirBase,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  }).toString();
  setStatus('redirecting', 'Going to the authorization server…');
  location.assign(url.toString());
}

async function finishLaunch(params) {
  // The launch is good for one return: forget it whatever happens next.
  const saved = sessionStorage.getItem(LAUNCH_KEY);
  sessionStorage.removeItem(LAUNCH_KEY);
  history.replaceState(null, '', redirectURI()); // the code leaves the address bar
  if (!saved) throw new Error('no launch in progress in this tab (state unknown)');
  const launch = JSON.parse(saved);
  if (params.get('state') !== launch.state) throw new Error('state mismatch: the response is not for this launch');
  if (params.has('error')) {
    throw new Error('authorization refused: ' + params.get('error') + ' ' + (params.get('error_description') || ''));
  }

  setStatus('exchanging', 'Exchanging the code…');
  const token = await getJSON(launch.tokenEndpoint, {
    method: 'POST',
    headers: { Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: redirectURI(),
      client_id: CLIENT_ID,
      code_verifier: launch.verifier,
    }),
  });
  if (token.status !== 200 || !token.body || !token.body.access_token) {
    const b = token.body || {};
    throw new Error('token endpoint: HTTP ' + token.status + ' ' + (b.error || '') + ' ' + (b.error_description || ''));
  }
  const accessToken = token.body.access_token; // in memory only
  const patient = token.body.patient;
  $('granted-scopes').textContent = token.body.scope || '';
  if (!patient) throw new Error('the token response has no patient in context');
  $('patient-id').textContent = patient;

  const api = (path) => getJSON(launch.fhirBase + '/' + path, {
    headers: { Accept: 'application/fhir+json', Authorization: 'Bearer ' + accessToken },
  });

  setStatus('reading', 'Reading the patient…');
  const res = await api('Patient/' + encodeURIComponent(patient));
  if (res.status !== 200 || !res.body) throw new Error('Patient/' + patient + ': HTTP ' + res.status);
  $('patient-name').textContent = displayName(res.body);

  const other = patient === 'pat-bob' ? 'pat-alice' : 'pat-bob';
  const otherRes = await api('Patient/' + other);
  $('other-status').textContent = String(otherRes.status);
  setStatus('done', 'Done');
}

function displayName(p) {
  const names = p.name || [];
  const n = names.find((x) => x.use === 'official') || names[0];
  if (!n) return '(no name)';
  if (n.text) return n.text;
  return [...(n.given || []), n.family || ''].join(' ').trim();
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) return finishLaunch(params);
  const iss = params.get('iss');
  if (!iss) throw new Error('open this page with ?iss=<FHIR base URL>');
  return startLaunch(iss);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
