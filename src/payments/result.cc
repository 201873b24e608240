#include "payments/result.h"

#include <array>

namespace capillary::payments {
namespace {

#define CAPILLARY_NAME(name, description) #name,
#define CAPILLARY_DESCRIPTION(name, description) description,
constexpr std::array<std::string_view, result_count> names{CAPILLARY_PAYMENT_RESULTS(CAPILLARY_NAME)};
constexpr std::array<std::string_view, result_count> descriptions{
    CAPILLARY_PAYMENT_RESULTS(CAPILLARY_DESCRIPTION)};
#undef CAPILLARY_NAME
#undef CAPILLARY_DESCRIPTION

}  // namespace

std::string_view name(Result result) { return names[static_cast<std::size_t>(result)]; }
std::string_view description(Result result) { return descriptions[static_cast<std::size_t>(result)]; }

}  // namespace capillary::payments
