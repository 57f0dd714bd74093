// /readyz means "a release could be recorded now": the real binary with its
// audit log on a small file system. When the log cannot commit (the file
// system is full, the database is read-only), /readyz is 503 naming the
// audit, releases are 503 audit_unavailable and nothing is forwarded; when
// commits work again, /readyz is 200 without a release having to prove it.
// The old probe (an empty transaction) passed in both cases. Needs root to
// mount; skipped with a message otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "tests/ops/ops_gateway.h"

namespace agni::testing {
namespace {

using namespace std::chrono_literals;

// A file system mounted on a fresh folder, unmounted with the object.
class Mount {
 public:
  // `how`: "tmpfs" (size_kib of RAM) or "ext4" (an image file of size_kib on
  // a loop device, for chattr).
  Mount(const std::string& how, int size_kib) {
    point_ = dir_.Mkdir("mnt");
    if (how == "tmpfs") {
      const std::string size = "size=" + std::to_string(size_kib) + "k";
      mounted_ =
          ::mount("tmpfs", point_.c_str(), "tmpfs", 0, size.c_str()) == 0;
      if (!mounted_) error_ = std::string("mount tmpfs: ") + strerror(errno);
      return;
    }
    const std::string image = dir_.File("fs.img");
    const CommandResult made =
        RunCommand({"sh", "-c",
                    "truncate -s " + std::to_string(size_kib) + "K '" + image +
                        "' && mkfs.ext4 -q '" + image + "' && mount -o loop '" +
                        image + "' '" + point_ + "'"},
                   60s);
    mounted_ = made.exit_code == 0;
    if (!mounted_) error_ = made.output;
  }
  ~Mount() {
    if (mounted_) ::umount2(point_.c_str(), MNT_DETACH);
  }

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string File(const std::string& name) const {
    return point_ + "/" + name;
  }

 private:
  TempDir dir_;
  std::string point_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system holding `path` until a write fails (bounded).
bool FillUp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  const std::string chunk(4096, 'x');
  bool full = false;
  for (int i = 0; i < 100'000 && !full; ++i) {
    full = ::write(fd, chunk.data(), chunk.size()) !=
           static_cast<ssize_t>(chunk.size());
  }
  // Whatever partial room was left goes too.
  for (int i = 0; i < 4096 && ::write(fd, "x", 1) == 1; ++i) {
  }
  ::close(fd);
  return full;
}

GatewayProcess::Options AuditOn(const std::string& upstream,
                                const std::string& audit_path) {
  return OpsGateway({.upstream_base_url = upstream,
                     .extra_config = {{"audit", {{"path", audit_path}}}}});
}

int Release(GatewayProcess& gw, const std::string& number,
            std::string* reason = nullptr) {
  auto res = gw.Client().Delete(ReleasePath(number), Bearer(gw.alice().token));
  if (!res) return -1;
  if (reason != nullptr) {
    const auto j = nlohmann::json::parse(res->body, nullptr, false);
    *reason = j.is_object() ? j.value("reason", "") : "";
  }
  return res->status;
}

std::pair<int, std::string> Readyz(const GatewayProcess& gw) {
  auto res = gw.AdminClient().Get("/readyz");
  return res ? std::make_pair(res->status, res->body)
             : std::make_pair(-1, std::string());
}

TEST(ReadinessTest, FullFileSystemIsNotReadyUntilThereIsRoomAgain) {
  Mount fs("tmpfs", 1024);
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs: " << fs.error();
  FakeUpstream upstream;
  GatewayProcess gw(AuditOn(upstream.url(), fs.File("audit.db")));
  ASSERT_EQ(Release(gw, "+15551240001"), 200);
  ASSERT_EQ(Readyz(gw).first, 200);

  ASSERT_TRUE(FillUp(fs.File("filler")));
  std::string reason;
  EXPECT_EQ(Release(gw, "+15551240002", &reason), 503);
  EXPECT_EQ(reason, "audit_unavailable");
  EXPECT_EQ(upstream.Received().size(), 1u);
  // Asked twice: the probe itself must not turn readiness back on.
  for (int i = 0; i < 2; ++i) {
    const auto [status, body] = Readyz(gw);
    EXPECT_EQ(status, 503) << body;
    EXPECT_NE(body.find("audit"), std::string::npos) << body;
  }

  std::filesystem::remove(fs.File("filler"));
  EXPECT_TRUE(WaitFor([&] { return Readyz(gw).first == 200; }, 10s))
      << Readyz(gw).second;
  EXPECT_EQ(Release(gw, "+15551240003"), 200);
  EXPECT_EQ(upstream.Received().size(), 2u);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0)) << gw.Log();
}

TEST(ReadinessTest, ReadOnlyDatabaseIsNotReadyUntilWritableAgain) {
  Mount fs("ext4", 4096);
  if (!fs.mounted())
    GTEST_SKIP() << "cannot mount an ext4 image: " << fs.error();
  FakeUpstream upstream;
  const std::string db = fs.File("audit.db");
  GatewayProcess gw(AuditOn(upstream.url(), db));
  ASSERT_EQ(Readyz(gw).first, 200);

  // Immutable: even root's already-open descriptors can no longer write.
  const std::vector<std::string> files = {db, db + "-wal"};
  for (const std::string& f : files) {
    ASSERT_EQ(RunCommand({"chattr", "+i", f}, 30s).exit_code, 0) << f;
  }
  {
    const auto [status, body] = Readyz(gw);
    EXPECT_EQ(status, 503) << body;
    EXPECT_NE(body.find("audit"), std::string::npos) << body;
  }
  std::string reason;
  EXPECT_EQ(Release(gw, "+15551240004", &reason), 503);
  EXPECT_EQ(reason, "audit_unavailable");
  EXPECT_TRUE(upstream.Received().empty());
  EXPECT_EQ(Readyz(gw).first, 503);

  for (const std::string& f : files) {
    ASSERT_EQ(RunCommand({"chattr", "-i", f}, 30s).exit_code, 0) << f;
  }
  EXPECT_TRUE(WaitFor([&] { return Readyz(gw).first == 200; }, 10s))
      << Readyz(gw).second;
  EXPECT_EQ(Release(gw, "+15551240005"), 200);
  EXPECT_EQ(upstream.Received().size(), 1u);
  EXPECT_EQ(gw.Stop(), std::optional<int>(0)) << gw.Log();
}

}  // namespace
}  // namespace agni::testing
