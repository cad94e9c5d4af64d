// Three real FHIR JavaScript clients run an ordinary workflow against fhirgate.
//
// Run by cmd/fhirgate/clients_test.go (go test TestJSClients), which starts fhirgate serve --dev with the
// demo data on 127.0.0.1 and gets the tokens from its development issuer. Environment:
//
//   E2E_FHIR_BASE            the FHIR base URL, e.g. http://127.0.0.1:8080/fhir (must be on 127.0.0.1)
//   E2E_ADMIN_TOKEN          the administration client (fhirgate-admin, system/*.cruds): creates each
//                            client's own Patient
//   E2E_PRACTITIONER_TOKEN   a practitioner (user/*.cruds, purpose of use TREAT): runs the workflow
//   E2E_CLIENTS              JSON: [{"name": "fhir-kit-client"|"medplum"|"fhirclient", "patient": "<id>",
//                            "patientToken": "<patient/*.rs token for that patient>"}, ...]
//
// Each client works on a Patient of its own (created first with the admin token, so the clients do not
// see each other's data), and runs, with its own API for each step where it has one and its generic
// request where it has none (each adapter's `how` says which):
//   create, read, vread; conditional create (If-None-Exist) that creates (201) then matches (200);
//   update with If-Match from the ETag (and a stale If-Match: 412); JSON Patch; FHIRPath Patch (a
//   Parameters body, application/fhir+json); a _count=2 search followed page by page to the end; _include
//   and _revinclude; instance history; a transaction whose entries reference each other by urn:uuid; a
//   batch with one failing entry; delete then read (410); $everything by GET and by POST with a
//   Parameters body (_type, _count); and, with the patient's own token, every reference of every
//   AuditEvent about the patient resolved by the client.
//
// It prints one JSON report on stdout and exits 0 (a failed step is in the report, named by client and
// step), or exits 1 when the run itself breaks. Every request to a host other than 127.0.0.1 is refused
// before it leaves (global fetch, and node:http/https, which fhirclient's node-fetch uses), and reported.

import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client as FhirKitClient } from 'fhir-kit-client';
import { MedplumClient } from '@medplum/core';
import smart from 'fhirclient';

const OVERALL_TIMEOUT_MS = 50_000;
const CODE_SYSTEM = 'urn:fhirgate:e2e:js-clients';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

// ---------------------------------------------------------------------------------------------------
// Nothing leaves 127.0.0.1.

const blocked = [];

function guard(target) {
  let host;
  if (typeof target === 'string' || target instanceof URL) {
    host = new URL(String(target)).hostname;
  } else if (target && typeof target === 'object') {
    host = target.hostname ?? String(target.host ?? '').replace(/:\d+$/, '');
  }
  if (host !== '127.0.0.1') {
    const what = typeof target === 'object' && !(target instanceof URL) ? JSON.stringify({ host: target.host, hostname: target.hostname, path: target.path }) : String(target);
    blocked.push(what);
    throw new Error(`refused: a request off 127.0.0.1 (${what})`);
  }
}

const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  guard(input instanceof Request ? input.url : input);
  return realFetch(input, init);
};
for (const mod of [http, https]) {
  for (const fn of ['request', 'get']) {
    const real = mod[fn];
    mod[fn] = function guarded(...args) {
      guard(args[0]);
      return real.apply(this, args);
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers.

class StepError extends Error {}

function check(cond, message) {
  if (!cond) throw new StepError(message);
}

function brief(body) {
  if (body === undefined || body === null || body === '') return '(no body)';
  const s = typeof body === 'string' ? body : JSON.stringify(body);
  return s.length > 600 ? s.slice(0, 600) + '…' : s;
}

function expectStatus(res, want, what) {
  const wants = Array.isArray(want) ? want : [want];
  check(wants.includes(res.status), `${what}: HTTP ${res.status}, want ${wants.join(' or ')}; body ${brief(res.body)}`);
}

// W/"3" -> "3"
function etagVersion(etag) {
  const m = /^W\/"([^"]+)"$/.exec(etag ?? '');
  return m ? m[1] : undefined;
}

function entries(bundle) {
  return bundle?.entry ?? [];
}

function nextLink(bundle) {
  return (bundle?.link ?? []).find((l) => l.relation === 'next')?.url;
}

// "http://host/fhir/Observation/1/_history/2" or "Observation/1/_history/2" -> {type, id, vid, relative}
function parseRef(ref, base) {
  let rel = ref;
  if (rel.startsWith(base + '/')) rel = rel.slice(base.length + 1);
  const m = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/.exec(rel);
  return m ? { type: m[1], id: m[2], vid: m[3], relative: rel } : undefined;
}

// Every `reference` string anywhere in a resource.
function collectReferences(value, out = []) {
  if (Array.isArray(value)) {
    for (const v of value) collectReferences(v, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else collectReferences(v, out);
    }
  }
  return out;
}

function observation(patient, code, extra = {}) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: CODE_SYSTEM, code }], text: code },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------
// The adapters: one per client. Each returns {status, etag, location, body} for an interaction (an
// HTTP error is a result, not an exception), and says in `how` what it used for each step.

function packageVersion(name) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
}

