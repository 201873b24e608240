#include "server/json_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/limits.h"

namespace capillary::server {
namespace {

constexpr std::string_view transfer_fields =
    R"("id":1,"debit_account_id":2,"credit_account_id":3,"amount":100,"ledger":1,"code":1)";

std::string transfers_body(std::string_view fields) {
  return "{\"transfers\":[{" + std::string(fields) + "}]}";
}

ApiError transfers_error(std::string body) {
  std::vector<ledger::Transfer> events;
  ApiError error;
  EXPECT_FALSE(parse_transfers(body, &events, &error)) << body;
  return error;
}

ApiError accounts_error(std::string body) {
  std::vector<ledger::AccountSpec> events;
  ApiError error;
  EXPECT_FALSE(parse_accounts(body, &events, &error)) << body;
  return error;
}

void expect_error(const ApiError& error, std::string_view code, std::string_view field,
                  unsigned status = 400) {
  EXPECT_EQ(error.code, code) << error.message;
  EXPECT_EQ(error.field, field) << error.message;
  EXPECT_EQ(error.http_status, status) << error.message;
  EXPECT_FALSE(error.message.empty());
}

TEST(JsonCodec, ParsesEveryTransferField) {
  std::string body = R"({"transfers":[
    {"id":"18446744073709551614","debit_account_id":2,"credit_account_id":"3",
     "amount":"-9223372036854775808","pending_id":5,"user_data":6,"timeout_s":4294967295,
     "ledger":4294967295,"code":65535,"flags":["linked","pending"]},
    {"id":7,"pending_id":"1","flags":["post_pending"],"amount":0},
    {"id":8,"pending_id":1,"flags":8}
  ]} )";
  std::vector<ledger::Transfer> events;
  ApiError error;
  ASSERT_TRUE(parse_transfers(body, &events, &error)) << error.message;
  ASSERT_EQ(events.size(), 3u);
  const ledger::Transfer& first = events[0];
  EXPECT_EQ(first.id, 18446744073709551614ull);
  EXPECT_EQ(first.debit_account_id, 2u);
  EXPECT_EQ(first.credit_account_id, 3u);
  EXPECT_EQ(first.amount, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(first.pending_id, 5u);
  EXPECT_EQ(first.user_data, 6u);
  EXPECT_EQ(first.timeout_s, 4294967295u);
  EXPECT_EQ(first.ledger, 4294967295u);
  EXPECT_EQ(first.code, 65535);
  EXPECT_EQ(first.flags, ledger::transfer_linked | ledger::transfer_pending);
  EXPECT_EQ(first.reserved, 0u);
  EXPECT_EQ(events[1].flags, ledger::transfer_post_pending);
  EXPECT_EQ(events[1].pending_id, 1u);
  EXPECT_EQ(events[1].debit_account_id, 0u);
  EXPECT_EQ(events[2].flags, ledger::transfer_void_pending);
}

TEST(JsonCodec, ParsesEveryAccountField) {
  std::string body = R"({"accounts":[{"id":1,"owner":"2","user_data":3,"credit_limit":500,
    "ledger":156,"code":10,"flags":["debits_must_not_exceed_credits","linked"]},
    {"id":2,"ledger":156,"code":10}]})";
  std::vector<ledger::AccountSpec> events;
  ApiError error;
  ASSERT_TRUE(parse_accounts(body, &events, &error)) << error.message;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, 1u);
  EXPECT_EQ(events[0].owner, 2u);
  EXPECT_EQ(events[0].user_data, 3u);
  EXPECT_EQ(events[0].credit_limit, 500);
  EXPECT_EQ(events[0].ledger, 156u);
  EXPECT_EQ(events[0].code, 10);
  EXPECT_EQ(events[0].flags,
            ledger::account_debits_must_not_exceed_credits | ledger::account_linked);
  EXPECT_EQ(events[1].flags, 0);
  EXPECT_EQ(events[1].owner, 0u);
}

