// The peer for token-cc-secret and token-cc-jwt: oidc-provider 9 issuing client_credentials
// access tokens as ES256-signed JWTs to one client_secret_basic client and one private_key_jwt
// client (ES256 assertions), on 127.0.0.1.
// benchmarks/run.py installs oidc-provider@9 into a temporary folder, copies this file there
// and runs it with: PORT, CLIENT_ID, CLIENT_SECRET, ASSERTION_CLIENT_ID and ASSERTION_JWKS
// (the second client's public keys, as a JWK Set) in the environment.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const resource = 'urn:govconnect:benchmark';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'submissions',
    },
    {
      client_id: process.env.ASSERTION_CLIENT_ID,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: JSON.parse(process.env.ASSERTION_JWKS),
      id_token_signed_response_alg: 'ES256',
      scope: 'submissions',
    },
  ],
  jwks: { keys: [jwk] },
  scopes: ['submissions'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'submissions',
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${port}`));
