#pragma once
// The notifier's counters in the Prometheus text format, for the server's GET /metrics.

#include <string>

#include "notify/notifier.h"

namespace capillary::notify {

std::string render_metrics(const NotifierCounters& counters);

}  // namespace capillary::notify
