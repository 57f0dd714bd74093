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

const signingKey = JSON.parse(fs.readFileSync(args['signing-key'], 'utf8'));
const alg = args.alg || 'RS256';
let jwksRequests = 0;

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
});
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`https://127.0.0.1:${port}`, {
    clients: Object.keys(CLIENTS).map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    })),
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
  server.on('request', (req, res) => {
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
process.on('SIGTERM', () => server.close(() => process.exit(0)));
