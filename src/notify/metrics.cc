#include "notify/metrics.h"

#include <fmt/format.h>

#include <array>
#include <iterator>

namespace capillary::notify {

std::string render_metrics(const NotifierCounters& counters) {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t value;
  };
  const std::array<Metric, 7> metrics{{
      {"capillary_notify_pending", "gauge",
       "Merchant notifications stored and not yet acknowledged.", counters.pending},
      {"capillary_notify_delivered_total", "counter",
       "Notifications a merchant acknowledged with 2xx since the notifier opened.",
       counters.delivered},
      {"capillary_notify_retries_total", "counter", "Attempts that repeated a failed one.",
       counters.retries},
      {"capillary_notify_failures_total", "counter",
       "Attempts that failed: no answer in time, connection error or a non-2xx status.",
       counters.failures},
      {"capillary_notify_io_errors_total", "counter", "Outbox reads or writes that failed.",
       counters.io_errors},
      {"capillary_notify_in_flight", "gauge", "Delivery attempts under way.", counters.in_flight},
      {"capillary_notify_window_orders", "gauge", "Orders held in memory for delivery.",
       counters.window_orders},
  }};
  std::string out;
  auto it = std::back_inserter(out);
  for (const Metric& metric : metrics) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", metric.name, metric.help, metric.name,
                   metric.type, metric.name, metric.value);
  }
  return out;
}

}  // namespace capillary::notify
