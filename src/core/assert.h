#pragma once
// Invariant checks that stay on in release builds. A broken invariant means the state can no longer
// be trusted with money, so the process stops instead of carrying on with corrupt state.

#include <cstdio>
#include <cstdlib>

namespace capillary {

[[noreturn]] inline void assertion_failed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "capillary: invariant broken: %s at %s:%d\n", expression, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace capillary

#define CAP_ASSERT(expression)                                                  \
  do {                                                                          \
    if (!(expression)) [[unlikely]]                                             \
      ::capillary::assertion_failed(#expression, __FILE__, __LINE__);          \
  } while (0)
