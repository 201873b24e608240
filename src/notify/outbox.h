#pragma once
// The notifier's durable state in its own RocksDB database (format in outbox_format.h): the
// undelivered events, the acknowledgement marks that make enqueue idempotent, the retry index and
// the merchants' callback URLs. Thread-safe; writes that must not interleave with enqueue's
// checks (acknowledge) take the same lock.

#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "core/status.h"
#include "notify/event.h"
#include "notify/outbox_format.h"

namespace rocksdb {
class DB;
}

namespace capillary::notify {

// The first undelivered event of an order, as stored.
struct Pending {
  OrderKey order;
  std::uint64_t sequence = 0;
  EventRecord record{};
  Event event() const;
};

// A retry index entry: `order` may be retried from `due_ns` on.
struct Retry {
  std::uint64_t due_ns = 0;
  OrderKey order;
};

class Outbox {
 public:
  // Opens (creating when absent) the database in `directory`. With `sync`, enqueue returns only
  // once its events are on disk; acknowledgements and retry bookkeeping are never synced, since
  // losing one only means a delivery is repeated.
  static Status open(const std::filesystem::path& directory, bool sync,
                     std::unique_ptr<Outbox>* out);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stores every event whose result is `enqueued` in one write. results.size() == events.size().
  Status enqueue(std::span<const Event> events, std::span<EnqueueResult> results);

  Status set_callback_url(std::uint64_t merchant_id, std::string_view url);
  // Leaves `url` empty when the merchant has none.
  Status callback_url(std::uint64_t merchant_id, std::string* url) const;

  // The order's first undelivered event; empty when it has none.
  Status head(const OrderKey& order, std::optional<Pending>* out) const;
  // The first event of the first order at or after `from` in key order; empty past the last.
  Status next_order_head(const OrderKey& from, std::optional<Pending>* out) const;

  // Removes `head` and raises its order's acknowledged mark.
  Status acknowledge(const Pending& head);
  // Stores `head.record` (its attempts and due time) and indexes the order for retry at due_ns.
  Status defer(const Pending& head);
  // The earliest retry entry; empty when none.
  Status first_retry(std::optional<Retry>* out) const;
  Status erase_retry(const Retry& retry);

  // Undelivered events: counted at open, then kept by enqueue and acknowledge.
  std::uint64_t pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  Outbox(rocksdb::DB* db, bool sync);
  Status check(const Event& event, EnqueueResult* result) const;

  rocksdb::DB* db_;
  bool sync_;
  std::mutex write_mutex_;
  // Merchants with a callback URL, read at open and kept by set_callback_url (under write_mutex_):
  // enqueue asks it for every merchant of a batch, which as a read of the database was a tenth of
  // the engine thread's time at the 12-12-6 peak.
  absl::flat_hash_set<std::uint64_t> merchants_with_url_;
  std::atomic<std::uint64_t> pending_{0};
};

}  // namespace capillary::notify