// fhir-kit-client: every interaction has a method; the response (status, headers) is Client.httpFor().
function fhirKitAdapter(base, token) {
  const c = new FhirKitClient({ baseUrl: base, bearerToken: token });
  const res = async (promise) => {
    try {
      const body = await promise;
      const { response } = FhirKitClient.httpFor(body);
      return { status: response.status, etag: response.headers.get('etag'), location: response.headers.get('location'), body };
    } catch (e) {
      if (e?.response?.status) return { status: e.response.status, body: e.response.data };
      throw e;
    }
  };
  return {
    package: 'fhir-kit-client',
    how: {
      setup: 'client.update()',
      create: 'client.create()',
      read: 'client.read()',
      vread: 'client.vread()',
      'conditional create': 'client.create() with an If-None-Exist header',
      'update with If-Match': 'client.read() for the ETag, client.update() with an If-Match header',
      'JSON Patch': 'client.patch()',
      'FHIRPath Patch': 'generic client.request(PATCH): client.patch() sends JSON Patch only',
      'search paging': 'client.create() x5, client.search() then client.nextPage() to the end',
      '_include and _revinclude': 'client.search()',
      'instance history': 'client.history()',
      transaction: 'client.transaction(), client.read()',
      batch: 'client.batch()',
      'delete then read': 'client.delete(), client.read()',
      '$everything GET': "client.operation({method: 'GET'}), client.nextPage()",
      '$everything POST': "client.operation({method: 'POST', input: Parameters}), client.nextPage()",
      'AuditEvent references': 'client.search(), client.nextPage(), client.resolve() for each reference',
    },
    update: (resource, ifMatch) =>
      res(c.update({ resourceType: resource.resourceType, id: resource.id, body: resource, options: ifMatch ? { headers: { 'If-Match': ifMatch } } : undefined })),
    create: (resource, ifNoneExist) =>
      res(c.create({ resourceType: resource.resourceType, body: resource, options: ifNoneExist ? { headers: { 'If-None-Exist': ifNoneExist } } : undefined })),
    read: (type, id) => res(c.read({ resourceType: type, id })),
    vread: (type, id, vid) => res(c.vread({ resourceType: type, id, version: vid })),
    jsonPatch: (type, id, ops) => res(c.patch({ resourceType: type, id, jsonPatch: ops })),
    // fhir-kit-client has no FHIRPath Patch: its generic request.
    fhirpathPatch: (type, id, params) =>
      res(c.request(`${type}/${id}`, { method: 'PATCH', body: params, options: { headers: { 'content-type': 'application/fhir+json' } } })),
    search: (type, params) => res(c.search({ resourceType: type, searchParams: params })),
    nextPage: (bundle) => {
      const p = c.nextPage({ bundle });
      return p ? res(p) : undefined;
    },
    history: (type, id) => res(c.history({ resourceType: type, id })),
    transaction: (bundle) => res(c.transaction({ body: bundle })),
    batch: (bundle) => res(c.batch({ body: bundle })),
    delete: (type, id) => res(c.delete({ resourceType: type, id })),
    everythingGet: (id) => res(c.operation({ name: 'everything', resourceType: 'Patient', id, method: 'GET' })),
    everythingPost: (id, params) => res(c.operation({ name: 'everything', resourceType: 'Patient', id, method: 'POST', input: params })),
    auditSearch: (patient, count) => res(c.search({ resourceType: 'AuditEvent', searchParams: { patient, _count: count } })),
    resolve: (reference) => res(c.resolve({ reference })),
  };
}

