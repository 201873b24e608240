// The notifier against a real local HTTP receiver: signed delivery, retries with growing delays,
// order per order under failures, restart, idempotent enqueue, a window far smaller than the
// backlog, and URL changes.

#include "notify/notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <random>

#include "notify/callback_url.h"
#include "notify/metrics.h"
#include "notify/test_receiver.h"

namespace capillary::notify {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t merchant_id = 42;
constexpr milliseconds wait_max{20'000};

auth::MasterKey test_master_key() {
  auth::MasterKey key;
  key.fill(0x2a);
  return key;
}

template <typename Predicate>
bool wait_until(Predicate predicate) {
  const auto deadline = Clock::now() + wait_max;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

Event event(std::uint64_t order, std::uint64_t sequence) {
  static const char* const states[] = {"created", "paid", "confirmed", "released", "refunded"};
  return {merchant_id,
          order,
          sequence,
          states[(sequence - 1) % 5],
          static_cast<std::int64_t>(100 * order + sequence),
          1'700'000'000'000'000'000 + sequence};
}

unsigned ok_handler(const Received&) { return 200; }

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("capillary_notifier_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    options_.directory = dir_;
    options_.backoff = {milliseconds(20), milliseconds(200)};
    options_.delivery_timeout = milliseconds(2000);
    options_.sync = false;
  }
  void TearDown() override {
    notifier_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    notifier_.reset();
    ASSERT_TRUE(Notifier::open(options_, keyring_, &notifier_).is_ok());
  }
  std::vector<EnqueueResult> enqueue(const std::vector<Event>& events) {
    std::vector<EnqueueResult> results;
    EXPECT_TRUE(notifier_->enqueue(events, &results).is_ok());
    return results;
  }
  bool wait_delivered(std::uint64_t count) {
    return wait_until([&] { return notifier_->counters().delivered >= count; });
  }

  fs::path dir_;
  auth::Keyring keyring_{test_master_key()};
  NotifierOptions options_;
  std::unique_ptr<Notifier> notifier_;
};

// Per order: every attempt's sequence (including failed ones) never goes down, and the accepted
// sequences are exactly `expected` in order, each once.
void expect_in_order(const std::vector<Received>& received,
                     const std::map<std::uint64_t, std::vector<std::uint64_t>>& expected) {
  std::map<std::uint64_t, std::vector<std::uint64_t>> accepted;
  std::map<std::uint64_t, std::uint64_t> latest;
  for (const Received& r : received) {
    EXPECT_GE(r.sequence, latest[r.order_id]) << "order " << r.order_id;
    latest[r.order_id] = r.sequence;
    if (r.status < 300) accepted[r.order_id].push_back(r.sequence);
  }
  EXPECT_EQ(accepted, expected);
}

TEST(CallbackUrl, Parses) {
  const auto full = parse_callback_url("http://shop.example:8080/notify/pay?v=2&x=y");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->host, "shop.example");
  EXPECT_EQ(full->port, "8080");
  EXPECT_EQ(full->target, "/notify/pay?v=2&x=y");
  const auto bare = parse_callback_url("http://10.0.0.1");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->target, "/");
  EXPECT_EQ(parse_callback_url("http://h?a=1")->target, "/?a=1");
  for (const char* bad :
       {"", "https://shop.example/n", "ftp://h/", "http://", "http://:80/", "http://h:0/",
        "http://h:65536/", "http://h:8o/", "http://u:p@h/", "http://h/a b", "http://h/#frag"}) {
    EXPECT_FALSE(parse_callback_url(bad)) << bad;
  }
  EXPECT_FALSE(parse_callback_url("http://h/" + std::string(callback_url_bytes_max, 'a')));
}

