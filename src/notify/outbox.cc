#include "notify/outbox.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "core/assert.h"
#include "core/limits.h"
#include "notify/callback_url.h"

namespace capillary::notify {
namespace {

Status from_rocksdb(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::ok();
  if (status.IsCorruption()) {
    return Status::corruption(fmt::format("notify outbox {}: {}", what, status.ToString()));
  }
  return Status::io_error(fmt::format("notify outbox {}: {}", what, status.ToString()));
}

// The smallest key after every key that starts with `prefix`.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<std::uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  CAP_ASSERT(!prefix.empty());
  prefix.back() = static_cast<char>(static_cast<std::uint8_t>(prefix.back()) + 1);
  return prefix;
}

Pending decode_event(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  CAP_ASSERT(key.size() == event_key_bytes && key[0] == event_tag);
  CAP_ASSERT(value.size() == sizeof(EventRecord));
  Pending pending;
  pending.order = {get_u64(key.data() + 1), get_u64(key.data() + 9)};
  pending.sequence = get_u64(key.data() + 17);
  std::memcpy(&pending.record, value.data(), sizeof(EventRecord));
  CAP_ASSERT(pending.record.state_bytes <= state_bytes_max);
  return pending;
}

EventRecord encode_event(const Event& event) {
  EventRecord record{};
  record.amount = event.amount;
  record.timestamp_ns = event.timestamp_ns;
  record.state_bytes = static_cast<std::uint32_t>(event.state.size());
  std::memcpy(record.state, event.state.data(), event.state.size());
  return record;
}

rocksdb::Slice slice_of(const EventRecord& record) {
  return {reinterpret_cast<const char*>(&record), sizeof record};
}

// The first key in [lower, upper), if any: a bounded iterator so that RocksDB stops at `upper`
// instead of walking the tombstones of delivered events beyond it.
Status first_in_range(rocksdb::DB* db, const std::string& lower, const std::string& upper,
                      std::optional<std::pair<std::string, std::string>>* out) {
  rocksdb::ReadOptions options;
  const rocksdb::Slice upper_bound(upper);
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options));
  it->Seek(lower);
  out->reset();
  if (it->Valid()) out->emplace(it->key().ToString(), it->value().ToString());
  return from_rocksdb(it->status(), "seek");
}

Status merchants_with_url(rocksdb::DB* db, absl::flat_hash_set<std::uint64_t>* merchants) {
  rocksdb::ReadOptions options;
  const std::string upper = prefix_end(std::string(1, url_tag));
  const rocksdb::Slice upper_bound(upper);
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options));
  for (it->Seek(std::string(1, url_tag)); it->Valid(); it->Next()) {
    CAP_ASSERT(it->key().size() == 1 + sizeof(std::uint64_t));
    merchants->insert(get_u64(it->key().data() + 1));
  }
  return from_rocksdb(it->status(), "read callback URLs");
}

Status count_events(rocksdb::DB* db, std::uint64_t* count) {
  rocksdb::ReadOptions options;
  const std::string upper = prefix_end(std::string(1, event_tag));
  const rocksdb::Slice upper_bound(upper);
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options));
  *count = 0;
  for (it->Seek(std::string(1, event_tag)); it->Valid(); it->Next()) ++*count;
  return from_rocksdb(it->status(), "count");
}

}  // namespace

Event Pending::event() const {
  return {order.merchant_id, order.order_id,
          sequence,          std::string(record.state, record.state_bytes),
          record.amount,     record.timestamp_ns};
}

Outbox::Outbox(rocksdb::DB* db, bool sync) : db_(db), sync_(sync) {}

Outbox::~Outbox() { delete db_; }

Status Outbox::open(const std::filesystem::path& directory, bool sync,
                    std::unique_ptr<Outbox>* out) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return Status::io_error(fmt::format("create {}: {}", directory.string(), error.message()));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (Status status = from_rocksdb(rocksdb::DB::Open(options, directory.string(), &db), "open");
      !status.is_ok()) {
    return status;
  }
  std::unique_ptr<Outbox> outbox(new Outbox(db, sync));
  std::uint64_t pending = 0;
  if (Status status = count_events(db, &pending); !status.is_ok()) return status;
  outbox->pending_ = pending;
  if (Status status = merchants_with_url(db, &outbox->merchants_with_url_); !status.is_ok()) {
    return status;
  }
  *out = std::move(outbox);
  return Status::ok();
}

Status Outbox::check(const Event& event, EnqueueResult* result) const {
  const OrderKey order{event.merchant_id, event.order_id};
  std::string value;
  auto read = db_->Get(rocksdb::ReadOptions(), order_prefix(acknowledged_tag, order), &value);
  if (!read.ok() && !read.IsNotFound()) return from_rocksdb(read, "read acknowledged mark");
  if (read.ok()) {
    CAP_ASSERT(value.size() == sizeof(std::uint64_t));
    std::uint64_t acknowledged = 0;
    std::memcpy(&acknowledged, value.data(), sizeof acknowledged);
    if (event.sequence <= acknowledged) {
      *result = EnqueueResult::duplicate;
      return Status::ok();
    }
  }
  // The event itself or a later one of its order, whichever comes first.
  std::optional<std::pair<std::string, std::string>> found;
  if (Status status = first_in_range(db_, event_key(order, event.sequence),
                                     prefix_end(order_prefix(event_tag, order)), &found);
      !status.is_ok()) {
    return status;
  }
  if (!found) {
    *result = EnqueueResult::enqueued;
  } else {
    const bool same = get_u64(found->first.data() + 17) == event.sequence;
    *result = same ? EnqueueResult::duplicate : EnqueueResult::out_of_order;
  }
  return Status::ok();
}

