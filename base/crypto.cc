#include "base/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>

namespace agni {

namespace {

// SHA-256 of the concatenation of `parts`.
void Digest(std::initializer_list<std::string_view> parts,
            unsigned char (&digest)[SHA256_DIGEST_LENGTH]) {
  // OpenSSL 3 looks the algorithm up (an implicit fetch, with locks and
  // allocations) on every EVP_sha256() digest, which costs more than hashing a
  // short token or audit record; fetch it once. A context per thread is
  // reused so that a digest allocates nothing.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  bool ok = md != nullptr && ctx != nullptr &&
            EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1;
  for (std::string_view p : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1 &&
       len == SHA256_DIGEST_LENGTH;
  if (!ok) throw std::runtime_error("SHA-256 failed");
}

}  // namespace

std::string Sha256Raw(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  Digest({data}, digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string Sha256Hex(std::string_view data) {
  return HexEncode(Sha256Raw(data));
}

std::string Sha256Hex(std::string_view first, std::string_view second) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  Digest({first, second}, digest);
  return HexEncode(
      std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    throw std::runtime_error("the OpenSSL CSPRNG failed");
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (bytes.size() - i == 1) {
    unsigned v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (bytes.size() - i == 2) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string NewToken() { return "agt_" + Base64UrlEncode(RandomBytes(32)); }

std::string NewRequestId() {
  // Milliseconds since the epoch (48 bits) first, then 80 random bits: ids
  // made one after another sort together, so the audit's request-id index
  // grows at its right edge instead of dirtying a page of its own for every
  // record of a batch (BENCHMARKS.md, issue 20). Still unique and unguessable.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::string bytes(6, '\0');
  for (int i = 0; i < 6; ++i) {
    bytes[i] = static_cast<char>(
        (static_cast<std::uint64_t>(ms) >> (8 * (5 - i))) & 0xff);
  }
  return HexEncode(bytes + RandomBytes(10));
}

}  // namespace agni
