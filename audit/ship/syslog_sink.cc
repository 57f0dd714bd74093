#include "audit/ship/syslog_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace agni::audit {
namespace {

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

std::optional<std::int64_t> ReadShippedSeq(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::nullopt;
    throw std::runtime_error(std::string("cannot read \"") + path + "\"");
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error(std::string("\"") + path +
                             "\" does not hold a seq number");
  }
  return std::stoll(text);
}

void WriteShippedSeq(const std::string& path, std::int64_t seq) {
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(seq) + "\n";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw std::runtime_error(std::string("cannot write \"") + tmp +
                             std::string("\": ") + std::strerror(errno));
  }
  const bool ok = ::write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error(std::string("cannot write \"") + path +
                             std::string("\": ") +
                             std::strerror(ok ? errno : saved));
  }
  // The rename itself must survive a crash.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (const int dfd = ::open(dir.empty() ? "." : dir.c_str(),
                             O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SyslogSink::SyslogSink(SyslogOptions options, SyslogHooks hooks)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      header_(MakeSyslogHeader(Hostname(), options_.app_name, ::getpid())) {
  std::string error;
  tls_ = TlsClientContext::Create(options_.tls, error);
  if (!tls_) throw std::runtime_error(error);
}

SyslogSink::~SyslogSink() { Stop(); }

void SyslogSink::Start(const std::string& db_path) {
  source_ = std::make_unique<ShipRecordSource>(db_path);
  const std::int64_t head = source_->HeadSeq();
  std::optional<std::int64_t> taken;
  try {
    taken = ReadShippedSeq(options_.state_file);
  } catch (const std::exception& e) {
    // Sending the log again beats leaving a hole in the SIEM's copy.
    Log("error", "audit syslog state unreadable; shipping from the start",
        e.what());
  }
  acked_ = taken.value_or(0);
  if (acked_ > head) {
    Log("warn",
        "audit syslog state is ahead of this audit log; shipping from the "
        "start",
        options_.state_file + " says " + std::to_string(acked_) +
            std::string(", the log ends at ") + std::to_string(head));
    acked_ = 0;
  }
  shipped_seq_ = acked_;
  if (hooks_.shipped) hooks_.shipped(acked_);
  {
    std::lock_guard lock(mu_);
    committed_head_ = std::max(committed_head_, head);
  }
  thread_ = std::thread([this] { Run(); });
}

void SyslogSink::Offer(const std::vector<const Record*>& records) {
  if (records.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (const Record* r : records) {
      committed_head_ = std::max(committed_head_, r->seq);
      // Past the bound a record stays only in the database, where the sink
      // finds it by seq.
      if (queue_.size() < options_.queue) queue_.push_back(ShipRecordOf(*r));
    }
  }
  cv_.notify_one();
}

void SyslogSink::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + options_.stop_flush;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyslogSink::Run() {
  // A peer that resets the connection must not end the process; send()
  // through OpenSSL's socket BIO would raise SIGPIPE in this thread.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  std::chrono::milliseconds backoff = options_.initial_backoff;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || committed_head_ > acked_; });
      if (stopping_ && (committed_head_ <= acked_ ||
                        std::chrono::steady_clock::now() >= stop_deadline_)) {
        return;
      }
    }
    if (Session()) {
      backoff = options_.initial_backoff;
      continue;
    }
    std::unique_lock lock(mu_);
    // A peer that is down is not retried while stopping: the next start
    // resumes from the state file.
    if (stopping_) return;
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

std::chrono::milliseconds SyslogSink::Timeout(
    std::chrono::milliseconds base) const {
  std::lock_guard lock(mu_);
  if (!stopping_) return base;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      stop_deadline_ - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(1), base);
}

