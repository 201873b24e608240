#include "server/json_codec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>

#include "core/assert.h"
#include "core/limits.h"

namespace capillary::server {
namespace {

namespace ondemand = simdjson::ondemand;

// How a field's JSON value becomes bytes in its record.
enum class Kind : std::uint8_t { u64, i64, u32, u16, account_flags, transfer_flags };

struct Field {
  std::string_view name;
  Kind kind;
  std::size_t offset;  // of the member inside the record
};

// Listed in the order the API documents them; clients that send that order get every key matched
// on the first comparison (see find_field).
constexpr std::array<Field, 7> account_fields{{
    {"id", Kind::u64, offsetof(ledger::AccountSpec, id)},
    {"owner", Kind::u64, offsetof(ledger::AccountSpec, owner)},
    {"user_data", Kind::u64, offsetof(ledger::AccountSpec, user_data)},
    {"credit_limit", Kind::i64, offsetof(ledger::AccountSpec, credit_limit)},
    {"ledger", Kind::u32, offsetof(ledger::AccountSpec, ledger)},
    {"code", Kind::u16, offsetof(ledger::AccountSpec, code)},
    {"flags", Kind::account_flags, offsetof(ledger::AccountSpec, flags)},
}};

constexpr std::array<Field, 10> transfer_fields{{
    {"id", Kind::u64, offsetof(ledger::Transfer, id)},
    {"debit_account_id", Kind::u64, offsetof(ledger::Transfer, debit_account_id)},
    {"credit_account_id", Kind::u64, offsetof(ledger::Transfer, credit_account_id)},
    {"amount", Kind::i64, offsetof(ledger::Transfer, amount)},
    {"pending_id", Kind::u64, offsetof(ledger::Transfer, pending_id)},
    {"user_data", Kind::u64, offsetof(ledger::Transfer, user_data)},
    {"timeout_s", Kind::u32, offsetof(ledger::Transfer, timeout_s)},
    {"ledger", Kind::u32, offsetof(ledger::Transfer, ledger)},
    {"code", Kind::u16, offsetof(ledger::Transfer, code)},
    {"flags", Kind::transfer_flags, offsetof(ledger::Transfer, flags)},
}};

// Bit i of a "seen" mask is field i of its table.
constexpr std::uint32_t bit(std::size_t field) { return 1u << field; }

// The mask of the named fields. A name missing from the table sets bit `count`, which the
// static_asserts below reject at compile time.
template <std::size_t count>
constexpr std::uint32_t mask_of(const std::array<Field, count>& fields,
                                std::initializer_list<std::string_view> names) {
  std::uint32_t mask = 0;
  for (std::string_view name : names) {
    std::size_t i = 0;
    while (i < count && fields[i].name != name) ++i;
    mask |= bit(i);
  }
  return mask;
}

constexpr std::uint32_t account_required = mask_of(account_fields, {"id", "ledger", "code"});
constexpr std::uint32_t transfer_required_always = mask_of(transfer_fields, {"id"});
// A new transfer names both sides, what and in which currency; a post or void inherits all that
// from its hold and names the hold instead.
constexpr std::uint32_t transfer_required_new =
    mask_of(transfer_fields, {"debit_account_id", "credit_account_id", "amount", "ledger", "code"});
constexpr std::uint32_t transfer_required_settle = mask_of(transfer_fields, {"pending_id"});
static_assert(account_required < bit(account_fields.size()));
static_assert((transfer_required_always | transfer_required_new | transfer_required_settle) <
              bit(transfer_fields.size()));

struct FlagName {
  std::string_view name;
  std::uint16_t bit;
};
constexpr std::array<FlagName, 3> account_flag_names{{
    {"linked", ledger::account_linked},
    {"debits_must_not_exceed_credits", ledger::account_debits_must_not_exceed_credits},
    {"credits_must_not_exceed_debits", ledger::account_credits_must_not_exceed_debits},
}};
constexpr std::array<FlagName, 4> transfer_flag_names{{
    {"linked", ledger::transfer_linked},
    {"pending", ledger::transfer_pending},
    {"post_pending", ledger::transfer_post_pending},
    {"void_pending", ledger::transfer_void_pending},
}};

// Where the value being parsed sits, spelled out only when an error names it.
struct Location {
  std::string_view list;  // "transfers"
  std::size_t index;
  std::string_view field;  // empty for the element itself

