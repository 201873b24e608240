// `capillary bench fund-income`: one day's income of a money-market fund paid to N holders,
// durably. Each step of the run is a payments::Command appended to the real journal (one entry,
// fdatasync'd) before the fund module applies it, as the engine does: after a crash the journal
// holds every step that was applied, and replaying it resumes the run at the same cursor.
//
// Set-up is not timed and takes a bulk path: Funds::import_holders loads the register with the
// company paying the holders' cash into custody in one transfer, so the ledger balances exactly as
// if every holder had subscribed (10^8 subscriptions through the journal would take 20 GB of it).

#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>

#include "cli/commands.h"
#include "fund/calendar.h"
#include "fund/funds.h"
#include "fund/limits.h"
#include "journal/journal.h"
#include "ledger/ledger.h"
#include "payments/chain.h"
#include "payments/limits.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;
using payments::Command;
using payments::CommandKind;
using payments::Result;

struct FundBenchOptions {
  std::uint64_t holders = 1'000'000;
  std::uint64_t step = 1'000'000;
  std::uint64_t rate = 6500;  // income per 10,000 shares, 1/10,000 CNY
  std::filesystem::path dir;  // empty: a fresh temporary directory, removed afterwards
};

constexpr std::uint64_t company = 1;
constexpr std::uint64_t fund_id = 1;
// The income day: Monday 16 November 2026; the run happens on Tuesday morning.
const std::uint64_t income_day = fund::day_number(2026, 11, 16);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Holdings spread from 1.00 to 100,000.00 CNY, a fixed function of the user that bench/fund_peers.sh
// computes in SQL too, so the three systems pay the same register and must agree on the residue.
std::int64_t shares_of(std::uint64_t user) {
  return 100 + static_cast<std::int64_t>(user * 2'654'435'761ull % 10'000'000);
}

class Run {
 public:
  explicit Run(const std::filesystem::path& journal_dir) : journal_dir_(journal_dir) {}

  Status open() {
    journal::End end;
    if (Status s = journal::recover(
            journal_dir_, true, [](const auto&, auto) { return Status::ok(); }, &end);
        !s.is_ok()) {
      return s;
    }
    if (end.last_sequence != 0)
      return Status::invalid_argument("the directory holds a journal already");
    return journal::Writer::open(journal_dir_, end, true, &writer_);
  }

  bool set_up(const FundBenchOptions& options) {
    chain_.set_now(fund::day_start_ns(income_day) + 9 * 3600 * payments::ns_per_s);
    institution_.id = company;
    institution_.kind = payments::InstitutionKind::fund_company;
    const ledger::AccountSpec account =
        payments::account_spec(payments::AccountKind::institution, company, company, 0);
    if (chain_.open_accounts({&account, 1}) != Result::ok) return false;
    Command create = command(CommandKind::create_fund, 0, 0);
    if (funds_.apply(create, chain_, &institution_).result != Result::ok) return false;
    return funds_.import_holders(fund_id, 1, options.holders, shares_of, chain_) == Result::ok;
  }

  // Journals the command (durably), then applies it.
  payments::Outcome execute(const Command& command) {
    journal::EntryHeader header{};
    header.timestamp = chain_.now();
    header.state_hash = ledger_.state_hash() + funds_.state_hash();
    header.kind = journal::EntryKind::payments;
    header.event_count = 1;
    header.body_bytes = sizeof(Command);
    const auto body = std::as_bytes(std::span<const Command>(&command, 1));
    if (Status s = writer_->append(header, body); !s.is_ok()) {
      fmt::print(stderr, "bench fund-income: journal: {}\n", s.message());
      std::exit(1);
    }
    return funds_.apply(command, chain_, &institution_);
  }

  Command command(CommandKind kind, std::uint64_t a, std::uint64_t b) {
    Command command{};
    command.id = ++command_id_;
    command.principal = payments::principal(payments::PartyKind::partner, company);
    command.party = company;
    command.target = fund_id;
    command.a = a;
    command.b = b;
    command.kind = kind;
    return command;
  }

  payments::Chain& chain() { return chain_; }
  const fund::Funds& funds() const { return funds_; }
  const ledger::Ledger& ledger() const { return ledger_; }

 private:
  std::filesystem::path journal_dir_;
  std::unique_ptr<journal::Writer> writer_;
  ledger::Ledger ledger_;
  payments::Chain chain_{ledger_};
  fund::Funds funds_;
  payments::InstitutionRecord institution_{};
  std::uint64_t command_id_ = 0;
};

int run_fund_bench(const FundBenchOptions& options) {
  if (options.holders == 0 || options.holders > fund::holders_per_fund_max || options.step == 0 ||
      options.step > fund::income_step_holders_max ||
      options.rate > fund::income_per_10k_shares_e4_max) {
    fmt::print(stderr, "bench fund-income: --holders 1..2^32-1, --step 1..{}, --rate 0..{}\n",
               fund::income_step_holders_max, fund::income_per_10k_shares_e4_max);
    return 2;
  }
  std::filesystem::path dir = options.dir;
  const bool temporary = dir.empty();
  if (temporary) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "capillary-fund-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      fmt::print(stderr, "bench fund-income: cannot create a temporary directory\n");
      return 1;
    }
    dir = pattern;
  }
  std::filesystem::create_directories(dir / "journal");
  auto run = std::make_unique<Run>(dir / "journal");
  if (Status s = run->open(); !s.is_ok()) {
    fmt::print(stderr, "bench fund-income: {}\n", s.message());
    return 1;
  }

  fmt::print(stderr, "set-up: {} holders ...\n", options.holders);
  const auto setup_started = Clock::now();
  if (!run->set_up(options)) {
    fmt::print(stderr, "bench fund-income: set-up failed\n");
    return 1;
  }
  fmt::print(stderr, "set-up: {:.1f} s\n", seconds_since(setup_started));

  // Tuesday 09:00: declare Monday's income and pay it, step by step.
  run->chain().set_now(fund::day_start_ns(income_day + 1) + 9 * 3600 * payments::ns_per_s);
  const auto started = Clock::now();
  const payments::Outcome declared =
      run->execute(run->command(CommandKind::fund_declare_income, income_day, options.rate));
  if (declared.result != Result::ok) {
    fmt::print(stderr, "bench fund-income: declaration: {}\n", payments::name(declared.result));
    return 1;
  }
  std::int64_t left = static_cast<std::int64_t>(options.holders);
  while (left > 0) {
    const payments::Outcome step =
        run->execute(run->command(CommandKind::fund_income_step, income_day, options.step));
    if (step.result != Result::ok) {
      fmt::print(stderr, "bench fund-income: step: {}\n", payments::name(step.result));
      return 1;
    }
    left = step.value;
    const double elapsed = seconds_since(started);
    const double done = static_cast<double>(options.holders - static_cast<std::uint64_t>(left));
    fmt::print(stderr, "  {:>6.1f}s  {:>5.1f}%  {:>12.0f} holders/s\n", elapsed,
               100.0 * done / static_cast<double>(options.holders), done / elapsed);
  }
  const double seconds = seconds_since(started);

  const fund::IncomeRun& result = *run->funds().find_run(fund_id, income_day);
  fmt::print(
      stderr,
      "declared {} fen, credited {} fen to {} holders, residue {} fen; checking invariants ...\n",
      result.declared, result.credited, result.paid, result.residue);
  std::string broken = run->ledger().check_invariants();
  if (broken.empty()) broken = run->funds().check_invariants(run->ledger());
  if (result.done == 0 || result.credited + result.residue != result.declared || !broken.empty()) {
    fmt::print(stderr, "bench fund-income: the run does not balance: {}\n", broken);
    return 1;
  }
  if (temporary) std::filesystem::remove_all(dir);
  fmt::print("holders={} seconds={:.3f} holders_per_s={:.0f} residue_fen={}\n", options.holders,
             seconds, static_cast<double>(options.holders) / seconds, result.residue);
  return 0;
}

}  // namespace

void add_fund_bench(const Commands& commands) {
  auto options = std::make_shared<FundBenchOptions>();
  auto* bench = commands.bench.add_subcommand(
      "fund-income", "One day's fund income paid to N holders, each step journaled durably");
  bench->add_option("--holders", options->holders, "Holders of the fund")->capture_default_str();
  bench->add_option("--step", options->step, "Holders paid per journaled step")
      ->capture_default_str();
  bench->add_option("--rate", options->rate, "Income per 10,000 shares, in 1/10,000 CNY")
      ->capture_default_str();
  bench->add_option("--dir", options->dir,
                    "An empty directory for the journal (default: a temporary one, removed after)");
  bench->callback([=, &exit_code = commands.exit_code] { exit_code = run_fund_bench(*options); });
}

}  // namespace capillary::cli
