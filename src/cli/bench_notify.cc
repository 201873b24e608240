// `capillary bench notify`: merchant notifications through a real outbox and real HTTP to a local
// receiver that checks every signature. Prints, as its last line,
// `notifications_per_s=<n> enqueue_per_s=<n> events=<n> orders=<n> connections=<n>`.

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "cli/commands.h"
#include "core/limits.h"
#include "notify/notifier.h"

namespace capillary::cli {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct NotifyBenchOptions {
  std::uint64_t events = 20'000;
  std::uint64_t orders = 5'000;
  std::size_t connections = notify::default_connections_max;
  std::filesystem::path data_dir;
};

// Receiver threads, each with its own listening socket on the same port (SO_REUSEPORT), so the
// kernel spreads connections over them and no socket is shared between threads.
constexpr int receiver_threads = 2;
// How long the run may take before it is declared stuck.
constexpr std::chrono::minutes run_time_max{10};

class Receiver {
 public:
  explicit Receiver(const auth::Keyring& keyring) : keyring_(keyring) {
    for (int i = 0; i < receiver_threads; ++i) {
      acceptors_.emplace_back(std::make_unique<tcp::acceptor>(io_));
      tcp::acceptor& acceptor = *acceptors_.back();
      const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port_);
      acceptor.open(endpoint.protocol());
      acceptor.set_option(net::socket_base::reuse_address(true));
      const int on = 1;
      ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
      acceptor.bind(endpoint);
      acceptor.listen();
      port_ = acceptor.local_endpoint().port();
    }
    for (auto& acceptor : acceptors_) {
      threads_.emplace_back([this, &acceptor] { serve(*acceptor); });
    }
  }

  ~Receiver() {
    stopping_ = true;
    for (int i = 0; i < receiver_threads * 4; ++i) {
      net::io_context io;
      tcp::socket socket(io);
      boost::system::error_code ignored;
      socket.connect({net::ip::make_address("127.0.0.1"), port_}, ignored);
    }
    for (std::thread& thread : threads_) thread.join();
  }

  std::uint16_t port() const { return port_; }
  std::uint64_t bad_signatures() const { return bad_signatures_; }

 private:
  void serve(tcp::acceptor& acceptor) {
    while (!stopping_) {
      tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor.accept(socket, error);
      if (error || stopping_) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, error);
      if (error) continue;
      const auto header = [&](std::string_view name) {
        const auto value = request[boost::beast::string_view(name.data(), name.size())];
        return std::string_view(value.data(), value.size());
      };
      const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
      const std::string target(request.target());
      const auth::Verification verification =
          keyring_.verify({"POST", target, request.body(), header(auth::header_key),
                           header(auth::header_timestamp), header(auth::header_signature)},
                          now_s);
      if (verification.result != auth::VerifyResult::ok) ++bad_signatures_;
      http::response<http::empty_body> response{http::status::ok, 11};
      response.prepare_payload();
      http::write(socket, response, error);
    }
  }

  const auth::Keyring& keyring_;
  net::io_context io_;
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> bad_signatures_{0};
};

