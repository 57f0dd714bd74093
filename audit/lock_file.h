// The lock that keeps a second gateway off a database: an exclusive flock on
// "<database>.lock", held for as long as its owner lives. Readers such as
// `audit verify` only ask whether it is held.
#pragma once

#include <string>

namespace agni::audit {

// An exclusive flock on a lock file; released when destroyed. Owned by one
// object; not copyable.
class FileLock {
 public:
  // Creates `lock_path` if needed (mode 0600) and locks it without waiting.
  // Throws std::runtime_error: "cannot open" when the file cannot be opened,
  // `in_use` when another process holds the lock.
  FileLock(const std::string& lock_path, const std::string& in_use);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Whether some process holds an exclusive lock on `lock_path` now.
  static bool IsHeld(const std::string& lock_path);

 private:
  int fd_ = -1;
};

}  // namespace agni::audit
