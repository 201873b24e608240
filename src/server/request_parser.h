#pragma once
// Reads one HTTP request without an allocation per header field. Beast's basic_parser does the
// framing (request line, fields, Content-Length and chunked bodies, header and body limits); this
// keeps only what the routes read: the request line and a few fields, copied back to back into
// one string, and the body. A RequestText is reused request after request, so once its strings
// have grown to a request's size, reading the next one allocates nothing.
//
// Includes Beast: server.cc and this header's test alone include it.

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/optional.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/auth.h"
#include "core/assert.h"
#include "server/json_codec.h"

namespace capillary::server {

// The header fields a request keeps; any other field is read and dropped.
enum class KeptField : std::uint8_t {
  content_type,
  expect,
  key_id,
  timestamp,
  signature,
  idempotency_key,
  device,
  city,
};
inline constexpr std::size_t kept_fields = 8;

// The field names, in KeptField order (matched ignoring case, as HTTP names are).
inline constexpr std::array<std::string_view, kept_fields> kept_field_names{
    "Content-Type",         "Expect",          auth::header_key,     auth::header_timestamp,
    auth::header_signature, "Idempotency-Key", "X-Capillary-Device", "X-Capillary-City"};

// What a request keeps once read. Views stay valid until the next clear() or until it moves.
class RequestText {
 public:
  std::string_view method() const { return view(method_); }
  std::string_view target() const { return view(target_); }
  // The first occurrence of the field; empty when absent.
  std::string_view field(KeptField which) const { return view(fields_[static_cast<std::size_t>(which)]); }
  unsigned version() const { return version_; }
  std::string& body() { return body_; }

  // Empties the text for the next request, keeping the strings' capacity.
  void clear() {
    head_.clear();
    body_.clear();
    method_ = target_ = {};
    fields_ = {};
    version_ = 11;
  }

 private:
  friend class RequestParser;

  // Where a kept string lies in head_: an offset rather than a view, so that head_ may grow.
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    bool present = false;
  };

  Span keep(boost::beast::string_view text) {
    // head_ holds at most the header itself, which basic_parser's header_limit bounds.
    CAP_ASSERT(head_.size() + text.size() <= UINT32_MAX);
    const Span span{static_cast<std::uint32_t>(head_.size()), static_cast<std::uint32_t>(text.size()), true};
    head_.append(text.data(), text.size());
    return span;
  }
  std::string_view view(Span span) const { return std::string_view(head_).substr(span.offset, span.size); }

  std::string head_;  // the kept strings, back to back
  std::string body_;
  Span method_, target_;
  std::array<Span, kept_fields> fields_{};
  unsigned version_ = 11;
};

// Parses one request into a RequestText; construct a new one (in place: it is small and
// allocation-free) for each request, as basic_parser parses a single message.
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit RequestParser(RequestText& text) : text_(text) { text_.clear(); }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view method, string_view target, int version,
                       error_code&) override {
    text_.method_ = text_.keep(method);
    text_.target_ = text_.keep(target);
    text_.version_ = static_cast<unsigned>(version);
  }

  void on_response_impl(int, string_view, int, error_code& error) override {
    CAP_ASSERT(false);  // a request parser sees no status line
    error = boost::beast::http::error::bad_version;
  }

  void on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) override {
    for (std::size_t i = 0; i < kept_fields; ++i) {
      if (!boost::beast::iequals(name, string_view(kept_field_names[i].data(), kept_field_names[i].size()))) {
        continue;
      }
      if (!text_.fields_[i].present) text_.fields_[i] = text_.keep(value);
      return;
    }
  }

  void on_header_impl(error_code&) override {}

  // Room for the JSON parser's padding, reserved before the body arrives so it is never copied.
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) override {
    if (content_length) text_.body_.reserve(static_cast<std::size_t>(*content_length) + json_padding_bytes);
  }

  std::size_t on_body_impl(string_view body, error_code&) override {
    text_.body_.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    text_.body_.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  RequestText& text_;
};

}  // namespace capillary::server
