#pragma once
// The JSON body of a user's score and its explanation: what `capillary credit score --json`
// prints and what the HTTP score endpoint will return (docs/credit.md shows an example).
//
//   {"user":42,"score":688,"model":"credit-v1","base_points":612,
//    "dimensions":{"history":31,"behaviour":-4,"capacity":12,"identity":20,"relationships":17},
//    "reasons":[{"feature":"account_age_days","value":120,"points_lost":51,
//                "reason":"a young account"}, ...],
//    "deposit_waiver":true,"privileged":false,"credit_tier":3,"credit_line_fen":500000}

#include <cstdint>
#include <string>

#include "credit/scorecard.h"

namespace capillary::credit {

std::string explanation_json(std::uint64_t user, const Model& model,
                             const Explanation& explanation);

}  // namespace capillary::credit
