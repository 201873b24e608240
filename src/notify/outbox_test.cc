// The outbox on a real RocksDB: enqueue's results, order of events, acknowledgement marks, the
// retry index and callback URLs, and that all of it survives a reopen.

#include "notify/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace capillary::notify {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("capillary_outbox_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    reopen();
    ASSERT_TRUE(outbox_->set_callback_url(42, "http://127.0.0.1:9/cb").is_ok());
  }
  void TearDown() override {
    outbox_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    outbox_.reset();
    ASSERT_TRUE(Outbox::open(dir_, true, &outbox_).is_ok());
  }
  std::vector<EnqueueResult> enqueue(const std::vector<Event>& events) {
    std::vector<EnqueueResult> results(events.size());
    EXPECT_TRUE(outbox_->enqueue(events, results).is_ok());
    return results;
  }
  static Event event(std::uint64_t order, std::uint64_t sequence, std::string state = "paid") {
    return {42,
            order,
            sequence,
            std::move(state),
            1000 + static_cast<std::int64_t>(sequence),
            1'700'000'000'000'000'000 + sequence};
  }

  fs::path dir_;
  std::unique_ptr<Outbox> outbox_;
};

using R = EnqueueResult;

TEST_F(OutboxTest, EnqueueResults) {
  Event no_url = event(1, 1);
  no_url.merchant_id = 7;
  Event merchant_zero = event(1, 1);
  merchant_zero.merchant_id = 0;
  EXPECT_EQ(enqueue({event(1, 1), event(1, 2), event(1, 2), event(1, 0), event(2, 1, ""),
                     event(2, 1, "Paid"), event(2, 1, std::string(state_bytes_max + 1, 'a')),
                     event(2, 1, std::string(state_bytes_max, 'a')), no_url, merchant_zero,
                     event(3, 5), event(3, 4)}),
            (std::vector<R>{R::enqueued, R::enqueued, R::duplicate, R::invalid_event,
                            R::invalid_event, R::invalid_event, R::invalid_event, R::enqueued,
                            R::no_callback_url, R::invalid_event, R::enqueued, R::out_of_order}));
  EXPECT_EQ(outbox_->pending(), 4u);
  // Against what is stored, in a later batch.
  EXPECT_EQ(
      enqueue({event(1, 1), event(1, 2), event(3, 3), event(3, 7), event(1, 3)}),
      (std::vector<R>{R::duplicate, R::duplicate, R::out_of_order, R::enqueued, R::enqueued}));
  EXPECT_EQ(outbox_->pending(), 6u);
}

TEST_F(OutboxTest, HeadsInSequenceOrderThenAcknowledged) {
  // Enqueued across batches, with a gap in the sequence: delivery follows sequence order.
  enqueue({event(9, 1, "created"), event(9, 2, "paid")});
  enqueue({event(9, 4, "released")});
  std::vector<std::uint64_t> delivered;
  for (std::optional<Pending> head; outbox_->head({42, 9}, &head).is_ok() && head;) {
    const Event stored = head->event();
    EXPECT_EQ(stored.amount, 1000 + static_cast<std::int64_t>(head->sequence));
    EXPECT_EQ(stored.timestamp_ns, 1'700'000'000'000'000'000 + head->sequence);
    delivered.push_back(head->sequence);
    ASSERT_TRUE(outbox_->acknowledge(*head).is_ok());
  }
  EXPECT_EQ(delivered, (std::vector<std::uint64_t>{1, 2, 4}));
  EXPECT_EQ(outbox_->pending(), 0u);
  // Acknowledged events stay recognised, across a reopen; sequence 3 was skipped for good.
  reopen();
  EXPECT_EQ(enqueue({event(9, 1), event(9, 3), event(9, 4), event(9, 5)}),
            (std::vector<R>{R::duplicate, R::duplicate, R::duplicate, R::enqueued}));
}

TEST_F(OutboxTest, NextOrderHeadWalksOrdersInKeyOrder) {
  ASSERT_TRUE(outbox_->set_callback_url(7, "http://127.0.0.1:9/").is_ok());
  Event other = event(1, 1);
  other.merchant_id = 7;
  enqueue({event(5, 1), event(5, 2), event(2, 3), other, event(UINT64_MAX, 1)});
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  OrderKey from{};
  for (std::optional<Pending> head; outbox_->next_order_head(from, &head).is_ok() && head;) {
    seen.emplace_back(head->order.merchant_id, head->order.order_id);
    EXPECT_EQ(head->sequence, head->order.order_id == 2 ? 3u : 1u);
    if (head->order.order_id == UINT64_MAX) break;
    from = {head->order.merchant_id, head->order.order_id + 1};
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                      {7, 1}, {42, 2}, {42, 5}, {42, UINT64_MAX}}));
}

TEST_F(OutboxTest, DeferIndexesRetriesByDueTimeAndSurvivesReopen) {
  enqueue({event(1, 1), event(2, 1)});
  std::optional<Pending> first, second;
  ASSERT_TRUE(outbox_->head({42, 1}, &first).is_ok() && first);
  ASSERT_TRUE(outbox_->head({42, 2}, &second).is_ok() && second);
  first->record.attempts = 3;
  first->record.due_ns = 2000;
  second->record.attempts = 1;
  second->record.due_ns = 1000;
  ASSERT_TRUE(outbox_->defer(*first).is_ok());
  ASSERT_TRUE(outbox_->defer(*second).is_ok());
  reopen();
  EXPECT_EQ(outbox_->pending(), 2u);
  std::optional<Retry> retry;
  ASSERT_TRUE(outbox_->first_retry(&retry).is_ok() && retry);
  EXPECT_EQ(retry->due_ns, 1000u);
  EXPECT_EQ(retry->order, (OrderKey{42, 2}));
  ASSERT_TRUE(outbox_->erase_retry(*retry).is_ok());
  ASSERT_TRUE(outbox_->first_retry(&retry).is_ok() && retry);
  EXPECT_EQ(retry->due_ns, 2000u);
  ASSERT_TRUE(outbox_->erase_retry(*retry).is_ok());
  ASSERT_TRUE(outbox_->first_retry(&retry).is_ok());
  EXPECT_FALSE(retry);
  // The attempts are kept with the event itself.
  ASSERT_TRUE(outbox_->head({42, 1}, &first).is_ok() && first);
  EXPECT_EQ(first->record.attempts, 3u);
  EXPECT_EQ(first->record.due_ns, 2000u);
  EXPECT_EQ(first->event().state, "paid");
}

TEST_F(OutboxTest, CallbackUrlsPersist) {
  ASSERT_TRUE(outbox_->set_callback_url(42, "http://shop.example:8080/notify?v=2").is_ok());
  reopen();
  std::string url;
  ASSERT_TRUE(outbox_->callback_url(42, &url).is_ok());
  EXPECT_EQ(url, "http://shop.example:8080/notify?v=2");
  ASSERT_TRUE(outbox_->callback_url(43, &url).is_ok());
  EXPECT_TRUE(url.empty());
  // Enqueue knows after the reopen who has a URL, and learns of one set later.
  Event other = event(1, 1);
  other.merchant_id = 43;
  EXPECT_EQ(enqueue({event(1, 1), other}), (std::vector<R>{R::enqueued, R::no_callback_url}));
  ASSERT_TRUE(outbox_->set_callback_url(43, "http://shop.example/n").is_ok());
  EXPECT_EQ(enqueue({other}), (std::vector<R>{R::enqueued}));
}

}  // namespace
}  // namespace capillary::notify
