#include "notify/dispatcher.h"

#include <fmt/format.h>

#include <boost/asio/post.hpp>

#include "core/assert.h"
#include "core/this_thread.h"
#include "notify/callback_url.h"
#include "notify/http_post.h"

namespace capillary::notify {
namespace {

namespace net = boost::asio;

// Orders the scan visits per turn of the loop, so that a long scan never holds up completions.
constexpr std::size_t scan_orders_per_turn = 256;
// How long delivery pauses after the outbox failed a read or write: long enough not to spin on a
// full or broken disk, short enough to resume quickly once it recovers.
constexpr std::uint64_t io_error_pause_ns = 1'000'000'000;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

bool acknowledged_status(unsigned status) { return status >= 200 && status < 300; }

}  // namespace

Notifier::Dispatcher::Dispatcher(const NotifierOptions& options, const auth::Keyring& keyring,
                                 std::unique_ptr<Outbox> outbox)
    : options_(options),
      keyring_(keyring),
      outbox_(std::move(outbox)),
      random_(options.seed != 0 ? options.seed : std::random_device{}()),
      work_(io_.get_executor()),
      timer_(io_) {
  CAP_ASSERT(options_.connections_max >= 1 && options_.window_orders_max >= 1);
  post_pump();
  thread_ = std::thread([this] {
    name_this_thread("notify");
    io_.run();
  });
}

Notifier::Dispatcher::~Dispatcher() {
  io_.stop();
  thread_.join();
}

void Notifier::Dispatcher::post_pump() {
  if (pump_posted_) return;
  pump_posted_ = true;
  net::post(io_, [this] {
    pump_posted_ = false;
    pump();
  });
}

void Notifier::Dispatcher::enqueued(std::vector<OrderKey> orders) {
  net::post(io_, [this, orders = std::move(orders)] {
    const std::uint64_t now = now_ns();
    for (const OrderKey& order : orders) {
      if (window_.contains(order)) continue;
      if (!room()) {
        // Left on disk for the scan; a pass already under way may have gone past it.
        missed_during_pass_ = scan_needed_;
        scan_needed_ = true;
        continue;
      }
      std::optional<Pending> head;
      if (Status status = outbox_->head(order, &head); !status.is_ok()) {
        io_error(status);
        break;
      }
      if (head) take(*head, now);
    }
    pump();
  });
}

// One turn of the loop: refill the window, start what connections allow, wake up for the next
// retry. Runs after every event that can change any of these.
void Notifier::Dispatcher::pump() {
  const std::uint64_t now = now_ns();
  if (now >= paused_until_ns_) {
    take_due_retries(now);
    if (scan_needed_ && room()) scan(now);
    while (in_flight_ < options_.connections_max && !ready_.empty()) {
      const OrderKey order = ready_.front();
      ready_.pop_front();
      start(order);
    }
    if (scan_needed_ && room()) post_pump();
  }
  arm_timer(now);
  publish_gauges();
}

void Notifier::Dispatcher::take_due_retries(std::uint64_t now) {
  while (room()) {
    std::optional<Retry> retry;
    if (Status status = outbox_->first_retry(&retry); !status.is_ok()) return io_error(status);
    if (!retry || retry->due_ns > now) return;
    if (Status status = outbox_->erase_retry(*retry); !status.is_ok()) return io_error(status);
    std::optional<Pending> head;
    if (Status status = outbox_->head(retry->order, &head); !status.is_ok()) {
      return io_error(status);
    }
    if (head) take(*head, now);
  }
}

void Notifier::Dispatcher::scan(std::uint64_t now) {
  for (std::size_t visited = 0; visited < scan_orders_per_turn && room(); ++visited) {
    std::optional<Pending> head;
    if (Status status = outbox_->next_order_head(scan_cursor_, &head); !status.is_ok()) {
      return io_error(status);
    }
    if (!head && !wrapped_ && pass_start_ != OrderKey{}) {
      wrapped_ = true;
      scan_cursor_ = {};
      continue;
    }
    if (!head || (wrapped_ && head->order >= pass_start_)) return finish_scan_pass();
    take(*head, now);
    const OrderKey order = head->order;
    if (order.order_id != UINT64_MAX) {
      scan_cursor_ = {order.merchant_id, order.order_id + 1};
    } else if (order.merchant_id != UINT64_MAX) {
      scan_cursor_ = {order.merchant_id + 1, 0};
    } else {
      return finish_scan_pass();
    }
  }
}

void Notifier::Dispatcher::finish_scan_pass() {
  scan_needed_ = missed_during_pass_;
  missed_during_pass_ = false;
  wrapped_ = false;
  pass_start_ = scan_cursor_;
}

void Notifier::Dispatcher::take(const Pending& head, std::uint64_t now) {
  CAP_ASSERT(room());
  if (window_.contains(head.order) || head.record.due_ns > now) return;
  if (head.record.due_ns != 0) {
    // Its retry entry, if the retry index has not removed it already.
    if (Status status = outbox_->erase_retry({head.record.due_ns, head.order}); !status.is_ok()) {
      return io_error(status);
    }
  }
  window_.emplace(head.order, Slot{head, false});
  ready_.push_back(head.order);
  CAP_ASSERT(window_.size() <= options_.window_orders_max);
}

void Notifier::Dispatcher::start(const OrderKey& order) {
  const auto found = window_.find(order);
  CAP_ASSERT(found != window_.end() && !found->second.in_flight);
  Slot& slot = found->second;
  slot.in_flight = true;
  ++in_flight_;
  CAP_ASSERT(in_flight_ <= options_.connections_max);
  if (slot.head.record.attempts > 0) retries_.fetch_add(1, std::memory_order_relaxed);

  std::string url;
  const Status status = outbox_->callback_url(order.merchant_id, &url);
  const std::optional<CallbackUrl> parsed = parse_callback_url(url);
  if (!status.is_ok() || !parsed) {
    // Counted as a failed attempt: the order backs off like any other until a URL works.
    net::post(io_, [this, order] { complete(order, 0); });
    return;
  }
  const auth::Principal merchant{auth::PrincipalKind::merchant, order.merchant_id};
  const auto timestamp_s = static_cast<std::int64_t>(now_ns() / 1'000'000'000);
  HttpPost post{*parsed, {}, callback_body(slot.head.event())};
  post.headers = {
      {std::string(auth::header_key), auth::key_id(merchant)},
      {std::string(auth::header_timestamp), std::to_string(timestamp_s)},
      {std::string(auth::header_signature),
       keyring_.sign(merchant, "POST", parsed->target, timestamp_s, post.body)},
  };
  http_post(io_, std::move(post), options_.delivery_timeout,
            [this, order](unsigned status) { complete(order, status); });
}

void Notifier::Dispatcher::complete(const OrderKey& order, unsigned status) {
  CAP_ASSERT(in_flight_ > 0);
  --in_flight_;
  const auto found = window_.find(order);
  CAP_ASSERT(found != window_.end() && found->second.in_flight);
  if (acknowledged_status(status)) {
    acknowledged(found->second);
  } else {
    failed(found->second, now_ns());
  }
  pump();
}

void Notifier::Dispatcher::acknowledged(Slot& slot) {
  const Pending done = slot.head;
  if (Status status = outbox_->acknowledge(done); !status.is_ok()) {
    // Still in the outbox: the scan finds it again after the pause, and it is sent again.
    window_.erase(done.order);
    return io_error(status);
  }
  delivered_.fetch_add(1, std::memory_order_relaxed);
  std::optional<Pending> next;
  if (Status status = outbox_->head(done.order, &next); !status.is_ok()) {
    window_.erase(done.order);
    return io_error(status);
  }
  if (!next) {
    window_.erase(done.order);
    return;
  }
  // Events of an order are delivered strictly by sequence, one at a time.
  CAP_ASSERT(next->order == done.order && next->sequence > done.sequence);
  CAP_ASSERT(next->record.attempts == 0 && next->record.due_ns == 0);
  slot = Slot{*next, false};
  ready_.push_back(done.order);
}

void Notifier::Dispatcher::failed(Slot& slot, std::uint64_t now) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  Pending head = slot.head;
  window_.erase(head.order);
  head.record.attempts += 1;
  const auto delay = backoff_delay(options_.backoff, head.record.attempts, random_());
  head.record.due_ns =
      now + static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count());
  if (Status status = outbox_->defer(head); !status.is_ok()) return io_error(status);
}

