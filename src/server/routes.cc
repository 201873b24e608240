#include "server/routes.h"

#include "core/assert.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <iterator>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/assert.h"
#include "core/limits.h"
#include "server/call.h"
#include "server/json_codec.h"
#include "server/credit_api.h"
#include "server/payment_api.h"
#include "server/risk_api.h"

namespace capillary::server {
namespace {

// Statement lines per page when the client does not say.
constexpr std::uint32_t statement_page_default = 100;
static_assert(statement_page_default <= statement_page_max);

constexpr std::size_t path_segments_max = 4;

struct RouteSpec {
  Route route;
  std::string_view method;
  std::array<std::string_view, path_segments_max> segments;  // "{id}" matches a decimal u64
};

constexpr std::array<RouteSpec, 12> route_specs{{
    {Route::create_accounts, "POST", {"v1", "accounts"}},
    {Route::create_transfers, "POST", {"v1", "transfers"}},
    {Route::get_account, "GET", {"v1", "accounts", "{id}"}},
    {Route::get_transfer, "GET", {"v1", "transfers", "{id}"}},
    {Route::lookup_accounts, "POST", {"v1", "lookup", "accounts"}},
    {Route::lookup_transfers, "POST", {"v1", "lookup", "transfers"}},
    {Route::statement, "GET", {"v1", "accounts", "{id}", "statement"}},
    {Route::balance, "GET", {"v1", "accounts", "{id}", "balance"}},
    {Route::status, "GET", {"v1", "status"}},
    {Route::healthz, "GET", {"healthz"}},
    {Route::readyz, "GET", {"readyz"}},
    {Route::metrics, "GET", {"metrics"}},
}};

struct Path {
  std::array<std::string_view, path_segments_max> segments{};
  std::size_t count = 0;
};

// Splits "/v1/accounts/7" into its segments; nullopt when it has too many or an empty one.
std::optional<Path> split_path(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  Path result;
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty() || result.count == path_segments_max) return std::nullopt;
    result.segments[result.count++] = segment;
    if (slash == std::string_view::npos) return result;
    path.remove_prefix(slash + 1);
  }
}

bool matches(const RouteSpec& spec, const Path& path) {
  for (std::size_t i = 0; i < path_segments_max; ++i) {
    const std::string_view want = spec.segments[i];
    const std::string_view got = i < path.count ? path.segments[i] : std::string_view();
    if (want.empty() != got.empty()) return false;
    if (want != "{id}" && want != got) return false;
  }
  return true;
}

bool is_json(std::string_view content_type) {
  const std::string_view media_type = content_type.substr(0, content_type.find(';'));
  constexpr std::string_view json = "application/json";
  if (media_type.size() < json.size()) return false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(media_type[i])) != json[i]) return false;
  }
  return media_type.substr(json.size()).find_first_not_of(" \t") == std::string_view::npos;
}

Response ok(std::string body, std::string_view content_type = "application/json") {
  Response response;
  response.body = std::move(body);
  response.content_type = content_type;
  return response;
}

ApiError not_json() {
  return {415, "unsupported_media_type", "send the body as Content-Type: application/json", {}};
}

// Reads decimal parameters of a query string into `values`, in the order of `names`. Unknown,
// repeated and non-decimal parameters are errors: a typo must not silently fall back to a default.
template <std::size_t count>
bool parse_query(std::string_view query, const std::array<std::string_view, count>& names,
                 std::array<std::optional<std::uint64_t>, count>* values, ApiError* error) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view text =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::size_t slot = 0;
    while (slot < count && names[slot] != key) ++slot;
    if (slot == count) {
      *error = {400, "unknown_parameter", fmt::format("{} is not a parameter of this route", key),
                std::string(key)};
      return false;
    }
    std::uint64_t value;
    if ((*values)[slot].has_value() || !parse_decimal(text, &value)) {
      *error = {400, "invalid_parameter",
                fmt::format("{} must appear once, as a decimal integer from 0 to 2^64-1", key),
                std::string(key)};
      return false;
    }
    (*values)[slot] = value;
  }
  return true;
}