int run_notify_bench(const NotifyBenchOptions& options) {
  if (options.events == 0 || options.orders == 0 || options.orders > options.events ||
      options.connections == 0) {
    fmt::print(stderr, "bench notify: need 1 <= --orders <= --events, --connections >= 1\n");
    return 2;
  }
  std::error_code error;
  if (std::filesystem::exists(options.data_dir / notify::notify_directory_name, error)) {
    fmt::print(stderr, "bench notify: {} already holds an outbox; give an empty directory\n",
               options.data_dir.string());
    return 2;
  }
  auth::MasterKey master_key;
  master_key.fill(9);
  const auth::Keyring keyring(master_key);
  Receiver receiver(keyring);
  notify::NotifierOptions notifier_options;
  notifier_options.directory = options.data_dir / notify::notify_directory_name;
  notifier_options.connections_max = options.connections;
  std::unique_ptr<notify::Notifier> notifier;
  if (Status status = notify::Notifier::open(notifier_options, keyring, &notifier);
      !status.is_ok()) {
    fmt::print(stderr, "bench notify: {}\n", status.message());
    return 1;
  }
  constexpr std::uint64_t merchant_id = 1;
  const std::string url = fmt::format("http://127.0.0.1:{}/notify", receiver.port());
  if (Status status = notifier->set_callback_url(merchant_id, url); !status.is_ok()) {
    fmt::print(stderr, "bench notify: {}\n", status.message());
    return 1;
  }

  // Events in the order an engine emits them: each batch moves every order one state further.
  const auto started = Clock::now();
  std::vector<notify::Event> batch;
  std::vector<notify::EnqueueResult> results;
  std::uint64_t enqueued = 0;
  for (std::uint64_t i = 0; i < options.events; ++i) {
    batch.push_back({merchant_id, 1 + i % options.orders, 1 + i / options.orders, "paid",
                     static_cast<std::int64_t>(100 + i), 1'700'000'000'000'000'000 + i});
    if (batch.size() == batch_events_max || i + 1 == options.events) {
      if (Status status = notifier->enqueue(batch, &results); !status.is_ok()) {
        fmt::print(stderr, "bench notify: {}\n", status.message());
        return 1;
      }
      for (const notify::EnqueueResult result : results) {
        enqueued += result == notify::EnqueueResult::enqueued;
      }
      batch.clear();
    }
  }
  const double enqueue_s = std::chrono::duration<double>(Clock::now() - started).count();
  if (enqueued != options.events) {
    fmt::print(stderr, "bench notify: {} of {} events enqueued\n", enqueued, options.events);
    return 1;
  }
  auto last_report = Clock::now();
  while (notifier->counters().delivered < options.events) {
    if (Clock::now() - started > run_time_max) {
      fmt::print(stderr, "bench notify: stuck at {} delivered\n", notifier->counters().delivered);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (Clock::now() - last_report > std::chrono::seconds(1)) {
      last_report = Clock::now();
      const notify::NotifierCounters counters = notifier->counters();
      fmt::print(stderr, "  delivered {:>9}  pending {:>9}  in flight {:>4}\n", counters.delivered,
                 counters.pending, counters.in_flight);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const notify::NotifierCounters counters = notifier->counters();
  if (receiver.bad_signatures() != 0 || counters.failures != 0) {
    fmt::print(stderr, "bench notify: {} bad signatures, {} failed attempts\n",
               receiver.bad_signatures(), counters.failures);
    return 1;
  }
  const double per_s = static_cast<double>(options.events) / seconds;
  const double enqueue_per_s = static_cast<double>(options.events) / enqueue_s;
  fmt::print(stderr,
             "{} events of {} orders: enqueued (fsynced batches of up to {}) in {:.2f} s, all "
             "delivered and acknowledged after {:.2f} s over at most {} connections\n",
             options.events, options.orders, batch_events_max, enqueue_s, seconds,
             options.connections);
  fmt::print("notifications_per_s={:.0f} enqueue_per_s={:.0f} events={} orders={} connections={}\n",
             per_s, enqueue_per_s, options.events, options.orders, options.connections);
  return 0;
}

}  // namespace

void add_notify_bench(const Commands& commands) {
  auto options = std::make_shared<NotifyBenchOptions>();
  auto* bench = commands.bench.add_subcommand(
      "notify", "Merchant notifications through the outbox to a local HTTP receiver");
  bench->add_option("--events", options->events, "Events to deliver")->capture_default_str();
  bench->add_option("--orders", options->orders, "Orders they belong to")->capture_default_str();
  bench->add_option("--connections", options->connections, "Deliveries in flight at most")
      ->capture_default_str();
  bench->add_option("--data", options->data_dir, "An empty directory for the outbox")->required();
  bench->callback([=, &exit_code = commands.exit_code] { exit_code = run_notify_bench(*options); });
}

}  // namespace capillary::cli
