// Tenant credentials from the command line:
// - `capillary credentials --data DIR KEY_ID...` prints each key id's secret (docs/auth.md),
// creating
//   DIR/master.key as the server would if it does not exist yet.
// - `capillary bench auth`: request signatures per second, as a client signs them and as the
//   server verifies them with a warm and with a thrashed key cache. Prints, as its last line,
//   `signs_per_s=<n> signs_uncached_per_s=<n> verifies_per_s=<n> verifies_cache_miss_per_s=<n>
//   threads=<t>`.

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "cli/commands.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct AuthBenchOptions {
  std::uint64_t operations = 1'000'000;
  std::uint32_t threads = 1;
  std::uint32_t body_bytes = 256;  // a typical JSON payment request
};

// Distinct pre-signed requests cycled through by the verify runs.
constexpr std::size_t requests_max = 1 << 14;
// Principals of the warm run: all fit in the key cache. The miss run uses many more.
constexpr std::uint64_t warm_principals = 1000;
constexpr std::uint64_t miss_principals = auth::key_cache_entries_max * 16;
static_assert(warm_principals < auth::key_cache_entries_max);

struct Request {
  std::string key_id, timestamp, signature;
};

std::vector<Request> signed_requests(const auth::Keyring& keyring, std::uint64_t principals,
                                     std::int64_t now_s, const std::string& body) {
  std::vector<Request> requests;
  std::mt19937_64 random(principals);
  for (std::size_t i = 0; i < requests_max; ++i) {
    const auth::Principal principal{auth::PrincipalKind::user, 1 + random() % principals};
    requests.push_back({auth::key_id(principal), std::to_string(now_s),
                        keyring.sign(principal, "POST", "/v1/payments", now_s, body)});
  }
  return requests;
}

// Runs `work(thread, count)` on the threads, splitting `operations`; returns operations per second.
template <typename Work>
double per_second(std::uint64_t operations, std::uint32_t threads, Work work) {
  const auto started = Clock::now();
  std::vector<std::thread> running;
  for (std::uint32_t t = 0; t < threads; ++t) {
    running.emplace_back([&, t] { work(t, operations / threads); });
  }
  for (std::thread& thread : running) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return static_cast<double>(operations / threads * threads) / seconds;
}

int run_auth_bench(const AuthBenchOptions& options) {
  if (options.operations == 0 || options.threads == 0) {
    fmt::print(stderr, "bench auth: need --operations >= 1 and --threads >= 1\n");
    return 2;
  }
  auth::MasterKey master_key;
  master_key.fill(7);
  const auth::Keyring keyring(master_key);
  const std::string body(options.body_bytes, 'x');
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  const std::string secret = keyring.secret({auth::PrincipalKind::merchant, 1});
  const auth::HmacKey client_key(secret);
  std::atomic<std::uint64_t> failures = 0;

  const double signs = per_second(options.operations, options.threads, [&](auto, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      if (auth::sign(client_key, "POST", "/v1/payments", now_s + static_cast<std::int64_t>(i & 1),
                     body)
              .size() != 64) {
        ++failures;
      }
    }
  });
  const double signs_uncached =
      per_second(options.operations / 4, options.threads, [&](auto, std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) {
          if (auth::sign(secret, "POST", "/v1/payments", now_s, body).size() != 64) ++failures;
        }
      });
  auto verify_run = [&](std::uint64_t principals, std::uint64_t operations) {
    const std::vector<Request> requests = signed_requests(keyring, principals, now_s, body);
    return per_second(operations, options.threads, [&](std::uint32_t t, std::uint64_t n) {
      for (std::uint64_t i = 0; i < n; ++i) {
        const Request& r = requests[(i + t * 7919) % requests.size()];
        const auth::Verification verification = keyring.verify(
            {"POST", "/v1/payments", body, r.key_id, r.timestamp, r.signature}, now_s);
        if (verification.result != auth::VerifyResult::ok) ++failures;
      }
    });
  };
  const double verifies = verify_run(warm_principals, options.operations);
  const double verifies_miss = verify_run(miss_principals, options.operations / 4);
  if (failures != 0) {
    fmt::print(stderr, "bench auth: {} operations failed\n", failures.load());
    return 1;
  }
  fmt::print(stderr,
             "{}-byte bodies, {} thread(s): client sign {:.0f}/s with its key schedule kept, "
             "{:.0f}/s without; server verify {:.0f}/s over {} principals (cached), {:.0f}/s "
             "over {} (mostly cache misses)\n",
             options.body_bytes, options.threads, signs, signs_uncached, verifies, warm_principals,
             verifies_miss, miss_principals);
  fmt::print(
      "signs_per_s={:.0f} signs_uncached_per_s={:.0f} verifies_per_s={:.0f} "
      "verifies_cache_miss_per_s={:.0f} threads={}\n",
      signs, signs_uncached, verifies, verifies_miss, options.threads);
  return 0;
}

int print_credentials(const std::filesystem::path& data_dir,
                      const std::vector<std::string>& key_ids) {
  std::vector<auth::Principal> principals;
  for (const std::string& key_id : key_ids) {
    auth::Principal principal;
    if (auth::parse_key_id(key_id, &principal) != auth::KeyIdParse::ok) {
      fmt::print(stderr,
                 "credentials: {} is not a key id (platform:0, merchant:<id>, "
                 "partner:<id>, user:<id>)\n",
                 key_id);
      return 2;
    }
    principals.push_back(principal);
  }
  std::unique_ptr<auth::Keyring> keyring;
  if (Status status = auth::Keyring::open(data_dir, &keyring); !status.is_ok()) {
    fmt::print(stderr, "credentials: {}\n", status.message());
    return 1;
  }
  for (const auth::Principal& principal : principals) {
    fmt::print("{} {}\n", auth::key_id(principal), keyring->secret(principal));
  }
  return 0;
}

}  // namespace

void add_auth_commands(const Commands& commands) {
  auto data_dir = std::make_shared<std::filesystem::path>();
  auto key_ids = std::make_shared<std::vector<std::string>>();
  auto* credentials = commands.app.add_subcommand(
      "credentials", "Print the secret of each key id, derived from DIR/master.key");
  credentials->add_option("--data", *data_dir, "The server's data directory")->required();
  credentials->add_option("key_ids", *key_ids, "Key ids, e.g. merchant:42")->required();
  credentials->callback(
      [=, &exit_code = commands.exit_code] { exit_code = print_credentials(*data_dir, *key_ids); });

  auto options = std::make_shared<AuthBenchOptions>();
  auto* bench = commands.bench.add_subcommand("auth", "Request signing and verification rates");
  bench->add_option("--operations", options->operations, "Signs (and verifies) per run")
      ->capture_default_str();
  bench->add_option("--threads", options->threads, "Threads signing or verifying at once")
      ->capture_default_str();
  bench->add_option("--body-bytes", options->body_bytes, "Request body size")
      ->capture_default_str();
  bench->callback([=, &exit_code = commands.exit_code] { exit_code = run_auth_bench(*options); });
}

}  // namespace capillary::cli
