#include "notify/notifier.h"

#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include "notify/callback_url.h"
#include "notify/dispatcher.h"

namespace capillary::notify {

Status Notifier::open(const NotifierOptions& options, const auth::Keyring& keyring,
                      std::unique_ptr<Notifier>* out) {
  if (options.connections_max == 0 || options.window_orders_max == 0 ||
      options.backoff.base.count() <= 0 || options.backoff.cap < options.backoff.base ||
      options.delivery_timeout.count() <= 0) {
    return Status::invalid_argument(
        "notify: connections and window must be >= 1, 0 < back-off base <= cap, timeout > 0");
  }
  std::unique_ptr<Outbox> outbox;
  if (Status status = Outbox::open(options.directory, options.sync, &outbox); !status.is_ok()) {
    return status;
  }
  std::unique_ptr<Notifier> notifier(new Notifier());
  notifier->dispatcher_ = std::make_unique<Dispatcher>(options, keyring, std::move(outbox));
  *out = std::move(notifier);
  return Status::ok();
}

Notifier::~Notifier() = default;

Status Notifier::enqueue(std::span<const Event> events, std::vector<EnqueueResult>* results) {
  results->assign(events.size(), EnqueueResult::enqueued);
  if (Status status = dispatcher_->outbox().enqueue(events, *results); !status.is_ok()) {
    return status;
  }
  absl::flat_hash_set<OrderKey> seen;
  std::vector<OrderKey> orders;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const OrderKey order{events[i].merchant_id, events[i].order_id};
    if ((*results)[i] == EnqueueResult::enqueued && seen.insert(order).second) {
      orders.push_back(order);
    }
  }
  if (!orders.empty()) dispatcher_->enqueued(std::move(orders));
  return Status::ok();
}

Status Notifier::set_callback_url(std::uint64_t merchant_id, std::string_view url) {
  if (!parse_callback_url(url)) {
    return Status::invalid_argument(fmt::format(
        "notify: not an http://host[:port]/path URL of at most {} bytes", callback_url_bytes_max));
  }
  return dispatcher_->outbox().set_callback_url(merchant_id, url);
}

Status Notifier::callback_url(std::uint64_t merchant_id, std::string* url) const {
  return dispatcher_->outbox().callback_url(merchant_id, url);
}

NotifierCounters Notifier::counters() const { return dispatcher_->counters(); }

}  // namespace capillary::notify
