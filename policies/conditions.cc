#include "policies/conditions.h"

#include <arpa/inet.h>
#include <date/date.h>
#include <date/tz.h>

#include <charconv>
#include <cstring>

namespace agni::policy {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<int> Digits(std::string_view s, std::size_t n) {
  if (s.size() != n) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "HH:MM" -> minutes; "24:00" is accepted as the end of the day.
std::optional<int> ParseClock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto h = Digits(s.substr(0, 2), 2);
  auto m = Digits(s.substr(3, 2), 2);
  if (!h || !m || *m > 59 || *h > 24 || (*h == 24 && *m != 0)) {
    return std::nullopt;
  }
  return *h * 60 + *m;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  text = Trim(text);
  // A bracketed IPv6 literal ("[::1]") as some proxies write it.
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], &v4, 4);
    a.v4 = true;
    return a;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(a.bytes.data(), &v6, 16);
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
    a.v4 = std::memcmp(a.bytes.data(), kMapped, 12) == 0;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v4) {
    inet_ntop(AF_INET, &bytes[12], buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  Cidr c;
  c.text = std::string(text);
  const auto slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  c.network = *address;
  const int max_bits = address->v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || end != b.data() + b.size() || bits < 0 ||
        bits > max_bits) {
      return std::nullopt;
    }
  }
  c.prefix_bits = address->v4 ? 96 + bits : bits;
  // Host bits must be zero: "10.1.2.3/8" is almost certainly a typo.
  for (int i = c.prefix_bits; i < 128; ++i) {
    if (c.network.bytes[i / 8] & (0x80 >> (i % 8))) return std::nullopt;
  }
  return c;
}

bool Cidr::Contains(const IpAddress& address) const {
  const int full = prefix_bits / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), full) != 0) {
    return false;
  }
  const int rest = prefix_bits % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (address.bytes[full] & mask) == (network.bytes[full] & mask);
}

const date::time_zone* FindZone(std::string_view name) {
  if (name.empty()) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<TimeWindow::Range> ParseHourRange(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto start = ParseClock(Trim(text.substr(0, dash)));
  auto end = ParseClock(Trim(text.substr(dash + 1)));
  if (!start || !end || *start == *end || *start == 24 * 60)
    return std::nullopt;
  return TimeWindow::Range{*start, *end};
}

std::optional<int> ParseWeekday(std::string_view text) {
  static constexpr std::string_view kNames[] = {"sun", "mon", "tue", "wed",
                                                "thu", "fri", "sat"};
  for (int d = 0; d < 7; ++d) {
    if (text == kNames[d]) return d;
  }
  return std::nullopt;
}

Tri TimeWindow::Contains(std::chrono::system_clock::time_point t) const {
  if (zone == nullptr) return Tri::kUnknown;
  try {
    using namespace std::chrono;
    const auto local = zone->to_local(floor<seconds>(t));
    const auto day = floor<date::days>(local);
    const unsigned weekday = date::weekday(day).c_encoding();
    const int minute =
        static_cast<int>(duration_cast<minutes>(local - day).count());
    if ((days & (1u << weekday)) == 0) return Tri::kNo;
    if (hours.empty()) return Tri::kYes;
    for (const Range& r : hours) {
      const bool in = r.start_minute < r.end_minute
                          ? minute >= r.start_minute && minute < r.end_minute
                          : minute >= r.start_minute || minute < r.end_minute;
      if (in) return Tri::kYes;
    }
    return Tri::kNo;
  } catch (const std::exception&) {
    return Tri::kUnknown;
  }
}

std::optional<IpAddress> ClientAddress(
    std::string_view peer, const std::vector<std::string>& forwarded_for,
    const std::vector<Cidr>& trusted_proxies) {
  auto peer_address = IpAddress::Parse(peer);
  if (!peer_address) return std::nullopt;
  auto trusted = [&](const IpAddress& a) {
    for (const Cidr& c : trusted_proxies) {
      if (c.Contains(a)) return true;
    }
    return false;
  };
  if (forwarded_for.empty() || !trusted(*peer_address)) return peer_address;
  // Walk the hops from the nearest one back; the first address a trusted
  // proxy did not add itself is the client. Anything unparsable on the way
  // makes the client unknown rather than falling back to the proxy.
  std::vector<std::string_view> hops;
  for (const std::string& header : forwarded_for) {
    std::string_view rest = header;
    while (true) {
      const auto comma = rest.find(',');
      hops.push_back(Trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto hop = IpAddress::Parse(*it);
    if (!hop) return std::nullopt;
    if (!trusted(*hop)) return hop;
  }
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> ParseTimestamp(
    std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  auto y = Digits(s.substr(0, 4), 4);
  auto mo = Digits(s.substr(5, 2), 2);
  auto d = Digits(s.substr(8, 2), 2);
  auto h = Digits(s.substr(11, 2), 2);
  auto mi = Digits(s.substr(14, 2), 2);
  auto se = Digits(s.substr(17, 2), 2);
  if (!y || !mo || !d || !h || !mi || !se || *h > 23 || *mi > 59 || *se > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) micros = micros * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) micros *= 10;
  }
  int offset_minutes = 0;
  std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
             zone[3] == ':') {
    auto oh = Digits(zone.substr(1, 2), 2);
    auto om = Digits(zone.substr(4, 2), 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    offset_minutes = (*oh * 60 + *om) * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  const date::year_month_day ymd{date::year(*y), date::month(*mo),
                                 date::day(*d)};
  if (!ymd.ok()) return std::nullopt;
  using namespace std::chrono;
  const auto t = date::sys_days(ymd) + hours(*h) + minutes(*mi) + seconds(*se) +
                 microseconds(micros) - minutes(offset_minutes);
  return time_point_cast<system_clock::duration>(t);
}

}  // namespace agni::policy