ApiError refused(engine::Submit outcome) {
  switch (outcome) {
    case engine::Submit::overloaded:
      return {503, "overloaded", "the engine's queue is full; retry after a moment", {}};
    case engine::Submit::stopped:
      return {503, "stopping", "the engine is shutting down", {}};
    case engine::Submit::too_many_events:
      return {413,
              "too_many_events",
              fmt::format("at most {} events per request", batch_events_max),
              {}};
    case engine::Submit::empty:
      return {400, "empty_batch", "the request holds no events", {}};
    case engine::Submit::accepted:
      break;
  }
  return {500, "internal", "unexpected submission outcome", {}};
}

ApiError account_not_found(std::uint64_t id) {
  return {404, "account_not_found", fmt::format("no account has id {}", id), {}};
}

// Lookups answer in request order with null for an id that is not there.
template <typename Record, typename Write>
Response write_lookup(std::string_view list, const std::vector<std::optional<Record>>& records,
                      Write write) {
  Response response;
  response.body.reserve(16 + records.size() * 400);
  fmt::format_to(std::back_inserter(response.body), "{{\"{}\":[", list);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i != 0) response.body += ',';
    if (records[i]) {
      write(response.body, *records[i]);
    } else {
      response.body += "null";
    }
  }
  response.body += "]}";
  return response;
}

}  // namespace

Routes::Routes(engine::Engine& engine, Metrics& metrics, Post post_blocking,
               const std::atomic<bool>& stopping, PaymentApi* payments,
               std::function<std::string()> extra_metrics, RiskApi* risk, CreditApi* credit)
    : engine_(engine),
      metrics_(metrics),
      post_blocking_(std::move(post_blocking)),
      stopping_(stopping),
      payments_(payments),
      extra_metrics_(std::move(extra_metrics)),
      risk_(risk),
      credit_(credit) {}

void Routes::handle(const Request& request, Respond respond) noexcept {
  const std::size_t question = request.target.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : request.target.substr(question + 1);
  const std::optional<Path> path = split_path(request.target.substr(0, question));
  if (payments_ != nullptr && PaymentApi::handles(request.target)) {
    return payments_->handle(request, std::move(respond));
  }
  if (risk_ != nullptr && RiskApi::handles(request.target)) return risk_->handle(request, std::move(respond));
  if (credit_ != nullptr && CreditApi::handles(request.target)) return credit_->handle(request, std::move(respond));

  const RouteSpec* found = nullptr;
  std::string allow;
  for (const RouteSpec& spec : route_specs) {
    if (!path || !matches(spec, *path)) continue;
    if (spec.method == request.method) found = &spec;
    allow += allow.empty() ? "" : ", ";
    allow += spec.method;
  }
  const Call call(metrics_, found ? found->route : Route::unmatched, std::move(respond));
  call.guarded([&] {
    if (found == nullptr) {
      if (allow.empty()) {
        return call.fail({404, "not_found", fmt::format("no route {}", request.target), {}});
      }
      Response response;
      response.status = 405;
      write_error(
          response.body,
          {405, "method_not_allowed", fmt::format("{} takes {}", request.target, allow), {}});
      response.allow = std::move(allow);
      return call.answer(std::move(response));
    }
    const bool takes_body = found->method == "POST";
    if (takes_body && !is_json(request.content_type)) return call.fail(not_json());
    if (!takes_body && !request.body.empty()) {
      return call.fail({400, "unexpected_body", "this route takes no body", {}});
    }
    const bool takes_query = found->route == Route::statement || found->route == Route::balance;
    if (!takes_query && !query.empty()) {
      return call.fail({400, "unknown_parameter", "this route takes no query parameters", {}});
    }
    std::uint64_t id = 0;  // every route with an id has it as its third segment
    if (found->segments[2] == "{id}" && !parse_decimal(path->segments[2], &id)) {
      return call.fail({400, "invalid_id",
                        fmt::format("{} is not a decimal id from 0 to 2^64-1", path->segments[2]),
                        "id"});
    }
    switch (found->route) {
      case Route::create_accounts:
        return create_accounts(request, call);
      case Route::create_transfers:
        return create_transfers(request, call);
      case Route::get_account:
        return get_account(id, call);
      case Route::get_transfer:
        return get_transfer(id, call);
      case Route::lookup_accounts:
        return lookup_accounts(request, call);
      case Route::lookup_transfers:
        return lookup_transfers(request, call);
      case Route::statement:
        return statement(id, query, call);
      case Route::balance:
        return balance(id, query, call);
      case Route::status:
        return status(call);
      case Route::healthz:
        return call.answer(ok("{\"status\":\"ok\"}"));
      case Route::readyz:
        return readyz(call);
      case Route::metrics:
        return metrics(call);
      case Route::payments:
      case Route::unmatched:
        break;
    }
    call.fail({500, "internal", "route without a handler", {}});
  });
}

