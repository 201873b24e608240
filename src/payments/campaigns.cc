// Coupon campaigns: a merchant (from its balance) or the platform (from its marketing budget)
// funds a budget; a payment that names the campaign takes the coupon's value from that budget
// (payments.cc `fund`), within the validity window, above the minimum spend and under the
// per-user limit.

#include "payments/limits.h"
#include "payments/payments.h"

namespace capillary::payments {
namespace {

bool terms_valid(const CampaignTerms& terms, std::int64_t budget) {
  return terms.value > 0 && terms.value <= budget && terms.min_spend >= 0 &&
         terms.min_spend <= amount_max && terms.valid_from_ns < terms.valid_to_ns &&
         terms.per_user_limit > 0;
}

}  // namespace

Outcome Payments::create_campaign(const Command& command) noexcept {
  if (command.amount <= 0) return outcome(Result::amount_must_be_positive);
  if (command.amount > amount_max) return outcome(Result::amount_too_large);
  if (!terms_valid(command.terms, command.amount)) return outcome(Result::campaign_terms_invalid);
  const bool by_platform = command.party == 0;
  if (!by_platform && merchants_.find(command.party) == nullptr) return outcome(Result::merchant_not_found);
  const std::uint64_t funder = by_platform ? platform_account(PlatformAccount::marketing)
                                           : account_id(AccountKind::merchant, command.party);
  if (!by_platform && chain_.available(funder) < command.amount) {
    return outcome(Result::insufficient_merchant_balance);
  }
  if (Result r = ensure_platform_accounts(); r != Result::ok) return outcome(r);
  CampaignRecord campaign{};
  campaign.id = ++record_sequence_;
  if (Result r = chain_.ensure_account(AccountKind::campaign, campaign.id, ledger::account_debits_must_not_exceed_credits);
      r != Result::ok) {
    --record_sequence_;
    return outcome(r);
  }
  chain_.leg(funder, account_id(AccountKind::campaign, campaign.id), command.amount,
      TransferCode::campaign_fund, campaign.id);
  if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
  campaign.funder = by_platform ? principal(PartyKind::platform, 0) : principal(PartyKind::merchant, command.party);
  campaign.budget = command.amount;
  campaign.terms = command.terms;
  campaigns_.put(campaign.id, campaign);
  return outcome(Result::ok, static_cast<std::int64_t>(campaign.id));
}

}  // namespace capillary::payments
