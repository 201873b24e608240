#include "risk/geo.h"

#include <array>
#include <cmath>
#include <numbers>

namespace capillary::risk {
namespace {

constexpr double earth_radius_km = 6371.0;

constexpr std::array<City, 24> city_table{{
    {"Beijing", 399042, 1164074},   {"Hangzhou", 302741, 1201551}, {"Shanghai", 312304, 1214737},
    {"Guangzhou", 231291, 1132644}, {"Shenzhen", 225431, 1140579}, {"Chengdu", 305728, 1040668},
    {"Wuhan", 305928, 1143055},     {"Xi'an", 343416, 1089398},    {"Nanjing", 320603, 1187969},
    {"Chongqing", 295630, 1065516}, {"Tianjin", 391256, 1171902},  {"Suzhou", 312990, 1205853},
    {"Harbin", 458038, 1265350},    {"Kunming", 248801, 1028329},  {"Urumqi", 438256, 876168},
    {"Lhasa", 296500, 911000},      {"Xiamen", 244798, 1180894},   {"Qingdao", 360671, 1203826},
    {"Shenyang", 418057, 1234315},  {"Changsha", 282282, 1129388}, {"Zhengzhou", 347466, 1136253},
    {"Jinan", 366512, 1171201},     {"Hefei", 318206, 1172272},    {"Haikou", 200440, 1103192},
}};

double radians(std::int32_t degrees_e4) { return degrees_e4 * 1e-4 * std::numbers::pi / 180.0; }

}  // namespace

std::span<const City> cities() { return city_table; }

std::uint32_t distance_km(std::int32_t lat1_e4, std::int32_t lon1_e4, std::int32_t lat2_e4,
                          std::int32_t lon2_e4) {
  const double lat1 = radians(lat1_e4), lat2 = radians(lat2_e4);
  const double dlat = lat2 - lat1, dlon = radians(lon2_e4) - radians(lon1_e4);
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return static_cast<std::uint32_t>(2 * earth_radius_km * std::asin(std::sqrt(std::min(1.0, h))));
}

}  // namespace capillary::risk