void Routes::create_accounts(const Request& request, const Call& call) {
  std::vector<ledger::AccountSpec> events;
  ApiError error;
  if (!parse_accounts(request.body, &events, &error)) return call.fail(error);
  submit_events<ledger::CreateAccountResult>(
      std::move(events), call, [this](auto events, auto done) {
        return engine_.submit_accounts(std::move(events), std::move(done));
      });
}

void Routes::create_transfers(const Request& request, const Call& call) {
  std::vector<ledger::Transfer> events;
  ApiError error;
  if (!parse_transfers(request.body, &events, &error)) return call.fail(error);
  submit_events<ledger::CreateTransferResult>(
      std::move(events), call, [this](auto events, auto done) {
        return engine_.submit_transfers(std::move(events), std::move(done));
      });
}

template <typename Result, typename Event, typename Submit>
void Routes::submit_events(std::vector<Event> events, const Call& call, Submit submit) {
  const engine::Submit outcome =
      submit(std::move(events), [this, call](std::span<const Result> results) {
        // On the journal thread: copy the one-byte codes and leave.
        call.post([this, call, results = std::vector<Result>(results.begin(), results.end())] {
          call.guarded([&] {
            metrics_.record_results(std::span<const Result>(results));
            Response response;
            write_results(response.body, std::span<const Result>(results));
            call.answer(std::move(response));
          });
        });
      });
  if (outcome != engine::Submit::accepted) call.fail(refused(outcome));
}

template <typename Read, typename Answer>
void Routes::read_then(const Call& call, Read read, Answer answer) {
  const engine::Submit outcome =
      engine_.submit_read([this, call, read, answer](const engine::State& state) {
        engine::Engine::Reply reply;
        call.guarded([&] {
          // Ledger routes read the ledger alone; product routes read the whole state.
          auto value = [&] {
            if constexpr (std::is_invocable_v<Read, const ledger::Ledger&>) {
              return read(state.ledger);
            } else {
              return read(state);
            }
          }();
          reply = call.post_later([call, answer, value = std::move(value)] { call.guarded([&] { answer(value); }); });
        });
        return reply;
      });
  if (outcome != engine::Submit::accepted) call.fail(refused(outcome));
}

void Routes::get_account(std::uint64_t id, const Call& call) {
  read_then(
      call,
      [id](const ledger::Ledger& ledger) {
        const ledger::Account* account = ledger.find_account(id);
        return account ? std::optional(*account) : std::nullopt;
      },
      [call, id](const std::optional<ledger::Account>& account) {
        if (!account) return call.fail(account_not_found(id));
        Response response;
        write_account(response.body, *account);
        call.answer(std::move(response));
      });
}

void Routes::get_transfer(std::uint64_t id, const Call& call) {
  read_then(
      call,
      [id](const ledger::Ledger& ledger) {
        const ledger::TransferRecord* record = ledger.find_transfer(id);
        return record ? std::optional(*record) : std::nullopt;
      },
      [call, id](const std::optional<ledger::TransferRecord>& record) {
        if (!record) {
          return call.fail(
              {404, "transfer_not_found", fmt::format("no transfer has id {}", id), {}});
        }
        Response response;
        write_transfer(response.body, *record);
        call.answer(std::move(response));
      });
}