// Medplum's MedplumClient, pointed at this server (baseUrl + fhirUrlPath), with the bearer token, no
// cache (a read after a delete must reach the server). Its methods return the body; the status and
// headers are read from the fetch it is given (the client's `fetch` option), which records the last
// response.
function medplumAdapter(base, token) {
  const u = new URL(base);
  let last;
  const recordingFetch = async (url, init) => {
    last = undefined;
    const r = await fetch(url, init);
    last = r;
    return r;
  };
  const m = new MedplumClient({
    baseUrl: u.origin + '/',
    fhirUrlPath: u.pathname.replace(/^\/+/, ''),
    accessToken: token,
    fetch: recordingFetch,
    cacheTime: 0,
    onUnauthenticated: () => {},
  });
  const res = async (promise) => {
    try {
      const body = await promise;
      return { status: last?.status, etag: last?.headers.get('etag'), location: last?.headers.get('location'), body };
    } catch (e) {
      if (last && e?.outcome) return { status: last.status, body: e.outcome };
      throw e;
    }
  };
  return {
    package: '@medplum/core',
    how: {
      setup: 'medplum.updateResource()',
      create: 'medplum.createResource()',
      read: 'medplum.readResource()',
      vread: 'medplum.readVersion()',
      'conditional create': 'medplum.createResourceIfNoneExist()',
      'update with If-Match': 'medplum.readResource() for the ETag, medplum.updateResource() with an If-Match header',
      'JSON Patch': 'medplum.patchResource()',
      'FHIRPath Patch': "generic medplum.request('PATCH'): patchResource()/patch() always send application/json-patch+json",
      'search paging': 'medplum.createResource() x5, medplum.searchResourcePages() to the end',
      '_include and _revinclude': 'medplum.search()',
      'instance history': 'medplum.readHistory()',
      transaction: 'medplum.executeBatch(), medplum.readReference()',
      batch: 'medplum.executeBatch()',
      'delete then read': 'medplum.deleteResource(), medplum.readResource()',
      '$everything GET': 'medplum.readPatientEverything(); next pages with generic medplum.get() (no paging API for an operation)',
      '$everything POST': 'generic medplum.post(medplum.fhirUrl(...)) (no API for an operation by POST); next pages with medplum.get()',
      'AuditEvent references': 'medplum.searchResourcePages(), medplum.readReference() (medplum.readVersion() for a versioned reference)',
    },
    update: (resource, ifMatch) => res(m.updateResource(resource, ifMatch ? { headers: { 'If-Match': ifMatch } } : undefined)),
    create: (resource, ifNoneExist) => res(ifNoneExist ? m.createResourceIfNoneExist(resource, ifNoneExist) : m.createResource(resource)),
    read: (type, id) => res(m.readResource(type, id)),
    vread: (type, id, vid) => res(m.readVersion(type, id, vid)),
    jsonPatch: (type, id, ops) => res(m.patchResource(type, id, ops)),
    // MedplumClient has no FHIRPath Patch (patch() forces application/json-patch+json): its generic request.
    fhirpathPatch: (type, id, params) =>
      res(m.request('PATCH', m.fhirUrl(type, id).toString(), { body: JSON.stringify(params), headers: { 'Content-Type': 'application/fhir+json' } })),
    search: (type, params) => res(m.search(type, params)),
    // Medplum follows pages only inside searchResourcePages; other bundles' next links: its generic get().
    nextPage: (bundle) => {
      const url = nextLink(bundle);
      return url ? res(m.get(url)) : undefined;
    },
    searchAllPages: async (type, params) => {
      const pages = [];
      for await (const page of m.searchResourcePages(type, params)) pages.push(page.bundle);
      return pages;
    },
    history: (type, id) => res(m.readHistory(type, id)),
    transaction: (bundle) => res(m.executeBatch(bundle)),
    batch: (bundle) => res(m.executeBatch(bundle)),
    delete: (type, id) => res(m.deleteResource(type, id)),
    everythingGet: (id) => res(m.readPatientEverything(id)),
    // MedplumClient has no API for an operation by POST: its generic post().
    everythingPost: (id, params) => res(m.post(m.fhirUrl('Patient', id, '$everything'), params)),
    resolve: (reference, base) => {
      const r = parseRef(reference, base);
      if (r?.vid) return res(m.readVersion(r.type, r.id, r.vid));
      return res(m.readReference({ reference: r ? r.relative : reference }));
    },
  };
}

// SMART's fhirclient, server side: smart(request, response).client(state). The request and response are
// those of the app's own HTTP handler (fhirclient keeps its SMART state in the request's session); no
// launch happens here, so a bare stand-in is given — .client() only needs the state: the server URL and
// a token response (the access token, and the patient in context for client.patient).
function fhirclientAdapter(base, token, patient) {
  const fakeRequest = { headers: { host: '127.0.0.1' }, socket: {}, url: '/', session: {} };
  const fakeResponse = { writeHead() {}, end() {} };
  const c = smart(fakeRequest, fakeResponse).client({ serverUrl: base, tokenResponse: { access_token: token, ...(patient ? { patient } : {}) } });
  const res = async (promise) => {
    try {
      const { body, response } = await promise;
      return { status: response.status, etag: response.headers.get('etag'), location: response.headers.get('location'), body };
    } catch (e) {
      if (e?.name === 'HttpError') {
        let body = e.message;
        const i = body.indexOf('\n\n');
        if (i >= 0) {
          try {
            body = JSON.parse(body.slice(i + 2));
          } catch {}
        }
        return { status: e.status, body };
      }
      throw e;
    }
  };
  const json = { 'content-type': 'application/fhir+json' };
  // fhirclient reads and searches with client.request(url): that is its API for a GET. client.request()
  // with a method and a body is its generic request, used only where it has no method of its own.
  return {
    package: 'fhirclient',
    how: {
      setup: 'client.update()',
      create: 'client.create()',
      read: 'client.request(url) (its read)',
      vread: 'client.request(url) (its read)',
      'conditional create': 'client.create() with an If-None-Exist header',
      'update with If-Match': 'client.request() for the ETag, client.update() with an If-Match header',
      'JSON Patch': 'client.patch()',
      'FHIRPath Patch': 'generic client.request({method: PATCH}): client.patch() sends JSON Patch only',
      'search paging': 'client.create() x5, client.request() then client.pages() to the end',
      '_include and _revinclude': 'client.request(search url)',
      'instance history': 'client.request(history url)',
      transaction: 'generic client.request({method: POST}) to the base (no transaction API), client.request() reads',
      batch: 'generic client.request({method: POST}) to the base (no batch API)',
      'delete then read': 'client.delete(), client.request()',
      '$everything GET': 'client.request(operation url), client.pages()',
      '$everything POST': 'generic client.request({method: POST, body: Parameters}) (no operation API), client.pages()',
      'AuditEvent references': 'client.patient.request("AuditEvent", {pageLimit: 0}) (patient in context), client.getReferences()',
    },
    // create() and update() send their own Content-Type (application/json).
    update: (resource, ifMatch) => res(c.update(resource, { includeResponse: true, headers: ifMatch ? { 'if-match': ifMatch } : {} })),
    create: (resource, ifNoneExist) => res(c.create(resource, { includeResponse: true, headers: ifNoneExist ? { 'if-none-exist': ifNoneExist } : {} })),
    read: (type, id) => res(c.request({ url: `${type}/${id}`, includeResponse: true })),
    vread: (type, id, vid) => res(c.request({ url: `${type}/${id}/_history/${vid}`, includeResponse: true })),
    jsonPatch: (type, id, ops) => res(c.patch(`${type}/${id}`, ops, { includeResponse: true })),
    // fhirclient has no FHIRPath Patch: its generic request.
    fhirpathPatch: (type, id, params) =>
      res(c.request({ url: `${type}/${id}`, method: 'PATCH', body: JSON.stringify(params), headers: json, includeResponse: true })),
    search: (type, params) => res(c.request({ url: `${type}?${new URLSearchParams(params)}`, includeResponse: true })),
    // client.pages(bundle) yields the bundle then follows its next links.
    followPages: async (bundle) => {
      const pages = [];
      for await (const page of c.pages(bundle)) pages.push(page);
      return pages;
    },
    history: (type, id) => res(c.request({ url: `${type}/${id}/_history`, includeResponse: true })),
    // fhirclient has no batch or transaction API: its generic request, to the base.
    transaction: (bundle) => res(c.request({ url: '', method: 'POST', body: JSON.stringify(bundle), headers: json, includeResponse: true })),
    batch: (bundle) => res(c.request({ url: '', method: 'POST', body: JSON.stringify(bundle), headers: json, includeResponse: true })),
    delete: (type, id) => res(c.delete(`${type}/${id}`, { includeResponse: true })),
    everythingGet: (id) => res(c.request({ url: `Patient/${id}/$everything`, includeResponse: true })),
    // fhirclient has no operation API: its generic request.
    everythingPost: (id, params) =>
      res(c.request({ url: `Patient/${id}/$everything`, method: 'POST', body: JSON.stringify(params), headers: json, includeResponse: true })),
    // The patient API: client.patient.request adds the patient search parameter the server's
    // CapabilityStatement names for the type; pageLimit 0 follows every next link.
    auditAllPages: async (count) => c.patient.request(`AuditEvent?_count=${count}`, { pageLimit: 0 }),
    getReferences: (resource, paths) => c.getReferences(resource, paths),
    resolve: (reference) => res(c.request({ url: reference, includeResponse: true })),
  };
}

