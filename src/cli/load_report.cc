#include "cli/load_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <memory>

#include "core/assert.h"

namespace capillary::cli::load {
namespace {

constexpr std::uint64_t sub_buckets = std::uint64_t{1} << LatencyHistogram::sub_bucket_bits;

// The plot's geometry and colours, as in bench/plot.py.
constexpr int plot_width = 800, panel_height = 220, margin_left = 70, margin_right = 190,
              margin_top = 30, panel_gap = 60;
constexpr std::string_view colour_paid = "#1f77b4", colour_checkouts = "#2ca02c",
                           colour_p99 = "#d62728", colour_rejected = "#ff7f0e";

// The smallest 1, 2 or 5 times a power of ten at or above `value`.
double nice_max(double value) {
  if (value <= 0) return 1;
  double power = 1;
  while (power * 10 <= value) power *= 10;
  while (power > value) power /= 10;
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

struct Line {
  std::vector<double> values;  // one per second
  std::string_view colour;
  std::string_view label;
};

void panel(std::string* out, int top, const std::vector<Line>& lines, std::string_view title,
           std::uint32_t seconds, bool thousands) {
  auto inserter = std::back_inserter(*out);
  const int width = plot_width - margin_left - margin_right;
  double highest = 0;
  for (const Line& line : lines) {
    for (double value : line.values) highest = std::max(highest, value);
  }
  const double y_max = nice_max(highest);
  const double x_max = std::max<double>(seconds, 1);
  auto x_of = [&](double x) { return margin_left + width * x / x_max; };
  auto y_of = [&](double y) { return top + panel_height * (1 - y / y_max); };
  fmt::format_to(inserter,
                 R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>)"
                 "\n",
                 margin_left, top, width, panel_height);
  // 1 and 5 split into fifths, 2 into quarters: every grid label is a round number.
  const int divisions = fmt::format("{:.0e}", y_max).starts_with('2') ? 4 : 5;
  for (int i = 0; i <= divisions; ++i) {
    const double y = y_max * i / divisions;
    fmt::format_to(inserter,
                   R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#eee"/>)"
                   "\n"
                   R"(<text x="{}" y="{:.1f}" text-anchor="end" font-size="11">{}</text>)"
                   "\n",
                   margin_left, margin_left + width, y_of(y), y_of(y), margin_left - 6,
                   y_of(y) + 4,
                   thousands ? fmt::format("{:.0f}k", y / 1000) : fmt::format("{:g}", y));
  }
  fmt::format_to(inserter, R"(<text x="{}" y="{}" font-size="13">{}</text>)"
                           "\n",
                 margin_left, top - 8, title);
  for (const Line& line : lines) {
    std::string points;
    for (std::size_t second = 0; second < line.values.size(); ++second) {
      fmt::format_to(std::back_inserter(points), "{}{:.1f},{:.1f}", points.empty() ? "" : " ",
                     x_of(static_cast<double>(second) + 0.5), y_of(line.values[second]));
    }
    fmt::format_to(inserter,
                   R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>)"
                   "\n",
                   points, line.colour);
  }
  for (int i = 0; i <= 5; ++i) {
    const double x = x_max * i / 5;
    fmt::format_to(inserter,
                   R"(<text x="{:.1f}" y="{}" text-anchor="middle" font-size="11">{:.0f} s</text>)"
                   "\n",
                   x_of(x), top + panel_height + 16, x);
  }
}

void legend(std::string* out, int top, const std::vector<Line>& lines) {
  const int x = plot_width - margin_right + 12;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const int y = top + 14 + 20 * static_cast<int>(i);
    fmt::format_to(std::back_inserter(*out),
                   R"(<rect x="{}" y="{}" width="10" height="10" fill="{}"/>)"
                   "\n"
                   R"(<text x="{}" y="{}" font-size="11">{}</text>)"
                   "\n",
                   x, y - 9, lines[i].colour, x + 14, y, lines[i].label);
  }
}

Status write_file(const std::string& path, std::string_view text) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "w"), std::fclose);
  if (!file) return Status::io_error(fmt::format("cannot write {}", path));
  if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size()) {
    return Status::io_error(fmt::format("writing {} failed", path));
  }
  return Status::ok();
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::size_t LatencyHistogram::bucket_of(std::uint64_t us) {
  if (us < sub_buckets) return us;
  const int power = std::bit_width(us) - 1;  // >= sub_bucket_bits
  const std::uint64_t sub = (us >> (power - sub_bucket_bits)) - sub_buckets;
  return static_cast<std::size_t>((power - sub_bucket_bits + 1) * sub_buckets + sub);
}

std::pair<std::uint64_t, std::uint64_t> LatencyHistogram::bounds_of(std::size_t bucket) {
  if (bucket < sub_buckets) return {bucket, bucket + 1};
  const int power = static_cast<int>(bucket / sub_buckets) + sub_bucket_bits - 1;
  const std::uint64_t sub = bucket % sub_buckets;
  const int shift = power - sub_bucket_bits;
  return {(sub_buckets + sub) << shift, (sub_buckets + sub + 1) << shift};
}

