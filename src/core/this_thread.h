#pragma once
// What a thread says about itself to the kernel: its name, so `top -H`, `perf` and
// /proc/PID/task/*/comm tell the engine from the journal, the io threads and the helpers that map
// memory ahead of them; and its priority, for work that can wait behind the threads serving
// clients.

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

namespace capillary {

// Linux keeps 15 characters of a thread's name; a longer one is cut there.
inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// Nice `nice` (1 to 19) for the calling thread alone: Linux schedules threads as tasks of their own.
inline void lower_this_thread_priority(int nice) {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
}

}  // namespace capillary