Status Outbox::enqueue(std::span<const Event> events, std::span<EnqueueResult> results) {
  CAP_ASSERT(events.size() == results.size());
  if (events.size() > batch_events_max) {
    return Status::invalid_argument(fmt::format("notify: {} events in one enqueue, at most {}",
                                                events.size(), batch_events_max));
  }
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  // What this batch adds, which the database cannot know yet: the latest sequence per order.
  absl::flat_hash_map<OrderKey, std::uint64_t> batch_latest;
  std::uint64_t added = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& event = events[i];
    const OrderKey order{event.merchant_id, event.order_id};
    if (event.merchant_id == 0 || event.sequence == 0 || !valid_state(event.state)) {
      results[i] = EnqueueResult::invalid_event;
      continue;
    }
    if (!merchants_with_url_.contains(event.merchant_id)) {
      results[i] = EnqueueResult::no_callback_url;
      continue;
    }
    if (const auto latest = batch_latest.find(order); latest != batch_latest.end()) {
      results[i] = event.sequence == latest->second  ? EnqueueResult::duplicate
                   : event.sequence < latest->second ? EnqueueResult::out_of_order
                                                     : EnqueueResult::enqueued;
    } else if (Status status = check(event, &results[i]); !status.is_ok()) {
      return status;
    }
    if (results[i] != EnqueueResult::enqueued) continue;
    batch_latest[order] = event.sequence;
    const EventRecord record = encode_event(event);
    CAP_ASSERT(batch.Put(event_key(order, event.sequence), slice_of(record)).ok());
    ++added;
  }
  if (added == 0) return Status::ok();
  rocksdb::WriteOptions options;
  options.sync = sync_;
  if (Status status = from_rocksdb(db_->Write(options, &batch), "enqueue"); !status.is_ok()) {
    return status;
  }
  pending_.fetch_add(added, std::memory_order_relaxed);
  return Status::ok();
}

Status Outbox::set_callback_url(std::uint64_t merchant_id, std::string_view url) {
  CAP_ASSERT(!url.empty() && url.size() <= callback_url_bytes_max);
  rocksdb::WriteOptions options;
  options.sync = sync_;
  std::lock_guard lock(write_mutex_);
  if (Status status = from_rocksdb(
          db_->Put(options, url_key(merchant_id), rocksdb::Slice(url.data(), url.size())),
          "set callback URL");
      !status.is_ok()) {
    return status;
  }
  merchants_with_url_.insert(merchant_id);
  return Status::ok();
}

Status Outbox::callback_url(std::uint64_t merchant_id, std::string* url) const {
  url->clear();
  const auto status = db_->Get(rocksdb::ReadOptions(), url_key(merchant_id), url);
  return status.IsNotFound() ? Status::ok() : from_rocksdb(status, "read callback URL");
}

Status Outbox::head(const OrderKey& order, std::optional<Pending>* out) const {
  const std::string prefix = order_prefix(event_tag, order);
  std::optional<std::pair<std::string, std::string>> found;
  Status status = first_in_range(db_, prefix, prefix_end(prefix), &found);
  out->reset();
  if (status.is_ok() && found) *out = decode_event(found->first, found->second);
  return status;
}

Status Outbox::next_order_head(const OrderKey& from, std::optional<Pending>* out) const {
  std::optional<std::pair<std::string, std::string>> found;
  Status status = first_in_range(db_, order_prefix(event_tag, from),
                                 prefix_end(std::string(1, event_tag)), &found);
  out->reset();
  if (status.is_ok() && found) *out = decode_event(found->first, found->second);
  return status;
}

Status Outbox::acknowledge(const Pending& head) {
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  CAP_ASSERT(batch.Delete(event_key(head.order, head.sequence)).ok());
  CAP_ASSERT(
      batch
          .Put(order_prefix(acknowledged_tag, head.order),
               rocksdb::Slice(reinterpret_cast<const char*>(&head.sequence), sizeof head.sequence))
          .ok());
  if (Status status = from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch), "acknowledge");
      !status.is_ok()) {
    return status;
  }
  CAP_ASSERT(pending_.load(std::memory_order_relaxed) > 0);
  pending_.fetch_sub(1, std::memory_order_relaxed);
  return Status::ok();
}

Status Outbox::defer(const Pending& head) {
  CAP_ASSERT(head.record.attempts > 0 && head.record.due_ns > 0);
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  CAP_ASSERT(batch.Put(event_key(head.order, head.sequence), slice_of(head.record)).ok());
  CAP_ASSERT(batch.Put(retry_key(head.record.due_ns, head.order), rocksdb::Slice()).ok());
  return from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch), "defer");
}

Status Outbox::first_retry(std::optional<Retry>* out) const {
  const std::string prefix(1, retry_tag);
  std::optional<std::pair<std::string, std::string>> found;
  Status status = first_in_range(db_, prefix, prefix_end(prefix), &found);
  out->reset();
  if (status.is_ok() && found) {
    CAP_ASSERT(found->first.size() == retry_key_bytes);
    const char* key = found->first.data();
    *out = Retry{get_u64(key + 1), {get_u64(key + 9), get_u64(key + 17)}};
  }
  return status;
}

Status Outbox::erase_retry(const Retry& retry) {
  return from_rocksdb(db_->Delete(rocksdb::WriteOptions(), retry_key(retry.due_ns, retry.order)),
                      "erase retry");
}

}  // namespace capillary::notify
