#pragma once
// Cities the platform knows and distances between positions. Distances are not money, so they are
// computed in floating point and reported as whole kilometres.

#include <cstdint>
#include <span>
#include <string_view>

namespace capillary::risk {

struct City {
  std::string_view name;
  std::int32_t lat_e4;  // degrees x 10^4
  std::int32_t lon_e4;
};

// The city table; an event's city_id indexes it. Beijing is 0 and Hangzhou 1 (the seeds' case).
std::span<const City> cities();

// Great-circle distance in whole kilometres (haversine on a sphere of radius 6,371 km).
std::uint32_t distance_km(std::int32_t lat1_e4, std::int32_t lon1_e4, std::int32_t lat2_e4,
                          std::int32_t lon2_e4);

}  // namespace capillary::risk
