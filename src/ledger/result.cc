#include "ledger/result.h"

#include <array>

namespace capillary::ledger {
namespace {

#define CAPILLARY_NAME(name, description) #name,
#define CAPILLARY_DESCRIPTION(name, description) description,
constexpr std::array<std::string_view, create_account_result_count> account_names{
    CAPILLARY_ACCOUNT_RESULTS(CAPILLARY_NAME)};
constexpr std::array<std::string_view, create_account_result_count> account_descriptions{
    CAPILLARY_ACCOUNT_RESULTS(CAPILLARY_DESCRIPTION)};
constexpr std::array<std::string_view, create_transfer_result_count> transfer_names{
    CAPILLARY_TRANSFER_RESULTS(CAPILLARY_NAME)};
constexpr std::array<std::string_view, create_transfer_result_count> transfer_descriptions{
    CAPILLARY_TRANSFER_RESULTS(CAPILLARY_DESCRIPTION)};
#undef CAPILLARY_NAME
#undef CAPILLARY_DESCRIPTION

}  // namespace

std::string_view name(CreateAccountResult result) {
  return account_names[static_cast<std::size_t>(result)];
}
std::string_view name(CreateTransferResult result) {
  return transfer_names[static_cast<std::size_t>(result)];
}
std::string_view description(CreateAccountResult result) {
  return account_descriptions[static_cast<std::size_t>(result)];
}
std::string_view description(CreateTransferResult result) {
  return transfer_descriptions[static_cast<std::size_t>(result)];
}

}  // namespace capillary::ledger
