#include "credit/model_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "credit/binning.h"
#include "credit/parse_number.h"

namespace capillary::credit {
namespace {

constexpr std::string_view unbounded_word = "max";
// Scaling has to keep scores meaningful: a pdo or anchor outside these makes the range useless.
constexpr std::int32_t pdo_points_max = score_max - score_min;
constexpr std::int32_t anchor_odds_good_max = 1'000'000;

std::string format_upper(std::int64_t upper) {
  return upper == bin_upper_unbounded ? std::string(unbounded_word) : fmt::format("{}", upper);
}

// A line of the file split into words; `key=value` words are looked up by key.
class Line {
 public:
  Line(std::size_t number, std::string_view text) : number_(number) {
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t end = std::min(text.find(' ', start), text.size());
      if (end > start) words_.push_back(text.substr(start, end - start));
      start = end + 1;
    }
  }
  std::size_t number() const { return number_; }
  std::size_t size() const { return words_.size(); }
  std::string_view word(std::size_t i) const { return i < words_.size() ? words_[i] : ""; }
  std::optional<std::string_view> value(std::string_view key) const {
    for (std::size_t i = 1; i < words_.size(); ++i) {
      const std::string_view w = words_[i];
      if (w.size() > key.size() && w.starts_with(key) && w[key.size()] == '=') {
        return w.substr(key.size() + 1);
      }
    }
    return std::nullopt;
  }

