#!/usr/bin/env python3
"""A JWT for tests/bench/bench.sh's "allowed release with a JWT" row, minted
here with a fresh local RSA key (openssl; no network, no provider):

    python3 tests/bench/jwt_token.py DIR ISSUER

writes DIR/jwt-key.pem (the private key) and DIR/jwks.json (its public JWK,
kid "bench-1", for the gateway's identity.oidc[].jwks_file), and prints an
RS256 token for alice@example.com in group "support", audience
"agni-gateway", valid for two hours.
"""
import base64
import json
import subprocess
import sys
import time


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main() -> None:
    out_dir, issuer = sys.argv[1], sys.argv[2]
    key = f"{out_dir}/jwt-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    modulus = subprocess.run(["openssl", "rsa", "-in", key, "-noout",
                              "-modulus"], check=True, capture_output=True,
                             text=True).stdout.strip().split("=", 1)[1]
    jwk = {"kty": "RSA", "kid": "bench-1", "use": "sig", "alg": "RS256",
           "n": b64url(bytes.fromhex(modulus)), "e": "AQAB"}
    with open(f"{out_dir}/jwks.json", "w") as f:
        json.dump({"keys": [jwk]}, f)
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
    claims = {"iss": issuer, "aud": "agni-gateway",
              "email": "alice@example.com", "groups": ["support"],
              "jti": "bench-jwt-1", "iat": now, "exp": now + 7200}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                               input=signing_input.encode(), check=True,
                               capture_output=True).stdout
    print(signing_input + "." + b64url(signature))


if __name__ == "__main__":
    main()
