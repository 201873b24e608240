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

std::uint64_t apply_batch(State& state, const journal::EntryHeader& header,
                          ReplayBuffers& buffers) noexcept {
  std::uint64_t next = header.timestamp + state.ledger.expire(header.timestamp);
  next += state.payments.advance(next);
  switch (header.kind) {
    case journal::EntryKind::create_accounts:
      buffers.account_results.resize(header.event_count);
      state.ledger.create_accounts(buffers.accounts, next, buffers.account_results);
      next += header.event_count;
      break;
    case journal::EntryKind::create_transfers:
      buffers.transfer_results.resize(header.event_count);
      state.ledger.create_transfers(buffers.transfers, next, buffers.transfer_results);
      next += header.event_count;
      break;
    case journal::EntryKind::payments:
      buffers.outcomes.resize(header.event_count);
      next += state.payments.apply(buffers.commands, next, buffers.outcomes);
      break;
    case journal::EntryKind::tick:
      break;
  }
  return next == header.timestamp ? header.timestamp : next - 1;
}

Status replay_entry(State& state, const journal::EntryHeader& header,
                    std::span<const std::byte> body, ReplayBuffers& buffers,
                    std::uint64_t* last_timestamp) {
  if (state.hash() != header.state_hash) {
    return Status::corruption(fmt::format(
        "replay diverged before journal entry {}: state hash {:016x}, the entry recorded {:016x}",
        header.sequence, state.hash(), header.state_hash));
  }
  Status decoded = Status::ok();
  switch (header.kind) {
    case journal::EntryKind::create_accounts:
      decoded = decode_body(header, body, &buffers.accounts);
      break;
    case journal::EntryKind::create_transfers:
      decoded = decode_body(header, body, &buffers.transfers);
      break;
    case journal::EntryKind::payments:
      decoded = decode_body(header, body, &buffers.commands);
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
  *last_timestamp = apply_batch(state, header, buffers);
  return Status::ok();
}

}  // namespace capillary::engine
