#include "server/request_parser.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>
#include <string_view>

namespace capillary::server {
namespace {

namespace http = boost::beast::http;

// Feeds `wire` to a fresh parser reading into `text`; returns the error, and how many bytes the
// request took in `used`.
boost::beast::error_code parse(std::string_view wire, RequestText& text, std::size_t* used = nullptr,
                               std::uint64_t body_limit = 1 << 20) {
  RequestParser parser(text);
  parser.body_limit(body_limit);
  parser.eager(true);
  boost::beast::error_code error;
  const std::size_t taken = parser.put(boost::asio::buffer(wire.data(), wire.size()), error);
  if (used != nullptr) *used = taken;
  if (!error && !parser.is_done()) return http::error::need_more;
  return error;
}

TEST(RequestParser, KeepsTheRequestLineTheRoutesFieldsAndTheBody) {
  const std::string wire =
      "POST /v1/orders?x=1 HTTP/1.1\r\n"
      "Host: localhost\r\n"
      "content-type: application/json\r\n"
      "X-Capillary-Key: platform\r\n"
      "X-CAPILLARY-TIMESTAMP: 1700000000\r\n"
      "X-Capillary-Signature: abcd\r\n"
      "Idempotency-Key: k1\r\n"
      "Idempotency-Key: k2\r\n"
      "X-Capillary-Device: d1\r\n"
      "X-Capillary-City: Hangzhou\r\n"
      "X-Other: dropped\r\n"
      "Content-Length: 7\r\n"
      "\r\n"
      "{\"a\":1}";
  RequestText text;
  ASSERT_FALSE(parse(wire, text));
  EXPECT_EQ(text.method(), "POST");
  EXPECT_EQ(text.target(), "/v1/orders?x=1");
  EXPECT_EQ(text.version(), 11u);
  EXPECT_EQ(text.field(KeptField::content_type), "application/json");
  EXPECT_EQ(text.field(KeptField::key_id), "platform");
  EXPECT_EQ(text.field(KeptField::timestamp), "1700000000");
  EXPECT_EQ(text.field(KeptField::signature), "abcd");
  EXPECT_EQ(text.field(KeptField::idempotency_key), "k1");  // the first of two, as a lookup finds
  EXPECT_EQ(text.field(KeptField::device), "d1");
  EXPECT_EQ(text.field(KeptField::city), "Hangzhou");
  EXPECT_EQ(text.field(KeptField::expect), "");
  EXPECT_EQ(text.body(), "{\"a\":1}");
  // Room for the JSON parser's padding came before the body.
  EXPECT_GE(text.body().capacity(), 7 + json_padding_bytes);
}

TEST(RequestParser, ReadsPipelinedRequestsOneAtATimeAndForgetsThePrevious) {
  const std::string first = "POST /a HTTP/1.1\r\nIdempotency-Key: k\r\nContent-Length: 2\r\n\r\n{}";
  const std::string second = "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  const std::string wire = first + second;
  RequestText text;
  std::size_t used = 0;
  ASSERT_FALSE(parse(wire, text, &used));
  EXPECT_EQ(used, first.size());
  EXPECT_EQ(text.target(), "/a");
  ASSERT_FALSE(parse(std::string_view(wire).substr(used), text));
  EXPECT_EQ(text.method(), "GET");
  EXPECT_EQ(text.target(), "/b");
  EXPECT_EQ(text.version(), 10u);
  EXPECT_EQ(text.field(KeptField::idempotency_key), "");
  EXPECT_EQ(text.body(), "");
}

TEST(RequestParser, JoinsAChunkedBody) {
  const std::string wire =
      "POST /v1/transfers HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
      "3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
  RequestText text;
  ASSERT_FALSE(parse(wire, text));
  EXPECT_EQ(text.body(), "[1,2]");
  EXPECT_EQ(text.field(KeptField::expect), "100-continue");
}

TEST(RequestParser, RefusesABodyOverTheLimitAndMalformedFraming) {
  RequestText text;
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", text, nullptr, 10),
            http::error::body_limit);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", text),
            http::error::bad_content_length);
  const boost::beast::error_code garbled = parse("NOT HTTP\r\n\r\n", text);
  EXPECT_TRUE(garbled && garbled != http::error::need_more) << garbled.message();
}

}  // namespace
}  // namespace capillary::server
