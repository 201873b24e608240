#include "cli/load.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "cli/commands.h"
#include "cli/load_client.h"
#include "cli/load_plan.h"
#include "cli/load_report.h"
#include "core/assert.h"
#include "payments/command.h"
#include "payments/limits.h"

namespace capillary::cli {
namespace load {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Buyers pay in turn, each at most this often: the default risk rules (config/risk/default.rules,
// payment_burst) challenge a user's sixth payment within a minute, and a peak day's buyers are
// many, each paying a few times. So --users defaults to 15 per payment per second.
constexpr std::uint64_t payments_per_user_per_min = 4;
constexpr std::uint64_t merchants_per_scale = 1'000;
constexpr std::uint32_t users_min = 100, merchants_min = 10;
// A run's parties take ids from its base, and bases are id_base_step apart (one per second).
constexpr std::uint64_t id_base_step = 10'000'000;
constexpr std::uint32_t users_max = 9'000'000, merchants_max = 900'000;
static_assert(users_max + merchants_max + 1 < id_base_step);
// Clock-derived bases: Unix seconds times the step stays below the party id limit until 2191.
static_assert(std::uint64_t{7'000'000'000} * id_base_step < payments::party_id_max);
constexpr double scale_max = 100;

// Each user's wallet: 10 million CNY, so no payment of the run is short of funds.
constexpr std::int64_t wallet_top_up = 1'000'000'000;
static_assert(wallet_top_up <= payments::amount_max);
// Every user holds red-packet balance, 20.00 CNY claimed from the sender's packets (fixed split)
// at setup: enough for the few red-packet payments each makes in a run.
constexpr std::int64_t red_packet_claim = 20'00;
static_assert(wallet_top_up + red_packet_claim * users_max <= payments::amount_max,
              "the sender's top-up funds every claim");
constexpr std::uint32_t packets_per_red_packet = payments::red_packet_count_max;
// The coupon campaign's budget covers twice the coupons the run is expected to use.
constexpr std::uint64_t coupon_budget_margin = 2;
// Coupons stay held while orders are unreleased (they are, for the whole run), so the per-user
// limit must not bind: a user pays a few dozen orders at most.
constexpr std::uint32_t coupon_per_user_limit = 1'000'000;
constexpr std::int64_t coupon_valid_before_s = 3600, coupon_valid_after_s = 7 * 86'400;

// Steps per POST /v1/payments/batch (docs/payments-api.md), and how long a step may wait for its
// batch to fill: at scale 1 this closes batches of ~1,500 steps, so the wait stays a small part of
// a 50 ms p99.
constexpr std::size_t batch_steps_max = 1'000;
constexpr milliseconds batch_flush_interval{5};
// The pacing tick: at scale 1, 120 checkouts are due per millisecond.
constexpr milliseconds tick{1};
// Requests in flight per connection. The server reads up to 64 of them ahead and answers them
// in order, several per write (server.h, pipelined_requests_max), so single requests need depth
// to share reads, writes and journal entries; big batches need little of it.
constexpr std::uint32_t requests_depth = 32, batch_depth = 2;
constexpr std::uint32_t requests_connections_default = 64, batch_connections_default = 8;
constexpr std::uint32_t connections_max = 1024;  // the server's own connection limit
// The generator holds at most 100 ms worth of requests it cannot send yet; past that, new
// checkouts are not started (counted as unsent): a queue in the generator would only turn the
// server's overload into latency the server never sees.
constexpr milliseconds backlog_max{100};
constexpr std::size_t backlog_requests_min = 16;
// After the timed run, answers still in flight get this long; later ones count as errors.
constexpr seconds drain_timeout{10};
// Setup phases and the reconciliation must finish in this long each.
constexpr seconds phase_timeout{300};
// Orders per POST /v1/lookup/orders: as many as a payments batch has steps.
constexpr std::size_t lookup_ids_max = batch_steps_max;
// A lookup answered 429/503 or cut off is asked again, this many times at most in total.
constexpr std::uint64_t lookup_retries_max = 100'000;
constexpr seconds progress_interval{1};
constexpr std::size_t problems_shown_max = 5;

// Tags: what a request was, in the top byte, and an index below.
enum class Kind : std::uint8_t {
  campaign, red_packet, batch, step, lookup
};
constexpr int kind_shift = 56;
constexpr std::uint64_t tag_of(Kind kind, std::uint64_t index) {
  return (std::uint64_t{static_cast<std::uint8_t>(kind)} << kind_shift) | index;
}

enum class OrderState : std::uint8_t { creating, at_cashier, paying, paid, done };

// 24 bytes: a 30 s run at scale 1 creates 3.6 million of them.
struct Order {
  std::uint64_t id = 0;
  std::int32_t amount = 0;
  std::uint32_t buyer = 0;     // user index
  std::uint32_t merchant = 0;  // merchant index
  FundingKind funding = FundingKind::wallet;
  OrderState state = OrderState::creating;
};
static_assert(order_amount_max <= INT32_MAX);

// One POST /v1/payments/batch: its steps, by op and order (or user, at setup) index.
struct Batch {
  Clock::time_point sealed;
  std::vector<StepOp> ops;
  std::vector<std::uint32_t> indexes;
  bool setup = false;
  std::string request;  // kept for setup batches, which are sent again after a 429/503
};

enum class Outcome : std::uint8_t { ok, rejected, error };

Outcome outcome_of_status(int status) {
  if (status == 429 || status == 503) return Outcome::rejected;
  return status == 200 ? Outcome::ok : Outcome::error;
}

class Scenario final : public AnswerHandler {
 public:
  Scenario(const LoadOptions& options, std::uint32_t users, std::uint32_t merchants,
           std::uint64_t id_base, std::string_view secret, Target target)
      : options_(options),
        users_(users),
        merchants_(merchants),
        id_base_(id_base),
        signer_(secret),
        client_(std::move(target),
                options.connections != 0 ? options.connections
                : options.mode == Mode::batch ? batch_connections_default
                                              : requests_connections_default,
                options.mode == Mode::batch ? batch_depth : requests_depth),
        random_(options.seed),
        key_prefix_(fmt::format("L{}", id_base)),
        bank_reference_base_(static_cast<std::uint64_t>(std::time(nullptr)) << 32),
        checkouts_per_s_(static_cast<double>(checkouts_per_s_at_scale_1) * options.scale),
        red_packet_users_(users),
        red_balance_(users, 0) {
    const double requests_per_s =
        options.mode == Mode::batch
            ? checkouts_per_s_ * 2.5 / batch_steps_max + 1000.0 / batch_flush_interval.count()
            : checkouts_per_s_ * 2.5;
    backlog_max_ = std::max<std::size_t>(
        backlog_requests_min,
        static_cast<std::size_t>(requests_per_s * std::chrono::duration<double>(backlog_max).count()));
  }

  Status connect() { return client_.connect(); }
  bool set_up();
  void run();
  void reconcile();
  Totals totals() const;
  const std::vector<Second>& series() const { return series_; }
  std::uint32_t seconds_run() const {
    return static_cast<std::uint32_t>(
        std::chrono::ceil<seconds>(options_.duration).count());
  }

  void on_response(std::uint64_t tag, const HttpResponse& response) override;
  void on_failure(std::uint64_t tag, std::string_view why) override;

 private:
  std::uint64_t user_id(std::uint32_t index) const { return id_base_ + 1 + index; }
  std::uint64_t merchant_id(std::uint32_t index) const { return id_base_ + 1 + users_ + index; }
  std::uint64_t sender_id() const { return id_base_ + 1 + users_ + merchants_; }
  std::string key(char what, std::uint64_t index) const {
    return fmt::format(FMT_COMPILE("{}-{}{}"), key_prefix_, what, index);
  }
  static char key_letter(StepOp op);

  void post(Kind kind, std::uint64_t index, std::string_view path, std::string_view body);
  void submit_setup(Kind kind, std::uint64_t index);
  bool wait_idle(std::string_view what);
  template <typename Make>
  void submit_setup_batches(StepOp op, std::uint32_t count, Make make);
  void setup_answer(std::uint64_t index, Kind kind, const HttpResponse& response);
  void setup_failed(std::string message);

  Step make_step(StepOp op, std::uint32_t index);
  void start_order(Clock::time_point now);
  void enqueue(StepOp op, std::uint32_t index, Clock::time_point now);
  void seal_batch(Clock::time_point now);
  void submit_batch(std::uint32_t index);
  void batch_answer(std::uint32_t index, const HttpResponse& response);
  void step_done(StepOp op, std::uint32_t index, Outcome outcome, std::uint64_t value,
                 std::string_view why, Clock::time_point now);
  void submit_lookup(std::uint32_t index);
  void lookup_answer(std::uint32_t index, const HttpResponse& response);
  void note_problem(std::string message);
  Second& second_at(Clock::time_point now);
  void print_progress(Clock::time_point now);

  const LoadOptions& options_;
  const std::uint32_t users_, merchants_;
  const std::uint64_t id_base_;
  Signer signer_;
  Client client_;
  std::mt19937_64 random_;
  const std::string key_prefix_;
  const std::uint64_t bank_reference_base_;
  std::uint64_t bank_references_used_ = 0;
  const double checkouts_per_s_;
  std::size_t backlog_max_ = 0;

  // Setup.
  const std::uint32_t red_packet_users_;
  std::vector<std::int64_t> red_balance_;  // per user, as claimed minus what payments took
  std::vector<std::uint64_t> red_packets_;
  std::uint64_t campaign_ = 0;
  std::uint64_t setup_failures_ = 0;
  std::string first_setup_failure_;

  // The run.
  Clock::time_point start_;
  std::vector<Order> orders_;
  std::vector<Clock::time_point> step_due_;  // per order, requests mode: its step's due time
  std::vector<Batch> batches_;
  Batch open_batch_;
  std::string open_body_;
  std::vector<Second> series_;
  std::uint64_t unsent_ = 0;
  std::uint64_t unanswered_ = 0;
  bool run_over_ = false;  // answers to the run's steps no longer count
  std::size_t problems_shown_ = 0;
  std::vector<std::vector<std::uint32_t>> lookups_;  // order indexes per POST /v1/lookup/orders
  std::uint64_t reconciled_ = 0, lost_ = 0, lookup_retries_ = 0;
};

char Scenario::key_letter(StepOp op) {
  switch (op) {
    case StepOp::create_order: return 'c';
    case StepOp::cashier: return 'k';
    case StepOp::pay: return 'p';
    case StepOp::top_up: return 't';
    case StepOp::claim_red_packet: return 'r';
    case StepOp::open_user: return 'u';
    case StepOp::open_merchant: return 'm';
  }
  CAP_ASSERT(false);
}

void Scenario::post(Kind kind, std::uint64_t index, std::string_view path, std::string_view body) {
  client_.submit(tag_of(kind, index),
                 signer_.request(client_.target(), "POST", path, body,
                                 key(static_cast<char>('A' + static_cast<int>(kind)), index)));
}

// The setup request behind a tag, built the same way each time so a rejected one can be sent
// again under the same idempotency key.
void Scenario::submit_setup(Kind kind, std::uint64_t index) {
  const auto now_s = static_cast<std::int64_t>(std::time(nullptr));
  switch (kind) {
    case Kind::campaign: {
      const auto coupons = static_cast<std::uint64_t>(
          checkouts_per_s_ / checkouts_per_payment * percent_coupon / 100 *
          std::chrono::duration<double>(options_.duration).count());
      const std::uint64_t budget =
          std::max<std::uint64_t>(coupons, 1) * coupon_budget_margin * coupon_value;
      return post(kind, index, "/v1/campaigns",
                  fmt::format(R"({{"budget":{},"value":{},"min_spend":{},"valid_from":{},)"
                              R"("valid_to":{},"per_user_limit":{}}})",
                              budget, coupon_value, coupon_min_spend,
                              now_s - coupon_valid_before_s, now_s + coupon_valid_after_s,
                              coupon_per_user_limit));
    }
    case Kind::red_packet: {
      const std::uint32_t first = static_cast<std::uint32_t>(index) * packets_per_red_packet;
      const std::uint32_t count =
          std::min(packets_per_red_packet, red_packet_users_ - first);
      return post(kind, index, "/v1/red-packets",
                  fmt::format(R"({{"sender":{},"amount":{},"count":{},"split":"fixed"}})",
                              sender_id(), red_packet_claim * count, count));
    }
    case Kind::batch:
      return client_.submit(tag_of(kind, index), batches_[index].request);
    case Kind::step:
    case Kind::lookup:
      break;
  }
  CAP_ASSERT(false);
}

void Scenario::setup_failed(std::string message) {
  if (setup_failures_++ == 0) first_setup_failure_ = std::move(message);
}

void Scenario::setup_answer(std::uint64_t index, Kind kind, const HttpResponse& response) {
  if (outcome_of_status(response.status) == Outcome::rejected) return submit_setup(kind, index);
  std::vector<StepAnswer> answers;
  if (response.status != 200 || !parse_answers(response.body, &answers) || !answers[0].ok()) {
    return setup_failed(fmt::format("HTTP {}: {:.300}", response.status, response.body));
  }
  if (kind == Kind::campaign) campaign_ = answers[0].value;
  if (kind == Kind::red_packet) red_packets_[index] = answers[0].value;
}

bool Scenario::wait_idle(std::string_view what) {
  const auto deadline = Clock::now() + phase_timeout;
  while (!client_.idle() && Clock::now() < deadline) client_.poll(Clock::now() + tick * 100, *this);
  if (!client_.idle()) setup_failed(fmt::format("{}: no answer within {} s", what, phase_timeout.count()));
  if (setup_failures_ != 0) {
    fmt::print(stderr, "load: {} failed ({} requests): {}\n", what, setup_failures_,
               first_setup_failure_);
    return false;
  }
  return true;
}

// Setup steps go in batches of up to batch_steps_max, each step `op` built by `make(i)` for i in
// [0, count); a batch answered 429/503 is sent again as it was.
template <typename Make>
void Scenario::submit_setup_batches(StepOp op, std::uint32_t count, Make make) {
  for (std::uint32_t first = 0; first < count; first += batch_steps_max) {
    Batch batch;
    batch.setup = true;
    std::string body = R"({"steps":[)";
    const std::uint32_t last = std::min<std::uint32_t>(count, first + batch_steps_max);
    for (std::uint32_t i = first; i < last; ++i) {
      Step step = make(i);
      step.op = op;
      if (i != first) body.push_back(',');
      append_batch_step(step, key(key_letter(op), i), &body);
      batch.ops.push_back(op);
      batch.indexes.push_back(i);
    }
    body += "]}";
    batch.request = signer_.request(client_.target(), "POST", "/v1/payments/batch", body,
                                    key('s', batches_.size()));
    batches_.push_back(std::move(batch));
    submit_setup(Kind::batch, batches_.size() - 1);
  }
}

bool Scenario::set_up() {
  const auto started = Clock::now();
  fmt::print(stderr, "setup: opening {} merchants and {} users from id {}...\n", merchants_,
             users_, id_base_ + 1);
  submit_setup_batches(StepOp::open_merchant, merchants_, [&](std::uint32_t i) {
    Step step;
    step.merchant = merchant_id(i);
    return step;
  });
  // Users, and the red-packet sender after them.
  submit_setup_batches(StepOp::open_user, users_ + 1, [&](std::uint32_t i) {
    Step step;
    step.user = i == users_ ? sender_id() : user_id(i);
    return step;
  });
  if (!wait_idle("opening parties")) return false;

  fmt::print(stderr, "setup: topping up {} wallets, creating the coupon campaign...\n", users_ + 1);
  submit_setup_batches(StepOp::top_up, users_ + 1, [&](std::uint32_t i) {
    Step step;
    step.user = i == users_ ? sender_id() : user_id(i);
    // The sender also funds every red packet.
    step.amount = wallet_top_up + (i == users_ ? red_packet_claim * users_ : 0);
    step.bank_reference = bank_reference_base_ + bank_references_used_++;
    return step;
  });
  submit_setup(Kind::campaign, 0);
  if (!wait_idle("funding wallets")) return false;

  const std::uint32_t packets =
      (red_packet_users_ + packets_per_red_packet - 1) / packets_per_red_packet;
  fmt::print(stderr, "setup: {} red packets for {} users...\n", packets, red_packet_users_);
  red_packets_.assign(packets, 0);
  for (std::uint32_t i = 0; i < packets; ++i) submit_setup(Kind::red_packet, i);
  if (!wait_idle("creating red packets")) return false;

  submit_setup_batches(StepOp::claim_red_packet, red_packet_users_, [&](std::uint32_t i) {
    Step step;
    step.user = user_id(i);
    step.target = red_packets_[i / packets_per_red_packet];
    return step;
  });
  if (!wait_idle("claiming red packets")) return false;
  batches_.clear();
  fmt::print(stderr, "setup: done in {:.1f} s (campaign {}, red packets from {})\n",
             std::chrono::duration<double>(Clock::now() - started).count(), campaign_,
             red_packets_.empty() ? 0 : red_packets_[0]);
  return true;
}

Step Scenario::make_step(StepOp op, std::uint32_t index) {
  Order& order = orders_[index];
  Step step;
  step.op = op;
  step.order = order.id;
  step.user = user_id(order.buyer);
  if (op == StepOp::create_order) {
    step.merchant = merchant_id(order.merchant);
    step.amount = order.amount;
  } else if (op == StepOp::pay) {
    std::int64_t& balance = red_balance_[order.buyer];
    step.funding = split_funding(order.funding, order.amount, balance, campaign_);
    balance -= step.funding.red_packet;  // spent now: a rejected payment only leaves it unused
    if (step.funding.card != 0) step.bank_reference = bank_reference_base_ + bank_references_used_++;
  }
  return step;
}

void Scenario::start_order(Clock::time_point now) {
  if (client_.backlog() > backlog_max_) {
    ++unsent_;
    return;
  }
  CAP_ASSERT(orders_.size() < UINT32_MAX);
  const auto index = static_cast<std::uint32_t>(orders_.size());
  Order order;
  order.amount = static_cast<std::int32_t>(draw_order_amount(random_));
  order.funding = draw_funding_kind(random_);
  // In turn, so each buyer's payments are evenly spaced (see payments_per_user_per_min).
  order.buyer = static_cast<std::uint32_t>(index / checkouts_per_payment % users_);
  order.merchant = std::uniform_int_distribution<std::uint32_t>(0, merchants_ - 1)(random_);
  orders_.push_back(order);
  if (options_.mode == Mode::requests) step_due_.push_back(now);
  enqueue(StepOp::create_order, index, now);
}

void Scenario::enqueue(StepOp op, std::uint32_t index, Clock::time_point now) {
  const Step step = make_step(op, index);
  if (options_.mode == Mode::requests) {
    step_due_[index] = now;
    std::string body;
    append_step_body(step, &body);
    client_.submit(tag_of(Kind::step, index),
                   signer_.request(client_.target(), "POST", step_path(step), body,
                                   op == StepOp::cashier ? "" : key(key_letter(op), index)));
    return;
  }
  open_body_.push_back(open_batch_.ops.empty() ? '[' : ',');
  append_batch_step(step, key(key_letter(op), index), &open_body_);
  open_batch_.ops.push_back(op);
  open_batch_.indexes.push_back(index);
  if (open_batch_.ops.size() == batch_steps_max) seal_batch(now);
}

void Scenario::seal_batch(Clock::time_point now) {
  if (open_batch_.ops.empty()) return;
  open_batch_.sealed = now;
  const std::string body = R"({"steps":)" + open_body_ + "]}";
  const auto index = static_cast<std::uint32_t>(batches_.size());
  client_.submit(tag_of(Kind::batch, index),
                 signer_.request(client_.target(), "POST", "/v1/payments/batch", body,
                                 key('b', index)));
  batches_.push_back(std::move(open_batch_));
  open_batch_ = Batch{};
  open_body_.clear();
}

Second& Scenario::second_at(Clock::time_point now) {
  const auto second = static_cast<std::size_t>(std::chrono::duration_cast<seconds>(now - start_).count());
  if (series_.size() <= second) series_.resize(second + 1);
  return series_[second];
}

void Scenario::note_problem(std::string message) {
  if (problems_shown_++ < problems_shown_max) fmt::print(stderr, "load: {}\n", message);
}

void Scenario::step_done(StepOp op, std::uint32_t index, Outcome outcome, std::uint64_t value,
                         std::string_view why, Clock::time_point now) {
  Order& order = orders_[index];
  Second& second = second_at(now);
  if (outcome != Outcome::ok) {
    order.state = OrderState::done;
    if (outcome == Outcome::rejected) {
      ++second.rejected;
    } else {
      ++second.errors;
      note_problem(fmt::format("{} of order {}: {:.300}", op_name(op), order.id, why));
    }
    return;
  }
  switch (op) {
    case StepOp::create_order:
      ++second.checkouts;
      order.id = value;
      order.state = OrderState::at_cashier;
      return enqueue(StepOp::cashier, index, now);
    case StepOp::cashier:
      ++second.cashiers;
      if (index % checkouts_per_payment != 0) {
        order.state = OrderState::done;
        return;
      }
      order.state = OrderState::paying;
      return enqueue(StepOp::pay, index, now);
    case StepOp::pay:
      ++second.paid;
      order.state = OrderState::paid;
      if (options_.mode == Mode::requests) second.latency.record(now - step_due_[index]);
      return;
    case StepOp::top_up:
    case StepOp::claim_red_packet:
    case StepOp::open_user:
    case StepOp::open_merchant:
      break;
  }
  CAP_ASSERT(false);
}

void Scenario::batch_answer(std::uint32_t index, const HttpResponse& response) {
  Batch& batch = batches_[index];
  if (batch.setup) {
    if (outcome_of_status(response.status) == Outcome::rejected) return submit_setup(Kind::batch, index);
    std::vector<StepAnswer> answers;
    if (response.status != 200 || !parse_answers(response.body, &answers) ||
        answers.size() != batch.ops.size()) {
      return setup_failed(fmt::format("HTTP {}: {:.300}", response.status, response.body));
    }
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (!answers[i].ok()) {
        setup_failed(fmt::format("{}: {}", op_name(batch.ops[i]), answers[i].result));
      } else if (batch.ops[i] == StepOp::claim_red_packet) {
        red_balance_[batch.indexes[i]] += static_cast<std::int64_t>(answers[i].value);
      }
    }
    return;
  }
  // Out of the vector first: the follow-up steps may seal new batches and grow it.
  const Batch done = std::move(batch);
  batch = Batch{};
  const auto now = Clock::now();
  second_at(now).latency.record(now - done.sealed);
  const Outcome outcome = outcome_of_status(response.status);
  std::vector<StepAnswer> answers;
  if (outcome == Outcome::ok &&
      (!parse_answers(response.body, &answers) || answers.size() != done.ops.size())) {
    for (std::size_t i = 0; i < done.ops.size(); ++i) {
      step_done(done.ops[i], done.indexes[i], Outcome::error, 0, response.body, now);
    }
  } else {
    for (std::size_t i = 0; i < done.ops.size(); ++i) {
      const bool step_ok = outcome == Outcome::ok && answers[i].ok();
      step_done(done.ops[i], done.indexes[i],
                outcome == Outcome::ok ? (step_ok ? Outcome::ok : Outcome::error) : outcome,
                step_ok ? answers[i].value : 0,
                outcome == Outcome::ok ? answers[i].result : std::string_view(response.body), now);
    }
  }
}

void Scenario::submit_lookup(std::uint32_t index) {
  std::string body = R"({"ids":[)";
  for (std::uint32_t order : lookups_[index]) {
    fmt::format_to(std::back_inserter(body), "{}{}", body.back() == '[' ? "" : ",",
                   orders_[order].id);
  }
  body += "]}";
  client_.submit(tag_of(Kind::lookup, index),
                 signer_.request(client_.target(), "POST", "/v1/lookup/orders", body, ""));
}

void Scenario::lookup_answer(std::uint32_t index, const HttpResponse& response) {
  if (outcome_of_status(response.status) == Outcome::rejected &&
      lookup_retries_++ < lookup_retries_max) {
    return submit_lookup(index);
  }
  const std::vector<std::uint32_t>& orders = lookups_[index];
  std::vector<std::string_view> views;
  if (response.status != 200 || !split_array(response.body, "orders", &views) ||
      views.size() != orders.size()) {
    lost_ += orders.size();
    return note_problem(fmt::format("lost: a lookup of {} acknowledged orders answered HTTP {}: {:.300}",
                                    orders.size(), response.status, response.body));
  }
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const Order& order = orders_[orders[i]];
    OrderView view;
    if (parse_order(views[i], &view) && view.id == order.id &&
        payment_reconciles(view, order.amount)) {
      ++reconciled_;
      continue;
    }
    ++lost_;
    note_problem(fmt::format("lost: order {} paid {} acknowledged ok, the ledger has {:.300}",
                             order.id, order.amount, views[i]));
  }
}

void Scenario::on_response(std::uint64_t tag, const HttpResponse& response) {
  const auto kind = static_cast<Kind>(tag >> kind_shift);
  const std::uint64_t index = tag & ((std::uint64_t{1} << kind_shift) - 1);
  switch (kind) {
    case Kind::campaign:
    case Kind::red_packet:
      return setup_answer(index, kind, response);
    case Kind::batch:
      if (run_over_) return;
      return batch_answer(static_cast<std::uint32_t>(index), response);
    case Kind::lookup:
      return lookup_answer(static_cast<std::uint32_t>(index), response);
    case Kind::step: {
      if (run_over_) return;
      const auto order = static_cast<std::uint32_t>(index);
      const StepOp op = orders_[order].state == OrderState::creating     ? StepOp::create_order
                        : orders_[order].state == OrderState::at_cashier ? StepOp::cashier
                                                                         : StepOp::pay;
      Outcome outcome = outcome_of_status(response.status);
      std::vector<StepAnswer> answers;
      std::uint64_t value = 0;
      if (outcome == Outcome::ok) {
        if (parse_answers(response.body, &answers) && answers[0].ok()) {
          value = answers[0].value;
        } else {
          outcome = Outcome::error;
        }
      }
      // Formatted only for what step_done reports: most answers are ok.
      return step_done(op, order, outcome, value,
                       outcome == Outcome::ok ? std::string()
                                              : fmt::format("HTTP {}: {}", response.status, response.body),
                       Clock::now());
    }
  }
  CAP_ASSERT(false);
}

void Scenario::on_failure(std::uint64_t tag, std::string_view why) {
  const auto kind = static_cast<Kind>(tag >> kind_shift);
  const std::uint64_t index = tag & ((std::uint64_t{1} << kind_shift) - 1);
  if (kind == Kind::lookup) {
    // A lookup only reads: ask again on a new connection.
    if (lookup_retries_++ < lookup_retries_max) return submit_lookup(static_cast<std::uint32_t>(index));
    return note_problem(fmt::format("a lookup failed: {}", why));
  }
  if (run_over_ && (kind == Kind::step || kind == Kind::batch)) return;
  if (kind == Kind::step) {
    return step_done(orders_[index].state == OrderState::creating ? StepOp::create_order
                     : orders_[index].state == OrderState::at_cashier ? StepOp::cashier
                                                                      : StepOp::pay,
                     static_cast<std::uint32_t>(index), Outcome::error, 0, why, Clock::now());
  }
  if (kind == Kind::batch && !batches_[index].setup) {
    const Batch failed = std::move(batches_[index]);
    batches_[index] = Batch{};
    const auto now = Clock::now();
    for (std::size_t i = 0; i < failed.ops.size(); ++i) {
      step_done(failed.ops[i], failed.indexes[i], Outcome::error, 0, why, now);
    }
    return;
  }
  setup_failed(std::string(why));
}

void Scenario::print_progress(Clock::time_point now) {
  const auto second = static_cast<std::size_t>(
      std::chrono::duration_cast<seconds>(now - start_).count());
  if (second == 0 || second > series_.size()) return;
  const Second& last = series_[second - 1];
  fmt::print(stderr,
             "  {:>4}s  paid {:>7}/s  checkout {:>7}/s  p50 {:>7.2f} ms  p99 {:>7.2f} ms  "
             "rejected {:>6}  errors {:>4}  backlog {}\n",
             second, last.paid, last.checkouts, last.latency.percentile_ms(50),
             last.latency.percentile_ms(99), last.rejected, last.errors, client_.backlog());
}

void Scenario::run() {
  const auto expected = static_cast<std::size_t>(
      checkouts_per_s_ * std::chrono::duration<double>(options_.duration).count());
  orders_.reserve(expected + expected / 10);
  if (options_.mode == Mode::requests) step_due_.reserve(orders_.capacity());
  fmt::print(stderr, "run: {:.0f} checkouts/s, {} mode over {} connections for {} ms\n",
             checkouts_per_s_, options_.mode == Mode::batch ? "batch" : "requests",
             options_.connections != 0 ? options_.connections
             : options_.mode == Mode::batch ? batch_connections_default
                                            : requests_connections_default,
             options_.duration.count());
  start_ = Clock::now();
  const auto end = start_ + options_.duration;
  auto next_flush = start_ + batch_flush_interval;
  auto next_progress = start_ + progress_interval;
  std::uint64_t started = 0;
  for (;;) {
    const auto now = Clock::now();
    if (now < end) {
      for (const std::uint64_t due = due_by(checkouts_per_s_, now - start_); started < due; ++started) {
        start_order(now);
      }
    }
    if (now >= next_flush || now >= end) {
      seal_batch(now);
      next_flush = now + batch_flush_interval;
    }
    if (now >= next_progress) {
      print_progress(now);
      next_progress += progress_interval;
    }
    if (now >= end && client_.idle() && open_batch_.ops.empty()) break;
    if (now >= end + drain_timeout) {
      // Requests never sent changed nothing: the server never saw them. Requests sent and not
      // answered are errors; their answers, should they come, are no longer counted.
      for (std::uint64_t tag : client_.drop_backlog()) {
        const std::uint64_t index = tag & ((std::uint64_t{1} << kind_shift) - 1);
        unsent_ += static_cast<Kind>(tag >> kind_shift) == Kind::batch ? batches_[index].ops.size() : 1;
      }
      unanswered_ = client_.in_flight();
      run_over_ = true;
      note_problem(fmt::format("{} requests unanswered {} s after the run", unanswered_,
                               drain_timeout.count()));
      break;
    }
    client_.poll(std::min({now + tick, next_flush, next_progress}), *this);
  }
}

void Scenario::reconcile() {
  const auto started = Clock::now();
  std::uint64_t acknowledged = 0;
  for (std::uint32_t index = 0; index < orders_.size(); ++index) {
    if (orders_[index].state != OrderState::paid) continue;
    ++acknowledged;
    if (lookups_.empty() || lookups_.back().size() == lookup_ids_max) lookups_.emplace_back();
    lookups_.back().push_back(index);
  }
  for (std::uint32_t index = 0; index < lookups_.size(); ++index) {
    submit_lookup(index);
    // Bounded memory: let the answers catch up with the requests.
    while (client_.backlog() > backlog_max_) client_.poll(Clock::now() + tick * 10, *this);
  }
  const auto deadline = Clock::now() + phase_timeout;
  while (!client_.idle() && Clock::now() < deadline) client_.poll(Clock::now() + tick * 100, *this);
  lost_ = acknowledged - reconciled_;  // lookups never answered count too
  fmt::print(stderr,
             "reconcile: {} acknowledged payments looked up in {:.1f} s: {} paid or released in "
             "full, {} lost\n",
             acknowledged, std::chrono::duration<double>(Clock::now() - started).count(),
             reconciled_, lost_);
}

Totals Scenario::totals() const {
  Totals totals = summarize(series_, seconds_run());
  totals.errors += unanswered_;
  totals.unsent = unsent_;
  totals.lost = lost_;
  totals.reconciled = reconciled_;
  return totals;
}

// "30s", "500ms", "2m", or plain seconds.
bool parse_duration(std::string_view text, milliseconds* duration) {
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc{} || number == 0) return false;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  constexpr std::uint64_t duration_s_max = 24 * 3600;
  std::uint64_t ms = 0;
  if (unit == "ms") ms = number;
  else if (unit.empty() || unit == "s") ms = number * 1000;
  else if (unit == "m") ms = number * 60'000;
  else return false;
  if (number > duration_s_max * 1000 || ms > duration_s_max * 1000) return false;
  *duration = milliseconds(ms);
  return true;
}

}  // namespace

int run_load(const LoadOptions& options) {
  Target target;
  if (!parse_target(options.target, &target)) {
    fmt::print(stderr, "load: --target must be HOST:PORT, not '{}'\n", options.target);
    return 2;
  }
  if (!(options.scale > 0 && options.scale <= scale_max) || options.connections > connections_max ||
      options.users > users_max || options.merchants > merchants_max || options.data_dir.empty()) {
    fmt::print(stderr,
               "load: need --data DIR, 0 < --scale <= {}, --connections <= {}, --users <= {}, "
               "--merchants <= {}\n",
               scale_max, connections_max, users_max, merchants_max);
    return 2;
  }
  const auto scaled = [&](std::uint64_t per_scale, std::uint32_t low, std::uint32_t high) {
    return static_cast<std::uint32_t>(std::clamp<double>(
        std::round(static_cast<double>(per_scale) * options.scale), low, high));
  };
  const std::uint32_t users =
      options.users != 0
          ? std::max(options.users, 2u)
          : scaled(payments_per_s_at_scale_1 * 60 / payments_per_user_per_min, users_min, users_max);
  const std::uint32_t merchants = options.merchants != 0
                                      ? options.merchants
                                      : scaled(merchants_per_scale, merchants_min, merchants_max);
  const std::uint64_t id_base = options.id_base != 0
                                    ? options.id_base
                                    : static_cast<std::uint64_t>(std::time(nullptr)) * id_base_step;
  if (id_base > payments::party_id_max - id_base_step) {
    fmt::print(stderr, "load: --id-base leaves no room below {}\n", payments::party_id_max);
    return 2;
  }

  // The platform's secret, derived from the server's master key; never create one here.
  const std::filesystem::path data_dir(options.data_dir);
  if (!std::filesystem::exists(data_dir / auth::master_key_file)) {
    fmt::print(stderr, "load: no {} in {}: pass the running server's --data directory\n",
               auth::master_key_file, options.data_dir);
    return 2;
  }
  std::unique_ptr<auth::Keyring> keyring;
  if (Status status = auth::Keyring::open(data_dir, &keyring); !status.is_ok()) {
    fmt::print(stderr, "load: {}\n", status.message());
    return 1;
  }
  Scenario scenario(options, users, merchants, id_base, keyring->secret(auth::platform_principal),
                    target);
  if (Status status = scenario.connect(); !status.is_ok()) {
    fmt::print(stderr, "load: {} (is `capillary serve` running there?)\n", status.message());
    return 1;
  }
  if (!scenario.set_up()) return 1;
  scenario.run();
  scenario.reconcile();

  const Totals totals = scenario.totals();
  const std::string mode = options.mode == Mode::batch ? "batch" : "requests";
  const Options report_options{{"target", options.target},
                               {"mode", mode},
                               {"scale", fmt::format("{}", options.scale)},
                               {"duration_ms", std::to_string(options.duration.count())},
                               {"connections", std::to_string(options.connections)},
                               {"users", std::to_string(users)},
                               {"merchants", std::to_string(merchants)},
                               {"seed", std::to_string(options.seed)},
                               {"id_base", std::to_string(id_base)},
                               {"latency", options.mode == Mode::batch ? "per batch request"
                                                                       : "per pay request"}};
  if (!options.report.empty()) {
    if (Status status = write_json_report(options.report, report_options, scenario.series(), totals);
        !status.is_ok()) {
      fmt::print(stderr, "load: {}\n", status.message());
    }
  }
  if (!options.plot.empty()) {
    const std::string title =
        fmt::format("12-12-6 at scale {}, {} mode: {:.0f} paid/s, p99 {:.1f} ms", options.scale,
                    mode, totals.paid_per_s, totals.p99_ms);
    if (Status status = write_svg_plot(options.plot, title, scenario.series(), scenario.seconds_run());
        !status.is_ok()) {
      fmt::print(stderr, "load: {}\n", status.message());
    }
  }
  fmt::print(stderr,
             "{} checkouts, {} cashier, {} paid; {} rejected, {} errors, {} steps not sent (generator "
             "backlog full); {} payments reconciled, {} lost; latency {}\n",
             totals.checkouts, totals.cashiers, totals.paid, totals.rejected, totals.errors,
             totals.unsent, totals.reconciled, totals.lost,
             options.mode == Mode::batch ? "per batch request" : "per pay request");
  fmt::print("{}\n", summary_line(totals));
  return totals.lost == 0 && totals.errors == 0 ? 0 : 1;
}

}  // namespace load

