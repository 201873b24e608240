#pragma once
// Names the calling thread, so `top -H`, `perf` and /proc/PID/task/*/comm tell the engine from
// the journal, the io threads and the helpers that map memory ahead of them.

#include <pthread.h>

#include <string>

namespace capillary {

// Linux keeps 15 characters of a thread's name; a longer one is cut there.
inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace capillary