TEST(JsonCodec, FieldsInAnyOrder) {
  std::string body = transfers_body(
      R"("code":1,"ledger":1,"amount":100,"credit_account_id":3,"debit_account_id":2,"id":1)");
  std::vector<ledger::Transfer> events;
  ApiError error;
  ASSERT_TRUE(parse_transfers(body, &events, &error)) << error.message;
  EXPECT_EQ(events[0].id, 1u);
  EXPECT_EQ(events[0].code, 1);
}

TEST(JsonCodec, NumericFlagsPassUnknownBitsToTheLedger) {
  std::string body = transfers_body(std::string(transfer_fields) + R"(,"flags":1024)");
  std::vector<ledger::Transfer> events;
  ApiError error;
  ASSERT_TRUE(parse_transfers(body, &events, &error)) << error.message;
  EXPECT_EQ(events[0].flags, 1024);
}

TEST(JsonCodec, MalformedJson) {
  for (std::string body : {"", "   ", "{", R"({"transfers":[)", R"({"transfers":[{"id":1}])",
                           R"({"transfers" [1]})", R"({"transfers":[{"id":1,}]})",
                           R"({"transfers":[{"id":1 "amount":2}]})", "nope", "tru", "\"x"}) {
    expect_error(transfers_error(body), "malformed_json", "");
  }
  // A broken literal where a value belongs is named by its field.
  expect_error(transfers_error(R"({"transfers":[{"id":tru}]})"), "malformed_json",
               "transfers[0].id");
}

TEST(JsonCodec, TextAfterTheObject) {
  expect_error(transfers_error(transfers_body(transfer_fields) + "{}"), "malformed_json", "");
  expect_error(transfers_error(transfers_body(transfer_fields) + "]"), "malformed_json", "");
  expect_error(transfers_error(transfers_body(transfer_fields) + " x"), "malformed_json", "");
  std::vector<ledger::Transfer> events;
  ApiError error;
  std::string body = transfers_body(transfer_fields) + " \n\t";
  EXPECT_TRUE(parse_transfers(body, &events, &error)) << error.message;
}

TEST(JsonCodec, BodyMustBeAnObjectWithTheList) {
  expect_error(transfers_error("[]"), "wrong_type", "");
  expect_error(transfers_error("42"), "wrong_type", "");
  expect_error(transfers_error("null"), "wrong_type", "");
  expect_error(transfers_error("\"x\""), "wrong_type", "");
  expect_error(transfers_error("{}"), "missing_field", "transfers");
  expect_error(transfers_error(R"({"transfers":{}})"), "wrong_type", "transfers");
  expect_error(transfers_error(R"({"transfers":null})"), "wrong_type", "transfers");
  expect_error(transfers_error(R"({"transfers":[]})"), "empty_batch", "transfers");
  expect_error(transfers_error(R"({"accounts":[]})"), "unknown_field", "accounts");
  expect_error(transfers_error(R"({"transfers":[],"transfers":[]})"), "empty_batch", "transfers");
  expect_error(transfers_error(transfers_body(transfer_fields) + R"(,"transfers":[])"),
               "malformed_json", "");
}

TEST(JsonCodec, DuplicateList) {
  std::string element = "{" + std::string(transfer_fields) + "}";
  expect_error(transfers_error("{\"transfers\":[" + element + "],\"transfers\":[" + element + "]}"),
               "duplicate_field", "transfers");
}

TEST(JsonCodec, ElementMustBeAnObject) {
  expect_error(transfers_error(R"({"transfers":[1]})"), "wrong_type", "transfers[0]");
  expect_error(transfers_error(R"({"transfers":[[]]})"), "wrong_type", "transfers[0]");
  expect_error(transfers_error(R"({"transfers":[null]})"), "wrong_type", "transfers[0]");
}

