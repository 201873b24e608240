#pragma once
// A thread that attempts each queued item until the attempt says it is done, waiting between
// attempts from `first` and doubling up to `longest`. What the bank did not answer in time is
// asked again this way (payout_resolver.h, card_retries.h). The queue stays short, so the soonest
// item is found by a scan.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/this_thread.h"

namespace capillary::server {

template <typename Item>
class BackoffWorker {
 public:
  using Clock = std::chrono::steady_clock;
  // True when the item is done; false to try it again later. Called on the worker's thread only.
  using Attempt = std::function<bool(const Item&)>;

  BackoffWorker(std::string thread_name, std::chrono::seconds longest, Attempt attempt)
      : longest_(longest), attempt_(std::move(attempt)) {
    thread_ = std::thread([this, name = std::move(thread_name)] {
      name_this_thread(name);
      run();
    });
  }
  ~BackoffWorker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  BackoffWorker(const BackoffWorker&) = delete;
  BackoffWorker& operator=(const BackoffWorker&) = delete;

  // First attempted `first` from now; an item with a key already queued is dropped.
  void add(std::uint64_t key, Item item, std::chrono::seconds first) {
    {
      std::lock_guard lock(mutex_);
      const bool queued = std::any_of(queue_.begin(), queue_.end(), [&](const Queued& q) { return q.key == key; });
      if (queued) return;
      queue_.push_back({key, std::move(item), Clock::now() + first, first});
    }
    wake_.notify_one();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  struct Queued {
    std::uint64_t key;
    Item item;
    Clock::time_point due;
    std::chrono::seconds interval;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      const auto soonest = std::min_element(queue_.begin(), queue_.end(),
                                            [](const Queued& a, const Queued& b) { return a.due < b.due; });
      if (soonest == queue_.end()) {
        wake_.wait(lock);
        continue;
      }
      if (soonest->due > Clock::now()) {
        wake_.wait_until(lock, soonest->due);
        continue;
      }
      const std::uint64_t key = soonest->key;
      const Item item = soonest->item;
      lock.unlock();
      const bool done = attempt_(item);
      lock.lock();
      const auto found = std::find_if(queue_.begin(), queue_.end(), [&](const Queued& q) { return q.key == key; });
      if (done) {
        queue_.erase(found);
      } else {
        found->interval = std::min(longest_, 2 * found->interval);
        found->due = Clock::now() + found->interval;
      }
    }
  }

  const std::chrono::seconds longest_;
  const Attempt attempt_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Queued> queue_;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  std::thread thread_;         // last: it starts once the rest is built
};

}  // namespace capillary::server
