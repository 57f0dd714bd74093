// How a fuzz target reports a broken contract: it names itself and the
// violation, then aborts, so libFuzzer keeps the input as a finding.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef AGNI_FUZZ_TARGET
#error "AGNI_FUZZ_TARGET must name the fuzz target (set by CMakeLists.txt)"
#endif

namespace agni::fuzz {

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "%s: contract violated: %s\n", AGNI_FUZZ_TARGET, what);
  std::abort();
}

}  // namespace agni::fuzz
