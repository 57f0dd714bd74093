// A real OpenID provider (panva/oidc-provider) for the gateway's identity
// tests, over https with a test CA's certificate.
//
//   node provider.js --cert server.pem --key server.key --signing-key key.json
//                    [--port N] [--alg RS256]
//
// Issues JWT access tokens by client credentials with a resource indicator
// (resource "urn:agni-gateway", audience "agni-gateway"). Each client is a
// person: client_id "olga" gets {"email": "olga@example.com", "groups": [...]}
// from CLIENTS below. --signing-key is a private JWK (with kid) in a file, so
// a restart with another file is a key rotation. Prints "listening PORT" once
// it serves. GET /test/jwks-requests answers how many times the JWKS was
// fetched since start (the tests count them).
//
// With --console-redirect URL it also signs people in to the gateway's web
// console: client "agni-console" (secret "agni-console-secret", the
// authorization-code flow with PKCE S256 required, redirect URL as given).
// Its login page (/interaction/...) asks for a user name only (olga, oscar,
// alice, ... from PEOPLE) and consent is given at once; the ID token carries
// {"email": "<name>@example.com", "groups": [...]}.
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}

const CLIENTS = {
  olga: ['okta-telecom-ops'],
  alice: ['support'],
  mallory: ['contractors'],
};

// People who sign in at the login page (the console's auth-code client).
const PEOPLE = { ...CLIENTS, oscar: ['okta-telecom-ops'] };
const CONSOLE_CLIENT = 'agni-console';

const signingKey = JSON.parse(fs.readFileSync(args['signing-key'], 'utf8'));
const alg = args.alg || 'RS256';
let jwksRequests = 0;

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
});
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const consoleClients = args['console-redirect'] ? [{
    client_id: CONSOLE_CLIENT,
    client_secret: `${CONSOLE_CLIENT}-secret`,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [args['console-redirect']],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  }] : [];
  const provider = new Provider(`https://127.0.0.1:${port}`, {
    clients: Object.keys(CLIENTS).map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    })).concat(consoleClients),
    // The console's sign-in: people, their claims in the ID token itself (as
    // Keycloak or Okta put a groups claim there), PKCE required.
    findAccount: (ctx, id) => (PEOPLE[id] ? {
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true,
                       groups: PEOPLE[id] }),
    } : undefined),
    claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    jwks: { keys: [signingKey] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:agni-gateway',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'release',
          audience: 'agni-gateway',
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
    scopes: ['release'],
    extraTokenClaims: (ctx, token) => ({
      email: `${token.clientId}@example.com`,
      groups: CLIENTS[token.clientId] || [],
    }),
  });
  const handle = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        await interaction(provider, req, res);
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
      return;
    }
    if (req.url === '/test/jwks-requests') {
      res.setHeader('content-type', 'text/plain');
      res.end(String(jwksRequests));
      return;
    }
    if (req.url.startsWith('/jwks')) jwksRequests += 1;
    handle(req, res);
  });
  process.stdout.write(`listening ${port}\n`);
});
// The console client's login page: a user name, no password (a test
// provider); consent is given without asking.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, uid } = details;
  if (req.method === 'POST' && prompt.name === 'login') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const login = new URLSearchParams(body).get('login') || '';
    if (!PEOPLE[login]) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'unknown user' });
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } },
                                       { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId,
                             clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } },
                                       { mergeWithLastSubmission: true });
    return;
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><title>Test provider sign-in</title></head>
<body><main><h1>Test provider: sign in</h1>
<form method="post" action="/interaction/${uid}">
<label for="login">User name</label> <input id="login" name="login" autofocus>
<button type="submit">Sign in at the provider</button></form></main></body></html>`);
}

process.on('SIGTERM', () => server.close(() => process.exit(0)));
