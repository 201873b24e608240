#pragma once
// The notifier's delivery loop: one thread running an io_context that owns every piece of
// scheduling state, so none of it needs a lock. Other threads only enqueue (through the outbox,
// which is thread-safe) and post the orders they touched.
//
// Orders reach the in-memory window three ways: right after enqueue when there is room; from the
// retry index when their wait is over; and from a scan of the outbox that runs while some order
// may be on disk and due but not in the window (after open, or after enqueue found the window
// full). The scan resumes where it stopped, wraps around, and visits a bounded number of orders
// per turn of the loop.

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <random>
#include <thread>

#include "auth/auth.h"
#include "notify/notifier.h"
#include "notify/outbox.h"

namespace capillary::notify {

class Notifier::Dispatcher {
 public:
  Dispatcher(const NotifierOptions& options, const auth::Keyring& keyring,
             std::unique_ptr<Outbox> outbox);
  ~Dispatcher();

  Outbox& outbox() { return *outbox_; }
  // Called after enqueue stored events of these orders.
  void enqueued(std::vector<OrderKey> orders);
  NotifierCounters counters() const;

 private:
  struct Slot {
    Pending head;
    bool in_flight = false;
  };

  void pump();
  void post_pump();
  void take_due_retries(std::uint64_t now_ns);
  void scan(std::uint64_t now_ns);
  void finish_scan_pass();
  // Puts an order in the window unless it is there or waiting for its retry time.
  void take(const Pending& head, std::uint64_t now_ns);
  void start(const OrderKey& order);
  void complete(const OrderKey& order, unsigned status);
  void acknowledged(Slot& slot);
  void failed(Slot& slot, std::uint64_t now_ns);
  void io_error(const Status& status);
  void arm_timer(std::uint64_t now_ns);
  bool room() const { return window_.size() < options_.window_orders_max; }
  void publish_gauges();

  const NotifierOptions options_;
  const auth::Keyring& keyring_;
  std::unique_ptr<Outbox> outbox_;

  // Touched only on the loop's thread.
  absl::flat_hash_map<OrderKey, Slot> window_;
  std::deque<OrderKey> ready_;
  std::size_t in_flight_ = 0;
  bool scan_needed_ = true;
  bool missed_during_pass_ = false;
  bool wrapped_ = false;
  OrderKey scan_cursor_{};
  OrderKey pass_start_{};
  bool pump_posted_ = false;
  std::uint64_t paused_until_ns_ = 0;
  std::mt19937_64 random_;

  std::atomic<std::uint64_t> delivered_{0}, retries_{0}, failures_{0}, io_errors_{0};
  std::atomic<std::uint64_t> in_flight_gauge_{0}, window_gauge_{0};

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
};

}  // namespace capillary::notify
