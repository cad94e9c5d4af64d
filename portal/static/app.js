// The patient's pages: who accessed my record, who may see it, and my notices.
//
// A SMART app of the server's own: authorization code with PKCE S256 against the issuer the server
// trusts. The access token lives in this script's memory only (never in a cookie or web storage); the
// PKCE verifier and state wait in sessionStorage during the round trip to the issuer and are removed on
// return. Everything shown comes from the FHIR API with the patient's token, so the server's scopes,
// consent and audit apply; the page also drops anything that is not about the signed-in patient.
// Text is inserted with textContent only: nothing from the server is ever parsed as HTML.
'use strict';

(() => {
  const LAUNCH_KEY = 'fhirgate-portal-launch';
  const NOTICE_SYSTEM = 'https://fhirgate.dev/CodeSystem/patient-notice';
  const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
  const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
  const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
  // The audit trail marks the patient's own accesses with this agent role (agent-role is searchable).
  const SELF_ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleClass|PAT';
  const ORIGIN_SYSTEM = 'https://fhirgate.dev/CodeSystem/audit-origin'; // reported AuditEvents
  const PAGE_SIZE = 20;
  const SENSITIVE = ['PSY', 'HIV', 'SEX', 'ETH'];
  const SENSITIVE_EXTRA = { SEX: ['STD'] }; // hidden together with the label of the checkbox

  const $ = (id) => document.getElementById(id);
  const session = { token: null, patient: null, patientRef: null, name: '' };
  let config = null;
  let messages = null;
  let lang = 'en';

  // ---- texts -------------------------------------------------------------------------------------

  function t(key, vars) {
    const table = messages[lang] || messages.en;
    let s = table[key];
    if (s === undefined) s = messages.en[key];
    if (s === undefined) return key;
    return s.replace(/\{(\w+)\}/g, (m, name) => (vars && vars[name] !== undefined ? String(vars[name]) : m));
  }

  function plural(prefix, count) {
    const form = count === 1 ? 'one' : 'other';
    const key = `${prefix}.${form}`;
    const table = messages[lang] || messages.en;
    if (table[key] === undefined && messages.en[key] === undefined) return null;
    return t(key, { count });
  }

  function applyTexts() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
    $('lang').value = lang;
    document.title = t('app.title');
  }

  function chooseLanguage() {
    const wanted = (navigator.languages || [navigator.language || 'en']).map((l) => String(l).slice(0, 2).toLowerCase());
    for (const l of wanted) if (messages[l]) return l;
    return 'en';
  }

  function formatDate(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso || '';
    return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  }

  function formatDay(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso || '';
    return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long' }).format(d);
  }

  function listWords(items) {
    if (items.length <= 1) return items.join('');
    return items.slice(0, -1).join(', ') + ' ' + t('sentence.and') + ' ' + items[items.length - 1];
  }

  // ---- status and errors --------------------------------------------------------------------------

  function setStatus(text) { $('status').textContent = text || ''; }
  function setAlert(text) { $('alert').textContent = text || ''; }
  function fail(err) {
    setStatus('');
    setAlert(t('app.error', { message: err && err.message ? err.message : String(err) }));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // ---- OAuth: authorization code with PKCE --------------------------------------------------------

  function base64url(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomString(n) { return base64url(crypto.getRandomValues(new Uint8Array(n))); }

  async function s256(verifier) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  function redirectURI() { return location.origin + '/portal/'; }

  async function signIn() {
    setAlert('');
    setStatus(t('signin.working'));
    const verifier = randomString(48);
    const state = randomString(24);
    sessionStorage.setItem(LAUNCH_KEY, JSON.stringify({ verifier, state, lang }));
    const q = new URLSearchParams({
      response_type: 'code', client_id: config.clientId, redirect_uri: redirectURI(), scope: config.scope,
      state, aud: config.fhirBase, code_challenge: await s256(verifier), code_challenge_method: 'S256',
    });
    location.assign(config.authorizationEndpoint + '?' + q.toString());
  }

  async function finishSignIn(params) {
    const saved = JSON.parse(sessionStorage.getItem(LAUNCH_KEY) || 'null');
    sessionStorage.removeItem(LAUNCH_KEY);
    history.replaceState(null, '', '/portal/'); // the code leaves the address bar at once
    if (saved && saved.lang && messages[saved.lang]) { lang = saved.lang; applyTexts(); }
    if (params.get('error')) throw new Error(params.get('error_description') || params.get('error'));
    if (!saved || params.get('state') !== saved.state) throw new Error('state mismatch');
    setStatus(t('signin.working'));
    const resp = await fetch(config.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectURI(),
        client_id: config.clientId, code_verifier: saved.verifier }).toString(),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok || !body.access_token) throw new Error(body.error_description || body.error || `HTTP ${resp.status}`);
    if (!body.patient || !/^[A-Za-z0-9\-.]{1,64}$/.test(body.patient)) throw new Error(t('signin.noPatient'));
    session.token = body.access_token;
    session.patient = body.patient;
    session.patientRef = 'Patient/' + body.patient;
  }

  function signOut() {
    session.token = null;
    session.patient = null;
    session.patientRef = null;
    names.clear();
    location.replace('/portal/');
  }

  // ---- FHIR calls ----------------------------------------------------------------------------------

  class HTTPError extends Error {
    constructor(status, outcome) {
      super(t('app.errorStatus', { status }));
      this.status = status;
      this.outcome = outcome;
    }
  }

  function fhirURL(path) {
    if (/^https?:\/\//.test(path)) {
      // Only links of our own server are followed (paging links).
      if (!path.startsWith(config.fhirBase + '/') && path !== config.fhirBase) throw new Error('unexpected link ' + path);
      return path;
    }
    return config.fhirBase + '/' + path.replace(/^\//, '');
  }

  async function fhir(method, path, body, headers) {
    const resp = await fetch(fhirURL(path), {
      method,
      headers: Object.assign({ Authorization: 'Bearer ' + session.token, Accept: 'application/fhir+json' },
        body ? { 'Content-Type': 'application/fhir+json' } : {}, headers || {}),
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!resp.ok) throw new HTTPError(resp.status, json);
    return { json, etag: resp.headers.get('ETag') };
  }

  const get = (path) => fhir('GET', path).then((r) => r.json);

  function entries(bundle) {
    return ((bundle && bundle.entry) || []).filter((e) => e.resource && (!e.search || e.search.mode !== 'outcome'));
  }

  function link(bundle, rel) {
    const l = ((bundle && bundle.link) || []).find((x) => x.relation === rel);
    return l ? l.url : null;
  }

  function refOf(r) { return r ? r.resourceType + '/' + r.id : ''; }

  // ---- what belongs to the patient ------------------------------------------------------------------

  function eventIsMine(ev) {
    return (ev.entity || []).some((e) => e.what && e.what.reference === session.patientRef &&
      e.role && e.role.code === '1');
  }
  const consentIsMine = (c) => c.patient && c.patient.reference === session.patientRef;
  const noticeIsMine = (c) => (c.recipient || []).some((r) => r.reference === session.patientRef);

  // keepMine drops what is not about the signed-in patient, and says so.
  function keepMine(resources, isMine) {
    const mine = resources.filter(isMine);
    if (mine.length !== resources.length) setAlert(t('app.foreignData'));
    return mine;
  }

  // ---- names of professionals and organisations -----------------------------------------------------

  const names = new Map(); // reference -> { name, orgs: [{ref, name}] }

  function humanName(r) {
    const n = (r && r.name && r.name[0]) || null;
    if (!n) return r && r.name && typeof r.name === 'string' ? r.name : '';
    if (n.text) return n.text;
    return [...(n.prefix || []), ...(n.given || []), n.family || ''].join(' ').trim();
  }

  async function resolve(refs) {
    const todo = [...new Set(refs)].filter((r) => r && !names.has(r) && /^(Practitioner|Organization|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/.test(r));
    await Promise.all(todo.map(async (ref) => {
      const info = { name: ref, orgs: [] };
      names.set(ref, info);
      try {
        if (ref.startsWith('Organization/')) {
          const org = await get(ref);
          info.name = org.name || ref;
          return;
        }
        if (ref.startsWith('Practitioner/')) {
          const [prac, roles] = await Promise.all([
            get(ref),
            get('PractitionerRole?practitioner=' + encodeURIComponent(ref) + '&_include=PractitionerRole:organization&_count=50'),
          ]);
          info.name = humanName(prac) || ref;
          for (const e of entries(roles)) {
            if (e.resource.resourceType === 'Organization') {
              info.orgs.push({ ref: refOf(e.resource), name: e.resource.name || refOf(e.resource) });
              names.set(refOf(e.resource), { name: e.resource.name || refOf(e.resource), orgs: [] });
            }
          }
        }
      } catch (e) {
        // A name that cannot be read stays the reference.
      }
    }));
  }

  const nameOf = (ref) => (names.get(ref) ? names.get(ref).name : ref);
  const orgsOf = (ref) => (names.get(ref) ? names.get(ref).orgs : []);

  // ---- access history ---------------------------------------------------------------------------------

  const historyState = { url: null, prev: [], events: [] };

  function codes(list) {
    const out = [];
    for (const c of list || []) for (const cd of (c.coding || [])) out.push(cd.code);
    return out;
  }

  function describe(ev) {
    const agents = ev.agent || [];
    const requestor = agents.find((a) => a.requestor) || null;
    // The client app: the DCM source or destination agent named by an identifier (the server is named by
    // a reference), whichever way the data flowed (a read's destination, a query's or an export's source).
    const app = agents.find((a) => a.type && codes([a.type]).some((c) => c === '110152' || c === '110153') && a.who && a.who.identifier);
    const who = requestor && requestor.who ? (requestor.who.reference || (requestor.who.identifier && requestor.who.identifier.value) || '') : '';
    const purposes = [...new Set([...codes(ev.purposeOfEvent), ...codes(requestor ? requestor.purposeOfUse : [])])];
    const btg = purposes.includes('BTG') || ((ev.meta && ev.meta.security) || []).some((s) => s.code === 'BTG');
    const types = {};
    for (const e of ev.entity || []) {
      if (!e.what || !e.what.reference || !e.role || e.role.code !== '4') continue;
      const type = e.what.reference.split('/')[0];
      types[type] = (types[type] || 0) + 1;
    }
    const appName = app && app.who ? (app.who.display || (app.who.identifier && app.who.identifier.value) || '') : '';
    // An access another system reported (not one this server observed) is shown apart.
    const reported = ((ev.meta && ev.meta.tag) || []).some((t) => t.system === ORIGIN_SYSTEM && t.code === 'reported');
    const observer = (ev.source && ev.source.observer) || {};
    const reportedBy = reported ? ((observer.identifier && observer.identifier.value) || observer.display || '?') : '';
    // A bulk export ($export) that included the patient's data.
    const sub = (ev.subtype && ev.subtype[0]) || {};
    const exported = sub.code === 'operation' && sub.display === '$export';
    return {
      id: ev.id, when: ev.recorded, stored: (ev.meta && ev.meta.lastUpdated) || ev.recorded, reportedBy,
      who, appName: appName.replace(/^client /, ''),
      action: exported ? 'export' : (sub.code || 'other'), exported,
      types, purposes, btg, allowed: ev.outcome === '0', reason: ev.outcomeDesc || '',
    };
  }

  function whoText(d) {
    if (d.who === session.patientRef) return t('history.you');
    if (!d.who) return t('history.unknownWho');
    return nameOf(d.who);
  }

  function whatText(d) {
    const parts = [];
    for (const [type, n] of Object.entries(d.types).sort()) {
      parts.push(plural('type.' + type, n) || plural('type.other', n));
    }
    return parts.length ? listWords(parts) : t('history.nothingSpecific');
  }

  function actionText(d) {
    if (!d.allowed) return t('action.tried');
    return t('action.' + d.action) === 'action.' + d.action ? t('action.other') : t('action.' + d.action);
  }
  const purposeText = (code) => (t('purpose.' + code) === 'purpose.' + code ? code : t('purpose.' + code));

  function outcomeText(d) {
    if (d.allowed) return t('history.allowed');
    if (/consent/i.test(d.reason)) return t('history.refusedConsent');
    if (/scope/i.test(d.reason)) return t('history.refusedScope');
    return t('history.refused');
  }

  function historyQuery() {
    const q = new URLSearchParams();
    q.set('patient', session.patientRef);
    q.set('_sort', '-date');
    q.set('_count', String(PAGE_SIZE));
    q.set('_total', 'accurate');
    if ($('f-from').value) q.append('date', 'ge' + $('f-from').value);
    if ($('f-to').value) q.append('date', 'le' + $('f-to').value);
    if ($('f-btg').checked) q.set('purpose', ACT_REASON + '|BTG');
    if (!$('f-mine').checked) q.set('agent-role:not', SELF_ROLE);
    const prac = $('f-prac').value;
    const org = $('f-org').value;
    if (prac) q.set('agent', prac);
    else if (org) {
      const members = [...names.entries()].filter(([ref, info]) => ref.startsWith('Practitioner/') && info.orgs.some((o) => o.ref === org)).map(([ref]) => ref);
      q.set('agent', members.length ? members.join(',') : org);
    }
    return 'AuditEvent?' + q.toString();
  }

  async function loadHistory(url, direction) {
    setAlert('');
    setStatus(t('app.loading'));
    if (direction === 'next') historyState.prev.push(historyState.url);
    if (direction === 'prev') url = historyState.prev.pop();
    if (!direction) historyState.prev = [];
    historyState.url = url;
    const bundle = await get(url);
    const events = keepMine(entries(bundle).map((e) => e.resource).filter((r) => r.resourceType === 'AuditEvent'), eventIsMine);
    const described = events.map(describe);
    await resolve(described.map((d) => d.who));
    historyState.events = described;
    historyState.next = link(bundle, 'next');
    renderHistory(bundle.total);
    await showSeal();
    setStatus('');
  }

  function renderHistory(total) {
    const list = $('history-list');
    list.replaceChildren();
    $('history-count').textContent = total !== undefined ? t('history.count', { count: total }) : '';
    if (!historyState.events.length) list.append(el('li', { class: 'empty', text: t('history.empty') }));
    for (const d of historyState.events) {
      const orgs = orgsOf(d.who).map((o) => o.name);
      const classes = [d.allowed ? 'allowed' : 'refused', d.btg ? 'btg' : '', d.reportedBy ? 'reported' : ''].join(' ').trim();
      const tags = el('p', { class: 'tags' });
      if (d.reportedBy) tags.append(el('span', { class: 'tag reported', text: t('history.reported', { app: d.reportedBy }) }));
      if (d.btg) tags.append(el('span', { class: 'tag btg', text: t('history.btg') }));
      tags.append(el('span', { class: 'tag ' + (d.allowed ? 'allowed' : 'refused'), text: outcomeText(d) }));
      const why = d.purposes.filter((p) => p !== 'BTG' || !d.btg).map(purposeText);
      if (d.btg) why.unshift(purposeText('BTG'));
      if (d.exported && d.allowed) {
        tags.append(el('span', { class: 'tag exported', text: t('history.exported', {
          app: d.appName || t('history.unknownWho'), purposes: why.length ? why.join(', ') : t('purpose.none') }) }));
      }
      list.append(el('li', { class: classes, 'data-event': d.id },
        tags,
        el('p', {},
          el('span', { class: 'who', text: whoText(d) }),
          orgs.length ? el('span', { class: 'org', text: ' (' + orgs.join(', ') + ')' }) : null,
          ' ', el('span', { class: 'action', text: actionText(d) }), ' ',
          el('span', { class: 'what', text: whatText(d) })),
        el('p', { class: 'meta' },
          el('span', { class: 'when' }, el('time', { datetime: d.when, text: formatDate(d.when) })),
          el('span', { class: 'why', text: t('history.why', { purposes: why.length ? why.join(', ') : t('purpose.none') }) }),
          d.appName ? el('span', { class: 'app', text: t('history.viaApp', { app: d.appName }) }) : null),
        d.btg ? el('p', { class: 'explain', text: t('history.btgExplain') }) : null,
        d.reportedBy ? el('p', { class: 'explain', text: t('history.reportedExplain', { app: d.reportedBy }) }) : null));
    }
    $('history-next').hidden = !historyState.next;
    $('history-prev').hidden = historyState.prev.length === 0;
  }

  // showSeal says whether the newest access shown is sealed by the server's latest signed checkpoint of
  // the audit trail (after which it cannot be removed from the trail unnoticed).
  async function showSeal() {
    const out = $('history-seal');
    out.textContent = '';
    out.className = 'muted';
    if (!config.checkpointURL || historyState.prev.length || !historyState.events.length) return;
    const newest = historyState.events[0];
    let cp = null;
    try {
      const resp = await fetch(config.checkpointURL, { cache: 'no-store' });
      if (resp.ok) cp = await resp.json();
    } catch (e) {
      cp = null;
    }
    if (cp && (cp.event === 'AuditEvent/' + newest.id || Date.parse(newest.stored) < Date.parse(cp.sealed))) {
      out.className = 'sealed';
      out.textContent = t('history.sealed', { seq: cp.seq, when: formatDate(cp.at), key: cp.fingerprint || '' });
    } else {
      out.textContent = t('history.notYetSealed');
    }
  }

  // fillFilters offers the professionals and organisations seen in the recent history.
  async function fillFilters() {
    const q = new URLSearchParams({ patient: session.patientRef, _sort: '-date', _count: '200', 'agent-role:not': SELF_ROLE });
    const bundle = await get('AuditEvent?' + q.toString());
    const events = keepMine(entries(bundle).map((e) => e.resource), eventIsMine).map(describe);
    const pracs = [...new Set(events.map((d) => d.who).filter((w) => w.startsWith('Practitioner/')))];
    await resolve(pracs);
    const prac = $('f-prac');
    const org = $('f-org');
    const keepPrac = prac.value;
    const keepOrg = org.value;
    prac.replaceChildren(el('option', { value: '', text: t('history.any') }));
    org.replaceChildren(el('option', { value: '', text: t('history.any') }));
    const orgs = new Map();
    for (const ref of pracs.sort((a, b) => nameOf(a).localeCompare(nameOf(b)))) {
      prac.append(el('option', { value: ref, text: nameOf(ref) }));
      for (const o of orgsOf(ref)) orgs.set(o.ref, o.name);
    }
    for (const [ref, name] of [...orgs.entries()].sort((a, b) => a[1].localeCompare(b[1]))) org.append(el('option', { value: ref, text: name }));
    prac.value = keepPrac;
    org.value = keepOrg;
  }

  async function allHistory() {
    const out = [];
    let url = historyQuery().replace('_count=' + PAGE_SIZE, '_count=500');
    while (url && out.length < 10000) {
      const bundle = await get(url);
      out.push(...keepMine(entries(bundle).map((e) => e.resource).filter((r) => r.resourceType === 'AuditEvent'), eventIsMine));
      url = link(bundle, 'next');
    }
    return out;
  }

  function download(name, type, content) {
    const a = el('a', { href: URL.createObjectURL(new Blob([content], { type })), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function csvCell(v) {
    const s = String(v === undefined || v === null ? '' : v);
    // Cells that a spreadsheet would run as a formula are quoted with a leading apostrophe.
    const safe = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
    return '"' + safe.replace(/"/g, '""') + '"';
  }

  async function downloadCSV() {
    setStatus(t('history.downloading'));
    const events = (await allHistory()).map(describe);
    await resolve(events.map((d) => d.who));
    const rows = [[t('history.colWhen'), t('history.colWho'), t('history.organization'), 'app', t('history.colWhat'),
      t('history.colWhy'), t('history.colOutcome'), t('history.btg'), 'AuditEvent']];
    for (const d of events) {
      rows.push([d.when, whoText(d), orgsOf(d.who).map((o) => o.name).join('; '), d.appName,
        actionText(d) + ' ' + whatText(d), d.purposes.map(purposeText).join('; '), outcomeText(d), d.btg ? 'yes' : '', d.id]);
    }
    download('access-history.csv', 'text/csv;charset=utf-8', '\ufeff' + rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n');
    setStatus('');
  }

  async function downloadFHIR() {
    setStatus(t('history.downloading'));
    const events = await allHistory();
    const bundle = { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(),
      entry: events.map((r) => ({ fullUrl: config.fhirBase + '/AuditEvent/' + r.id, resource: r })) };
    download('access-history.json', 'application/fhir+json', JSON.stringify(bundle, null, 2));
    setStatus('');
  }

  // ---- consents ---------------------------------------------------------------------------------------

  const consentState = { consents: [] };
  const managedID = () => 'portal-' + session.patient;

  async function loadConsents() {
    setStatus(t('app.loading'));
    const bundle = await get('Consent?patient=' + encodeURIComponent(session.patientRef) + '&status=active&_count=100');
    consentState.consents = keepMine(entries(bundle).map((e) => e.resource).filter((r) => r.resourceType === 'Consent'), consentIsMine);
    const actors = [];
    const walk = (p) => { for (const a of p.actor || []) if (a.reference && a.reference.reference) actors.push(a.reference.reference); (p.provision || []).forEach(walk); };
    consentState.consents.forEach((c) => c.provision && walk(c.provision));
    await resolve(actors);
    renderConsents();
    setStatus('');
  }

  const actorRefs = (p) => (p.actor || []).map((a) => a.reference && a.reference.reference).filter(Boolean);
  const labelCodes = (p) => (p.securityLabel || []).map((l) => l.code);
  const purposeCodes = (p) => (p.purpose || []).map((l) => l.code);
  const onlyActors = (p) => actorRefs(p).length > 0 && !labelCodes(p).length && !purposeCodes(p).length &&
    !(p.class || []).length && !(p.code || []).length && !(p.data || []).length && !p.dataPeriod;

  function labelWord(code) { return t('label.' + code) === 'label.' + code ? t('label.other') : t('label.' + code); }

  function periodWords(p) {
    const out = [];
    if (p.period && p.period.start) out.push(t('sentence.from', { date: formatDay(p.period.start) }));
    if (p.period && p.period.end) out.push(t('sentence.until', { date: formatDay(p.period.end) }));
    return out.length ? ' (' + out.join(', ') + ')' : '';
  }

  // sentences turns a consent's provisions into plain sentences.
  function sentences(c) {
    const out = [];
    const root = c.provision || {};
    const nested = root.provision || [];
    const names_ = (refs) => listWords(refs.map(nameOf));
    if (root.type === 'deny' && !actorRefs(root).length && !labelCodes(root).length && !purposeCodes(root).length) {
      const permitted = nested.filter((p) => p.type === 'permit' && onlyActors(p)).flatMap(actorRefs);
      out.push(permitted.length ? t('sentence.onlyActors', { actors: names_(permitted) }) : t('sentence.denyAll'));
      for (const p of nested.filter((p) => !(p.type === 'permit' && onlyActors(p)))) out.push(...provisionSentences(p, names_));
      return out;
    }
    if (root.type === 'deny' || actorRefs(root).length || labelCodes(root).length || purposeCodes(root).length) out.push(...provisionSentences(root, names_));
    for (const p of nested) out.push(...provisionSentences(p, names_));
    return out.length ? out : [];
  }

  function provisionSentences(p, names_) {
    const actors = actorRefs(p);
    const labels = labelCodes(p);
    const purposes = purposeCodes(p);
    const when = periodWords(p);
    const inner = p.provision || [];
    if (p.type === 'deny') {
      if (purposes.includes('BTG')) return [t('sentence.btgRefused') + when];
      if (purposes.length && !actors.length) return [t('sentence.denyPurpose', { purpose: listWords(purposes.map(purposeText)) }) + when];
      if (labels.length && !actors.length) {
        const except = inner.filter((q) => q.type === 'permit').flatMap(actorRefs);
        const label = listWords([...new Set(labels.map(labelWord))]);
        return [(except.length ? t('sentence.hideLabelExcept', { label, actors: names_(except) }) : t('sentence.hideLabel', { label })) + when];
      }
      if (actors.length && labels.length) return actors.map((a) => t('sentence.denyActorLabel', { actor: nameOf(a), label: listWords(labels.map(labelWord)) }) + when);
      if (actors.length) return actors.map((a) => t('sentence.denyActor', { actor: nameOf(a) }) + when);
    }
    if (p.type === 'permit' && actors.length) return actors.map((a) => t('sentence.permitActor', { actor: nameOf(a) }) + when);
    return inner.length ? inner.flatMap((q) => provisionSentences(q, names_)) : [];
  }

  function blockedActors() {
    const out = [];
    for (const c of consentState.consents) {
      for (const p of (c.provision && c.provision.provision) || []) {
        if (p.type === 'deny' && onlyActors(p)) for (const a of actorRefs(p)) out.push({ ref: a, consent: c });
      }
    }
    return out;
  }

  function managed() { return consentState.consents.find((c) => c.id === managedID()) || null; }

  function renderConsents() {
    const list = $('consent-sentences');
    list.replaceChildren();
    const all = consentState.consents.flatMap((c) => sentences(c).map((s) => ({ s, id: c.id })));
    if (!all.length) list.append(el('li', { text: t('consents.none') }));
    for (const { s, id } of all) list.append(el('li', { 'data-consent': id, text: s }));

    const blocked = $('blocked-list');
    blocked.replaceChildren();
    const seen = new Set();
    for (const b of blockedActors()) {
      if (seen.has(b.ref)) continue;
      seen.add(b.ref);
      const name = nameOf(b.ref);
      blocked.append(el('li', { 'data-actor': b.ref }, el('span', { text: name }),
        el('button', { type: 'button', 'aria-label': t('consents.unblock', { name }), text: t('consents.unblock', { name }), onclick: () => guarded(() => unblock(b.ref)) })));
    }
    if (!seen.size) blocked.append(el('li', { text: t('consents.blockedNone') }));

    const m = managed();
    const provisions = (m && m.provision && m.provision.provision) || [];
    const hidden = new Set(provisions.filter((p) => p.type === 'deny' && !actorRefs(p).length).flatMap(labelCodes));
    for (const code of SENSITIVE) $('label-' + code).checked = hidden.has(code);
    const denied = consentState.consents.some((c) => ((c.provision && c.provision.provision) || []).some((p) => p.type === 'deny' && !actorRefs(p).length && purposeCodes(p).includes('HPAYMT')));
    $('deny-payment').checked = denied;
  }

  function newManaged() {
    return {
      resourceType: 'Consent', id: managedID(), status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: session.patientRef },
      dateTime: new Date().toISOString(),
      policyRule: { coding: [{ system: ACT_CODE, code: 'OPTOUT' }] },
      provision: { type: 'permit', provision: [] },
    };
  }

  // prune drops the empty arrays and objects an edit leaves (a consent whose last rule was removed): R4
  // forbids them in a resource.
  function prune(v) {
    if (Array.isArray(v)) {
      const a = v.map(prune).filter((x) => x !== undefined);
      return a.length ? a : undefined;
    }
    if (v && typeof v === 'object') {
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        const p = prune(x);
        if (p !== undefined) out[k] = p;
      }
      return Object.keys(out).length ? out : undefined;
    }
    return v === '' ? undefined : v;
  }

  async function saveConsent(c, original) {
    setStatus(t('consents.saving'));
    const headers = original && original.meta && original.meta.versionId ? { 'If-Match': 'W/"' + original.meta.versionId + '"' } : {};
    const body = prune(JSON.parse(JSON.stringify(c)));
    delete body.meta;
    body.dateTime = new Date().toISOString();
    await fhir('PUT', 'Consent/' + encodeURIComponent(c.id), body, headers);
    await loadConsents();
    setStatus(t('consents.saved'));
  }

  async function editManaged(change) {
    const original = managed();
    const c = original ? JSON.parse(JSON.stringify(original)) : newManaged();
    c.provision = c.provision || { type: 'permit' };
    c.provision.provision = c.provision.provision || [];
    change(c.provision.provision);
    await saveConsent(c, original);
  }

  async function block(ref) {
    await editManaged((list) => {
      if (list.some((p) => p.type === 'deny' && onlyActors(p) && actorRefs(p).includes(ref))) return;
      list.push({ type: 'deny', actor: [{ role: { coding: [{ system: PARTICIPATION, code: 'IRCP' }] }, reference: { reference: ref, display: nameOf(ref) } }] });
    });
  }

  // unblock removes the actor from every simple denial of it, in whichever of the patient's consents.
  async function unblock(ref) {
    for (const original of consentState.consents) {
      const list = (original.provision && original.provision.provision) || [];
      if (!list.some((p) => p.type === 'deny' && onlyActors(p) && actorRefs(p).includes(ref))) continue;
      const c = JSON.parse(JSON.stringify(original));
      c.provision.provision = c.provision.provision.flatMap((p) => {
        if (!(p.type === 'deny' && onlyActors(p) && actorRefs(p).includes(ref))) return [p];
        const rest = (p.actor || []).filter((a) => !(a.reference && a.reference.reference === ref));
        return rest.length ? [Object.assign({}, p, { actor: rest })] : [];
      });
      await saveConsent(c, original);
    }
  }

  async function setLabel(code, hide) {
    const all = [code, ...(SENSITIVE_EXTRA[code] || [])];
    await editManaged((list) => {
      for (let i = list.length - 1; i >= 0; i--) {
        const p = list[i];
        if (p.type !== 'deny' || actorRefs(p).length) continue;
        const kept = (p.securityLabel || []).filter((l) => !all.includes(l.code));
        if (kept.length === (p.securityLabel || []).length) continue;
        if (kept.length || purposeCodes(p).length) p.securityLabel = kept;
        else list.splice(i, 1);
      }
      if (hide) list.push({ type: 'deny', securityLabel: all.map((c) => ({ system: ACT_CODE, code: c })) });
    });
  }

  async function setPayment(deny) {
    if (!deny) {
      for (const original of consentState.consents) {
        const list = (original.provision && original.provision.provision) || [];
        if (!list.some((p) => p.type === 'deny' && !actorRefs(p).length && purposeCodes(p).includes('HPAYMT'))) continue;
        const c = JSON.parse(JSON.stringify(original));
        c.provision.provision = c.provision.provision.flatMap((p) => {
          if (!(p.type === 'deny' && !actorRefs(p).length && purposeCodes(p).includes('HPAYMT'))) return [p];
          const rest = p.purpose.filter((x) => x.code !== 'HPAYMT');
          return rest.length || labelCodes(p).length ? [Object.assign({}, p, { purpose: rest })] : [];
        });
        await saveConsent(c, original);
      }
      return;
    }
    await editManaged((list) => {
      list.push({ type: 'deny', purpose: [{ system: ACT_REASON, code: 'HPAYMT' }] });
    });
  }

  async function searchActors(ev) {
    ev.preventDefault();
    const kind = $('b-kind').value === 'Organization' ? 'Organization' : 'Practitioner';
    const name = $('b-name').value.trim();
    const results = $('block-results');
    results.replaceChildren();
    if (!name) return;
    const bundle = await get(kind + '?name=' + encodeURIComponent(name) + '&_count=20');
    const found = entries(bundle).map((e) => e.resource).filter((r) => r.resourceType === kind);
    if (kind === 'Practitioner') await resolve(found.map(refOf));
    if (!found.length) results.append(el('li', { text: t('consents.noResult') }));
    for (const r of found) {
      const ref = refOf(r);
      const label = kind === 'Organization' ? (r.name || ref) : nameOf(ref);
      if (kind === 'Organization') names.set(ref, { name: label, orgs: [] });
      const orgs = orgsOf(ref).map((o) => o.name);
      results.append(el('li', { 'data-actor': ref }, el('span', { text: label + (orgs.length ? ' (' + orgs.join(', ') + ')' : '') }),
        el('button', { type: 'button', text: t('consents.blockName', { name: label }), onclick: () => guarded(() => block(ref)) })));
    }
  }

  // ---- notices ------------------------------------------------------------------------------------------

  const noticeState = { list: [] };

  async function loadNotices() {
    const q = new URLSearchParams({ recipient: session.patientRef, category: NOTICE_SYSTEM + '|first-access,' + NOTICE_SYSTEM + '|break-the-glass',
      _sort: '-sent', _count: '100' });
    const bundle = await get('Communication?' + q.toString());
    noticeState.list = keepMine(entries(bundle).map((e) => e.resource).filter((r) => r.resourceType === 'Communication'), noticeIsMine);
    await resolve(noticeState.list.flatMap((c) => (c.about || []).map((a) => a.reference)));
    renderNotices();
  }

  function noticeKind(c) {
    for (const cat of c.category || []) for (const cd of cat.coding || []) if (cd.system === NOTICE_SYSTEM) return cd.code;
    return '';
  }

  function renderNotices() {
    const unread = noticeState.list.filter((c) => !c.received).length;
    $('unread').hidden = unread === 0;
    $('unread').textContent = String(unread);
    $('unread').setAttribute('aria-label', t('nav.unread', { count: unread }));
    const list = $('notice-list');
    list.replaceChildren();
    if (!noticeState.list.length) list.append(el('li', { text: t('notices.none') }));
    for (const c of noticeState.list) {
      const kind = noticeKind(c);
      const whoRef = ((c.about || []).find((a) => a.reference && !a.reference.startsWith('AuditEvent/')) || {}).reference || '';
      const orgs = orgsOf(whoRef).map((o) => o.name);
      const who = nameOf(whoRef) + (orgs.length ? ' (' + orgs.join(', ') + ')' : '');
      const text = kind === 'break-the-glass' ? t('notices.btg', { who }) : t('notices.firstAccess', { who });
      const item = el('li', { class: kind === 'break-the-glass' ? 'btg' : '', 'data-notice': c.id },
        el('p', {}, c.received ? null : el('span', { class: 'tag unread', text: t('notices.unread') }),
          kind === 'break-the-glass' ? el('span', { class: 'tag btg', text: t('history.btg') }) : null,
          el('span', { text })),
        el('p', { class: 'when' }, el('time', { datetime: c.sent, text: formatDate(c.sent) })));
      if (!c.received) item.append(el('button', { type: 'button', text: t('notices.markRead'), onclick: () => guarded(() => markRead(c)) }));
      list.append(item);
    }
  }

  async function markRead(c) {
    const body = JSON.parse(JSON.stringify(c));
    delete body.meta;
    body.received = new Date().toISOString();
    await fhir('PUT', 'Communication/' + encodeURIComponent(c.id), body, c.meta && c.meta.versionId ? { 'If-Match': 'W/"' + c.meta.versionId + '"' } : {});
    await loadNotices();
  }

  // ---- pages ----------------------------------------------------------------------------------------------

  const pages = ['signin', 'history', 'consents', 'notices'];

  function show(page) {
    for (const p of pages) $('page-' + p).hidden = p !== page;
    for (const p of ['history', 'consents', 'notices']) {
      const a = $('nav-' + p);
      if (p === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const h = document.querySelector('#page-' + page + ' h1');
    if (h) document.title = h.textContent + ' — ' + t('app.title');
  }

  async function route() {
    if (!session.token) { show('signin'); return; }
    const page = (location.hash.replace(/^#\//, '') || 'history');
    setAlert('');
    setStatus('');
    if (page === 'consents') { show('consents'); await loadConsents(); }
    else if (page === 'notices') { show('notices'); await loadNotices(); }
    else { show('history'); await fillFilters(); await loadHistory(historyQuery()); }
    $('main').focus({ preventScroll: true });
  }

  async function guarded(fn) {
    try {
      await fn();
    } catch (e) {
      fail(e);
    }
  }

  async function start() {
    config = await (await fetch('/portal/config.json', { cache: 'no-store' })).json();
    messages = await (await fetch('/portal/i18n.json')).json();
    lang = chooseLanguage();
    applyTexts();
    $('lang').addEventListener('change', () => guarded(async () => {
      lang = $('lang').value;
      applyTexts();
      if (session.token) {
        $('who').textContent = t('app.signedInAs', { name: session.name });
        await guarded(loadNotices);
        await route();
      }
    }));
    $('signin').addEventListener('click', () => guarded(signIn));
    $('signout').addEventListener('click', signOut);
    $('history-filters').addEventListener('submit', (ev) => { ev.preventDefault(); guarded(() => loadHistory(historyQuery())); });
    $('f-reset').addEventListener('click', () => guarded(async () => {
      for (const id of ['f-from', 'f-to', 'f-prac', 'f-org']) $(id).value = '';
      $('f-btg').checked = false;
      $('f-mine').checked = false;
      await loadHistory(historyQuery());
    }));
    $('f-prac').addEventListener('change', () => { if ($('f-prac').value) $('f-org').value = ''; });
    $('f-org').addEventListener('change', () => { if ($('f-org').value) $('f-prac').value = ''; });
    $('history-next').addEventListener('click', () => guarded(() => loadHistory(historyState.next, 'next')));
    $('history-prev').addEventListener('click', () => guarded(() => loadHistory(null, 'prev')));
    $('dl-csv').addEventListener('click', () => guarded(downloadCSV));
    $('dl-fhir').addEventListener('click', () => guarded(downloadFHIR));
    $('block-search').addEventListener('submit', (ev) => guarded(() => searchActors(ev)));
    for (const code of SENSITIVE) $('label-' + code).addEventListener('change', (ev) => guarded(() => setLabel(code, ev.target.checked)));
    $('deny-payment').addEventListener('change', (ev) => guarded(() => setPayment(ev.target.checked)));
    window.addEventListener('hashchange', () => guarded(route));

    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error')) {
      try {
        await finishSignIn(params);
      } catch (e) {
        setStatus('');
        setAlert(t('signin.failed', { message: e.message }));
        show('signin');
        return;
      }
      setStatus('');
      $('nav').hidden = false;
      $('signout').hidden = false;
      try {
        const me = await get(session.patientRef);
        session.name = humanName(me);
      } catch (e) {
        session.name = session.patientRef;
      }
      $('who').textContent = t('app.signedInAs', { name: session.name });
      await guarded(loadNotices);
      await guarded(route);
      return;
    }
    show('signin');
  }

  document.addEventListener('DOMContentLoaded', () => guarded(start));
})();