// Pages of a search (or an operation answering a searchset), with the client's own paging.
async function allPages(a, first) {
  if (a.followPages) return a.followPages(first);
  const pages = [first];
  for (let page = first; ; ) {
    const next = a.nextPage(page);
    if (!next) break;
    const r = await next;
    expectStatus(r, 200, `next page ${nextLink(page)}`);
    pages.push(r.body);
    page = r.body;
    check(pages.length < 100, 'more than 100 pages');
  }
  return pages;
}

// ---------------------------------------------------------------------------------------------------
// The workflow.

async function workflow(cfg, base, adminToken, practitionerToken) {
  const mk = { 'fhir-kit-client': fhirKitAdapter, medplum: medplumAdapter, fhirclient: fhirclientAdapter }[cfg.name];
  if (!mk) throw new Error(`unknown client ${cfg.name}`);
  const admin = mk(base, adminToken);
  const a = mk(base, practitionerToken);
  const pat = mk(base, cfg.patientToken, cfg.patient);
  const P = cfg.patient;
  const report = { client: cfg.name, package: a.package, version: packageVersion(a.package), patient: P, steps: [] };
  const st = {}; // what the steps share
  // "Type/id" -> what reading it answers: a resource the workflow deleted (410; its versions before the
  // deletion still 200 by vread), or one it read on purpose that never existed (404).
  const gone = new Map();

  async function step(name, fn) {
    const t0 = Date.now();
    const rec = { step: name, how: a.how[name] ?? '', ok: false };
    try {
      const detail = await fn();
      rec.ok = true;
      if (detail !== undefined) rec.detail = detail;
    } catch (e) {
      rec.error = e instanceof StepError ? e.message : `${e?.name ?? 'Error'}: ${e?.message ?? e}${e?.stack ? '\n' + e.stack.split('\n').slice(1, 4).join('\n') : ''}`;
    }
    rec.ms = Date.now() - t0;
    report.steps.push(rec);
    process.stderr.write(`${cfg.name}: ${name}: ${rec.ok ? 'ok' : 'FAILED: ' + rec.error}\n`);
  }

  await step('setup', async () => {
    // The client's own Patient, by the administration client (update as create).
    const r = await admin.update({ resourceType: 'Patient', id: P, active: true, name: [{ family: 'Client', given: [cfg.name] }], gender: 'unknown', birthDate: '1980-01-01' });
    expectStatus(r, [200, 201], `PUT Patient/${P}`);
  });

  await step('create', async () => {
    const r = await a.create(observation(P, `${cfg.name}-main`));
    expectStatus(r, 201, 'POST Observation');
    check(r.body?.id, `no id in the created resource: ${brief(r.body)}`);
    check(r.body.meta?.versionId === '1', `meta.versionId ${r.body.meta?.versionId}, want 1`);
    check(etagVersion(r.etag) === '1', `ETag ${r.etag}, want W/"1"`);
    check(r.location?.includes(`/Observation/${r.body.id}`), `Location ${r.location} does not name Observation/${r.body.id}`);
    st.obs = r.body.id;
    return `Observation/${st.obs}`;
  });

  await step('read', async () => {
    const r = await a.read('Observation', st.obs);
    expectStatus(r, 200, `GET Observation/${st.obs}`);
    check(r.body?.id === st.obs && r.body.resourceType === 'Observation', `read answered ${brief(r.body)}`);
    check(etagVersion(r.etag) === r.body.meta?.versionId, `ETag ${r.etag} vs meta.versionId ${r.body.meta?.versionId}`);
  });

  await step('vread', async () => {
    const r = await a.vread('Observation', st.obs, '1');
    expectStatus(r, 200, `GET Observation/${st.obs}/_history/1`);
    check(r.body?.id === st.obs && r.body.meta?.versionId === '1', `vread answered ${brief(r.body)}`);
  });

  await step('conditional create', async () => {
    const ident = { system: CODE_SYSTEM, value: `${cfg.name}-${randomUUID()}` };
    const query = `identifier=${encodeURIComponent(ident.system + '|' + ident.value)}`;
    const first = await a.create(observation(P, `${cfg.name}-conditional`, { identifier: [ident] }), query);
    expectStatus(first, 201, `POST Observation If-None-Exist: ${query} (no match yet)`);
    const id = first.body?.id ?? parseRef(first.location ?? '', base)?.id;
    check(id, `no id from the conditional create: ${brief(first.body)} Location ${first.location}`);
    const second = await a.create(observation(P, `${cfg.name}-conditional`, { identifier: [ident] }), query);
    expectStatus(second, 200, `POST Observation If-None-Exist: ${query} (one match)`);
    const id2 = second.body?.id ?? parseRef(second.location ?? '', base)?.id;
    check(id2 === id, `the match answered ${id2} (body ${brief(second.body)}, Location ${second.location}), want the created ${id}`);
    st.cond = id;
    return `Observation/${id}`;
  });

  await step('update with If-Match', async () => {
    const cur = await a.read('Observation', st.obs);
    expectStatus(cur, 200, `GET Observation/${st.obs}`);
    check(cur.etag, 'no ETag on the read');
    const resource = { ...cur.body, valueQuantity: { ...cur.body.valueQuantity, value: 80 } };
    const r = await a.update(resource, cur.etag);
    expectStatus(r, 200, `PUT Observation/${st.obs} If-Match: ${cur.etag}`);
    const v = r.body?.meta?.versionId ?? etagVersion(r.etag);
    check(v === String(Number(etagVersion(cur.etag)) + 1), `version after the update ${v} (ETag ${r.etag}), want one more than ${cur.etag}`);
    const stale = await a.update(resource, cur.etag);
    expectStatus(stale, 412, `PUT Observation/${st.obs} with the stale If-Match: ${cur.etag}`);
    st.version = Number(v);
  });

  async function current(what, r) {
    // The patched resource: from the answer, or read when the server answered without it.
    if (r.body?.resourceType === 'Observation') return r.body;
    const again = await a.read('Observation', st.obs);
    expectStatus(again, 200, `GET Observation/${st.obs} after ${what}`);
    return again.body;
  }

  await step('JSON Patch', async () => {
    const ops = [
      { op: 'test', path: '/status', value: 'final' },
      { op: 'replace', path: '/status', value: 'amended' },
      { op: 'add', path: '/note', value: [{ text: 'added by JSON Patch' }] },
    ];
    const r = await a.jsonPatch('Observation', st.obs, ops);
    expectStatus(r, 200, `PATCH Observation/${st.obs} (application/json-patch+json)`);
    const o = await current('the JSON Patch', r);
    check(o.status === 'amended' && o.note?.[0]?.text === 'added by JSON Patch', `after the JSON Patch: ${brief(o)}`);
    check(o.meta?.versionId === String(st.version + 1), `versionId ${o.meta?.versionId}, want ${st.version + 1}`);
    st.version += 1;
  });

  await step('FHIRPath Patch', async () => {
    const params = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Observation.status' }, { name: 'value', valueCode: 'corrected' }] },
        { name: 'operation', part: [{ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'Observation' }, { name: 'name', valueString: 'issued' }, { name: 'value', valueInstant: '2026-01-02T03:04:05.000Z' }] },
      ],
    };
    const r = await a.fhirpathPatch('Observation', st.obs, params);
    expectStatus(r, 200, `PATCH Observation/${st.obs} (FHIRPath Patch, application/fhir+json)`);
    const o = await current('the FHIRPath Patch', r);
    check(o.status === 'corrected' && o.issued?.startsWith('2026-01-02T03:04:05'), `after the FHIRPath Patch: ${brief(o)}`);
    check(o.meta?.versionId === String(st.version + 1), `versionId ${o.meta?.versionId}, want ${st.version + 1}`);
    st.version += 1;
  });

  await step('search paging', async () => {
    const code = `${cfg.name}-page`;
    const made = new Set();
    for (let i = 0; i < 5; i++) {
      const r = await a.create(observation(P, code, { valueQuantity: { value: 60 + i, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' } }));
      expectStatus(r, 201, `POST Observation #${i + 1}`);
      made.add(r.body.id);
    }
    st.paged = [...made];
    const params = { subject: `Patient/${P}`, code: `${CODE_SYSTEM}|${code}`, _count: 2 };
    let pages;
    if (a.searchAllPages) {
      pages = await a.searchAllPages('Observation', params);
    } else {
      const first = await a.search('Observation', params);
      expectStatus(first, 200, 'GET Observation?…&_count=2');
      pages = await allPages(a, first.body);
    }
    const seen = [];
    for (const [i, page] of pages.entries()) {
      check(page?.resourceType === 'Bundle' && page.type === 'searchset', `page ${i + 1} is not a searchset: ${brief(page)}`);
      const matches = entries(page).filter((e) => e.search?.mode !== 'outcome');
      check(matches.length <= 2, `page ${i + 1} has ${matches.length} entries, want at most 2 (_count=2)`);
      check(page.total === undefined || page.total === 5, `page ${i + 1}: total ${page.total}, want 5`);
      seen.push(...matches.map((e) => e.resource.id));
    }
    check(pages.length >= 3, `${pages.length} pages, want 3 (5 matches, _count=2)`);
    check(seen.length === made.size && seen.every((id) => made.has(id)), `followed to the end: ${seen.length} matches ${JSON.stringify(seen)}, want the 5 created ${JSON.stringify(st.paged)}`);
    return `${pages.length} pages`;
  });

  await step('_include and _revinclude', async () => {
    const inc = await a.search('Observation', { _id: st.obs, _include: 'Observation:subject' });
    expectStatus(inc, 200, `GET Observation?_id=${st.obs}&_include=Observation:subject`);
    const e1 = entries(inc.body);
    check(e1.some((e) => e.resource?.resourceType === 'Observation' && e.resource.id === st.obs && e.search?.mode === 'match'), `no matching Observation: ${brief(inc.body)}`);
    check(e1.some((e) => e.resource?.resourceType === 'Patient' && e.resource.id === P && e.search?.mode === 'include'), `Patient/${P} not included: ${brief(inc.body)}`);
    const rev = await a.search('Patient', { _id: P, _revinclude: 'Observation:subject' });
    expectStatus(rev, 200, `GET Patient?_id=${P}&_revinclude=Observation:subject`);
    const e2 = entries(rev.body);
    check(e2.some((e) => e.resource?.resourceType === 'Patient' && e.resource.id === P && e.search?.mode === 'match'), `no matching Patient: ${brief(rev.body)}`);
    const included = new Set(e2.filter((e) => e.resource?.resourceType === 'Observation' && e.search?.mode === 'include').map((e) => e.resource.id));
    for (const id of [st.obs, st.cond, ...st.paged]) check(included.has(id), `Observation/${id} not revincluded (got ${JSON.stringify([...included])})`);
  });

  await step('instance history', async () => {
    const r = await a.history('Observation', st.obs);
    expectStatus(r, 200, `GET Observation/${st.obs}/_history`);
    check(r.body?.resourceType === 'Bundle' && r.body.type === 'history', `not a history Bundle: ${brief(r.body)}`);
    const versions = entries(r.body).map((e) => e.resource?.meta?.versionId);
    const want = [];
    for (let v = st.version; v >= 1; v--) want.push(String(v));
    check(JSON.stringify(versions) === JSON.stringify(want), `versions ${JSON.stringify(versions)}, want ${JSON.stringify(want)} (newest first)`);
  });

  await step('transaction', async () => {
    const [ua, ub, uc] = [randomUUID(), randomUUID(), randomUUID()].map((u) => `urn:uuid:${u}`);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: ua, resource: observation(P, `${cfg.name}-tx-a`), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: ub, resource: observation(P, `${cfg.name}-tx-b`, { derivedFrom: [{ reference: ua }] }), request: { method: 'POST', url: 'Observation' } },
        {
          fullUrl: uc,
          resource: {
            resourceType: 'DiagnosticReport',
            status: 'final',
            code: { text: `${cfg.name} transaction` },
            subject: { reference: `Patient/${P}` },
            result: [{ reference: ua }, { reference: ub }],
          },
          request: { method: 'POST', url: 'DiagnosticReport' },
        },
      ],
    };
    const r = await a.transaction(bundle);
    expectStatus(r, 200, 'POST [base] transaction');
    check(r.body?.resourceType === 'Bundle' && r.body.type === 'transaction-response', `not a transaction-response: ${brief(r.body)}`);
    const out = entries(r.body);
    check(out.length === 3, `${out.length} entries in the response, want 3`);
    const ids = out.map((e, i) => {
      check(String(e.response?.status ?? '').startsWith('201'), `entry ${i + 1}: status ${e.response?.status}, want 201`);
      const ref = parseRef(e.response?.location ?? '', base);
      check(ref, `entry ${i + 1}: Location ${e.response?.location}`);
      return ref;
    });
    const [oa, ob, dr] = ids;
    const b = await a.read('Observation', ob.id);
    expectStatus(b, 200, `GET Observation/${ob.id}`);
    check(b.body.derivedFrom?.[0]?.reference === `Observation/${oa.id}`, `derivedFrom ${JSON.stringify(b.body.derivedFrom)}, want Observation/${oa.id}`);
    const d = await a.read('DiagnosticReport', dr.id);
    expectStatus(d, 200, `GET DiagnosticReport/${dr.id}`);
    const results = (d.body.result ?? []).map((x) => x.reference);
    check(JSON.stringify(results) === JSON.stringify([`Observation/${oa.id}`, `Observation/${ob.id}`]), `result ${JSON.stringify(results)}, want Observation/${oa.id}, Observation/${ob.id}`);
    st.tx = [oa.id, ob.id];
  });

  await step('batch', async () => {
    const missing = `js-missing-${randomUUID().slice(0, 8)}`;
    gone.set(`Observation/${missing}`, { status: 404 });
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: observation(P, `${cfg.name}-batch`), request: { method: 'POST', url: 'Observation' } },
        { request: { method: 'GET', url: `Observation/${st.obs}` } },
        { request: { method: 'GET', url: `Observation/${missing}` } },
      ],
    };
    const r = await a.batch(bundle);
    expectStatus(r, 200, 'POST [base] batch');
    check(r.body?.resourceType === 'Bundle' && r.body.type === 'batch-response', `not a batch-response: ${brief(r.body)}`);
    const out = entries(r.body);
    check(out.length === 3, `${out.length} entries in the response, want 3`);
    check(String(out[0].response?.status).startsWith('201'), `entry 1 (create): ${brief(out[0])}`);
    check(String(out[1].response?.status).startsWith('200') && out[1].resource?.id === st.obs, `entry 2 (read): ${brief(out[1])}`);
    check(String(out[2].response?.status).startsWith('404'), `entry 3 (read of a missing resource): status ${out[2].response?.status}, want 404`);
    check(out[2].response?.outcome?.resourceType === 'OperationOutcome', `entry 3: no OperationOutcome in response.outcome: ${brief(out[2])}`);
    st.batch = parseRef(out[0].response?.location ?? '', base)?.id;
  });

  await step('delete then read', async () => {
    const d = await a.delete('Observation', st.cond);
    expectStatus(d, [200, 204], `DELETE Observation/${st.cond}`);
    gone.set(`Observation/${st.cond}`, { status: 410, before: 1 }); // version 1 was its only one
    const r = await a.read('Observation', st.cond);
    expectStatus(r, 410, `GET Observation/${st.cond} after its delete`);
  });

  await step('$everything GET', async () => {
    const r = await a.everythingGet(P);
    expectStatus(r, 200, `GET Patient/${P}/$everything`);
    check(r.body?.resourceType === 'Bundle' && r.body.type === 'searchset', `not a searchset: ${brief(r.body)}`);
    const pages = await allPages(a, r.body);
    const all = pages.flatMap(entries).filter((e) => e.search?.mode !== 'outcome').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    const want = [`Patient/${P}`, ...[st.obs, ...st.paged, ...(st.tx ?? []), st.batch].map((id) => `Observation/${id}`)];
    for (const w of want) check(all.includes(w), `${w} missing from $everything (${all.length} resources in ${pages.length} pages)`);
    check(!all.includes(`Observation/${st.cond}`), `the deleted Observation/${st.cond} is in $everything`);
    st.everythingObs = all.filter((x) => x.startsWith('Observation/')).sort();
    return `${all.length} resources in ${pages.length} page(s)`;
  });

  await step('$everything POST', async () => {
    const params = { resourceType: 'Parameters', parameter: [{ name: '_type', valueCode: 'Observation' }, { name: '_count', valueInteger: 2 }] };
    const r = await a.everythingPost(P, params);
    expectStatus(r, 200, `POST Patient/${P}/$everything (Parameters _type=Observation, _count=2)`);
    check(r.body?.resourceType === 'Bundle' && r.body.type === 'searchset', `not a searchset: ${brief(r.body)}`);
    const pages = await allPages(a, r.body);
    const got = [];
    for (const [i, page] of pages.entries()) {
      const es = entries(page).filter((e) => e.search?.mode !== 'outcome');
      check(es.length <= 2, `page ${i + 1} has ${es.length} entries, want at most 2 (_count=2)`);
      for (const e of es) {
        check(e.resource?.resourceType === 'Observation', `page ${i + 1} has a ${e.resource?.resourceType} (_type=Observation)`);
        got.push(`Observation/${e.resource.id}`);
      }
    }
    check(pages.length >= 2, `${pages.length} page(s), want several (_count=2)`);
    got.sort();
    if (st.everythingObs) check(JSON.stringify(got) === JSON.stringify(st.everythingObs), `the Observations by POST (${got.length}) differ from those by GET (${st.everythingObs.length})`);
    return `${got.length} Observations in ${pages.length} pages`;
  });

  await step('AuditEvent references', async () => {
    // The patient, with their own token, reads the AuditEvents about them, following every page.
    let events;
    if (pat.auditAllPages) {
      const pages = await pat.auditAllPages(50);
      events = pages.flatMap(entries).map((e) => e.resource);
    } else if (pat.searchAllPages) {
      const pages = await pat.searchAllPages('AuditEvent', { patient: P, _count: 50 });
      events = pages.flatMap(entries).map((e) => e.resource);
    } else {
      const first = await pat.auditSearch(P, 50);
      expectStatus(first, 200, `GET AuditEvent?patient=${P}`);
      events = (await allPages(pat, first.body)).flatMap(entries).map((e) => e.resource);
    }
    events = events.filter((e) => e?.resourceType === 'AuditEvent');
    check(events.length >= 10, `${events.length} AuditEvents about Patient/${P}, want at least the workflow's`);
    const refs = new Map(); // reference -> an AuditEvent that holds it
    for (const ev of events) for (const ref of collectReferences(ev)) if (!refs.has(ref)) refs.set(ref, ev.id);
    check(refs.has('Device/fhirgate'), `no AuditEvent names Device/fhirgate: ${JSON.stringify([...refs.keys()])}`);
    const failures = [];
    let resolved = 0;
    let goneChecked = 0;
    const wanted = [];
    for (const [ref, ev] of refs) {
      const p = parseRef(ref, base);
      const g = p && gone.get(`${p.type}/${p.id}`);
      if (!g) {
        wanted.push([ref, ev]);
        continue;
      }
      // Deleted or never there, on purpose: a version from before the deletion reads (vread), the
      // rest answers 410 (deleted) or 404 (never there).
      const want = g.status === 410 && p.vid && Number(p.vid) <= g.before ? 200 : g.status;
      const r = await pat.resolve(ref, base);
      if (r.status === want) goneChecked++;
      else failures.push(`${ref} (in AuditEvent/${ev}, a resource the workflow deleted or read while missing): HTTP ${r.status}, want ${want}; ${brief(r.body)}`);
    }
    if (pat.getReferences) {
      // fhirclient resolves references by path in a resource: one AuditEvent per distinct reference.
      const byEvent = new Map();
      for (const [ref, ev] of wanted) {
        const resource = events.find((e) => e.id === ev);
        const paths = byEvent.get(ev) ?? { resource, paths: [] };
        paths.paths.push(...pathsOf(resource, ref));
        byEvent.set(ev, paths);
      }
      const got = {};
      for (const { resource, paths } of byEvent.values()) {
        try {
          Object.assign(got, await pat.getReferences(resource, [...new Set(paths)]));
        } catch (e) {
          failures.push(`AuditEvent/${resource.id}: ${e.status ?? ''} ${String(e.message).split('\n')[0]}`);
        }
      }
      for (const [ref, ev] of wanted) {
        const r = got[ref];
        if (r?.resourceType && (!parseRef(ref, base) || r.resourceType === parseRef(ref, base).type)) {
          resolved++;
          continue;
        }
        // getReferences() leaves out what it could not read (with a warning): read it again for the reason.
        const again = await pat.resolve(ref, base);
        failures.push(`${ref} (in AuditEvent/${ev}): not resolved by client.getReferences(); read again: HTTP ${again.status} ${brief(again.body)}`);
      }
    } else {
      for (const [ref, ev] of wanted) {
        const r = await pat.resolve(ref, base);
        const p = parseRef(ref, base);
        if (r.status === 200 && (!p || (r.body?.resourceType === p.type && r.body.id === p.id))) resolved++;
        else failures.push(`${ref} (in AuditEvent/${ev}): HTTP ${r.status} ${brief(r.body)}`);
      }
    }
    check(failures.length === 0, `${failures.length} of ${refs.size} references do not resolve as they should with the patient's token:\n  ${failures.join('\n  ')}`);
    return `${events.length} AuditEvents, ${resolved} distinct references resolved, ${goneChecked} to the deleted or missing resource answered as such`;
  });

  return report;
}

