#include "gateway/pipeline/rejection_ledger.h"

#include <algorithm>
#include <iterator>

#include "audit/record.h"
#include "gateway/ops/metrics.h"

namespace agni {
namespace {

std::string KeyOf(std::string_view peer, std::string_view reason) {
  std::string k;
  k.reserve(peer.size() + reason.size() + 1);
  k.append(peer);
  k.push_back('\n');
  k.append(reason);
  return k;
}

std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// Merges `from` into `into` (same reason): counts add up, times widen.
void Merge(const auto& from, auto& into, std::size_t max_fingerprints) {
  if (into.suppressed == 0 || from.first_us < into.first_us) {
    into.first_us = from.first_us;
  }
  into.last_us = std::max(into.last_us, from.last_us);
  into.suppressed += from.suppressed;
  into.without_credential += from.without_credential;
  into.more_fingerprints = into.more_fingerprints || from.more_fingerprints;
  for (const auto& [fp, n] : from.fingerprints) {
    auto it = into.fingerprints.find(fp);
    if (it != into.fingerprints.end()) {
      it->second += n;
    } else if (into.fingerprints.size() < max_fingerprints) {
      into.fingerprints.emplace(fp, n);
    } else {
      into.more_fingerprints = true;
    }
  }
}

}  // namespace

RejectionLedger::RejectionLedger(RejectionLedgerOptions options,
                                 audit::AuditSink& audit, Metrics* metrics,
                                 const Logger& log, Clock clock)
    : options_(options),
      audit_(audit),
      metrics_(metrics),
      log_(log),
      clock_(clock ? std::move(clock)
                   : Clock([] { return std::chrono::system_clock::now(); })) {}

RejectionLedger::~RejectionLedger() { Stop(); }

std::int64_t RejectionLedger::NowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             clock_().time_since_epoch())
      .count();
}

bool RejectionLedger::Admit(std::string_view peer, std::string_view reason,
                            int status,
                            std::string_view credential_fingerprint) {
  const std::int64_t now = NowUs();
  {
    std::lock_guard lock(mu_);
    const std::int64_t window_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.window)
            .count();
    if (window_open_ && now >= window_start_us_ + window_us) RotateLocked();
    if (!window_open_) {
      window_open_ = true;
      window_start_us_ = now;
    }
    Entry* e = nullptr;
    bool overflow = false;
    auto it = keys_.find(KeyOf(peer, reason));
    if (it != keys_.end()) {
      e = &it->second;
    } else {
      // Overflow keys ("*", reason) do not count against max_keys: there is
      // one per reason, and reasons are a fixed set.
      overflow = ordinary_keys_ >= options_.max_keys;
      const std::string key =
          overflow ? KeyOf(kOverflowPeer, reason) : KeyOf(peer, reason);
      auto [ins, _] = keys_.try_emplace(key);
      e = &ins->second;
      if (e->peer.empty()) {
        e->peer = overflow ? std::string(kOverflowPeer) : std::string(peer);
        e->reason = std::string(reason);
        if (!overflow) ++ordinary_keys_;
      }
    }
    e->status = status;
    overflow = e->peer == kOverflowPeer;
    if (!overflow && e->individual < options_.burst &&
        individual_in_window_ < options_.max_individual) {
      ++e->individual;
      ++individual_in_window_;
      ++totals_.individual;
      return true;
    }
    if (e->suppressed == 0) e->first_us = now;
    e->last_us = std::max(e->last_us, now);
    ++e->suppressed;
    ++totals_.summarized;
    ++totals_.unwritten;
    if (credential_fingerprint.empty()) {
      ++e->without_credential;
    } else if (auto f =
                   e->fingerprints.find(std::string(credential_fingerprint));
               f != e->fingerprints.end()) {
      ++f->second;
    } else if (e->fingerprints.size() < kMaxFingerprints) {
      e->fingerprints.emplace(std::string(credential_fingerprint), 1);
    } else {
      e->more_fingerprints = true;
    }
  }
  if (metrics_) metrics_->CountRejectionSummarized(reason);
  return false;
}

void RejectionLedger::RotateLocked() {
  for (auto& [key, entry] : keys_) {
    if (entry.suppressed > 0) {
      pending_.push_back({std::move(entry), window_start_us_});
    }
  }
  keys_.clear();
  ordinary_keys_ = 0;
  window_open_ = false;
  individual_in_window_ = 0;
  // Summaries that keep failing to commit must not grow without bound: past
  // max_keys they are folded into one "*" summary per reason.
  if (pending_.size() > options_.max_keys + 16) {
    std::vector<Summary> folded;
    for (Summary& s : pending_) {
      auto f = std::find_if(
          folded.begin(), folded.end(),
          [&](const Summary& x) { return x.entry.reason == s.entry.reason; });
      if (f == folded.end()) {
        folded.push_back({Entry{}, s.window_start_us});
        f = folded.end() - 1;
        f->entry.peer = std::string(kOverflowPeer);
        f->entry.reason = s.entry.reason;
        f->entry.status = s.entry.status;
      }
      f->window_start_us = std::min(f->window_start_us, s.window_start_us);
      Merge(s.entry, f->entry, kMaxFingerprints);
    }
    pending_ = std::move(folded);
  }
}