  std::string path() const {
    return field.empty() ? fmt::format("{}[{}]", list, index)
                         : fmt::format("{}[{}].{}", list, index, field);
  }
};

bool fail(ApiError* error, std::string_view code, std::string message, std::string field,
          unsigned http_status = 400) {
  *error = ApiError{http_status, code, std::move(message), std::move(field)};
  return false;
}

bool fail_malformed(ApiError* error, simdjson::error_code code) {
  return fail(error, "malformed_json",
              fmt::format("the body is not valid JSON: {}", simdjson::error_message(code)), {});
}

std::string_view json_type_name(ondemand::json_type type) {
  switch (type) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "unknown";
}

// Whether a value whose first byte says `type` really is one: type() looks at that byte only, so
// "tru" reads as a boolean until it is checked. Arrays and objects are checked as they are read.
template <typename Value>
bool valid_scalar(Value& value, ondemand::json_type type) {
  switch (type) {
    case ondemand::json_type::null: {
      bool is_null = false;
      return !value.is_null().get(is_null) && is_null;
    }
    case ondemand::json_type::boolean: {
      bool parsed;
      return !value.get_bool().get(parsed);
    }
    case ondemand::json_type::number: {
      ondemand::number parsed;
      return !value.get_number().get(parsed);
    }
    case ondemand::json_type::string: {
      std::string_view parsed;
      return !value.get_string().get(parsed);
    }
    case ondemand::json_type::array:
    case ondemand::json_type::object:
      break;
  }
  return true;
}

// A value of the wrong type, or not a valid value at all.
template <typename Value>
bool fail_type(ApiError* error, const std::string& path, std::string_view expected, Value& value,
               ondemand::json_type got) {
  if (!valid_scalar(value, got)) {
    return fail(error, "malformed_json",
                fmt::format("the body is not valid JSON{}{}", path.empty() ? "" : " at ", path),
                path);
  }
  std::string subject = path.empty() ? std::string("the body") : path;
  return fail(error, "wrong_type",
              fmt::format("{} must be {}, not {}", subject, expected, json_type_name(got)), path);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the run of digits `text` starts with.
std::size_t digits_prefix(std::string_view text) {
  std::size_t count = 0;
  while (count < text.size() && is_digit(text[count])) ++count;
  return count;
}

bool is_digits(std::string_view text) {
  return !text.empty() && digits_prefix(text) == text.size();
}

// The text of an integer sent as a JSON number or as a decimal string: an optional '-' and
// digits. A number with a fraction or exponent is a wrong type even when its value is whole
// (1e3, 2.0): money and ids are never approximations.
bool integer_text(ondemand::value& value, const Location& at, std::string_view* text,
                  ApiError* error) {
  ondemand::json_type type;
  if (auto code = value.type().get(type)) return fail_malformed(error, code);
  if (type == ondemand::json_type::number) {
    std::string_view token = value.raw_json_token();
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                              token.back() == '\r')) {
      token.remove_suffix(1);
    }
    const std::string_view digits = token.starts_with('-') ? token.substr(1) : token;
    const std::size_t count = digits_prefix(digits);
    if (count < digits.size() &&
        (digits[count] == '.' || digits[count] == 'e' || digits[count] == 'E')) {
      return fail(error, "wrong_type", fmt::format("{} must be an integer", at.path()), at.path());
    }
    // JSON forbids leading zeros in numbers; a string may carry them.
    if (count == 0 || count != digits.size() || (count > 1 && digits.front() == '0')) {
      return fail(error, "malformed_json", fmt::format("{} is not a valid number", at.path()),
                  at.path());
    }
    *text = token;
    return true;
  }
  if (type == ondemand::json_type::string) {
    std::string_view string;
    if (auto code = value.get_string().get(string)) return fail_malformed(error, code);
    if (!is_digits(string.starts_with('-') ? string.substr(1) : string)) {
      return fail(
          error, "wrong_type",
          fmt::format("{} must be an integer: a number or a string of decimal digits", at.path()),
          at.path());
    }
    *text = string;
    return true;
  }
  return fail_type(error, at.path(), "an integer (a number or a decimal string)", value, type);
}

template <typename Integer>
bool read_integer(ondemand::value& value, const Location& at, Integer* out, ApiError* error) {
  std::string_view text;
  if (!integer_text(value, at, &text, error)) return false;
  if constexpr (std::is_unsigned_v<Integer>) {
    if (text.starts_with('-')) {
      return fail(error, "out_of_range", fmt::format("{} must not be negative", at.path()),
                  at.path());
    }
  }
  Integer parsed{};
  auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (code != std::errc() || end != text.data() + text.size()) {
    return fail(
        error, "out_of_range",
        fmt::format("{} must be from {} to {}", at.path(), std::numeric_limits<Integer>::min(),
                    std::numeric_limits<Integer>::max()),
        at.path());
  }
  *out = parsed;
  return true;
}

// Flags as an array of names (["pending","linked"]) or as the bit set itself. Bits without a name
// are passed on for the ledger to answer `reserved_flag`, like any other rule an event breaks.
bool read_flags(ondemand::value& value, const Location& at, std::span<const FlagName> names,
                std::uint16_t* out, ApiError* error) {
  ondemand::json_type type;
  if (auto code = value.type().get(type)) return fail_malformed(error, code);
  if (type != ondemand::json_type::array) return read_integer(value, at, out, error);

  ondemand::array array;
  if (auto code = value.get_array().get(array)) return fail_malformed(error, code);
  std::uint16_t flags = 0;
  std::size_t index = 0;
  for (auto element : array) {
    auto path = [&] { return fmt::format("{}[{}]", at.path(), index); };
    ondemand::value item;
    if (auto code = std::move(element).get(item)) return fail_malformed(error, code);
    ondemand::json_type item_type;
    if (auto code = item.type().get(item_type)) return fail_malformed(error, code);
    if (item_type != ondemand::json_type::string) {
      return fail_type(error, path(), "a flag name", item, item_type);
    }
    std::string_view flag;
    if (auto code = item.get_string().get(flag)) return fail_malformed(error, code);
    const FlagName* found = nullptr;
    for (const FlagName& candidate : names) {
      if (candidate.name == flag) found = &candidate;
    }
    if (found == nullptr) {
      std::string known;
      for (const FlagName& candidate : names) {
        known += known.empty() ? "" : ", ";
        known += candidate.name;
      }
      return fail(error, "unknown_flag",
                  fmt::format("{} is not a flag of this record; known flags: {}", path(), known),
                  path());
    }
    flags |= found->bit;
    ++index;
  }
  *out = flags;
  return true;
}

// Members are written through memcpy: the records are standard layout and the offsets come from
// offsetof, so this is a typed store without a twin parser per record type.
template <typename Integer>
bool read_member(ondemand::value& value, const Location& at, std::byte* member, ApiError* error) {
  Integer parsed{};
  if (!read_integer(value, at, &parsed, error)) return false;
  std::memcpy(member, &parsed, sizeof(parsed));
  return true;
}

bool read_field(ondemand::value& value, const Field& field, const Location& at, std::byte* record,
                ApiError* error) {
  std::byte* member = record + field.offset;
  switch (field.kind) {
    case Kind::u64:
      return read_member<std::uint64_t>(value, at, member, error);
    case Kind::i64:
      return read_member<std::int64_t>(value, at, member, error);
    case Kind::u32:
      return read_member<std::uint32_t>(value, at, member, error);
    case Kind::u16:
      return read_member<std::uint16_t>(value, at, member, error);
    case Kind::account_flags:
    case Kind::transfer_flags: {
      const auto names = field.kind == Kind::account_flags
                             ? std::span<const FlagName>(account_flag_names)
                             : std::span<const FlagName>(transfer_flag_names);
      std::uint16_t flags = 0;
      if (!read_flags(value, at, names, &flags, error)) return false;
      std::memcpy(member, &flags, sizeof(flags));
      return true;
    }
  }
  CAP_ASSERT(false);
  return false;
}

// Tries the field after the previous one first: clients send fields in a fixed order, so a batch
// costs one key comparison per field instead of a scan of the table.
template <std::size_t count>
std::size_t find_field(const std::array<Field, count>& fields, std::string_view key,
                       std::size_t expected) {
  if (expected < count && fields[expected].name == key) return expected;
  for (std::size_t i = 0; i < count; ++i) {
    if (fields[i].name == key) return i;
  }
  return count;
}

// One record object; `seen` returns which fields it had.
template <typename Record, std::size_t count>
bool parse_record(ondemand::value& element, const std::array<Field, count>& fields, Location at,
                  Record* record, std::uint32_t* seen, ApiError* error) {
  static_assert(count <= 32 && std::is_standard_layout_v<Record>);
  ondemand::json_type type;
  if (auto code = element.type().get(type)) return fail_malformed(error, code);
  if (type != ondemand::json_type::object) {
    return fail_type(error, at.path(), "an object", element, type);
  }
  ondemand::object object;
  if (auto code = element.get_object().get(object)) return fail_malformed(error, code);

  *record = Record{};
  *seen = 0;
  std::size_t expected = 0;
  for (auto member : object) {
    ondemand::field field;
    if (auto code = std::move(member).get(field)) return fail_malformed(error, code);
    std::string_view key;
    if (auto code = field.unescaped_key().get(key)) return fail_malformed(error, code);
    const std::size_t slot = find_field(fields, key, expected);
    at.field = key;
    if (slot == count) {
      return fail(error, "unknown_field",
                  fmt::format("{} is not a field of this record", at.path()), at.path());
    }
    if (*seen & bit(slot)) {
      return fail(error, "duplicate_field", fmt::format("{} appears twice", at.path()), at.path());
    }
    *seen |= bit(slot);
    expected = slot + 1;
    if (!read_field(field.value(), fields[slot], at, reinterpret_cast<std::byte*>(record), error)) {
      return false;
    }
  }
  return true;
}

template <std::size_t count>
bool check_required(std::uint32_t seen, std::uint32_t required,
                    const std::array<Field, count>& fields, Location at, ApiError* error) {
  const std::uint32_t missing = required & ~seen;
  if (missing == 0) return true;
  at.field = fields[static_cast<std::size_t>(__builtin_ctz(missing))].name;
  return fail(error, "missing_field", fmt::format("{} is required", at.path()), at.path());
}

static_assert(json_padding_bytes >= simdjson::SIMDJSON_PADDING);

// Makes sure simdjson may read its padding past the end of the body.
simdjson::padded_string_view padded(std::string& body) {
  if (body.capacity() - body.size() < json_padding_bytes) {
    body.reserve(body.size() + json_padding_bytes);
  }
  return simdjson::padded_string_view(body.data(), body.size(), body.capacity());
}

// Parses {"<list>":[element, ...]}, calling `parse_element(value, index)` for each element.
template <typename ParseElement>
bool parse_list(std::string& body, std::string_view list, ApiError* error,
                ParseElement&& parse_element) {
  // One parser per io thread: its buffers grow to the largest body seen and are then reused.
  thread_local ondemand::parser parser;
  ondemand::document document;
  if (auto code = parser.iterate(padded(body)).get(document)) return fail_malformed(error, code);

  // The on-demand parser stops at the end of the first value; anything after it (a second
  // object, a stray bracket) would otherwise pass unnoticed. raw_json() spans the root value and
  // the whitespace after it, so it must reach the end of the body.
  std::string_view root;
  if (auto code = document.raw_json().get(root)) return fail_malformed(error, code);
  if (root.data() + root.size() != body.data() + body.size()) {
    return fail(error, "malformed_json", "the body has text after its JSON object", {});
  }
  document.rewind();

  ondemand::json_type type;
  if (auto code = document.type().get(type)) return fail_malformed(error, code);
  if (type != ondemand::json_type::object) {
    return fail_type(error, {}, "an object", document, type);
  }
  ondemand::object object;
  if (auto code = document.get_object().get(object)) return fail_malformed(error, code);

  bool found = false;
  for (auto member : object) {
    ondemand::field field;
    if (auto code = std::move(member).get(field)) return fail_malformed(error, code);
    std::string_view key;
    if (auto code = field.unescaped_key().get(key)) return fail_malformed(error, code);
    if (key != list) {
      return fail(
          error, "unknown_field",
          fmt::format("{} is not a field of this request; send {{\"{}\":[...]}}", key, list),
          std::string(key));
    }
    if (found)
      return fail(error, "duplicate_field", fmt::format("{} appears twice", key), std::string(key));
    found = true;

    ondemand::value value = field.value();
    ondemand::json_type list_type;
    if (auto code = value.type().get(list_type)) return fail_malformed(error, code);
    if (list_type != ondemand::json_type::array) {
      return fail_type(error, std::string(list), "an array", value, list_type);
    }
    ondemand::array array;
    if (auto code = value.get_array().get(array)) return fail_malformed(error, code);
    std::size_t index = 0;
    for (auto element : array) {
      ondemand::value element_value;
      if (auto code = std::move(element).get(element_value)) return fail_malformed(error, code);
      if (index == batch_events_max) {
        return fail(error, "too_many_events",
                    fmt::format("{} holds more than {} entries; split it into several requests",
                                list, batch_events_max),
                    std::string(list), 413);
      }
      if (!parse_element(element_value, index)) return false;
      ++index;
    }
    if (index == 0) {
      return fail(error, "empty_batch", fmt::format("{} is empty", list), std::string(list));
    }
  }
  if (!found) {
    return fail(error, "missing_field", fmt::format("{} is required", list), std::string(list));
  }
  return true;
}

// Room for the events a body of this size can hold, without reserving a full batch for a body
// of one event. The shortest event that passes validation takes more than 32 bytes.
std::size_t events_estimate(std::size_t body_bytes) {
  return std::min(batch_events_max, body_bytes / 32 + 1);
}

void write_u64(std::string& out, std::uint64_t value) {
  fmt::format_to(std::back_inserter(out), "\"{}\"", value);
}

void write_flags(std::string& out, std::uint16_t flags, std::span<const FlagName> names) {
  out += '[';
  bool first = true;
  for (const FlagName& flag : names) {
    if ((flags & flag.bit) == 0) continue;
    out += first ? "\"" : ",\"";
    out += flag.name;
    out += '"';
    first = false;
  }
  out += ']';
}

template <typename Result>
void write_results_of(std::string& out, std::span<const Result> results) {
  // Plain appends rather than a format call per entry: this is every batch's response.
  out.reserve(out.size() + 16 + results.size() * 32);
  out += "{\"results\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    out += i == 0 ? "{\"index\":" : ",{\"index\":";
    const fmt::format_int index(i);
    out.append(index.data(), index.size());
    out += ",\"result\":\"";
    out += ledger::name(results[i]);
    out += '"';
    if (results[i] != Result::ok) {
      out += ",\"description\":";
      write_string(out, ledger::description(results[i]));
    }
    out += '}';
  }
  out += "]}";
}

}  // namespace