void LatencyHistogram::record(std::chrono::nanoseconds latency) {
  const auto us = static_cast<std::uint64_t>(
      std::clamp<std::int64_t>(latency.count() / 1000, 0, std::int64_t{latency_us_max}));
  const std::size_t bucket = bucket_of(us);
  CAP_ASSERT(bucket < bucket_count);
  ++buckets_[bucket];
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

double LatencyHistogram::percentile_ms(double percent) const {
  if (count_ == 0) return 0;
  // The rank of the sample at `percent`, 1-based, as the nearest-rank method defines it.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(percent / 100 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const auto [low, high] = bounds_of(i);
      return static_cast<double>(low + high - 1) / 2 / 1000;
    }
  }
  CAP_ASSERT(false);
}

Totals summarize(const std::vector<Second>& series, std::uint32_t seconds) {
  Totals totals;
  LatencyHistogram latency;
  std::uint64_t timed_paid = 0, timed_checkouts = 0;
  for (std::size_t second = 0; second < series.size(); ++second) {
    const Second& s = series[second];
    if (second < seconds) {
      timed_paid += s.paid;
      timed_checkouts += s.checkouts;
    }
    totals.paid += s.paid;
    totals.checkouts += s.checkouts;
    totals.cashiers += s.cashiers;
    totals.rejected += s.rejected;
    totals.errors += s.errors;
    latency.merge(s.latency);
  }
  if (seconds != 0) {
    totals.paid_per_s = static_cast<double>(timed_paid) / seconds;
    totals.checkout_per_s = static_cast<double>(timed_checkouts) / seconds;
  }
  totals.p50_ms = latency.percentile_ms(50);
  totals.p99_ms = latency.percentile_ms(99);
  return totals;
}

std::string summary_line(const Totals& totals) {
  return fmt::format(
      "paid_per_s={:.0f} checkout_per_s={:.0f} p50_ms={:.2f} p99_ms={:.2f} rejected={} errors={} "
      "lost={}",
      totals.paid_per_s, totals.checkout_per_s, totals.p50_ms, totals.p99_ms, totals.rejected,
      totals.errors, totals.lost);
}

Status write_json_report(const std::string& path, const Options& options,
                         const std::vector<Second>& series, const Totals& totals) {
  std::string out = "{\n  \"options\": {";
  auto inserter = std::back_inserter(out);
  for (std::size_t i = 0; i < options.size(); ++i) {
    fmt::format_to(inserter, "{}{}: {}", i == 0 ? "" : ", ", json_string(options[i].first),
                   json_string(options[i].second));
  }
  fmt::format_to(inserter,
                 "}},\n  \"totals\": {{\"paid_per_s\": {:.0f}, \"checkout_per_s\": {:.0f}, "
                 "\"p50_ms\": {:.3f}, \"p99_ms\": {:.3f}, \"paid\": {}, \"checkouts\": {}, "
                 "\"cashiers\": {}, \"rejected\": {}, \"errors\": {}, \"lost\": {}, "
                 "\"unsent\": {}, \"reconciled\": {}}},\n  \"seconds\": [",
                 totals.paid_per_s, totals.checkout_per_s, totals.p50_ms, totals.p99_ms,
                 totals.paid, totals.checkouts, totals.cashiers, totals.rejected, totals.errors,
                 totals.lost, totals.unsent, totals.reconciled);
  for (std::size_t second = 0; second < series.size(); ++second) {
    const Second& s = series[second];
    fmt::format_to(inserter,
                   "{}\n    {{\"second\": {}, \"paid\": {}, \"checkouts\": {}, \"cashiers\": {}, "
                   "\"p50_ms\": {:.3f}, \"p99_ms\": {:.3f}, \"rejected\": {}, \"errors\": {}}}",
                   second == 0 ? "" : ",", second, s.paid, s.checkouts, s.cashiers,
                   s.latency.percentile_ms(50), s.latency.percentile_ms(99), s.rejected,
                   s.errors);
  }
  out += "\n  ]\n}\n";
  return write_file(path, out);
}

Status write_svg_plot(const std::string& path, const std::string& title,
                      const std::vector<Second>& series, std::uint32_t seconds) {
  const std::size_t shown = std::min<std::size_t>(series.size(), seconds);
  Line paid{{}, colour_paid, "paid orders/s"};
  Line checkouts{{}, colour_checkouts, "checkouts/s"};
  Line rejected{{}, colour_rejected, "rejected/s"};
  Line p99{{}, colour_p99, "p99 latency, ms"};
  for (std::size_t second = 0; second < shown; ++second) {
    paid.values.push_back(static_cast<double>(series[second].paid));
    checkouts.values.push_back(static_cast<double>(series[second].checkouts));
    rejected.values.push_back(static_cast<double>(series[second].rejected));
    p99.values.push_back(series[second].latency.percentile_ms(99));
  }
  const int height = margin_top + 2 * panel_height + panel_gap + 40 + 20;
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif">)"
      "\n"
      R"(<rect width="{}" height="{}" fill="white"/>)"
      "\n",
      plot_width, height, plot_width, height);
  const std::vector<Line> throughput{paid, checkouts, rejected};
  const int top = margin_top + 20;
  fmt::format_to(std::back_inserter(out), R"(<text x="{}" y="18" font-size="13">{}</text>)"
                                          "\n",
                 margin_left, title);
  panel(&out, top, throughput, "throughput per second", static_cast<std::uint32_t>(shown), true);
  legend(&out, top, throughput);
  panel(&out, top + panel_height + panel_gap, {p99}, "p99 latency, ms",
        static_cast<std::uint32_t>(shown), false);
  legend(&out, top + panel_height + panel_gap, {p99});
  out += "</svg>\n";
  return write_file(path, out);
}

}  // namespace capillary::cli::load