std::size_t RejectionLedger::CloseWindowIfDue() {
  return WritePending(/*rotate_always=*/false);
}

std::size_t RejectionLedger::Flush() {
  return WritePending(/*rotate_always=*/true);
}

std::size_t RejectionLedger::WritePending(bool rotate_always) {
  std::lock_guard writer(write_mu_);
  std::vector<Summary> batch;
  {
    std::lock_guard lock(mu_);
    const std::int64_t window_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.window)
            .count();
    if (window_open_ &&
        (rotate_always || NowUs() >= window_start_us_ + window_us)) {
      RotateLocked();
    }
    batch.swap(pending_);
  }
  std::size_t written = 0;
  std::vector<Summary> failed;
  for (Summary& s : batch) {
    const audit::AppendResult r = audit_.Append(SummaryRecord(s));
    if (!r.ok) {
      log_.Error("summary of rejected requests not committed; retried later",
                 {{"peer", s.entry.peer},
                  {"reason", s.entry.reason},
                  {"count", s.entry.suppressed},
                  {"error", r.error}});
      failed.push_back(std::move(s));
      continue;
    }
    ++written;
    log_.Warn("rejected requests summarised",
              {{"peer", s.entry.peer},
               {"reason", s.entry.reason},
               {"status", s.entry.status},
               {"count", s.entry.suppressed},
               {"first", audit::FormatTime(s.entry.first_us)},
               {"last", audit::FormatTime(s.entry.last_us)},
               {"audit_seq", r.seq}});
    std::lock_guard lock(mu_);
    ++totals_.summary_records;
    totals_.written += s.entry.suppressed;
    totals_.unwritten -= s.entry.suppressed;
  }
  if (!failed.empty()) {
    std::lock_guard lock(mu_);
    pending_.insert(pending_.begin(), std::make_move_iterator(failed.begin()),
                    std::make_move_iterator(failed.end()));
  }
  return written;
}

audit::Record RejectionLedger::SummaryRecord(const Summary& s) const {
  const Entry& e = s.entry;
  audit::Record r;
  r.stage = audit::Stage::kDecision;
  r.decision = "deny";
  r.reason = e.reason;
  r.peer = e.peer;
  r.response_status = e.status;
  r.request_count = static_cast<std::int64_t>(e.suppressed);
  std::string d = "summary: " + std::to_string(e.suppressed) + " " + e.reason +
                  " requests (" + std::to_string(e.status) + ") from " +
                  (e.peer == kOverflowPeer ? std::string("peers past "
                                                         "audit.rejections."
                                                         "max_keys")
                                           : e.peer) +
                  " counted here instead of one record each; first " +
                  audit::FormatTime(e.first_us) + ", last " +
                  audit::FormatTime(e.last_us) + "; window of " +
                  DurationText(options_.window) + " from " +
                  audit::FormatTime(s.window_start_us) + "; ";
  const std::size_t distinct = e.fingerprints.size();
  if (distinct == 0 && !e.more_fingerprints) {
    d += "no credential fingerprints";
  } else {
    d += (e.more_fingerprints ? "more than " : "") + std::to_string(distinct) +
         (distinct == 1 && !e.more_fingerprints ? " distinct credential"
                                                : " distinct credentials");
    auto top = std::max_element(
        e.fingerprints.begin(), e.fingerprints.end(),
        [](const auto& a, const auto& b) { return a.second < b.second; });
    if (top != e.fingerprints.end()) {
      d += ", most frequent " + top->first + " (" +
           std::to_string(top->second) + ")";
    }
  }
  d += "; " + std::to_string(e.without_credential) +
       " without a fingerprinted credential";
  r.detail = std::move(d);
  return r;
}

void RejectionLedger::Start() {
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    const auto tick =
        std::clamp(options_.window / 4, std::chrono::milliseconds(50),
                   std::chrono::milliseconds(1000));
    std::unique_lock lock(thread_mu_);
    while (!stopping_) {
      thread_cv_.wait_for(lock, tick, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      CloseWindowIfDue();
      lock.lock();
    }
  });
}

void RejectionLedger::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Flush();
}

RejectionLedger::Totals RejectionLedger::totals() const {
  std::lock_guard lock(mu_);
  return totals_;
}

}  // namespace agni
