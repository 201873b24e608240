#pragma once
// Helpers the in-process benchmarks (`capillary bench ...`) share.

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string_view>

namespace capillary::cli {

// Reports why benchmark `bench` could not go on; returns its exit code.
inline int bench_failed(std::string_view bench, std::string_view what) {
  fmt::print(stderr, "bench {}: {}\n", bench, what);
  return 1;
}

inline double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace capillary::cli
