// Identifying a credential without recording it: an HMAC-SHA256 of the
// presented token under a per-deployment key (audit.fingerprint_key_file).
// Without the key a fingerprint cannot be recomputed from a guessed token, and
// it never equals the token's SHA-256 that the config holds. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agni::audit {

// "hmac-sha256:" + the first 16 bytes of HMAC-SHA256(key, credential) in hex.
// Empty when `key` or `credential` is empty.
std::string CredentialFingerprint(std::string_view key,
                                  std::string_view credential);

// The credential a request presented: the first Authorization header's
// bearer token (or the whole value for another scheme), else the first
// X-Api-Key value. Empty when none.
std::string PresentedCredential(const std::vector<std::string>& authorization,
                                const std::vector<std::string>& api_key);

}  // namespace agni::audit