void add_load_commands(const Commands& commands) {
  auto options = std::make_shared<load::LoadOptions>();
  auto duration = std::make_shared<std::string>("30s");
  auto mode = std::make_shared<std::string>("batch");
  auto* load = commands.app.add_subcommand("load", "Load tests against a running server");
  load->require_subcommand(1);
  auto* peak = load->add_subcommand(
      "12-12-6", "The peak-day test: per second 120,000 x scale checkouts and channel choices, "
                 "60,000 x scale payments");
  peak->add_option("--target", options->target, "HOST:PORT of the server")->capture_default_str();
  peak->add_option("--data", options->data_dir,
                   "The server's data directory (its master.key signs the requests)")
      ->required();
  peak->add_option("--duration", *duration, "Timed run: 30s, 500ms, 2m")->capture_default_str();
  peak->add_option("--scale", options->scale, "Multiplies the seeds' rates")->capture_default_str();
  peak->add_option("--mode", *mode, "requests: one request per step; batch: steps in batches")
      ->check(CLI::IsMember({"requests", "batch"}))
      ->capture_default_str();
  peak->add_option("--connections", options->connections,
                   "Keep-alive connections (default 64 in requests mode, 8 in batch mode)");
  peak->add_option("--users", options->users, "Buyers (default 900,000 x scale: 4 payments a minute each)");
  peak->add_option("--merchants", options->merchants, "Merchants (default 1,000 x scale)");
  peak->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  peak->add_option("--id-base", options->id_base,
                   "First party id minus one (default: from the clock, so runs never collide)");
  peak->add_option("--report", options->report, "Write a JSON report here");
  peak->add_option("--plot", options->plot, "Write an SVG plot here");
  peak->callback([options, duration, mode, &exit_code = commands.exit_code] {
    if (!load::parse_duration(*duration, &options->duration)) {
      fmt::print(stderr, "load: --duration must be like 30s, 500ms or 2m, not '{}'\n", *duration);
      exit_code = 2;
      return;
    }
    options->mode = *mode == "batch" ? load::Mode::batch : load::Mode::requests;
    exit_code = load::run_load(*options);
  });
}

}  // namespace capillary::cli
