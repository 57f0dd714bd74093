// The scheduling policy of `serve`'s threads (server.cpu_scheduling), set
// once at start on the main thread before any other thread exists: every
// thread started after it inherits the policy. Not called by the in-process
// tests (they share a process with the test framework).
#pragma once

#include <string>

#include "gateway/config/config.h"

namespace agni {

// Sets the calling thread's policy (SCHED_BATCH or SCHED_OTHER, nice value
// unchanged). Neither needs a privilege; a sandbox that forbids the call
// leaves the policy as it was. Returns why it could not, or "".
std::string UseCpuScheduling(ServerConfig::CpuScheduling policy);

// "batch" or "other", as the config and the log spell it.
const char* CpuSchedulingName(ServerConfig::CpuScheduling policy);

}  // namespace agni
