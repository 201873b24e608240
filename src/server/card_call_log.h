#pragma once
// The card calls sent and not yet finished, on disk (card-calls/ under the data directory, its own
// RocksDB database). A call may move money at the bank, and a caller answered 202 pending was
// told the platform will finish it; both must outlive the process. So each call is written,
// synced, before it is sent, and again with its channel before a 202, and removed once finished.
// At start the server reads what is left and finishes those calls (card_retries.h).
//
// One record per call, keyed by the retry queue's key:
//   key u64 big-endian -> version u8, flags u8 (1 refund, 2 reversal), channel u32, amount i64,
//                         Command (200 bytes), then token, bank code and reference, each a u32
//                         length and its bytes. Integers in the machine's byte order, as the
//                         journal's records are.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "channels/gateway.h"
#include "core/status.h"
#include "payments/command.h"

namespace rocksdb {
class DB;
}

namespace capillary::server {

inline constexpr std::string_view card_calls_directory_name = "card-calls";

// A card charge or refund sent to the bank and not yet finished.
struct CardCall {
  payments::Command command;  // journaled with the bank's answer
  channels::Card card;
  std::int64_t amount = 0;
  std::string reference;
  bool refund = false;
  // The channel the first call went to: the bank that may have acted.
  std::uint32_t channel = 0;
  bool reversal = false;  // a refund of a charge that was never journaled: nothing to journal

  friend bool operator==(const CardCall& a, const CardCall& b);
};

std::string encode_card_call(const CardCall& call);
// Corruption when `bytes` is not a record encode_card_call wrote.
Status decode_card_call(std::string_view bytes, CardCall* call);

class CardCallLog {
 public:
  // Opens (creating when absent) the database in `directory` and reads every record in it: a
  // record that cannot be read fails the open.
  static Status open(const std::filesystem::path& directory, std::unique_ptr<CardCallLog>* out);
  ~CardCallLog();
  CardCallLog(const CardCallLog&) = delete;
  CardCallLog& operator=(const CardCallLog&) = delete;

  // Returns once the record is on disk.
  Status put(std::uint64_t key, const CardCall& call);
  // Not synced: a removal lost to a crash only sends a finished call again, which the bank
  // answers as the same operation and the journal as a replay.
  Status erase(std::uint64_t key);
  // The calls a previous process left unfinished, as read at open, by key; once.
  std::vector<std::pair<std::uint64_t, CardCall>> take_unfinished() { return std::move(unfinished_); }

 private:
  explicit CardCallLog(rocksdb::DB* db) : db_(db) {}
  Status load();

  rocksdb::DB* db_;
  std::vector<std::pair<std::uint64_t, CardCall>> unfinished_;
};

}  // namespace capillary::server