// Both lookups: parse the ids, copy the records out on the engine thread, write them on an io
// thread in request order.
template <typename Record, typename Find, typename Write>
void Routes::lookup(const Request& request, const Call& call, std::string_view list, Find find,
                    Write write) {
  std::vector<std::uint64_t> ids;
  ApiError error;
  if (!parse_ids(request.body, &ids, &error)) return call.fail(error);
  read_then(
      call,
      [ids = std::move(ids), find](const ledger::Ledger& ledger) {
        std::vector<std::optional<Record>> records(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) {
          if (const Record* record = find(ledger, ids[i])) records[i] = *record;
        }
        return records;
      },
      [call, list, write](const std::vector<std::optional<Record>>& records) {
        call.answer(write_lookup(list, records, write));
      });
}

void Routes::lookup_accounts(const Request& request, const Call& call) {
  lookup<ledger::Account>(
      request, call, "accounts",
      [](const ledger::Ledger& ledger, std::uint64_t id) { return ledger.find_account(id); },
      write_account);
}

void Routes::lookup_transfers(const Request& request, const Call& call) {
  lookup<ledger::TransferRecord>(
      request, call, "transfers",
      [](const ledger::Ledger& ledger, std::uint64_t id) { return ledger.find_transfer(id); },
      write_transfer);
}

// The account is looked up first so an unknown id is a 404 rather than an empty statement; the
// page itself comes from the history store once it holds every batch committed so far, so a
// client always sees its own acknowledged writes.
void Routes::statement(std::uint64_t id, std::string_view query, const Call& call) {
  std::array<std::optional<std::uint64_t>, 3> values;
  ApiError error;
  if (!parse_query(query, std::array<std::string_view, 3>{"from", "to", "limit"}, &values,
                   &error)) {
    return call.fail(error);
  }
  const std::uint64_t from_ns = values[0].value_or(0);
  const std::uint64_t to_ns = values[1].value_or(std::numeric_limits<std::uint64_t>::max());
  const std::uint64_t limit = values[2].value_or(statement_page_default);
  if (limit == 0 || limit > statement_page_max) {
    return call.fail({400, "invalid_parameter",
                      fmt::format("limit must be from 1 to {}", statement_page_max), "limit"});
  }
  read_then(
      call, [id](const ledger::Ledger& ledger) { return ledger.find_account(id) != nullptr; },
      [this, call, id, from_ns, to_ns, limit](bool exists) {
        if (!exists) return call.fail(account_not_found(id));
        post_blocking_([this, call, id, from_ns, to_ns, limit] {
          call.guarded([&] {
            engine_.wait_for_history();
            std::vector<store::StatementLine> lines;
            const Status status = engine_.store().statement(
                id, from_ns, to_ns, static_cast<std::uint32_t>(limit), &lines);
            if (!status.is_ok())
              return call.fail({500, "history_unavailable", status.message(), {}});
            // Lines name their transfers; the ledger holds them. Blocking is fine on this pool.
            std::vector<ledger::TransferRecord> transfers(lines.size());
            engine_.read([&](const engine::State& state) {
              const ledger::Ledger& ledger = state.ledger;
              for (std::size_t i = 0; i < lines.size(); ++i) {
                const ledger::TransferRecord* record = ledger.find_transfer(lines[i].transfer_id);
                CAP_ASSERT(record != nullptr);  // every transfer with history stays resident
                transfers[i] = *record;
              }
            });
            Response response;
            response.body.reserve(64 + lines.size() * 700);
            fmt::format_to(std::back_inserter(response.body), "{{\"account_id\":\"{}\",\"lines\":[",
                           id);
            for (std::size_t i = 0; i < lines.size(); ++i) {
              if (i != 0) response.body += ',';
              write_statement_line(response.body, id, lines[i], transfers[i]);
            }
            response.body += "],\"next_from\":";
            // A full page may have more behind it; a short one is the end of the range.
            if (lines.size() == limit) {
              fmt::format_to(std::back_inserter(response.body), "\"{}\"}}",
                             lines.back().timestamp + 1);
            } else {
              response.body += "null}";
            }
            call.answer(std::move(response));
          });
        });
      });
}

