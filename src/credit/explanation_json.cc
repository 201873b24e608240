#include "credit/explanation_json.h"

#include <fmt/format.h>

#include "credit/uses.h"

namespace capillary::credit {

// Every string written here is a feature, dimension or reason from features.cc, or a model name
// (one word, model_file.h): none needs escaping.
std::string explanation_json(std::uint64_t user, const Model& model,
                             const Explanation& explanation) {
  std::string out = fmt::format(R"({{"user":{},"score":{},"model":"{}","base_points":{},)", user,
                                explanation.score, model.name, explanation.base_points);
  out += R"("dimensions":{)";
  for (std::size_t d = 0; d < dimension_count; ++d) {
    out += fmt::format(R"({}"{}":{})", d == 0 ? "" : ",", name(static_cast<Dimension>(d)),
                       explanation.dimension_points[d]);
  }
  out += R"(},"reasons":[)";
  for (std::size_t i = 0; i < explanation.reason_count; ++i) {
    const Reason& r = explanation.reasons[i];
    out += fmt::format(R"({}{{"feature":"{}","value":{},"points_lost":{},"reason":"{}"}})",
                       i == 0 ? "" : ",", spec(r.feature).name, r.value, r.points_lost,
                       spec(r.feature).reason);
  }
  const CreditTier tier = credit_tier(explanation.score);
  out += fmt::format(
      R"(],"deposit_waiver":{},"privileged":{},"credit_tier":{},"credit_line_fen":{}}})",
      deposit_waiver(explanation.score), privileged(explanation.score), tier.tier,
      tier.credit_line_fen);
  return out;
}

}  // namespace capillary::credit
