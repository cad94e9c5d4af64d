// A real OpenID provider (panva's oidc-provider) for auth/token's provider_test.go.
//
// It listens on 127.0.0.1 (port OP_PORT, default 0: any free port), makes its issuer
// http://127.0.0.1:PORT and prints `LISTENING http://127.0.0.1:PORT` as its first line on stdout once
// it answers requests. It stays up until killed, or until its standard input is closed (so a test
// process that dies takes it along).
//
// One confidential client (OP_CLIENT_ID / OP_CLIENT_SECRET) may use the client_credentials grant. Access
// tokens are RFC 9068 JWTs signed RS256 with a key generated at start, for one of three resource
// indicators:
//
//   OP_AUDIENCE        (default http://127.0.0.1:9/fhir)         aud = OP_AUDIENCE, 10 minutes
//   OP_OTHER_AUDIENCE  (default http://127.0.0.1:9/other)        aud = OP_OTHER_AUDIENCE, 10 minutes
//   OP_SHORT_RESOURCE  (default http://127.0.0.1:9/fhir-short)   aud = OP_AUDIENCE, OP_SHORT_TTL seconds (default 2)
//
// Granted scopes are those requested that the resource knows (RESOURCE_SCOPES). A token whose scope
// holds launch/patient carries patient = PATIENT; one whose scope holds fhirUser carries
// fhirUser = FHIR_USER.
//
// Test-only routes, answered before the provider sees the request:
//
//   POST /test/rotate  generates a new signing key and reloads the provider with the key set
//                      [new, ...old]: the new key signs from then on, the old ones stay published in
//                      the JWKS (the rotation order oidc-provider's documentation recommends). It
//                      answers {"kid": NEW_KID, "kids": [ALL_KIDS]}.
//
// When OP_KEYS_OUT names a file, the private key set (as JSON, a JWKS) is written there at start and after
// each rotation, so a test can sign tokens of its own with the provider's key.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const CLIENT_ID = env.OP_CLIENT_ID || 'fhirgate-test';
const CLIENT_SECRET = env.OP_CLIENT_SECRET || 'fhirgate-test-secret';
const AUDIENCE = env.OP_AUDIENCE || 'http://127.0.0.1:9/fhir';
const OTHER_AUDIENCE = env.OP_OTHER_AUDIENCE || 'http://127.0.0.1:9/other';
const SHORT_RESOURCE = env.OP_SHORT_RESOURCE || 'http://127.0.0.1:9/fhir-short';
const SHORT_TTL = Number.parseInt(env.OP_SHORT_TTL || '2', 10);
const PORT = Number.parseInt(env.OP_PORT || '0', 10);
const KEYS_OUT = env.OP_KEYS_OUT || '';
// OP_FEATURES: comma-separated optional features, to see what the discovery document says of each:
// introspection (RFC 7662), revocation (RFC 7009), refresh (the refresh_token grant and offline_access).
const FEATURES = new Set((env.OP_FEATURES || '').split(',').filter(Boolean));

const RESOURCE_SCOPES = 'system/*.rs system/*.cruds launch/patient fhirUser';
const PATIENT = 'example-patient-1';
const FHIR_USER = 'Practitioner/example-practitioner-1';

let generation = 0;

// A new RS256 signing key as a private JWK with a fresh kid.
function newSigningKey() {
  generation += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk,
    kid: `k${generation}-${crypto.randomBytes(6).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
}

function resourceServer(indicator) {
  const base = { scope: RESOURCE_SCOPES, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
  switch (indicator) {
    case AUDIENCE:
      return { ...base, audience: AUDIENCE, accessTokenTTL: 600 };
    case OTHER_AUDIENCE:
      return { ...base, audience: OTHER_AUDIENCE, accessTokenTTL: 600 };
    case SHORT_RESOURCE:
      return { ...base, audience: AUDIENCE, accessTokenTTL: SHORT_TTL };
    default:
      throw new errors.InvalidTarget('unknown resource indicator');
  }
}

function makeProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    ttl: {
      // The resource's accessTokenTTL, which resourceServer() always sets.
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || 600,
    },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ...(FEATURES.has('refresh') ? { scopes: ['openid', 'offline_access'] } : { scopes: ['openid'] }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: FEATURES.has('introspection') },
      revocation: { enabled: FEATURES.has('revocation') },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, indicator) => resourceServer(indicator),
      },
    },
    async extraTokenClaims(_ctx, token) {
      const scopes = new Set((token.scope || '').split(' '));
      const extra = {};
      if (scopes.has('launch/patient')) extra.patient = PATIENT;
      if (scopes.has('fhirUser')) extra.fhirUser = FHIR_USER;
      return Object.keys(extra).length ? extra : undefined;
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  return provider;
}

function writeKeys(keys) {
  if (!KEYS_OUT) return;
  fs.writeFileSync(KEYS_OUT, JSON.stringify({ keys }), { mode: 0o600 });
}

let keys = [newSigningKey()];
let handler = null; // the current provider's request listener
let issuer = '';

function rotate() {
  keys = [newSigningKey(), ...keys];
  handler = makeProvider(issuer, keys).callback();
  writeKeys(keys);
  return { kid: keys[0].kid, kids: keys.map((k) => k.kid) };
}

const server = http.createServer((req, res) => {
  if (req.url === '/test/rotate') {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const body = JSON.stringify(rotate());
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  handler(req, res);
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  handler = makeProvider(issuer, keys).callback();
  writeKeys(keys);
  process.stdout.write(`LISTENING ${issuer}\n`);
});

// Exit when the parent closes our standard input (or dies), and on the usual signals.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