TEST_F(NotifierTest, DeliversSignedEvent) {
  TestReceiver receiver(keyring_, ok_handler);
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/pay/notify?shop=1")).is_ok());
  EXPECT_EQ(enqueue({event(7, 1)}), std::vector<EnqueueResult>{EnqueueResult::enqueued});
  ASSERT_TRUE(wait_delivered(1));
  const std::vector<Received> received = receiver.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].target, "/pay/notify?shop=1");
  EXPECT_EQ(received[0].body, callback_body(event(7, 1)));
  EXPECT_EQ(received[0].verification.result, auth::VerifyResult::ok);
  EXPECT_EQ(received[0].verification.principal,
            (auth::Principal{auth::PrincipalKind::merchant, merchant_id}));
  const NotifierCounters counters = notifier_->counters();
  EXPECT_EQ(counters.pending, 0u);
  EXPECT_EQ(counters.failures, 0u);
  EXPECT_EQ(counters.retries, 0u);
  const std::string metrics = render_metrics(counters);
  EXPECT_NE(metrics.find("\ncapillary_notify_delivered_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ncapillary_notify_pending 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("# TYPE capillary_notify_failures_total counter\n"), std::string::npos);
}

TEST_F(NotifierTest, RetriesWithGrowingDelaysUntilAcknowledged) {
  constexpr int failing_attempts = 4;
  int attempts = 0;
  TestReceiver receiver(
      keyring_, [&](const Received&) { return ++attempts <= failing_attempts ? 503u : 200u; });
  options_.backoff = {milliseconds(60), milliseconds(2000)};
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  enqueue({event(1, 1)});
  ASSERT_TRUE(wait_delivered(1));
  const std::vector<Received> received = receiver.received();
  ASSERT_EQ(received.size(), static_cast<std::size_t>(failing_attempts + 1));
  std::vector<milliseconds> gaps;
  for (std::size_t i = 1; i < received.size(); ++i) {
    gaps.push_back(std::chrono::duration_cast<milliseconds>(received[i].at - received[i - 1].at));
    EXPECT_EQ(received[i].verification.result, auth::VerifyResult::ok) << "re-signed each time";
    const milliseconds ceiling = backoff_ceiling(options_.backoff, static_cast<std::uint32_t>(i));
    EXPECT_GE(gaps.back(), ceiling / 2) << "attempt " << i + 1;
    EXPECT_LE(gaps.back(), ceiling + milliseconds(500)) << "attempt " << i + 1;
  }
  // 60 ms doubling: the 4th wait (>= 240 ms) is well past the 1st (<= 60 ms plus a round trip).
  EXPECT_GT(gaps.back(), gaps.front() + milliseconds(100));
  const NotifierCounters counters = notifier_->counters();
  EXPECT_EQ(counters.failures, static_cast<std::uint64_t>(failing_attempts));
  EXPECT_EQ(counters.retries, static_cast<std::uint64_t>(failing_attempts));
  EXPECT_EQ(counters.delivered, 1u);
  EXPECT_EQ(counters.pending, 0u);
}

TEST_F(NotifierTest, OrderedPerOrderWhileOtherOrdersProceed) {
  // Order 1's second event fails until order 2 has all five events through (and at least
  // twice): were order 2 held up behind order 1, this would never end.
  int order_2_accepted = 0, order_1_failures = 0;
  TestReceiver receiver(keyring_, [&](const Received& r) {
    if (r.order_id == 2) {
      ++order_2_accepted;
      return 200u;
    }
    const bool fail = r.sequence == 2 && (order_2_accepted < 5 || order_1_failures < 2);
    order_1_failures += fail;
    return fail ? 500u : 200u;
  });
  options_.backoff = {milliseconds(50), milliseconds(200)};
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  std::vector<Event> events;
  for (std::uint64_t sequence = 1; sequence <= 5; ++sequence) {
    events.push_back(event(1, sequence));
    events.push_back(event(2, sequence));
  }
  enqueue(events);
  ASSERT_TRUE(wait_delivered(10));
  const std::vector<Received> received = receiver.received();
  expect_in_order(received, {{1, {1, 2, 3, 4, 5}}, {2, {1, 2, 3, 4, 5}}});
  Clock::time_point order_1_unblocked{}, order_2_done{};
  for (const Received& r : received) {
    if (r.order_id == 1 && r.sequence == 2 && r.status == 200) order_1_unblocked = r.at;
    if (r.order_id == 2 && r.sequence == 5) order_2_done = r.at;
  }
  EXPECT_LT(order_2_done, order_1_unblocked);
  EXPECT_GE(order_1_failures, 2);
}

TEST_F(NotifierTest, RandomFailuresKeepEveryOrderInOrder) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  TestReceiver receiver(keyring_, [&](const Received&) { return random() % 3 == 0 ? 503u : 200u; });
  options_.connections_max = 4;
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  constexpr std::uint64_t orders = 20, events_per_order = 4;
  std::map<std::uint64_t, std::vector<std::uint64_t>> expected;
  // Enqueued a sequence at a time, interleaving orders, in several calls.
  for (std::uint64_t sequence = 1; sequence <= events_per_order; ++sequence) {
    std::vector<Event> events;
    for (std::uint64_t order = 1; order <= orders; ++order) {
      events.push_back(event(order, sequence));
      expected[order].push_back(sequence);
    }
    enqueue(events);
  }
  ASSERT_TRUE(wait_delivered(orders * events_per_order));
  expect_in_order(receiver.received(), expected);
  EXPECT_EQ(notifier_->counters().pending, 0u);
  EXPECT_GT(notifier_->counters().failures, 0u);
}

