#pragma once
// Strict reading of a JSON request object, shared by the product APIs' parsers: every getter
// names its field, so an error says exactly which field is wrong, and finish() refuses unknown and
// repeated fields.

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/assert.h"
#include "payments/limits.h"
#include "server/json_codec.h"
#include "server/payment_json.h"

namespace capillary::server {

// Longest text field (order numbers, bill references, card tokens, bank codes, keys).
inline constexpr std::size_t text_bytes_max = 64;

inline ApiError field_error(std::string_view code, std::string message, std::string field) {
  return {400, code, std::move(message), std::move(field)};
}

// Most fields any request object has; a getter past it is a bug in the parser, not the request.
inline constexpr std::size_t object_fields_max = 24;

// A JSON object read strictly: each getter marks its field as known, and finish() refuses any
// other field and any field given twice. A field's path ("steps[3].funding.wallet") is only
// spelled out for an error message, so reading a well-formed object allocates nothing.
class Fields {
 public:
  // The request's top-level object.
  explicit Fields(simdjson::dom::object value) : object_(value) {}
  // Item `index` of the top-level array `array`.
  Fields(simdjson::dom::object value, std::string_view array, std::size_t index)
      : object_(value), segment_(array), index_(index) {}
  // The object in field `name` of `parent`, which must outlive it.
  Fields(simdjson::dom::object value, const Fields& parent, std::string_view name)
      : object_(value), parent_(&parent), segment_(name) {}

  std::string path(std::string_view name) const {
    std::string out = prefix();
    out += name;
    return out;
  }

  // A u64 as a JSON number or a decimal string. Absent: `*out` untouched, ok unless required.
  bool u64(std::string_view name, std::uint64_t* out, bool required, ApiError* error) {
    const std::optional<simdjson::dom::element> value = get(name, required, error);
    if (!value) return error->code.empty();
    switch (value->type()) {
      case simdjson::dom::element_type::UINT64:
        *out = value->get_uint64().value_unsafe();
        return true;
      case simdjson::dom::element_type::INT64:
        if (value->get_int64().value_unsafe() >= 0) {
          *out = static_cast<std::uint64_t>(value->get_int64().value_unsafe());
          return true;
        }
        break;
      case simdjson::dom::element_type::STRING:
        if (parse_decimal(value->get_string().value_unsafe(), out)) return true;
        break;
      default:
        break;
    }
    *error = field_error("invalid_integer",
                         fmt::format("{} must be an integer from 0 to 2^64-1, as a number or a "
                                     "decimal string",
                                     path(name)),
                         path(name));
    return false;
  }

  // An amount in fen: 0 to amount_max (a positive amount is the engine's rule to check).
  bool amount(std::string_view name, std::int64_t* out, bool required, ApiError* error) {
    std::uint64_t value = 0;
    const bool had = object_[name].error() == simdjson::SUCCESS;
    if (!u64(name, &value, required, error)) return false;
    if (!had) return true;
    if (value > static_cast<std::uint64_t>(payments::amount_max)) {
      *error = field_error("amount_too_large",
                           fmt::format("{} is above the maximum of {} fen", path(name),
                                       payments::amount_max),
                           path(name));
      return false;
    }
    *out = static_cast<std::int64_t>(value);
    return true;
  }

  // A string of 1 to `bytes_max` bytes, viewed in the parsed document (which must outlive it).
  bool text_view(std::string_view name, std::string_view* out, bool required, ApiError* error,
                 std::size_t bytes_max = text_bytes_max) {
    const std::optional<simdjson::dom::element> value = get(name, required, error);
    if (!value) return error->code.empty();
    if (value->type() != simdjson::dom::element_type::STRING || value->get_string().value_unsafe().empty() ||
        value->get_string().value_unsafe().size() > bytes_max) {
      *error = field_error("invalid_text",
                           fmt::format("{} must be a string of 1 to {} bytes", path(name), bytes_max),
                           path(name));
      return false;
    }
    *out = value->get_string().value_unsafe();
    return true;
  }

  bool text(std::string_view name, std::string* out, bool required, ApiError* error,
            std::size_t bytes_max = text_bytes_max) {
    std::string_view view;
    if (!text_view(name, &view, required, error, bytes_max)) return false;
    if (view.data() != nullptr) *out = std::string(view);  // absent: untouched
    return true;
  }

  bool boolean(std::string_view name, bool* out, ApiError* error) {
    const std::optional<simdjson::dom::element> value = get(name, false, error);
    if (!value) return error->code.empty();
    if (value->type() != simdjson::dom::element_type::BOOL) {
      *error = field_error("invalid_boolean", fmt::format("{} must be true or false", path(name)), path(name));
      return false;
    }
    *out = value->get_bool().value_unsafe();
    return true;
  }

  // A nested object; `*present` says whether it was there.
  bool nested(std::string_view name, std::optional<Fields>* out, ApiError* error) {
    const std::optional<simdjson::dom::element> value = get(name, false, error);
    if (!value) return error->code.empty();
    if (value->type() != simdjson::dom::element_type::OBJECT) {
      *error = field_error("invalid_object", fmt::format("{} must be an object", path(name)), path(name));
      return false;
    }
    out->emplace(value->get_object().value_unsafe(), *this, name);
    return true;
  }

  bool finish(ApiError* error) const {
    static_assert(object_fields_max <= 32);
    std::uint32_t seen = 0;  // bit i: a field named known_[i] was met
    for (auto [key, value] : object_) {
      (void)value;
      std::size_t i = 0;
      while (i < known_count_ && !same_name(known_[i], key)) ++i;
      if (i == known_count_) {
        *error = field_error("unknown_field", fmt::format("{} is not a field here", path(key)), path(key));
        return false;
      }
      if (seen & (1u << i)) {
        *error = field_error("duplicate_field", fmt::format("{} is given twice", path(key)), path(key));
        return false;
      }
      seen |= 1u << i;
    }
    return true;
  }

 private:
  std::optional<simdjson::dom::element> get(std::string_view name, bool required, ApiError* error) {
    CAP_ASSERT(known_count_ < known_.size());
    known_[known_count_++] = name;
    for (auto [key, value] : object_) {
      if (!same_name(key, name)) continue;
      if (value.is_null()) {
        *error = field_error("null_field", fmt::format("{} must not be null", path(name)), path(name));
        return std::nullopt;
      }
      return value;
    }
    if (required) {
      *error = field_error("missing_field", fmt::format("{} is required", path(name)), path(name));
    }
    return std::nullopt;
  }

  // Most names a scan compares differ in their first byte: checked inline before the call.
  static bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
  }

  std::string prefix() const {
    if (parent_ != nullptr) return parent_->path(segment_) + ".";
    if (!segment_.empty()) return fmt::format("{}[{}].", segment_, index_);
    return {};
  }

  simdjson::dom::object object_;
  const Fields* parent_ = nullptr;
  std::string_view segment_;
  std::size_t index_ = 0;
  std::array<std::string_view, object_fields_max> known_{};
  std::size_t known_count_ = 0;
};

inline std::uint64_t hash_text(std::string_view text) { return bank_reference_hash(text); }

// The party a step acts for: the named field, or the caller when it is of the right kind.
inline bool party(Fields& fields, std::string_view name, payments::PartyKind kind, const Caller& caller,
           std::uint64_t* out, ApiError* error) {
  const bool implied = caller.kind == kind;
  if (implied) *out = caller.id;
  return fields.u64(name, out, !implied, error);
}

}  // namespace capillary::server