TEST(JsonCodec, UnknownField) {
  expect_error(transfers_error(transfers_body(std::string(transfer_fields) + R"(,"reserved":0)")),
               "unknown_field", "transfers[0].reserved");
  expect_error(transfers_error(transfers_body(std::string(transfer_fields) + R"(,"Amount":1)")),
               "unknown_field", "transfers[0].Amount");
  expect_error(accounts_error(R"({"accounts":[{"id":1,"ledger":1,"code":1,"balance":5}]})"),
               "unknown_field", "accounts[0].balance");
}

TEST(JsonCodec, DuplicateField) {
  expect_error(transfers_error(transfers_body(std::string(transfer_fields) + R"(,"amount":1)")),
               "duplicate_field", "transfers[0].amount");
}

TEST(JsonCodec, ErrorNamesTheElement) {
  std::string element = "{" + std::string(transfer_fields) + "}";
  expect_error(
      transfers_error("{\"transfers\":[" + element + "," + element + R"(,{"id":3,"bogus":1}]})"),
      "unknown_field", "transfers[2].bogus");
}

TEST(JsonCodec, WrongTypes) {
  for (std::string_view value :
       {"true", "null", "[1]", "{}", "\"12a\"", "\"\"", "\" 1\"", "\"+1\"", "\"1.0\""}) {
    expect_error(transfers_error(transfers_body(
                     std::string(transfer_fields).replace(0, 6, "\"id\":" + std::string(value)))),
                 "wrong_type", "transfers[0].id");
  }
}

TEST(JsonCodec, FractionsAreNotIntegers) {
  for (std::string_view value : {"1.5", "100.0", "1e3", "1E2"}) {
    std::string fields =
        "\"amount\":" + std::string(value) +
        R"(,"id":1,"debit_account_id":2,"credit_account_id":3,"ledger":1,"code":1)";
    expect_error(transfers_error(transfers_body(fields)), "wrong_type", "transfers[0].amount");
  }
}

TEST(JsonCodec, InvalidNumberToken) {
  expect_error(
      transfers_error(transfers_body(
          R"("id":01,"debit_account_id":2,"credit_account_id":3,"amount":1,"ledger":1,"code":1)")),
      "malformed_json", "transfers[0].id");
}

TEST(JsonCodec, OutOfRange) {
  struct Case {
    std::string_view field;
    std::string_view value;
  };
  for (const Case& c :
       {Case{"id", "18446744073709551616"}, Case{"id", "\"18446744073709551616\""},
        Case{"id", "-1"}, Case{"id", "\"-1\""}, Case{"amount", "9223372036854775808"},
        Case{"amount", "-9223372036854775809"}, Case{"ledger", "4294967296"}, Case{"code", "65536"},
        Case{"code", "-1"}, Case{"timeout_s", "4294967296"}, Case{"flags", "65536"},
        Case{"user_data", "99999999999999999999999"}}) {
    std::string fields = std::string(transfer_fields);
    if (fields.find("\"" + std::string(c.field) + "\"") != std::string::npos) {
      // Replace the existing value with the out-of-range one.
      const std::size_t key = fields.find("\"" + std::string(c.field) + "\":");
      const std::size_t start = key + c.field.size() + 3;
      const std::size_t end = fields.find(',', start);
      fields.replace(start, end == std::string::npos ? fields.size() - start : end - start,
                     c.value);
    } else {
      fields += ",\"" + std::string(c.field) + "\":" + std::string(c.value);
    }
    expect_error(transfers_error(transfers_body(fields)), "out_of_range",
                 "transfers[0]." + std::string(c.field));
  }
}

