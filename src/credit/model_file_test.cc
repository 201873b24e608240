// The model file: round trip exact to the bit and to the score, the shipped model, and clear
// refusals of damaged files.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "credit/model_file.h"
#include "credit/population.h"
#include "credit/train.h"

namespace capillary::credit {
namespace {

const Model& trained() {
  static const Model model = [] {
    TrainOptions options;
    options.users = 20'000;
    options.seed = 7;
    options.name = "test-model";
    return train(options).model;
  }();
  return model;
}

std::string parse_error(const std::string& text) {
  Model model;
  const Status status = parse_model(text, &model);
  EXPECT_FALSE(status.is_ok()) << "accepted:\n" << text;
  return status.message();
}

// The saved text with the first occurrence of `from` replaced by `to`.
std::string edited(std::string_view from, std::string_view to) {
  std::string text = save_model(trained());
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ModelFile, RoundTripIsExact) {
  const Model& model = trained();
  ASSERT_EQ(check_model(model), "");
  const std::string text = save_model(model);
  Model loaded;
  ASSERT_TRUE(parse_model(text, &loaded).is_ok());
  EXPECT_EQ(loaded, model);
  EXPECT_EQ(save_model(loaded), text);
  const Scorecard original(model), reloaded(loaded);
  for (std::uint64_t user = 0; user < 5000; ++user) {
    const Features features = generate_user(11, user).features;
    ASSERT_EQ(reloaded.score(features), original.score(features)) << "user " << user;
  }
}

TEST(ModelFile, FileRoundTripAndMissingFile) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("credit-model-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(write_model_file(path, trained()).is_ok());
  Model loaded;
  ASSERT_TRUE(read_model_file(path, &loaded).is_ok());
  EXPECT_EQ(loaded, trained());
  std::filesystem::remove(path);
  const Status missing = read_model_file(path, &loaded);
  EXPECT_EQ(missing.code(), Status::Code::not_found);
  EXPECT_NE(missing.message().find(path.string()), std::string::npos);
}

TEST(ModelFile, ShippedModelLoads) {
  Model model;
  const Status status =
      read_model_file(std::filesystem::path(CAPILLARY_SOURCE_DIR) / "models/credit-v1.model", &model);
  ASSERT_TRUE(status.is_ok()) << status.message();
  EXPECT_GE(model.training.auc, 0.75);
  Model again;
  ASSERT_TRUE(parse_model(save_model(model), &again).is_ok());
  EXPECT_EQ(again, model);
}

TEST(ModelFile, CommentsAndBlankLinesAreIgnored) {
  Model loaded;
  ASSERT_TRUE(parse_model(edited("name ", "\n# a note\n\nname "), &loaded).is_ok());
  EXPECT_EQ(loaded, trained());
}

TEST(ModelFile, RefusesDamagedFiles) {
  const auto expect_error = [](const std::string& text, std::string_view needle) {
    const std::string message = parse_error(text);
    EXPECT_NE(message.find(needle), std::string::npos) << "message: " << message;
  };
  expect_error("", "not a credit model file");
  expect_error("hello world\n", "not a credit model file");
  expect_error(edited("capillary-credit-model 1", "capillary-credit-model 2"),
               "format version 2 is not supported");
  expect_error(edited("name test-model", "name bad\"name"), "the name must be");
  expect_error(edited("auc=", "auc=x"), "auc=x");
  expect_error(edited("feature on_time_repayments", "feature on_time"),
               "expected feature 'on_time_repayments'");
  expect_error(edited("dimension=history", "dimension=capacity"), "must be dimension=history");
  expect_error(edited("monotonic=falling", "monotonic=rising"), "must be dimension=history");
  expect_error(edited("bins=", "bins=99"), "outside 1..10");
  expect_error(edited("upper=max", "upper=123456789012"), "only the last bin");
  expect_error(edited("\nend\n", "\n"), "unexpected end of file, expected 'end'");
  expect_error(save_model(trained()) + "name again\n", "'end' must be the last line");
  expect_error(edited("\nbase_points ", "\nbase_points 1"), "does not match the intercept");
}

TEST(ModelFile, RefusesInconsistentNumbers) {
  // Points that do not follow from weight × woe, and a monotonic feature turned the wrong way.
  Model model = trained();
  FeatureModel& overdue = model.features[index(Feature::overdue_count)];
  ASSERT_GE(overdue.points.size(), 2u);
  overdue.points[0] += 1;
  EXPECT_NE(parse_error(save_model(model)).find("but weight × woe scales to"), std::string::npos);

  model = trained();
  FeatureModel& wallet = model.features[index(Feature::wallet_balance_fen)];
  ASSERT_GE(wallet.points.size(), 2u);
  wallet.weight = -wallet.weight;
  for (std::size_t b = 0; b < wallet.woe.size(); ++b) {
    wallet.points[b] = model.scaling.points(wallet.weight * wallet.woe[b]);
  }
  EXPECT_NE(parse_error(save_model(model)).find("negative"), std::string::npos);
}

TEST(ModelFile, LineNumbersPointAtTheProblem) {
  const std::string text = edited("\nbin upper=", "\nbin upper=x");
  const std::string message = parse_error(text);
  const auto bad_line_start = text.begin() + static_cast<std::ptrdiff_t>(text.find("upper=x"));
  const auto line = static_cast<std::size_t>(std::count(text.begin(), bad_line_start, '\n')) + 1;
  EXPECT_NE(message.find("line " + std::to_string(line) + ":"), std::string::npos) << message;
}

}  // namespace
}  // namespace capillary::credit
