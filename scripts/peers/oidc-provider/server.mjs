// panva's oidc-provider 9.13.3 as a real OpenID provider for Mayfly's
// integration tests (internal/testpeers/oidcprovider.go starts it). Not for
// production: in-memory storage, devInteractions (any login and password).
//
// Environment:
//   PORT=0            listen on 127.0.0.1:PORT; 0 (the default) picks a free port
//   AT_TTL=60         access token lifetime, seconds
//   RT_TTL=86400      refresh token lifetime, seconds
//   DPOP_NONCE=1      require server-issued DPoP nonces (use_dpop_nonce + DPoP-Nonce)
//   CLIENT_JWKS_FILE  a public JWKS; also registers the confidential client
//                     mayfly-pkjwt (private_key_jwt, ES256)
//   STRICT_OFFLINE_ACCESS=1  keep oidc-provider's default on /auth: offline_access
//                     without prompt=consent is dropped, so no refresh token
//
// stdout carries one line, "listening http://127.0.0.1:PORT", once it serves.
// stderr gets one line per token and revocation request (never a token) and
// the provider's own notices. GET /__stats answers counters as JSON.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';

// oidc-provider prints its notices with console.info; stdout is for the
// readiness line only.
console.info = (...args) => console.error(...args);

// Fresh signing keys rather than oidc-provider's published development ones,
// made on the thread pool while oidc-provider loads.
const signingKey = promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
  .then(({ privateKey }) => ({ ...privateKey.export({ format: 'jwk' }), kid: 'rs256-1', alg: 'RS256', use: 'sig' }));
const { default: Provider, errors } = await import('oidc-provider');

const env = process.env;
const whole = (name, def, min) => {
  const v = env[name] === undefined || env[name] === '' ? def : Number(env[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name}: want a whole number >= ${min}, got ${env[name]}`);
  return v;
};
const PORT = whole('PORT', 0, 0);
const AT_TTL = whole('AT_TTL', 60, 1);
const RT_TTL = whole('RT_TTL', 86400, 1);
const DPOP_NONCE = env.DPOP_NONCE === '1';
const STRICT_OFFLINE_ACCESS = env.STRICT_OFFLINE_ACCESS === '1';

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const native = {
  application_type: 'native',
  grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE],
  response_types: ['code'],
  // A native client's loopback redirect matches on any port (RFC 8252 §7.3).
  redirect_uris: ['http://127.0.0.1/callback'],
};
const clients = [
  { client_id: 'mayfly', client_name: 'Mayfly', token_endpoint_auth_method: 'none', ...native },
  // The resource server, for /token/introspection.
  { client_id: 'rs', client_secret: 'rs-secret', grant_types: [], response_types: [], redirect_uris: [] },
];
if (env.CLIENT_JWKS_FILE) {
  clients.push({
    client_id: 'mayfly-pkjwt',
    client_name: 'Mayfly (private_key_jwt)',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: JSON.parse(readFileSync(env.CLIENT_JWKS_FILE, 'utf8')),
    ...native,
  });
}

const stats = {
  token_requests: {}, // grant_type -> POST /token requests, whatever the outcome
  token_errors: {}, // OAuth error code -> failed POST /token requests
  dpop_token_requests: 0, // POST /token requests that carried a DPoP proof
  refreshes: 0, // refresh_token grants answered 200
  grants_revoked: 0, // provider 'grant.revoked' events
  grants_revoked_at: {}, // route -> events: "token" = reuse of a refresh token or code, "revocation" = RFC 7009
};
const bump = (m, k) => { m[k] = (m[k] || 0) + 1; };

const listening = await new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(PORT, '127.0.0.1', () => resolve(server));
});
const ISSUER = `http://127.0.0.1:${listening.address().port}`;

const provider = new Provider(ISSUER, {
  clients,
  jwks: { keys: [await signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: sub.includes('@') ? sub : `${sub}@example.com`, email_verified: true, name: sub };
      },
    };
  },
  features: {
    devInteractions: { enabled: true }, // HTML login and consent forms: any login, any password
    deviceFlow: { enabled: true }, // RFC 8628
    revocation: { enabled: true, allowedPolicy: ownTokensOnly }, // RFC 7009
    introspection: { enabled: true, allowedPolicy: introspectionPolicy }, // RFC 7662
    // RFC 9449. Refresh tokens of public clients are bound to the proof's
    // key (oidc-provider's default); confidential clients' are not.
    dPoP: DPOP_NONCE
      ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
      : { enabled: true },
  },
  pkce: { required: () => true }, // S256 only, oidc-provider's default methods
  // Every refresh rotates; presenting a rotated (consumed) refresh token again
  // destroys it and revokes the whole grant (oidc-provider's built-in reuse detection).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: AT_TTL,
    RefreshToken: RT_TTL,
    Grant: Math.max(RT_TTL, 86400),
    DeviceCode: 600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 86400,
  },
});

function ownTokensOnly(ctx, client, token) {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false; // RFC 7009: ignore, answer 200
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
}

function introspectionPolicy(ctx, client, token) {
  return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
}

provider.on('grant.error', (ctx, err) => { ctx.state.errorDetail = err.error_detail; });
provider.on('revocation.error', (ctx, err) => { ctx.state.errorDetail = err.error_detail; });
provider.on('server_error', (ctx, err) => console.error('server_error', ctx.path, err));
provider.on('grant.revoked', (ctx) => {
  const route = ctx.oidc?.route || 'unknown';
  stats.grants_revoked++;
  bump(stats.grants_revoked_at, route);
  console.error(`grant.revoked route=${route}`);
});

provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__stats') {
    ctx.body = stats;
    return;
  }
  // OIDC Core §11: offline_access on /auth needs prompt=consent "unless other
  // conditions for processing the request permitting offline access are in
  // place", and oidc-provider drops it otherwise. Our condition is the one
  // Keycloak, Okta and Auth0 apply: a client allowed the refresh_token grant
  // that asks for offline_access gets it. We express it by treating such a
  // request without a prompt parameter as prompt=consent, which keeps
  // offline_access in the grant (consent is then asked at every sign-in).
  if (!STRICT_OFFLINE_ACCESS && ctx.method === 'GET' && ctx.path === '/auth') {
    const q = ctx.query;
    const client = clients.find((c) => c.client_id === q.client_id);
    if (q.prompt === undefined && client?.grant_types.includes('refresh_token')
        && String(q.scope || '').split(' ').includes('offline_access')) {
      ctx.query = { ...q, prompt: 'consent' };
    }
  }
  const route = ctx.method === 'POST' && { '/token': 'token', '/token/revocation': 'revocation' }[ctx.path];
  await next();
  if (!route) return;
  const status = ctx.status;
  const error = status >= 400 && ctx.body && typeof ctx.body === 'object' ? ctx.body.error : undefined;
  const dpop = ctx.get('DPoP') !== '';
  let line = route;
  if (route === 'token') {
    const gt = ctx.oidc?.params?.grant_type || '';
    bump(stats.token_requests, gt);
    if (dpop) stats.dpop_token_requests++;
    if (error) bump(stats.token_errors, error);
    if (gt === 'refresh_token' && status === 200) stats.refreshes++;
    line += ` grant_type=${gt}`;
  }
  line += ` status=${status}`;
  if (error) line += ` error=${error}`;
  if (ctx.state.errorDetail) line += ` detail=${JSON.stringify(ctx.state.errorDetail)}`;
  line += ` dpop=${dpop}`;
  console.error(line);
});

listening.on('request', provider.callback());
console.log(`listening ${ISSUER}`);
