#pragma once
// Weights of evidence: for each bin, ln(share of all good users in the bin / share of all bad
// users in the bin). Positive means the bin holds relatively more good users than the population.
// Each count gets half a user added (Laplace smoothing), so a bin without defaults has a finite
// weight instead of an infinite one.

#include <vector>

#include "credit/binning.h"

namespace capillary::credit {

std::vector<double> weights_of_evidence(const Bins& bins);

}  // namespace capillary::credit
