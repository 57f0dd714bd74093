// Writes a fresh private signing JWK for provider.js to stdout.
//   node keygen.js --alg RS256 --kid k1
import { exportJWK, generateKeyPair } from 'jose';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const alg = args.alg || 'RS256';
const { privateKey } = await generateKeyPair(alg, { extractable: true });
const jwk = await exportJWK(privateKey);
process.stdout.write(JSON.stringify({ ...jwk, kid: args.kid, alg, use: 'sig' }));
