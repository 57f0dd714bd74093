// The spellings in which an upstream might echo a secret back, written here
// independently of the gateway's decoder: plain, JSON-escaped (`\/`, `\"`,
// `\\`, `\uXXXX` in either hex case), percent-encoded (either hex case),
// HTML character references and mixes of them, plus double encodings.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace agni::testing {

// Keys with every character JSON or a URL escapes (`/ + = " \`). Real keys
// hold no spaces (the key loader refuses them); the scrubber is tested with
// one too.
inline const std::vector<std::string> kAwkwardKeys = {
    R"(agni/live+Key="q\9z"=)",
    R"(\"//++==\\"")",
    R"(sk_/+=\"k)",
};

struct Spelling {
  std::string name;
  std::string text;
};

// `prefix` then `rest`, appended: GCC 12 at -O3 reports a false -Wrestrict
// on "literal" + std::string.
inline std::string Prefixed(std::string_view prefix, const std::string& rest) {
  std::string out(prefix);
  out += rest;
  return out;
}

namespace key_spellings_detail {
inline std::string Hex2(unsigned char c, bool upper) {
  char b[3];
  std::snprintf(b, sizeof b, upper ? "%02X" : "%02x", c);
  return b;
}
inline bool Special(char c) {
  return c == '/' || c == '+' || c == '=' || c == '"' || c == '\\' || c == ' ';
}
// Applies `one` to each character for which `which` holds.
template <typename One, typename Which>
std::string Each(const std::string& key, One one, Which which) {
  std::string out;
  for (char c : key) out += which(c) ? one(c) : std::string(1, c);
  return out;
}
}  // namespace key_spellings_detail

// Every single-layer spelling of `key` a client could decode back into it.
inline std::vector<Spelling> SingleLayerSpellings(const std::string& key) {
  using namespace key_spellings_detail;
  auto all = [](char) { return true; };
  auto json_min = [](char c) {
    if (c == '"') return std::string("\\\"");
    if (c == '\\') return std::string("\\\\");
    if (c == '/') return std::string("\\/");
    return std::string(1, c);
  };
  auto u = [](bool upper) {
    return [upper](char c) {
      return Prefixed("\\u00", Hex2(static_cast<unsigned char>(c), upper));
    };
  };
  auto pct = [](bool upper) {
    return [upper](char c) {
      return Prefixed("%", Hex2(static_cast<unsigned char>(c), upper));
    };
  };
  auto plus_space = [](char c) {
    if (c == ' ') return std::string("+");
    return Prefixed("%", Hex2(static_cast<unsigned char>(c), true));
  };
  auto html_dec = [](char c) {
    return Prefixed("&#", std::to_string(static_cast<unsigned char>(c))) + ";";
  };
  auto html_hex = [](char c) {
    return Prefixed("&#x", Hex2(static_cast<unsigned char>(c), true)) + ";";
  };
  std::vector<Spelling> s = {
      {"plain", key},
      {"json escaped", Each(key, json_min, all)},
      {"\\u specials lower", Each(key, u(false), Special)},
      {"\\u specials upper", Each(key, u(true), Special)},
      {"\\u every character", Each(key, u(false), all)},
      {"percent specials upper", Each(key, pct(true), Special)},
      {"percent specials lower", Each(key, pct(false), Special)},
      {"percent every character", Each(key, pct(true), all)},
      {"form encoding (+ for space)", Each(key, plus_space, Special)},
      {"html decimal references", Each(key, html_dec, Special)},
      {"html hex references", Each(key, html_hex, Special)},
  };
  // One character in each scheme in turn.
  std::string mixed;
  int i = 0;
  for (char c : key) {
    if (!Special(c)) {
      mixed += c;
      continue;
    }
    switch (i++ % 3) {
      case 0: mixed += pct(false)(c); break;
      case 1: mixed += u(true)(c); break;
      default: mixed += json_min(c); break;
    }
  }
  s.push_back({"mixed per character", mixed});
  return s;
}

// Spellings that take two decodings (a key percent-encoded twice, or
// percent-encoded inside a JSON escape).
inline std::vector<Spelling> DoubleLayerSpellings(const std::string& key) {
  using namespace key_spellings_detail;
  auto pct2 = [](char c) {
    return Prefixed("%25", Hex2(static_cast<unsigned char>(c), true));
  };
  auto u_of_pct = [](char c) {
    return Prefixed("\\u0025", Hex2(static_cast<unsigned char>(c), false));
  };
  return {{"percent-encoded twice", Each(key, pct2, Special)},
          {"\\u0025 then hex", Each(key, u_of_pct, Special)}};
}

}  // namespace agni::testing
