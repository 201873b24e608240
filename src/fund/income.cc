#include "fund/income.h"

#include <cmath>

namespace capillary::fund {

std::optional<std::int64_t> yield_7d_ppm(std::span<const std::uint64_t> incomes_per_10k_e4) {
  if (incomes_per_10k_e4.size() < yield_days) return std::nullopt;
  double growth = 1.0;
  for (const std::uint64_t income : incomes_per_10k_e4.last(yield_days)) {
    growth *= 1.0 + static_cast<double>(income) / static_cast<double>(income_divisor);
  }
  const double annualised = std::pow(growth, 365.0 / yield_days) - 1.0;
  return static_cast<std::int64_t>(std::llround(annualised * 1e6));
}

}  // namespace capillary::fund
