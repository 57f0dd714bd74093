// server.cpu_scheduling on the real binary: every thread of `serve`, those
// started at start and those started by the first requests, runs under the
// configured Linux policy, and the log says which. Under a seccomp filter
// that denies changing it (the systemd unit's), the policy already set is
// left alone without the call, and a refused call is an error, not a crash.
#include "gateway/app/cpu_scheduling.h"

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/ops/ops_gateway.h"

namespace agni::testing {
namespace {

// The scheduling policy of each thread of `pid` (those that end while being
// read are left out).
std::vector<int> ThreadPolicies(pid_t pid) {
  std::vector<int> out;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    const int policy = sched_getscheduler(std::stoi(entry.path().filename()));
    if (policy >= 0) out.push_back(policy);
  }
  return out;
}

// The cpu_scheduling field of the "cpu scheduling" log line ("" if none).
std::string LoggedPolicy(const GatewayProcess& gw) {
  for (const nlohmann::json& line : gw.LogLines()) {
    if (line.value("message", "") == "cpu scheduling") {
      return line.value("cpu_scheduling", "");
    }
  }
  return "";
}

// An allowed release and a denial, so that the threads the request path
// starts on demand (the upstream call, the audit's committer) exist too.
void ServeOneOfEach(const GatewayProcess& gw) {
  auto allowed =
      gw.Client().Delete(ReleasePath("+15551230001"), Bearer(gw.alice().token));
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  auto denied =
      gw.Client().Delete(ReleasePath("+19115550100"), Bearer(gw.alice().token));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403) << denied->body;
}

// Runs `body` in a child process whose sched_setscheduler calls get
// `action` from a seccomp filter; the child's exit status, or 128 + the
// signal that ended it.
int UnderFilter(std::uint32_t action, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sched_setscheduler, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      _exit(90);
    }
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(CpuSchedulingTest, APolicyAlreadySetNeedsNoCallAFilterWouldKill) {
  ASSERT_EQ(sched_getscheduler(0), SCHED_OTHER);
  const int status = UnderFilter(SECCOMP_RET_KILL_PROCESS, [] {
    return UseCpuScheduling(ServerConfig::CpuScheduling::kOther).empty() ? 0
                                                                         : 1;
  });
  EXPECT_EQ(status, 0);
  // The filter does kill a process that makes the call.
  EXPECT_EQ(
      UnderFilter(SECCOMP_RET_KILL_PROCESS,
                  [] {
                    (void)UseCpuScheduling(ServerConfig::CpuScheduling::kBatch);
                    return 0;
                  }),
      128 + SIGSYS);
}

TEST(CpuSchedulingTest, ARefusedCallIsReportedAndThePolicyKept) {
  const int status = UnderFilter(SECCOMP_RET_ERRNO | EPERM, [] {
    const std::string why =
        UseCpuScheduling(ServerConfig::CpuScheduling::kBatch);
    if (why != "Operation not permitted") return 1;
    return sched_getscheduler(0) == SCHED_OTHER ? 0 : 2;
  });
  EXPECT_EQ(status, 0);
}

TEST(CpuSchedulingTest, EveryThreadRunsBatchByDefault) {
  // The gateway would inherit a batch policy from this process.
  ASSERT_EQ(sched_getscheduler(0), SCHED_OTHER);
  FakeUpstream upstream;
  GatewayProcess gw(OpsGateway({.upstream_base_url = upstream.url()}));
  ServeOneOfEach(gw);
  const std::vector<int> policies = ThreadPolicies(gw.process().pid());
  ASSERT_GT(policies.size(), 8u);  // the 8 workers and more
  for (int policy : policies) EXPECT_EQ(policy, SCHED_BATCH);
  EXPECT_EQ(LoggedPolicy(gw), "batch");
}

// This thread under SCHED_BATCH for the object's life, so that a child
// started meanwhile inherits it; then back under the default.
class BatchWhileInScope {
 public:
  BatchWhileInScope() { EXPECT_EQ(sched_setscheduler(0, SCHED_BATCH, &p_), 0); }
  ~BatchWhileInScope() { sched_setscheduler(0, SCHED_OTHER, &p_); }

 private:
  const sched_param p_{};
};

TEST(CpuSchedulingTest, OtherPutsEveryThreadUnderTheDefaultPolicy) {
  FakeUpstream upstream;
  // Started under batch, so that only the gateway's own call can put its
  // threads under the default.
  std::optional<GatewayProcess> started;
  {
    BatchWhileInScope batch;
    started.emplace(OpsGateway(
        {.upstream_base_url = upstream.url(),
         .extra_config = {{"server", {{"cpu_scheduling", "other"}}}}}));
  }
  ASSERT_EQ(sched_getscheduler(0), SCHED_OTHER);
  GatewayProcess& gw = *started;
  ServeOneOfEach(gw);
  const std::vector<int> policies = ThreadPolicies(gw.process().pid());
  ASSERT_GT(policies.size(), 8u);
  for (int policy : policies) EXPECT_EQ(policy, SCHED_OTHER);
  EXPECT_EQ(LoggedPolicy(gw), "other");
}

}  // namespace
}  // namespace agni::testing
