#include "server/card_call_log.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstring>

#include "core/bytes.h"
#include "store/rocksdb_status.h"

namespace capillary::server {
namespace {

using store::from_rocksdb;

constexpr std::uint8_t record_version = 1;
constexpr std::uint8_t flag_refund = 1;
constexpr std::uint8_t flag_reversal = 2;
// A card token, bank code or reference longer than this is not one the API accepts.
constexpr std::uint32_t text_bytes_max = 4096;

void append_text(std::string* out, const std::string& text) {
  append(out, static_cast<std::uint32_t>(text.size()));
  out->append(text);
}

bool take_text(std::string_view* in, std::string* text) {
  std::uint32_t size = 0;
  if (!take(in, &size) || size > text_bytes_max || in->size() < size) return false;
  text->assign(in->data(), size);
  in->remove_prefix(size);
  return true;
}

std::string key_of(std::uint64_t key) {
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(key >> shift));
  return bytes;
}

std::uint64_t key_from(std::string_view bytes) {
  std::uint64_t key = 0;
  for (char byte : bytes) key = key << 8 | static_cast<std::uint8_t>(byte);
  return key;
}

}  // namespace

bool operator==(const CardCall& a, const CardCall& b) {
  return std::memcmp(&a.command, &b.command, sizeof a.command) == 0 && a.card.token == b.card.token &&
         a.card.bank_code == b.card.bank_code && a.amount == b.amount && a.reference == b.reference &&
         a.refund == b.refund && a.channel == b.channel && a.reversal == b.reversal;
}

std::string encode_card_call(const CardCall& call) {
  std::string out;
  append(&out, record_version);
  append(&out, static_cast<std::uint8_t>((call.refund ? flag_refund : 0) | (call.reversal ? flag_reversal : 0)));
  append(&out, call.channel);
  append(&out, call.amount);
  append(&out, call.command);
  append_text(&out, call.card.token);
  append_text(&out, call.card.bank_code);
  append_text(&out, call.reference);
  return out;
}

Status decode_card_call(std::string_view bytes, CardCall* call) {
  std::uint8_t version = 0, flags = 0;
  const bool read = take(&bytes, &version) && version == record_version && take(&bytes, &flags) &&
                    (flags & ~(flag_refund | flag_reversal)) == 0 && take(&bytes, &call->channel) &&
                    take(&bytes, &call->amount) && take(&bytes, &call->command) &&
                    take_text(&bytes, &call->card.token) && take_text(&bytes, &call->card.bank_code) &&
                    take_text(&bytes, &call->reference) && bytes.empty();
  if (!read) return Status::corruption("card call log: a record is not one this version wrote");
  call->refund = (flags & flag_refund) != 0;
  call->reversal = (flags & flag_reversal) != 0;
  return Status::ok();
}

Status CardCallLog::open(const std::filesystem::path& directory, std::unique_ptr<CardCallLog>* out) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return Status::io_error(fmt::format("create {}: {}", directory.string(), error.message()));
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (Status status = from_rocksdb(rocksdb::DB::Open(options, directory.string(), &db), "open card call log");
      !status.is_ok()) {
    return status;
  }
  std::unique_ptr<CardCallLog> log(new CardCallLog(db));
  if (Status status = log->load(); !status.is_ok()) return status;
  *out = std::move(log);
  return Status::ok();
}

CardCallLog::~CardCallLog() { delete db_; }

Status CardCallLog::put(std::uint64_t key, const CardCall& call) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return from_rocksdb(db_->Put(options, key_of(key), encode_card_call(call)), "write card call log");
}

Status CardCallLog::erase(std::uint64_t key) {
  return from_rocksdb(db_->Delete(rocksdb::WriteOptions(), key_of(key)), "erase from card call log");
}

Status CardCallLog::load() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != sizeof(std::uint64_t)) return Status::corruption("card call log: a key is not 8 bytes");
    CardCall call;
    if (Status status = decode_card_call(it->value().ToStringView(), &call); !status.is_ok()) return status;
    unfinished_.emplace_back(key_from(it->key().ToStringView()), std::move(call));
  }
  return from_rocksdb(it->status(), "read card call log");
}

}  // namespace capillary::server