// Balances as of `at` (default: now). An account that existed then but had no balance change yet
// stood at zero; one created after `at` had no balances at all, which is a 404 of its own.
void Routes::balance(std::uint64_t id, std::string_view query, const Call& call) {
  std::array<std::optional<std::uint64_t>, 1> values;
  ApiError error;
  if (!parse_query(query, std::array<std::string_view, 1>{"at"}, &values, &error)) {
    return call.fail(error);
  }
  const std::uint64_t at_ns = values[0].value_or(std::numeric_limits<std::uint64_t>::max());
  read_then(
      call,
      [id](const ledger::Ledger& ledger) {
        const ledger::Account* account = ledger.find_account(id);
        return account ? std::optional(*account) : std::nullopt;
      },
      [this, call, id, at_ns](const std::optional<ledger::Account>& account) {
        if (!account) return call.fail(account_not_found(id));
        if (account->timestamp > at_ns) {
          return call.fail(
              {404, "account_not_yet_created",
               fmt::format("account {} was created at {}, after {}", id, account->timestamp, at_ns),
               "at"});
        }
        post_blocking_([this, call, id, at_ns, created_ns = account->timestamp] {
          call.guarded([&] {
            engine_.wait_for_history();
            store::StatementLine line{};
            const Status status = engine_.store().balance_as_of(id, at_ns, &line);
            if (!status.is_ok() && status.code() != Status::Code::not_found) {
              return call.fail({500, "history_unavailable", status.message(), {}});
            }
            const bool changed = status.is_ok();
            Response response;
            fmt::format_to(
                std::back_inserter(response.body),
                "{{\"account_id\":\"{}\",\"at\":\"{}\",\"timestamp\":\"{}\",\"balances\":", id,
                at_ns, changed ? line.timestamp : created_ns);
            write_balances(response.body, changed ? line.balances_after : ledger::Balances{});
            response.body += '}';
            call.answer(std::move(response));
          });
        });
      });
}

void Routes::status(const Call& call) {
  const engine::Stats stats = engine_.stats();
  Response response;
  fmt::format_to(
      std::back_inserter(response.body),
      "{{\"last_sequence\":\"{}\",\"last_timestamp\":\"{}\",\"state_hash\":\"{:016x}\","
      "\"batches\":\"{}\",\"events\":\"{}\",\"journal_bytes\":\"{}\",\"accounts\":\"{}\","
      "\"transfers\":\"{}\",\"history_sequence\":\"{}\",\"checkpoint_sequence\":\"{}\","
      "\"replayed_batches\":\"{}\",\"queue_depth\":\"{}\",\"rejected_overloaded\":\"{}\","
      "\"batch_ms_last\":{}}}",
      stats.last_sequence, stats.last_timestamp, stats.state_hash, stats.batches, stats.events,
      stats.journal_bytes, stats.accounts, stats.transfers, stats.history_sequence,
      stats.checkpoint_sequence, stats.replayed_batches, stats.queue_depth,
      stats.rejected_overloaded, stats.batch_ms_last);
  call.answer(std::move(response));
}

// Ready when the engine thread answers a read: it is open, recovered and not shutting down.
void Routes::readyz(const Call& call) {
  if (stopping_.load()) return call.fail({503, "stopping", "the server is shutting down", {}});
  const engine::Submit outcome = engine_.submit_read(
      [call](const engine::State&) -> engine::Engine::Reply {
        return [call] { call.answer(ok("{\"status\":\"ready\"}")); };
      });
  if (outcome != engine::Submit::accepted) call.fail(refused(outcome));
}

void Routes::metrics(const Call& call) {
  std::string text = metrics_.render(engine_.stats());
  if (extra_metrics_) text += extra_metrics_();
  call.answer(ok(std::move(text), "text/plain; version=0.0.4"));
}

}  // namespace capillary::server