 private:
  std::size_t number_;
  std::vector<std::string_view> words_;
};

// Reads the file line by line, skipping blanks and comments; every error carries a line number.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Status parse(Model* model) {
    Model m;
    if (!header() || !model_name(&m) || !training(&m) || !scaling(&m) || !intercept(&m) ||
        !base_points(&m)) {
      return error_;
    }
    for (std::size_t i = 0; i < feature_count; ++i) {
      if (!feature(feature_at(i), &m.features[i])) return error_;
    }
    auto end = next("end");
    if (!end) return error_;
    if (end->size() != 1 || next_line()) {
      fail(*end, "'end' must be the last line and stand alone");
      return error_;
    }
    if (std::string reason = check_model(m); !reason.empty()) {
      return Status::corruption(fmt::format("credit model: {}", reason));
    }
    *model = std::move(m);
    return Status::ok();
  }

 private:
  std::optional<Line> next_line() {
    while (position_ < text_.size()) {
      const std::size_t end = std::min(text_.find('\n', position_), text_.size());
      std::string_view line = text_.substr(position_, end - position_);
      position_ = end + 1;
      ++line_number_;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;
      return Line(line_number_, line);
    }
    return std::nullopt;
  }

  // The next line, which must start with `keyword`.
  std::optional<Line> next(std::string_view keyword) {
    std::optional<Line> line = next_line();
    if (!line) {
      error_ = Status::corruption(
          fmt::format("credit model: unexpected end of file, expected '{}'", keyword));
      return std::nullopt;
    }
    if (line->word(0) != keyword) {
      fail(*line, fmt::format("expected '{}', found '{}'", keyword, line->word(0)));
      return std::nullopt;
    }
    return line;
  }

  // Records the error and returns false, so a check reads `if (bad) return fail(line, why);`.
  bool fail(const Line& line, std::string_view what) {
    error_ = Status::corruption(fmt::format("credit model: line {}: {}", line.number(), what));
    return false;
  }

  template <typename Number>
  bool field(const Line& line, std::string_view key, Number* out) {
    const std::optional<std::string_view> text = line.value(key);
    if (!text) return fail(line, fmt::format("'{}' needs {}=", line.word(0), key));
    if (!parse_number(*text, out)) {
      return fail(line, fmt::format("{}={} is not a valid number", key, *text));
    }
    return true;
  }

  template <typename Number>
  bool single(std::string_view keyword, Number* out) {
    auto line = next(keyword);
    if (!line) return false;
    if (line->size() != 2 || !parse_number(line->word(1), out)) {
      return fail(*line, fmt::format("'{}' takes one number", keyword));
    }
    return true;
  }

  bool header() {
    auto line = next(model_magic);
    if (!line) {
      error_ = Status::corruption(fmt::format(
          "credit model: not a credit model file (the first line must be '{} {}')", model_magic,
          model_format_version));
      return false;
    }
    int version = 0;
    if (line->size() != 2 || !parse_number(line->word(1), &version)) {
      return fail(*line, "the header needs a format version");
    }
    if (version != model_format_version) {
      return fail(*line, fmt::format("format version {} is not supported (this build reads {})",
                                     version, model_format_version));
    }
    return true;
  }

  bool model_name(Model* m) {
    auto line = next("name");
    if (!line) return false;
    if (line->size() != 2 || line->word(1).size() > name_bytes_max) {
      return fail(*line, fmt::format("'name' takes one word of at most {} bytes", name_bytes_max));
    }
    m->name = line->word(1);
    return true;
  }

  bool training(Model* m) {
    auto line = next("training");
    return line && field(*line, "users", &m->training.users) &&
           field(*line, "seed", &m->training.seed) && field(*line, "auc", &m->training.auc) &&
           field(*line, "ks", &m->training.ks);
  }

  bool scaling(Model* m) {
    auto line = next("scaling");
    if (!line || !field(*line, "pdo", &m->scaling.pdo_points) ||
        !field(*line, "anchor_score", &m->scaling.anchor_score) ||
        !field(*line, "anchor_odds_good", &m->scaling.anchor_odds_good)) {
      return false;
    }
    if (m->scaling.pdo_points < 1 || m->scaling.pdo_points > pdo_points_max ||
        m->scaling.anchor_score < score_min || m->scaling.anchor_score > score_max ||
        m->scaling.anchor_odds_good < 1 || m->scaling.anchor_odds_good > anchor_odds_good_max) {
      return fail(*line, fmt::format("scaling out of range: need 1 <= pdo <= {}, {} <= "
                                     "anchor_score <= {}, 1 <= anchor_odds_good <= {}",
                                     pdo_points_max, score_min, score_max, anchor_odds_good_max));
    }
    return true;
  }

  bool intercept(Model* m) { return single("intercept", &m->intercept); }
  bool base_points(Model* m) { return single("base_points", &m->base_points); }

  bool feature(Feature feature, FeatureModel* out) {
    const FeatureSpec& expected = spec(feature);
    auto line = next("feature");
    if (!line) return false;
    if (line->word(1) != expected.name) {
      return fail(*line, fmt::format("expected feature '{}', found '{}'", expected.name,
                                     line->word(1)));
    }
    if (line->value("dimension") != name(expected.dimension) ||
        line->value("monotonic") != name(expected.monotonic)) {
      return fail(*line, fmt::format("feature '{}' must be dimension={} monotonic={}",
                                     expected.name, name(expected.dimension),
                                     name(expected.monotonic)));
    }
    std::size_t bins = 0;
    if (!field(*line, "weight", &out->weight) || !field(*line, "bins", &bins)) return false;
    if (bins < 1 || bins > bins_max) {
      return fail(*line, fmt::format("bins={} is outside 1..{}", bins, bins_max));
    }
    for (std::size_t i = 0; i < bins; ++i) {
      auto bin = next("bin");
      if (!bin) return false;
      std::int64_t upper = bin_upper_unbounded;
      if (bin->value("upper") != unbounded_word && !field(*bin, "upper", &upper)) return false;
      if ((i + 1 == bins) != (upper == bin_upper_unbounded)) {
        return fail(*bin, "only the last bin, and always the last, has upper=max");
      }
      if (!out->upper.empty() && upper <= out->upper.back()) {
        return fail(*bin, "bin upper bounds must increase strictly");
      }
      double woe = 0;
      std::int32_t points = 0;
      if (!field(*bin, "woe", &woe) || !field(*bin, "points", &points)) return false;
      out->upper.push_back(upper);
      out->woe.push_back(woe);
      out->points.push_back(points);
    }
    return true;
  }

  std::string_view text_;
  std::size_t position_ = 0;
  std::size_t line_number_ = 0;
  Status error_;
};

// Points must follow the feature's direction; free features may go either way.
bool points_follow_direction(const FeatureModel& feature, Monotonic monotonic) {
  for (std::size_t i = 1; i < feature.points.size(); ++i) {
    if (monotonic == Monotonic::rising && feature.points[i] < feature.points[i - 1]) return false;
    if (monotonic == Monotonic::falling && feature.points[i] > feature.points[i - 1]) return false;
  }
  return true;
}

}  // namespace

