#pragma once
// A small seeded random source for the synthetic population. Written out rather than taken from
// <random> because the standard distributions differ between library versions, and a population is
// only useful if `--seed S` gives the same users everywhere.

#include <cmath>
#include <cstdint>
#include <numbers>

namespace capillary::credit {

class Random {
 public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {}

  // splitmix64: every seed, even 0, gives a full-quality stream.
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1p-53; }
  // Standard normal (Box-Muller; 1 - u keeps the logarithm away from zero).
  double normal() noexcept {
    const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    return radius * std::cos(2.0 * std::numbers::pi * uniform());
  }
  bool bernoulli(double p) noexcept { return uniform() < p; }

 private:
  std::uint64_t state_;
};

// Mixes a seed with a user's index so that user i of seed S is the same whether generated alone or
// as part of a population of any size.
inline std::uint64_t user_seed(std::uint64_t seed, std::uint64_t user) noexcept {
  Random mix(seed ^ (user * 0xd1b54a32d192ed03ull));
  return mix.next();
}

}  // namespace capillary::credit
