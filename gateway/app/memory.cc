#include "gateway/app/memory.h"

#include <malloc.h>

#include <cstdlib>

namespace agni {
namespace {
constexpr int kArenas = 4;
constexpr int kMmapThreshold = 256 * 1024;
}  // namespace

void BoundProcessMemory() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, kArenas);
  }
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  }
}

}  // namespace agni