bool parse_accounts(std::string& body, std::vector<ledger::AccountSpec>* events, ApiError* error) {
  events->clear();
  events->reserve(events_estimate(body.size()));
  return parse_list(body, "accounts", error, [&](ondemand::value& element, std::size_t index) {
    const Location at{"accounts", index, {}};
    ledger::AccountSpec& spec = events->emplace_back();
    std::uint32_t seen = 0;
    return parse_record(element, account_fields, at, &spec, &seen, error) &&
           check_required(seen, account_required, account_fields, at, error);
  });
}

bool parse_transfers(std::string& body, std::vector<ledger::Transfer>* events, ApiError* error) {
  events->clear();
  events->reserve(events_estimate(body.size()));
  return parse_list(body, "transfers", error, [&](ondemand::value& element, std::size_t index) {
    const Location at{"transfers", index, {}};
    ledger::Transfer& transfer = events->emplace_back();
    std::uint32_t seen = 0;
    if (!parse_record(element, transfer_fields, at, &transfer, &seen, error)) return false;
    const bool settles =
        (transfer.flags & (ledger::transfer_post_pending | ledger::transfer_void_pending)) != 0;
    return check_required(
        seen,
        transfer_required_always | (settles ? transfer_required_settle : transfer_required_new),
        transfer_fields, at, error);
  });
}

