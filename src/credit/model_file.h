#pragma once
// The model file: a versioned, line-oriented text format that people can read and diff, and that
// `capillary serve` loads. load(save(m)) == m exactly: doubles are written in their shortest form
// that reads back to the same bits.
//
//   capillary-credit-model 1                      magic and format version, first line
//   name credit-v1                                letters, digits, '-', '_', '.'
//   training users=200000 seed=1 auc=0.83 ks=0.51 what training measured on held-out users
//   scaling pdo=50 anchor_score=650 anchor_odds_good=20
//   intercept -2.31                               fitted log-odds of default
//   base_points 612                               round(offset - factor · intercept)
//   feature <name> dimension=<d> monotonic=<m> weight=<w> bins=<n>
//   bin upper=<int64|max> woe=<x> points=<int>    n lines, upper bounds strictly increasing, the
//   ...                                           last one `max`
//   (one feature block per feature, in the order of features.h)
//   end
//
// Blank lines and lines starting with '#' are ignored. A file is refused, with its line number and
// the reason, when anything is missing, unknown, out of order or inconsistent: a feature's
// dimension or direction differs from features.h, the points are not round(factor · weight · woe),
// base_points does not match the intercept, or a monotonic feature's points go the wrong way.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"
#include "credit/scorecard.h"

namespace capillary::credit {

inline constexpr std::string_view model_magic = "capillary-credit-model";
inline constexpr int model_format_version = 1;
// Model names are short identifiers, written on one line and into JSON without escaping.
inline constexpr std::size_t name_bytes_max = 64;
bool valid_model_name(std::string_view name);

std::string save_model(const Model& model);
Status parse_model(std::string_view text, Model* model);

// File versions of the above; errors name the path.
Status write_model_file(const std::filesystem::path& path, const Model& model);
Status read_model_file(const std::filesystem::path& path, Model* model);

// The consistency rules above, for a model built in memory. Empty when valid, else the reason.
std::string check_model(const Model& model);

}  // namespace capillary::credit
