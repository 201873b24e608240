#pragma once
// `capillary bench http`: a load client for the HTTP batch API of a running `capillary serve`.

#include <cstdint>
#include <string>

namespace capillary::cli {

struct HttpBenchOptions {
  std::string target = "127.0.0.1:8080";  // HOST:PORT of the server
  std::uint64_t accounts = 100'000;
  std::uint64_t transfers = 2'000'000;
  std::uint32_t batch = 8190;
  std::uint32_t connections = 4;
  std::uint32_t hot_percent = 0;  // share of transfers that credit one of 10 hot merchants
  // Added to every account and transfer id, so runs against one server with bases at least
  // accounts + transfers + 11 apart never collide with each other or with a dataset below the base.
  std::uint64_t id_base = 1'000'000'000;
  std::uint64_t seed = 42;
};

// Sets up the accounts (not timed), then drives `connections` keep-alive connections, each sending
// one batch at a time. Prints progress to stderr and, as the last line on stdout,
// `http_transfers_per_s=<n> request_p50_ms=<x> request_p99_ms=<x> connections=<C> batch=<B>
// rejected=<n> failed_events=<n>`. Returns 0, 1 when the server is unreachable or answers
// something unexpected (account ids already taken included), 2 for bad options.
int run_http_bench(const HttpBenchOptions& options);

}  // namespace capillary::cli