bool parse_ids(std::string& body, std::vector<std::uint64_t>* ids, ApiError* error) {
  ids->clear();
  ids->reserve(events_estimate(body.size()));
  return parse_list(body, "ids", error, [&](ondemand::value& element, std::size_t index) {
    return read_integer(element, Location{"ids", index, {}}, &ids->emplace_back(), error);
  });
}

bool parse_decimal(std::string_view text, std::uint64_t* value) {
  if (!is_digits(text)) return false;
  auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return code == std::errc() && end == text.data() + text.size();
}

void write_error(std::string& out, const ApiError& error) {
  out += "{\"error\":{\"code\":";
  write_string(out, error.code);
  out += ",\"message\":";
  write_string(out, error.message);
  out += ",\"field\":";
  if (error.field.empty()) {
    out += "null";
  } else {
    write_string(out, error.field);
  }
  out += "}}";
}

void write_results(std::string& out, std::span<const ledger::CreateAccountResult> results) {
  write_results_of(out, results);
}

void write_results(std::string& out, std::span<const ledger::CreateTransferResult> results) {
  write_results_of(out, results);
}

void write_balances(std::string& out, const ledger::Balances& balances) {
  // What the holder may spend, for display: posted credits less posted and held debits. Summed
  // in 128 bits because each term may be near the limits of 64.
  const __int128 available = static_cast<__int128>(balances.credits_posted) -
                             balances.debits_posted - balances.debits_pending;
  fmt::format_to(std::back_inserter(out),
                 "{{\"debits_pending\":\"{}\",\"debits_posted\":\"{}\",\"credits_pending\":\"{}\","
                 "\"credits_posted\":\"{}\",\"available\":\"{}\"}}",
                 balances.debits_pending, balances.debits_posted, balances.credits_pending,
                 balances.credits_posted, available);
}