TEST_F(NotifierTest, RestartRedeliversWhatWasNotAcknowledged) {
  TestReceiver receiver(keyring_, ok_handler);
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  enqueue({event(5, 1), event(5, 2), event(5, 3), event(6, 1)});
  ASSERT_TRUE(wait_delivered(4));
  // The merchant goes down; three more events wait in the outbox when the notifier closes.
  receiver.set_handler([](const Received&) { return 503u; });
  enqueue({event(5, 4), event(5, 5), event(6, 2)});
  ASSERT_TRUE(wait_until([&] { return notifier_->counters().failures >= 2; }));
  notifier_.reset();
  receiver.set_handler(ok_handler);
  open();
  EXPECT_EQ(notifier_->counters().pending, 3u);
  ASSERT_TRUE(wait_delivered(3));
  // Each accepted once: nothing acknowledged before the restart was sent again.
  expect_in_order(receiver.received(), {{5, {1, 2, 3, 4, 5}}, {6, {1, 2}}});
  EXPECT_EQ(notifier_->counters().pending, 0u);
}

TEST_F(NotifierTest, DuplicateEnqueueIsIdempotent) {
  TestReceiver receiver(keyring_, ok_handler);
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  using R = EnqueueResult;
  EXPECT_EQ(enqueue({event(3, 1), event(3, 1)}), (std::vector<R>{R::enqueued, R::duplicate}));
  EXPECT_EQ(enqueue({event(3, 1)}), std::vector<R>{R::duplicate});
  ASSERT_TRUE(wait_delivered(1));
  EXPECT_EQ(enqueue({event(3, 1)}), std::vector<R>{R::duplicate});
  open();  // the engine hands its events over again after recovery
  EXPECT_EQ(enqueue({event(3, 1), event(3, 2)}), (std::vector<R>{R::duplicate, R::enqueued}));
  ASSERT_TRUE(wait_delivered(1));
  expect_in_order(receiver.received(), {{3, {1, 2}}});
}

TEST_F(NotifierTest, SmallWindowDeliversBacklogAndBackingOffOrdersDoNotBlockIt) {
  // Order 1 fails until the other 40 orders' events are all through: with one order in memory
  // at a time, they can only get there if order 1 waits on disk while it backs off.
  constexpr int others_events = 40 * 3;
  int others_accepted = 0;
  TestReceiver receiver(keyring_, [&](const Received& r) {
    if (r.order_id != 1) ++others_accepted;
    return r.order_id == 1 && others_accepted < others_events ? 503u : 200u;
  });
  options_.window_orders_max = 1;
  options_.connections_max = 1;
  options_.backoff = {milliseconds(50), milliseconds(200)};
  open();
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/n")).is_ok());
  std::vector<Event> events;
  std::map<std::uint64_t, std::vector<std::uint64_t>> expected;
  for (std::uint64_t order = 1; order <= 41; ++order) {
    for (std::uint64_t sequence = 1; sequence <= 3; ++sequence) {
      events.push_back(event(order, sequence));
      expected[order].push_back(sequence);
    }
  }
  enqueue(events);
  std::uint64_t window_peak = 0;
  ASSERT_TRUE(wait_until([&] {
    const NotifierCounters counters = notifier_->counters();
    window_peak = std::max(window_peak, counters.window_orders);
    return counters.delivered >= events.size();
  }));
  EXPECT_EQ(window_peak, 1u);
  const std::vector<Received> received = receiver.received();
  expect_in_order(received, expected);
  EXPECT_EQ(received.back().order_id, 1u);
  EXPECT_GE(notifier_->counters().failures, 1u);
}

TEST_F(NotifierTest, UrlsAreCheckedPersistedAndUsedByRetries) {
  open();
  EXPECT_EQ(enqueue({event(1, 1)}), std::vector<EnqueueResult>{EnqueueResult::no_callback_url});
  EXPECT_EQ(notifier_->set_callback_url(merchant_id, "https://shop.example/n").code(),
            Status::Code::invalid_argument);
  // A port nobody listens on: connection refused, retried.
  std::uint16_t closed_port = 0;
  {
    TestReceiver gone(keyring_, ok_handler);
    closed_port = gone.port();
  }
  ASSERT_TRUE(
      notifier_
          ->set_callback_url(merchant_id, "http://127.0.0.1:" + std::to_string(closed_port) + "/n")
          .is_ok());
  enqueue({event(1, 1)});
  ASSERT_TRUE(wait_until([&] { return notifier_->counters().failures >= 2; }));
  TestReceiver receiver(keyring_, ok_handler);
  ASSERT_TRUE(notifier_->set_callback_url(merchant_id, receiver.url("/moved")).is_ok());
  ASSERT_TRUE(wait_delivered(1));
  EXPECT_EQ(receiver.received().at(0).target, "/moved");
  open();
  std::string url;
  ASSERT_TRUE(notifier_->callback_url(merchant_id, &url).is_ok());
  EXPECT_EQ(url, receiver.url("/moved"));
}

}  // namespace
}  // namespace capillary::notify
