#pragma once
// Whole-string number parsing for the credit module's text inputs (model files, event words).

#include <charconv>
#include <cmath>
#include <string_view>
#include <type_traits>

namespace capillary::credit {

// True when all of `text` is one number of type Number (finite, for floating point). Locale-free,
// and exact: a double written in shortest form reads back to the same bits.
template <typename Number>
bool parse_number(std::string_view text, Number* out) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (error != std::errc{} || end != text.data() + text.size()) return false;
  if constexpr (std::is_floating_point_v<Number>) return std::isfinite(*out);
  return true;
}

}  // namespace capillary::credit
