#include "gateway/app/cpu_scheduling.h"

#include <sched.h>

#include <cerrno>
#include <cstring>

namespace agni {

std::string UseCpuScheduling(ServerConfig::CpuScheduling policy) {
  const int linux_policy =
      policy == ServerConfig::CpuScheduling::kBatch ? SCHED_BATCH : SCHED_OTHER;
  // Already so (systemd's CPUSchedulingPolicy=, chrt): no call that a
  // seccomp filter denying @resources would refuse.
  if (sched_getscheduler(0) == linux_policy) return "";
  const sched_param param{};  // priority 0, the only one of both policies
  if (sched_setscheduler(0, linux_policy, &param) != 0) {
    return std::strerror(errno);
  }
  return "";
}

const char* CpuSchedulingName(ServerConfig::CpuScheduling policy) {
  return policy == ServerConfig::CpuScheduling::kBatch ? "batch" : "other";
}

}  // namespace agni
