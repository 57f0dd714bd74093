#include "base/secret_spelling.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace agni {
namespace {

constexpr std::string_view kRedacted = "[REDACTED]";

// The escaping schemes a character of text may be written in.
enum Scheme : unsigned {
  kPercent = 1u << 0,
  kJson = 1u << 1,
  kHtml = 1u << 2,
  kAllSchemes = kPercent | kJson | kHtml,
};

// One way to read the text at a position: `length` bytes of text standing
// for the bytes `decoded`.
struct Reading {
  std::size_t length = 0;
  std::array<char, 4> bytes{};
  std::size_t size = 0;
  std::string_view decoded() const { return {bytes.data(), size}; }
};

// At most: literal, `+` as space, and three readings of one escape.
using Readings = std::array<Reading, 6>;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of `digits` hex digits at `at`, or -1.
long Hex(std::string_view text, std::size_t at, std::size_t digits) {
  if (at + digits > text.size()) return -1;
  long v = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const int h = HexValue(text[at + i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

Reading Utf8(std::size_t length, std::uint32_t cp) {
  Reading r;
  r.length = length;
  auto put = [&r](std::uint32_t b) {
    r.bytes[r.size++] = static_cast<char>(b);
  };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
  return r;
}

Reading Byte(std::size_t length, char c) {
  Reading r;
  r.length = length;
  r.bytes[0] = c;
  r.size = 1;
  return r;
}

void Add(Readings& out, std::size_t& n, Reading r) {
  if (n < out.size()) out[n++] = r;
}

void JsonReadings(std::string_view text, std::size_t p, Readings& out,
                  std::size_t& n) {
  if (p + 1 >= text.size()) return;
  static constexpr std::string_view kFrom = "/\"\\bfnrt";
  static constexpr std::string_view kTo = "/\"\\\b\f\n\r\t";
  if (const std::size_t i = kFrom.find(text[p + 1]); i != kFrom.npos) {
    Add(out, n, Byte(2, kTo[i]));
    return;
  }
  if (text[p + 1] != 'u') return;
  const long cp = Hex(text, p + 2, 4);
  if (cp < 0) return;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (p + 7 < text.size() && text[p + 6] == '\\' && text[p + 7] == 'u') {
      const long low = Hex(text, p + 8, 4);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        Add(out, n,
            Utf8(12, 0x10000 +
                         ((static_cast<std::uint32_t>(cp) - 0xD800) << 10) +
                         (static_cast<std::uint32_t>(low) - 0xDC00)));
      }
    }
    return;
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF) return;
  Add(out, n, Utf8(6, static_cast<std::uint32_t>(cp)));
  // A key that is not UTF-8: \u00XX may stand for the raw byte XX.
  if (cp >= 0x80 && cp <= 0xFF) Add(out, n, Byte(6, static_cast<char>(cp)));
}

void HtmlReadings(std::string_view text, std::size_t p, Readings& out,
                  std::size_t& n) {
  if (p + 2 < text.size() && text[p + 1] == '#') {
    const bool hex = text[p + 2] == 'x' || text[p + 2] == 'X';
    std::size_t at = p + (hex ? 3 : 2);
    std::uint32_t cp = 0;
    std::size_t digits = 0;
    for (; at < text.size() && digits < 8; ++at, ++digits) {
      const int v =
          hex ? HexValue(text[at])
              : (text[at] >= '0' && text[at] <= '9' ? text[at] - '0' : -1);
      if (v < 0) break;
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
    }
    if (digits == 0 || cp > 0x10FFFF) return;
    // Browsers accept a reference without its `;`: read it both ways.
    Add(out, n, Utf8(at - p, cp));
    if (at < text.size() && text[at] == ';') Add(out, n, Utf8(at + 1 - p, cp));
    return;
  }
  struct Named {
    std::string_view name;
    char c;
  };
  static constexpr Named kNamed[] = {
      {"&quot;", '"'},  {"&amp;", '&'},    {"&lt;", '<'},     {"&gt;", '>'},
      {"&apos;", '\''}, {"&sol;", '/'},    {"&plus;", '+'},   {"&equals;", '='},
      {"&bsol;", '\\'}, {"&percnt;", '%'}, {"&num;", '#'},    {"&colon;", ':'},
      {"&semi;", ';'},  {"&comma;", ','},  {"&period;", '.'}, {"&excl;", '!'},
      {"&quest;", '?'}, {"&lowbar;", '_'}, {"&hyphen;", '-'}, {"&dash;", '-'},
      {"&QUOT;", '"'},  {"&AMP;", '&'},    {"&LT;", '<'},     {"&GT;", '>'},
  };
  for (const Named& e : kNamed) {
    if (text.substr(p, e.name.size()) == e.name) {
      Add(out, n, Byte(e.name.size(), e.c));
    }
  }
}

// Every reading of `text` at `p` under `schemes` (the literal byte first
// when `literal`).
std::size_t ReadingsAt(std::string_view text, std::size_t p, unsigned schemes,
                       bool literal, Readings& out) {
  std::size_t n = 0;
  const char c = text[p];
  if (literal) Add(out, n, Byte(1, c));
  if ((schemes & kPercent) != 0) {
    if (c == '+' && literal) Add(out, n, Byte(1, ' '));
    if (c == '%') {
      const long v = Hex(text, p + 1, 2);
      if (v >= 0) Add(out, n, Byte(3, static_cast<char>(v)));
    }
  }
  if ((schemes & kJson) != 0 && c == '\\') JsonReadings(text, p, out, n);
  if ((schemes & kHtml) != 0 && c == '&') HtmlReadings(text, p, out, n);
  return n;
}

// The end of the longest spelling of `secret` starting at `p`, or npos.
// Every reading consumes at least one byte of text and of the secret, so
// the search walks the secret's prefixes in order, keeping the text
// positions reached for each.
std::size_t SpellingEnd(std::string_view text, std::size_t p,
                        std::string_view secret) {
  Readings readings;
  // Most positions cannot start the secret: decide that without allocating.
  const std::size_t first = ReadingsAt(text, p, kAllSchemes, true, readings);
  bool may_start = false;
  for (std::size_t i = 0; i < first && !may_start; ++i) {
    const std::string_view d = readings[i].decoded();
    may_start = secret.substr(0, d.size()) == d;
  }
  if (!may_start) return std::string_view::npos;
  std::vector<std::vector<std::size_t>> reached(secret.size() + 1);
  reached[0].push_back(p);
  for (std::size_t k = 0; k < secret.size(); ++k) {
    std::vector<std::size_t>& here = reached[k];
    std::sort(here.begin(), here.end());
    here.erase(std::unique(here.begin(), here.end()), here.end());
    const std::string_view rest = secret.substr(k);
    for (const std::size_t at : here) {
      if (at >= text.size()) continue;
      const std::size_t n = ReadingsAt(text, at, kAllSchemes, true, readings);
      for (std::size_t i = 0; i < n; ++i) {
        const std::string_view d = readings[i].decoded();
        if (rest.substr(0, d.size()) == d) {
          reached[k + d.size()].push_back(at + readings[i].length);
        }
      }
    }
  }
  if (reached[secret.size()].empty()) return std::string_view::npos;
  return *std::max_element(reached[secret.size()].begin(),
                           reached[secret.size()].end());
}

// `text` with every escape of `scheme` decoded once.
std::string DecodeAll(std::string_view text, unsigned scheme) {
  std::string out;
  out.reserve(text.size());
  Readings readings;
  for (std::size_t p = 0; p < text.size();) {
    const std::size_t n = ReadingsAt(text, p, scheme, false, readings);
    if (n == 0) {
      out.push_back(text[p++]);
      continue;
    }
    // The longest reading: an HTML reference with its `;`.
    const Reading* best = &readings[0];
    for (std::size_t i = 1; i < n; ++i) {
      if (readings[i].length > best->length) best = &readings[i];
    }
    out.append(best->decoded());
    p += best->length;
  }
  return out;
}

// Whether every byte of `text` can only be read as itself, so that its
// spellings of `secret` are its literal occurrences and decoding it changes
// nothing: no escape introducer, and no `+` that could stand for a space of
// the secret. The usual upstream answer is such a text, and scanning it
// position by position cost more than the rest of the release.
bool OnlyLiteralReadings(std::string_view text, std::string_view secret) {
  return text.find_first_of("%\\&") == std::string_view::npos &&
         (secret.find(' ') == std::string_view::npos ||
          text.find('+') == std::string_view::npos);
}

}  // namespace

bool MayHoldSpelling(std::string_view text, std::string_view secret) {
  if (secret.empty()) return false;
  if (OnlyLiteralReadings(text, secret)) {
    return text.find(secret) != std::string_view::npos;
  }
  return true;
}

std::string RedactSpellings(std::string_view text, std::string_view secret) {
  if (secret.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t p = 0; p < text.size();) {
    const std::size_t end = SpellingEnd(text, p, secret);
    if (end == std::string_view::npos) {
      out.push_back(text[p++]);
    } else {
      out.append(kRedacted);
      p = end;
    }
  }
  return out;
}

bool HasSpelling(std::string_view text, std::string_view secret) {
  if (secret.empty()) return false;
  if (OnlyLiteralReadings(text, secret)) {
    return text.find(secret) != std::string_view::npos;
  }
  for (std::size_t p = 0; p < text.size(); ++p) {
    if (SpellingEnd(text, p, secret) != std::string_view::npos) return true;
  }
  return false;
}

bool HasLayeredSpelling(std::string_view text, std::string_view secret) {
  if (HasSpelling(text, secret)) return true;
  // Nothing to decode: the layers are the text itself.
  if (OnlyLiteralReadings(text, secret)) return false;
  static constexpr unsigned kSchemes[] = {kPercent, kJson, kHtml};
  for (const unsigned first : kSchemes) {
    const std::string once = DecodeAll(text, first);
    if (once == text) continue;
    if (HasSpelling(once, secret)) return true;
    for (const unsigned second : kSchemes) {
      const std::string twice = DecodeAll(once, second);
      if (twice != once && HasSpelling(twice, secret)) return true;
    }
  }
  return false;
}

}  // namespace agni