// The dotted paths (fhirclient's getPath syntax, array indexes as numbers) of the Reference elements
// holding `ref` in a resource.
function pathsOf(resource, ref, prefix = '', out = []) {
  if (Array.isArray(resource)) {
    resource.forEach((v, i) => pathsOf(v, ref, prefix ? `${prefix}.${i}` : String(i), out));
  } else if (resource && typeof resource === 'object') {
    if (resource.reference === ref) out.push(prefix);
    for (const [k, v] of Object.entries(resource)) if (v && typeof v === 'object') pathsOf(v, ref, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  const base = env('E2E_FHIR_BASE').replace(/\/+$/, '');
  if (new URL(base).hostname !== '127.0.0.1') throw new Error(`E2E_FHIR_BASE ${base} is not on 127.0.0.1`);
  const adminToken = env('E2E_ADMIN_TOKEN');
  const practitionerToken = env('E2E_PRACTITIONER_TOKEN');
  const clients = JSON.parse(env('E2E_CLIENTS'));
  const out = { clients: [], blocked };
  for (const cfg of clients) {
    const t0 = Date.now();
    const report = await workflow(cfg, base, adminToken, practitionerToken);
    report.ms = Date.now() - t0;
    out.clients.push(report);
  }
  return out;
}

const timer = setTimeout(() => {
  process.stderr.write(`clients.mjs: still running after ${OVERALL_TIMEOUT_MS} ms\n`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

main().then(
  (out) => {
    clearTimeout(timer);
    // Exit once written: keep-alive agents (fhir-kit-client's) would hold the process open.
    process.stdout.write(JSON.stringify(out, null, 2) + '\n', () => process.exit(0));
  },
  (err) => {
    clearTimeout(timer);
    process.stderr.write(`clients.mjs: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