void write_account(std::string& out, const ledger::Account& account) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"owner\":\"{}\",\"user_data\":\"{}\",\"credit_limit\":\"{}\","
                 "\"ledger\":{},\"code\":{},\"flags\":",
                 account.id, account.owner, account.user_data, account.credit_limit, account.ledger,
                 account.code);
  write_flags(out, account.flags, account_flag_names);
  out += ",\"timestamp\":";
  write_u64(out, account.timestamp);
  out += ",\"balances\":";
  write_balances(out, ledger::balances_of(account));
  out += '}';
}

void write_transfer(std::string& out, const ledger::TransferRecord& record) {
  const ledger::Transfer& transfer = record.transfer;
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"debit_account_id\":\"{}\",\"credit_account_id\":\"{}\","
                 "\"amount\":\"{}\",\"pending_id\":\"{}\",\"user_data\":\"{}\",\"timeout_s\":{},"
                 "\"ledger\":{},\"code\":{},\"flags\":",
                 transfer.id, transfer.debit_account_id, transfer.credit_account_id,
                 transfer.amount, transfer.pending_id, transfer.user_data, transfer.timeout_s,
                 transfer.ledger, transfer.code);
  write_flags(out, transfer.flags, transfer_flag_names);
  fmt::format_to(std::back_inserter(out), ",\"timestamp\":\"{}\",\"status\":\"{}\"}}",
                 record.timestamp, name(record.status));
}

void write_statement_line(std::string& out, std::uint64_t account_id,
                          const store::StatementLine& line, const ledger::TransferRecord& transfer) {
  const bool debit = transfer.transfer.debit_account_id == account_id;
  fmt::format_to(std::back_inserter(out),
                 "{{\"timestamp\":\"{}\",\"direction\":\"{}\",\"expired\":{},\"transfer\":",
                 line.timestamp, debit ? "debit" : "credit", line.expired != 0);
  write_transfer(out, transfer);
  out += ",\"balances_after\":";
  write_balances(out, line.balances_after);
  out += '}';
}

void write_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string_view name(ledger::PendingStatus status) {
  switch (status) {
    case ledger::PendingStatus::none:
      return "none";
    case ledger::PendingStatus::pending:
      return "pending";
    case ledger::PendingStatus::posted:
      return "posted";
    case ledger::PendingStatus::voided:
      return "voided";
    case ledger::PendingStatus::expired:
      return "expired";
  }
  return "unknown";
}

}  // namespace capillary::server