void Notifier::Dispatcher::io_error(const Status& status) {
  io_errors_.fetch_add(1, std::memory_order_relaxed);
  fmt::print(stderr, "notify: {}; delivery pauses\n", status.message());
  paused_until_ns_ = now_ns() + io_error_pause_ns;
  // Whatever was dropped from the window on the way is on disk; look for it after the pause.
  missed_during_pass_ = scan_needed_;
  scan_needed_ = true;
}

void Notifier::Dispatcher::arm_timer(std::uint64_t now) {
  std::uint64_t wake_ns = 0;
  if (now < paused_until_ns_) {
    wake_ns = paused_until_ns_;
  } else {
    std::optional<Retry> retry;
    if (Status status = outbox_->first_retry(&retry); !status.is_ok()) {
      io_error(status);
      wake_ns = paused_until_ns_;
    } else if (retry) {
      wake_ns = retry->due_ns;
    }
  }
  // With the window full, a retry that is already due waits for a completion to make room.
  if (wake_ns == 0 || (wake_ns <= now && !room())) return;
  timer_.expires_after(std::chrono::nanoseconds(wake_ns > now ? wake_ns - now : 0));
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) pump();
  });
}

void Notifier::Dispatcher::publish_gauges() {
  in_flight_gauge_.store(in_flight_, std::memory_order_relaxed);
  window_gauge_.store(window_.size(), std::memory_order_relaxed);
}

NotifierCounters Notifier::Dispatcher::counters() const {
  return {outbox_->pending(),
          delivered_.load(std::memory_order_relaxed),
          retries_.load(std::memory_order_relaxed),
          failures_.load(std::memory_order_relaxed),
          io_errors_.load(std::memory_order_relaxed),
          in_flight_gauge_.load(std::memory_order_relaxed),
          window_gauge_.load(std::memory_order_relaxed)};
}

}  // namespace capillary::notify
