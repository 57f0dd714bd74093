// Small wrappers over OpenSSL used across the gateway: hashing, randomness and
// constant-time comparison. All functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agni {

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Lowercase hex SHA-256 of `first` followed by `second` (without copying
// them into one string first).
std::string Sha256Hex(std::string_view first, std::string_view second);

// Raw 32-byte SHA-256 of `data`.
std::string Sha256Raw(std::string_view data);

// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the CSPRNG
// fails, which callers treat as fatal: a gateway must never hand out guessable
// values.
std::string RandomBytes(std::size_t n);

std::string HexEncode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);

// Compares two strings without branching on their contents. The length is not
// secret (all token hashes have the same length), so a length mismatch returns
// early.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A new gateway token: "agt_" + 256 bits of CSPRNG output, base64url.
std::string NewToken();

// A fresh request id, 32 lowercase hex digits: the time in milliseconds
// since the epoch (12 digits), then 80 random bits. Ids sort by creation.
std::string NewRequestId();

}  // namespace agni
