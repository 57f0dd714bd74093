// The durability bound's unit: how long one small durable append takes on a
// disk. Appends BYTES bytes to a scratch file in DIR and fdatasync()s it,
// SAMPLES times, then prints the latency percentiles as one line (wrapped
// here):
//
//   FSYNC samples=2000 bytes=512 p50_ms=0.142 p99_ms=0.301 max_ms=1.2
//     cpu_us=66.6
//
// cpu_us is the process's CPU time (user and system) per append and sync:
// what one commit's write and sync cost the machine, whatever else the commit
// does; on the 2-vCPU VM of BENCHMARKS.md about 67 µs for 512 bytes and 131
// µs for 60,000 (issue 20).
//
// Usage: fsync_probe DIR [SAMPLES=2000] [BYTES=512]
// Built by tests/bench/bench.sh (never part of the CMake build); the file is
// removed at the end. A WAL commit of one audit record is such an append.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// This process's CPU time (user and system), in seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [SAMPLES] [BYTES]\n", argv[0]);
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/fsync_probe.scratch";
  const long samples = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 2000;
  const long bytes = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 512;
  if (samples < 10 || bytes < 1 || bytes > (1 << 20)) {
    std::fprintf(stderr, "SAMPLES must be >= 10, BYTES in 1..1048576\n");
    return 2;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    return 1;
  }
  const std::vector<char> block(static_cast<std::size_t>(bytes), 'a');
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(samples));
  // A few unmeasured rounds: the file's first blocks are allocated then.
  double cpu_started = 0;
  for (long i = -10; i < samples; ++i) {
    if (i == 0) cpu_started = CpuSeconds();
    const auto started = std::chrono::steady_clock::now();
    if (::write(fd, block.data(), block.size()) !=
            static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      ::close(fd);
      ::unlink(path.c_str());
      return 1;
    }
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    if (i >= 0) ms.push_back(took.count());
  }
  const double cpu_us =
      (CpuSeconds() - cpu_started) * 1e6 / static_cast<double>(samples);
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(
                                          q * static_cast<double>(ms.size())))];
  };
  std::printf(
      "FSYNC samples=%ld bytes=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      "cpu_us=%.1f\n",
      samples, bytes, at(0.50), at(0.99), ms.back(), cpu_us);
  return 0;
}