TEST(JsonCodec, MissingRequiredFields) {
  expect_error(transfers_error(transfers_body(
                   R"("debit_account_id":2,"credit_account_id":3,"amount":1,"ledger":1,"code":1)")),
               "missing_field", "transfers[0].id");
  expect_error(transfers_error(transfers_body(
                   R"("id":1,"credit_account_id":3,"amount":1,"ledger":1,"code":1)")),
               "missing_field", "transfers[0].debit_account_id");
  expect_error(transfers_error(transfers_body(
                   R"("id":1,"debit_account_id":2,"credit_account_id":3,"ledger":1,"code":1)")),
               "missing_field", "transfers[0].amount");
  expect_error(transfers_error(transfers_body(
                   R"("id":1,"debit_account_id":2,"credit_account_id":3,"amount":1,"code":1)")),
               "missing_field", "transfers[0].ledger");
  expect_error(transfers_error(transfers_body(R"("id":1,"flags":["void_pending"])")),
               "missing_field", "transfers[0].pending_id");
  expect_error(accounts_error(R"({"accounts":[{"id":1,"code":1}]})"), "missing_field",
               "accounts[0].ledger");
  expect_error(accounts_error(R"({"accounts":[{"ledger":1,"code":1}]})"), "missing_field",
               "accounts[0].id");
  expect_error(accounts_error(R"({"accounts":[{"id":1,"ledger":1}]})"), "missing_field",
               "accounts[0].code");
}

TEST(JsonCodec, Flags) {
  expect_error(
      transfers_error(transfers_body(std::string(transfer_fields) + R"(,"flags":["hold"])")),
      "unknown_flag", "transfers[0].flags[0]");
  expect_error(
      transfers_error(transfers_body(std::string(transfer_fields) +
                                     R"(,"flags":["linked","debits_must_not_exceed_credits"])")),
      "unknown_flag", "transfers[0].flags[1]");
  expect_error(transfers_error(transfers_body(std::string(transfer_fields) + R"(,"flags":[1])")),
               "wrong_type", "transfers[0].flags[0]");
  expect_error(
      transfers_error(transfers_body(std::string(transfer_fields) + R"(,"flags":"linked")")),
      "wrong_type", "transfers[0].flags");
  expect_error(accounts_error(R"({"accounts":[{"id":1,"ledger":1,"code":1,"flags":["pending"]}]})"),
               "unknown_flag", "accounts[0].flags[0]");
}

TEST(JsonCodec, TooManyEvents) {
  std::string body = "{\"transfers\":[";
  for (std::size_t i = 0; i <= batch_events_max; ++i) {
    body += (i == 0 ? "{" : ",{") + std::string(transfer_fields) + "}";
  }
  body += "]}";
  expect_error(transfers_error(body), "too_many_events", "transfers", 413);

  // Exactly the maximum is fine.
  body = "{\"transfers\":[";
  for (std::size_t i = 0; i < batch_events_max; ++i) {
    body += (i == 0 ? "{" : ",{") + std::string(transfer_fields) + "}";
  }
  body += "]}";
  std::vector<ledger::Transfer> events;
  ApiError error;
  ASSERT_TRUE(parse_transfers(body, &events, &error)) << error.message;
  EXPECT_EQ(events.size(), batch_events_max);
}

TEST(JsonCodec, Ids) {
  std::string body = R"({"ids":[1,"2",18446744073709551615]})";
  std::vector<std::uint64_t> ids;
  ApiError error;
  ASSERT_TRUE(parse_ids(body, &ids, &error)) << error.message;
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 18446744073709551615ull}));

  body = R"({"ids":[1,"x"]})";
  EXPECT_FALSE(parse_ids(body, &ids, &error));
  expect_error(error, "wrong_type", "ids[1]");
  body = R"({"ids":[]})";
  EXPECT_FALSE(parse_ids(body, &ids, &error));
  expect_error(error, "empty_batch", "ids");
}

TEST(JsonCodec, EscapedKeysAreUnescaped) {
  std::string body = transfers_body(
      R"("\u0069d":1,"debit_account_id":2,"credit_account_id":3,"amount":100,"ledger":1,"code":1)");
  std::vector<ledger::Transfer> events;
  ApiError error;
  ASSERT_TRUE(parse_transfers(body, &events, &error)) << error.message;
  EXPECT_EQ(events[0].id, 1u);
}

