// Rule conditions: time windows in an explicit IANA time zone and source
// address ranges. Pure (no I/O beyond the system tz database, which
// date::locate_zone reads once from /usr/share/zoneinfo). Immutable after
// parsing and safe to share between threads.
//
// A condition answers yes, no, or "cannot tell" (kUnknown: no source address,
// an address that does not parse). The engine never lets an `allow` rule match
// on kUnknown; a restricting rule (deny) does match, so a missing attribute
// fails closed either way.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace agni::policy {

enum class Tri { kNo, kYes, kUnknown };

// An IPv4 or IPv6 address. IPv4 is kept as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d), so "10.0.0.0/8" also matches a peer written as
// "::ffff:10.1.2.3" by a dual-stack listener.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;
  static std::optional<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128).
struct Cidr {
  IpAddress network;
  int prefix_bits = 0;  // out of 128 (IPv4 ranges are stored as 96 + bits)
  std::string text;     // as written, for explain output
  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
};

// Days of the week and time-of-day ranges in one IANA zone. A range whose end
// is before its start runs over midnight ("22:00-06:00"); the day that counts
// is the local day of the instant being checked.
struct TimeWindow {
  const date::time_zone* zone = nullptr;
  std::string zone_name;
  // Bit d set: local weekday d is in the window (0 = Sunday ... 6 = Saturday).
  unsigned days = 0x7f;
  struct Range {
    int start_minute = 0;      // inclusive, minutes after local midnight
    int end_minute = 24 * 60;  // exclusive
  };
  std::vector<Range> hours;  // empty: the whole day

  Tri Contains(std::chrono::system_clock::time_point t) const;
};

// Looks up an IANA zone name ("Europe/Berlin", "UTC"); nullptr if unknown.
const date::time_zone* FindZone(std::string_view name);

// Parses "09:00-17:30" into a range; nullopt if malformed.
std::optional<TimeWindow::Range> ParseHourRange(std::string_view text);

// "mon".."sun" -> 1..6,0; nullopt otherwise.
std::optional<int> ParseWeekday(std::string_view text);

// The client address a request is judged by: the TCP peer, or, when the peer
// is one of `trusted_proxies`, the right-most X-Forwarded-For entry that is
// not itself a trusted proxy. nullopt when the address cannot be determined
// (then every source condition is kUnknown).
std::optional<IpAddress> ClientAddress(
    std::string_view peer, const std::vector<std::string>& forwarded_for,
    const std::vector<Cidr>& trusted_proxies);

// Parses an RFC 3339 UTC or offset timestamp ("2026-11-26T09:30:00Z",
// "2026-11-26T09:30:00+01:00"); nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> ParseTimestamp(
    std::string_view text);

}  // namespace agni::policy
