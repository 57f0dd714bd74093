// The console's sessions file (gateway/console/session_store.h): readable by
// its owner only, whatever the umask, and the sign-in flows it keeps are
// good for one callback.
#include "gateway/console/session_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace agni::testing {
namespace {

// The process's umask for one test (umask is process-wide; unit tests run
// on one thread).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(SessionStoreTest, TheFileAndItsWalAndShmAreOwnerOnly) {
  ScopedUmask loose(022);
  TempDir dir;
  const std::string path = dir.File("sessions.db");
  {
    SessionStore store(path);
    store.Insert("hash", StoredSession{"alice", "[]", "bearer", "csrf", 1, 1});
    ASSERT_TRUE(store.Find("hash"));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      SCOPED_TRACE(suffix);
      EXPECT_EQ(ModeOf(path + suffix), 0600u);
    }
  }
}

TEST(SessionStoreTest, AFileLeftReadableByAnEarlierVersionIsNarrowed) {
  ScopedUmask loose(022);
  TempDir dir;
  const std::string path = dir.File("sessions.db");
  { SessionStore first(path); }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  SessionStore store(path);
  EXPECT_EQ(ModeOf(path), 0600u);
}

TEST(SessionStoreTest, ALoginFlowIsTakenOnce) {
  TempDir dir;
  SessionStore store(dir.File("sessions.db"));
  store.InsertLoginFlow("state", {"corp", "browser", "nonce", "verifier", 100},
                        0, 10);
  const std::optional<LoginFlow> flow = store.TakeLoginFlow("state");
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->provider, "corp");
  EXPECT_EQ(flow->nonce, "nonce");
  EXPECT_EQ(flow->code_verifier, "verifier");
  EXPECT_FALSE(store.TakeLoginFlow("state"));
}

TEST(SessionStoreTest, LoginFlowsStayBounded) {
  TempDir dir;
  SessionStore store(dir.File("sessions.db"));
  for (int i = 0; i < 5; ++i) {
    store.InsertLoginFlow("state-" + std::to_string(i),
                          {"corp", "b", "n", "v", 100 + i}, 0, 3);
  }
  // The three newest are kept.
  EXPECT_FALSE(store.TakeLoginFlow("state-0"));
  EXPECT_FALSE(store.TakeLoginFlow("state-1"));
  EXPECT_TRUE(store.TakeLoginFlow("state-4"));
  // Flows older than the lifetime go at the next insert.
  store.InsertLoginFlow("late", {"corp", "b", "n", "v", 1000}, 500, 3);
  EXPECT_FALSE(store.TakeLoginFlow("state-2"));
  EXPECT_TRUE(store.TakeLoginFlow("late"));
}

}  // namespace
}  // namespace agni::testing
