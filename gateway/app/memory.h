// Process-wide allocator settings for `serve`, applied once at start before
// any thread exists. Not called by the in-process tests (they share a
// process with the test framework).
#pragma once

namespace agni {

// glibc's malloc by default gives every thread that contends an arena of
// its own (up to 8 per core) and keeps what was freed in each; with the
// main listener's pool of worker threads, pages of the audit API then leave
// tens of MiB behind in arenas that are never reused. This caps the arenas
// (unless MALLOC_ARENA_MAX is set, which wins) and fixes the mmap threshold
// so that large buffers (a page of records, a response body) go back to the
// system when freed instead of raising the threshold and staying in a heap.
void BoundProcessMemory();

}  // namespace agni
