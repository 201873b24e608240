#include "engine/replay.h"

#include <fmt/format.h>

#include <cstring>

namespace capillary::engine {
namespace {

template <typename Event>
Status decode_body(const journal::EntryHeader& header, std::span<const std::byte> body,
                   std::vector<Event>* events) {
  if (header.body_bytes != std::uint64_t{header.event_count} * sizeof(Event)) {
    return Status::corruption(fmt::format("journal entry {}: {} bytes for {} events",
                                          header.sequence, header.body_bytes, header.event_count));
  }
  events->resize(header.event_count);
  std::memcpy(events->data(), body.data(), body.size());
  return Status::ok();
}

}  // namespace

std::uint64_t apply_batch(ledger::Ledger& ledger, const journal::EntryHeader& header,
                          ReplayBuffers& buffers) noexcept {
  const std::uint64_t first_event = header.timestamp + ledger.expire(header.timestamp);
  switch (header.kind) {
    case journal::EntryKind::create_accounts:
      buffers.account_results.resize(header.event_count);
      ledger.create_accounts(buffers.accounts, first_event, buffers.account_results);
      break;
    case journal::EntryKind::create_transfers:
      buffers.transfer_results.resize(header.event_count);
      ledger.create_transfers(buffers.transfers, first_event, buffers.transfer_results);
      break;
    case journal::EntryKind::tick:
      break;
  }
  const std::uint64_t used = first_event - header.timestamp + header.event_count;
  return used == 0 ? header.timestamp : header.timestamp + used - 1;
}

Status replay_entry(ledger::Ledger& ledger, const journal::EntryHeader& header,
                    std::span<const std::byte> body, ReplayBuffers& buffers,
                    std::uint64_t* last_timestamp) {
  if (ledger.state_hash() != header.state_hash) {
    return Status::corruption(fmt::format(
        "replay diverged before journal entry {}: state hash {:016x}, the entry recorded {:016x}",
        header.sequence, ledger.state_hash(), header.state_hash));
  }
  Status decoded = Status::ok();
  switch (header.kind) {
    case journal::EntryKind::create_accounts:
      decoded = decode_body(header, body, &buffers.accounts);
      break;
    case journal::EntryKind::create_transfers:
      decoded = decode_body(header, body, &buffers.transfers);
      break;
    case journal::EntryKind::tick:
      if (header.event_count != 0 || header.body_bytes != 0) {
        decoded = Status::corruption(fmt::format("journal entry {}: a tick with events", header.sequence));
      }
      break;
    default:
      decoded = Status::corruption(fmt::format("journal entry {}: unknown kind {}", header.sequence,
                                               static_cast<int>(header.kind)));
  }
  if (!decoded.is_ok()) return decoded;
  *last_timestamp = apply_batch(ledger, header, buffers);
  return Status::ok();
}

}  // namespace capillary::engine