TEST(JsonCodec, ParseDecimal) {
  std::uint64_t value = 0;
  EXPECT_TRUE(parse_decimal("18446744073709551615", &value));
  EXPECT_EQ(value, 18446744073709551615ull);
  EXPECT_FALSE(parse_decimal("18446744073709551616", &value));
  EXPECT_FALSE(parse_decimal("", &value));
  EXPECT_FALSE(parse_decimal("-1", &value));
  EXPECT_FALSE(parse_decimal("1a", &value));
  EXPECT_FALSE(parse_decimal("+1", &value));
}

TEST(JsonCodec, WritesErrors) {
  std::string out;
  write_error(out, {400, "unknown_field", "a \"quoted\"\nline\x01", "transfers[0].x"});
  EXPECT_EQ(out, R"({"error":{"code":"unknown_field","message":"a \"quoted\"\nline\u0001",)"
                 R"("field":"transfers[0].x"}})");
  out.clear();
  write_error(out, {503, "overloaded", "later", {}});
  EXPECT_EQ(out, R"({"error":{"code":"overloaded","message":"later","field":null}})");
}

TEST(JsonCodec, WritesResults) {
  const std::vector<ledger::CreateTransferResult> results{
      ledger::CreateTransferResult::ok, ledger::CreateTransferResult::exceeds_credits};
  std::string out;
  write_results(out, std::span<const ledger::CreateTransferResult>(results));
  EXPECT_EQ(
      out,
      R"({"results":[{"index":0,"result":"ok"},{"index":1,"result":"exceeds_credits",)"
      R"("description":"the debit account would owe more than its credits and credit limit"}]})");
}

TEST(JsonCodec, WritesAccountsWithStringsForWideIntegers) {
  ledger::Account account{};
  account.id = 18446744073709551614ull;
  account.ledger = 156;
  account.code = 7;
  account.flags = ledger::account_debits_must_not_exceed_credits;
  account.credits_posted = std::numeric_limits<std::int64_t>::max();
  account.debits_posted = std::numeric_limits<std::int64_t>::min();
  account.timestamp = 42;
  std::string out;
  write_account(out, account);
  EXPECT_EQ(out,
            R"({"id":"18446744073709551614","owner":"0","user_data":"0","credit_limit":"0",)"
            R"("ledger":156,"code":7,"flags":["debits_must_not_exceed_credits"],"timestamp":"42",)"
            R"("balances":{"debits_pending":"0","debits_posted":"-9223372036854775808",)"
            R"("credits_pending":"0","credits_posted":"9223372036854775807",)"
            R"("available":"18446744073709551615"}})");
}

TEST(JsonCodec, WritesTransfersAndStatementLines) {
  ledger::TransferRecord transfer{};
  transfer.transfer.id = 9;
  transfer.transfer.debit_account_id = 1;
  transfer.transfer.credit_account_id = 2;
  transfer.transfer.amount = 250;
  transfer.transfer.ledger = 1;
  transfer.transfer.code = 3;
  transfer.transfer.flags = ledger::transfer_pending;
  transfer.timestamp = 100;
  transfer.status = ledger::PendingStatus::expired;
  store::StatementLine line{};
  line.transfer_id = 9;
  line.timestamp = 200;
  line.expired = 1;
  line.balances_after.credits_posted = 1000;
  std::string out;
  write_statement_line(out, 2, line, transfer);
  EXPECT_EQ(out,
            R"({"timestamp":"200","direction":"credit","expired":true,"transfer":{"id":"9",)"
            R"("debit_account_id":"1","credit_account_id":"2","amount":"250","pending_id":"0",)"
            R"("user_data":"0","timeout_s":0,"ledger":1,"code":3,"flags":["pending"],)"
            R"("timestamp":"100","status":"expired"},"balances_after":{"debits_pending":"0",)"
            R"("debits_posted":"0","credits_pending":"0","credits_posted":"1000",)"
            R"("available":"1000"}})");
}

}  // namespace
}  // namespace capillary::server