bool SyslogSink::Session() {
  std::string error;
  std::unique_ptr<TlsStream> stream = TlsStream::Open(
      *tls_, options_.tls, Timeout(options_.connect_timeout), error);
  if (!stream) return Failed(error);
  if (hooks_.connected) hooks_.connected();
  const auto confirm_by =
      std::chrono::steady_clock::now() + options_.confirm_interval;
  std::int64_t last = acked_;
  std::size_t sent = 0;
  std::vector<ShipRecord> batch;
  std::string frames;
  while (sent < options_.max_session_records &&
         std::chrono::steady_clock::now() < confirm_by) {
    batch.clear();
    std::int64_t skipped_to = 0;
    try {
      NextBatch(last + 1, batch, skipped_to);
    } catch (const std::exception& e) {
      return Failed(std::string("cannot read the audit log: ") + e.what());
    }
    if (skipped_to > 0) {
      Log("warn", "audit records are no longer in the database; not shipped",
          std::string("seq ") + std::to_string(last + 1) + " to " +
              std::to_string(skipped_to));
      last = skipped_to;
      continue;
    }
    if (batch.empty()) {
      // Caught up: stay connected while more may come soon.
      if (WaitForMore(last, confirm_by, *stream)) continue;
      if (!stream->PeerGone()) break;  // idle or due: close and confirm
      if (stream->PeerClosedAfterReadingAll()) {
        if (last > acked_) Confirm(last);
        return true;
      }
      return Failed("the syslog peer closed the connection");
    }
    if (stream->PeerGone()) {
      // A peer that closed cleanly after reading everything (a restart
      // between our writes) has taken this session's records.
      if (stream->PeerClosedAfterReadingAll() && last > acked_) Confirm(last);
      return Failed("the syslog peer closed the connection");
    }
    frames.clear();
    for (const ShipRecord& r : batch) {
      AppendSyslogFrame(header_, r.seq, r.time, r.hash, r.json, frames);
    }
    if (error = stream->Write(frames, Timeout(options_.io_timeout));
        !error.empty()) {
      return Failed(error);
    }
    last = batch.back().seq;
    sent += batch.size();
  }
  if (sent > 0) {
    if (error = stream->CloseConfirmed(Timeout(options_.io_timeout));
        !error.empty()) {
      return Failed(error);
    }
  }
  if (last > acked_) Confirm(last);
  return true;
}

bool SyslogSink::WaitForMore(std::int64_t last,
                             std::chrono::steady_clock::time_point confirm_by,
                             TlsStream& stream) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until =
      std::min(Clock::now() + options_.idle_timeout, confirm_by);
  // The peer may close while we wait: looked at every so often, so that a
  // restarted peer is noticed before the next records are written.
  constexpr auto kPeerCheck = std::chrono::milliseconds(200);
  std::unique_lock lock(mu_);
  for (;;) {
    if (committed_head_ > last) return true;
    if (stopping_) return false;
    const Clock::time_point now = Clock::now();
    if (now >= until) return false;
    cv_.wait_until(lock, std::min(until, now + kPeerCheck));
    if (stopping_ || committed_head_ > last) continue;
    lock.unlock();
    const bool gone = stream.PeerGone();
    lock.lock();
    if (gone) return false;
  }
}

void SyslogSink::NextBatch(std::int64_t from, std::vector<ShipRecord>& out,
                           std::int64_t& skipped_to) {
  std::int64_t to = 0;
  {
    std::lock_guard lock(mu_);
    while (!queue_.empty() && queue_.front().seq < from) queue_.pop_front();
    std::int64_t next = from;
    while (!queue_.empty() && queue_.front().seq == next &&
           out.size() < options_.batch_records) {
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
      ++next;
    }
    if (!out.empty()) return;
    to = queue_.empty() ? committed_head_ : queue_.front().seq - 1;
  }
  if (to < from) return;
  source_->Read(from, to, options_.batch_records, out);
  if (out.empty()) skipped_to = to;
}

void SyslogSink::Confirm(std::int64_t seq) {
  acked_ = seq;
  try {
    WriteShippedSeq(options_.state_file, seq);
  } catch (const std::exception& e) {
    // The peer has the records; a restart would send them again.
    Log("error", "audit syslog state not written", e.what());
  }
  shipped_seq_ = seq;
  if (hooks_.shipped) hooks_.shipped(seq);
  if (failing_) {
    failing_ = false;
    Log("info", "audit syslog shipping resumed",
        options_.address + " took records up to seq " + std::to_string(seq));
  }
}

bool SyslogSink::Failed(const std::string& error) {
  if (hooks_.failed) hooks_.failed();
  if (!failing_) {
    failing_ = true;
    Log("warn",
        "audit syslog shipping failed; retrying from the last record "
        "the peer took",
        options_.address + ": " + error);
  }
  return false;
}

void SyslogSink::Log(std::string_view level, std::string_view message,
                     const std::string& detail) const {
  if (hooks_.log) hooks_.log(level, message, detail);
}

void ShippingObserver::OnCommit(const std::vector<const Record*>& records,
                                std::chrono::nanoseconds duration) {
  if (next_) next_->OnCommit(records, duration);
  sink_.Offer(records);
}

void ShippingObserver::OnFailure(std::size_t records) {
  if (next_) next_->OnFailure(records);
}

void ShippingObserver::OnQueueDepth(std::size_t depth) {
  if (next_) next_->OnQueueDepth(depth);
}

}  // namespace agni::audit