std::string save_model(const Model& model) {
  std::string out = fmt::format("{} {}\n", model_magic, model_format_version);
  out += "# Capillary credit scorecard (docs/credit.md). score = base_points + the points of the\n"
         "# user's bin in every feature, clamped to 350..950.\n";
  out += fmt::format("name {}\n", model.name);
  out += fmt::format("training users={} seed={} auc={} ks={}\n", model.training.users,
                     model.training.seed, model.training.auc, model.training.ks);
  out += fmt::format("scaling pdo={} anchor_score={} anchor_odds_good={}\n",
                     model.scaling.pdo_points, model.scaling.anchor_score,
                     model.scaling.anchor_odds_good);
  out += fmt::format("intercept {}\nbase_points {}\n", model.intercept, model.base_points);
  for (std::size_t i = 0; i < feature_count; ++i) {
    const FeatureSpec& feature = spec(feature_at(i));
    const FeatureModel& m = model.features[i];
    out += fmt::format("\nfeature {} dimension={} monotonic={} weight={} bins={}\n", feature.name,
                       name(feature.dimension), name(feature.monotonic), m.weight, m.upper.size());
    for (std::size_t b = 0; b < m.upper.size(); ++b) {
      out += fmt::format("bin upper={} woe={} points={}\n", format_upper(m.upper[b]), m.woe[b],
                         m.points[b]);
    }
  }
  out += "\nend\n";
  return out;
}

Status parse_model(std::string_view text, Model* model) { return Parser(text).parse(model); }

Status write_model_file(const std::filesystem::path& path, const Model& model) {
  const std::string text = save_model(model);
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!file.flush()) {
      return Status::io_error(fmt::format("credit model: cannot write {}", temporary.string()));
    }
  }
  // Rename so a reader never sees half a model.
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return Status::io_error(
        fmt::format("credit model: cannot rename to {}: {}", path.string(), error.message()));
  }
  return Status::ok();
}

Status read_model_file(const std::filesystem::path& path, Model* model) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::not_found(fmt::format("credit model: cannot open {}", path.string()));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Status::io_error(fmt::format("credit model: cannot read {}", path.string()));
  Status status = parse_model(text.str(), model);
  if (!status.is_ok()) {
    return Status::corruption(fmt::format("{} ({})", status.message(), path.string()));
  }
  return status;
}

bool valid_model_name(std::string_view name) {
  return !name.empty() && name.size() <= name_bytes_max &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

std::string check_model(const Model& model) {
  if (!valid_model_name(model.name)) {
    return fmt::format("the name must be 1..{} letters, digits, '-', '_' or '.'", name_bytes_max);
  }
  const double factor = model.scaling.factor();
  const double base = model.scaling.offset() - factor * model.intercept;
  if (!std::isfinite(base) || std::abs(base) > 4.0 * score_max) {
    return fmt::format("intercept {} puts the base score out of range", model.intercept);
  }
  if (model.base_points != model.scaling.base_points(model.intercept)) {
    return fmt::format("base_points {} does not match the intercept (expected {})",
                       model.base_points, model.scaling.base_points(model.intercept));
  }
  for (std::size_t i = 0; i < feature_count; ++i) {
    const FeatureSpec& feature = spec(feature_at(i));
    const FeatureModel& m = model.features[i];
    if (m.upper.empty() || m.upper.size() > bins_max || m.woe.size() != m.upper.size() ||
        m.points.size() != m.upper.size() || m.upper.back() != bin_upper_unbounded) {
      return fmt::format("feature {}: bins are malformed", feature.name);
    }
    for (std::size_t b = 0; b < m.upper.size(); ++b) {
      if (b > 0 && m.upper[b] <= m.upper[b - 1]) {
        return fmt::format("feature {}: bin upper bounds must increase strictly", feature.name);
      }
      const double term = m.weight * m.woe[b];
      if (!std::isfinite(term) || std::abs(factor * term) > score_max) {
        return fmt::format("feature {}: weight × woe out of range in bin {}", feature.name, b + 1);
      }
      if (m.points[b] != model.scaling.points(term)) {
        return fmt::format("feature {}: bin {} has points={}, but weight × woe scales to {}",
                           feature.name, b + 1, m.points[b], model.scaling.points(term));
      }
    }
    if (m.weight < 0) {
      return fmt::format("feature {}: weight {} is negative", feature.name, m.weight);
    }
    if (!points_follow_direction(m, feature.monotonic)) {
      return fmt::format("feature {}: points must be {} with the value", feature.name,
                         name(feature.monotonic));
    }
  }
  return {};
}

}  // namespace capillary::credit
