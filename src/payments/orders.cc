// Escrow orders: created by a merchant, paid by a buyer from a mix of sources in one linked chain,
// held in the platform's escrow account, released to the merchant less its fee when the buyer
// confirms or the clock does, refunded to the sources before release or from the merchant after.
//
//   awaiting_payment ──pay──► paid ──confirm / auto-confirm──► released
//          │                   │                                  │
//        close            refund all                        refund (from the merchant)
//          ▼                   ▼
//        closed            refunded

#include "core/assert.h"
#include "payments/limits.h"
#include "payments/money.h"
#include "payments/payments.h"

namespace capillary::payments {
namespace {

// Why an order in `state` cannot take a command that needs it paid.
Result not_paid(OrderState state) {
  switch (state) {
    case OrderState::awaiting_payment: return Result::order_not_paid;
    case OrderState::released: return Result::order_already_released;
    case OrderState::refunded: return Result::order_refunded;
    case OrderState::closed: return Result::order_closed;
    case OrderState::paid: break;
  }
  CAP_ASSERT(false);
  return Result::order_not_paid;
}

// Checks a refund's bank answer against the card part it must cover (`card_part`, fen, on the
// order's `channel`). The API asked the bank to credit exactly this part before journaling; if the
// order changed in between (another refund, a release), the answer no longer fits and the refund
// is rejected whole: the bank's credit then shows in reconciliation as missing in the ledger.
Result check_card_refund(const Command& command, std::int64_t card_part, std::uint32_t channel) noexcept {
  if (card_part == 0) {
    const bool bank_involved = command.bank.outcome != BankOutcome::none || command.funding.card != 0;
    return bank_involved ? Result::card_refund_mismatch : Result::ok;
  }
  if (command.bank.outcome == BankOutcome::none) return Result::bank_answer_missing;
  if (command.bank.channel != channel) return Result::card_refund_mismatch;
  // A batch step carries the bank's answer alone and covers whatever the card part is now.
  if (command.funding.card != 0 && command.funding.card != card_part) return Result::card_refund_mismatch;
  return Result::ok;
}

}  // namespace

Result Payments::fund(const Command& command, std::int64_t due, std::uint64_t credit,
                      std::uint64_t user_data, TransferCode code, Funded* funded) noexcept {
  const Funding& f = command.funding;
  if (f.credit != 0) return Result::credit_not_enabled;
  if (f.wallet < 0 || f.red_packet < 0 || f.card < 0 || f.fund < 0 || f.wallet > amount_max ||
      f.red_packet > amount_max || f.card > amount_max || f.fund > amount_max) {
    return Result::funding_mismatch;
  }
  *funded = {f.wallet, f.red_packet, f.card, 0, f.fund};
  const CampaignRecord* campaign = nullptr;
  if (f.campaign != 0) {
    campaign = campaigns_.find(f.campaign);
    if (campaign == nullptr) return Result::campaign_not_found;
    if (chain_.now() < campaign->terms.valid_from_ns || chain_.now() >= campaign->terms.valid_to_ns) {
      return Result::coupon_not_valid_now;
    }
    if (due < campaign->terms.min_spend) return Result::coupon_min_spend;
    if (coupons_in_use(f.campaign, command.party) >= campaign->terms.per_user_limit) {
      return Result::coupon_limit_reached;
    }
    funded->coupon = std::min(campaign->terms.value, due);
  }
  if (funded->wallet + funded->red_packet + funded->card + funded->coupon + funded->fund != due) {
    return Result::funding_mismatch;
  }
  if (funded->card > 0) {
    switch (command.bank.outcome) {
      case BankOutcome::approved: break;
      case BankOutcome::declined: return Result::bank_declined;
      case BankOutcome::failed: return Result::bank_failed;
      case BankOutcome::none: return Result::bank_answer_missing;
    }
    if (Result r = chain_.ensure_account(AccountKind::bank_clearing, command.bank.channel, 0); r != Result::ok) {
      return r;
    }
  }
  if (funded->coupon > 0) {
    chain_.leg(account_id(AccountKind::campaign, campaign->id), credit, funded->coupon, code, user_data);
  }
  if (funded->red_packet > 0) {
    chain_.leg(account_id(AccountKind::red_packet, command.party), credit, funded->red_packet, code, user_data);
  }
  if (funded->wallet > 0) {
    chain_.leg(account_id(AccountKind::wallet, command.party), credit, funded->wallet, code, user_data);
  }
  if (funded->card > 0) {
    chain_.leg(account_id(AccountKind::bank_clearing, command.bank.channel), credit, funded->card, code,
        command.bank.reference);
  }
  // Shares of the fund named in `b`, redeemed instantly inside this chain.
  if (funded->fund > 0) return funds_.checkout_legs(command.b, command.party, funded->fund, credit, user_data, chain_);
  return Result::ok;
}

void Payments::note_fund_spent(const Command& command, const Funded& funded, std::uint64_t at) noexcept {
  if (funded.fund > 0) funds_.checkout_done(command.b, command.party, funded.fund, at);
}

void Payments::note_coupon_used(std::uint64_t campaign, std::uint64_t user) noexcept {
  coupons_.put({campaign, user}, {campaign, user, coupons_in_use(campaign, user) + 1});
}

void Payments::note_coupon_returned(std::uint64_t campaign, std::uint64_t user) noexcept {
  const std::uint64_t in_use = coupons_in_use(campaign, user);
  CAP_ASSERT(in_use > 0);
  coupons_.put({campaign, user}, {campaign, user, in_use - 1});
}

Outcome Payments::create_order(const Command& command) noexcept {
  if (command.amount <= 0) return outcome(Result::amount_must_be_positive);
  if (command.amount > amount_max) return outcome(Result::amount_too_large);
  if (merchants_.find(command.party) == nullptr) return outcome(Result::merchant_not_found);
  if (command.counterparty != 0 && users_.find(command.counterparty) == nullptr) {
    return outcome(Result::counterparty_not_found);
  }
  if (command.reference != 0) {
    if (const PairRecord* taken = order_numbers_.find({command.party, command.reference})) {
      return outcome(Result::order_exists, static_cast<std::int64_t>(taken->count));
    }
  }
  OrderRecord order{};
  order.id = ++record_sequence_;
  order.merchant = command.party;
  order.buyer = command.counterparty;
  order.amount = command.amount;
  order.created_at = chain_.now();
  order.reference = command.reference;
  order.state = OrderState::awaiting_payment;
  record_event(order);
  orders_.put(order.id, order);
  if (command.reference != 0) {
    order_numbers_.put({command.party, command.reference}, {command.party, command.reference, order.id});
  }
  return outcome(Result::ok, static_cast<std::int64_t>(order.id));
}

Outcome Payments::pay_order(const Command& command) noexcept {
  const OrderRecord* found = orders_.find(command.target);
  if (found == nullptr) return outcome(Result::order_not_found);
  if (found->buyer != 0 && found->buyer != command.party) return outcome(Result::forbidden);
  if (found->state != OrderState::awaiting_payment) {
    return outcome(found->state == OrderState::closed ? Result::order_closed : Result::order_not_payable);
  }
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  const MerchantRecord* merchant = merchants_.find(found->merchant);
  CAP_ASSERT(merchant != nullptr);
  Funded funded{};
  const std::uint64_t at = chain_.now();
  if (Result r = fund(command, found->amount, platform_account(PlatformAccount::escrow), found->id,
                      TransferCode::order_payment, &funded);
      r != Result::ok) {
    return outcome(r);
  }
  if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
  note_fund_spent(command, funded, at);
  OrderRecord order = *found;
  order.buyer = command.party;
  order.held = order.amount;
  order.from_wallet = funded.wallet;
  order.from_red_packet = funded.red_packet;
  order.from_card = funded.card;
  order.from_coupon = funded.coupon;
  order.from_fund = funded.fund;
  order.campaign = funded.coupon > 0 ? command.funding.campaign : 0;
  order.fund = funded.fund > 0 ? command.b : 0;
  order.channel = funded.card > 0 ? command.bank.channel : 0;
  order.paid_at = chain_.now();
  order.release_at = chain_.now() + std::uint64_t{merchant->auto_confirm_s} * ns_per_s;
  order.state = OrderState::paid;
  if (funded.coupon > 0) note_coupon_used(order.campaign, order.buyer);
  record_event(order);
  orders_.put(order.id, order);
  deadlines_.push({order.release_at, order.id, true});
  return outcome(Result::ok, order.amount);
}

Outcome Payments::confirm_order(const Command& command) noexcept {
  const OrderRecord* found = orders_.find(command.target);
  if (found == nullptr) return outcome(Result::order_not_found);
  if (found->buyer != command.party) return outcome(Result::forbidden);
  if (found->state != OrderState::paid) return outcome(not_paid(found->state));
  OrderRecord order = *found;
  const Result released = release(order);
  return outcome(released, order.fee);
}

// Escrow → merchant less the fee, escrow → fee income, in one chain. The coupon, if any, is
// consumed: its value was part of what the merchant receives.
Result Payments::release(OrderRecord& order) noexcept {
  CAP_ASSERT(order.state == OrderState::paid && order.held > 0);
  const MerchantRecord* merchant = merchants_.find(order.merchant);
  CAP_ASSERT(merchant != nullptr);
  const std::int64_t fee = fee_half_up(order.held, merchant->fee_bps);
  const std::uint64_t escrow = platform_account(PlatformAccount::escrow);
  if (order.held - fee > 0) {
    chain_.leg(escrow, account_id(AccountKind::merchant, order.merchant), order.held - fee,
        TransferCode::order_release, order.id);
  }
  if (fee > 0) {
    chain_.leg(escrow, platform_account(PlatformAccount::fee_income), fee,
        TransferCode::fee, order.id);
  }
  if (Result r = chain_.commit(); r != Result::ok) return r;
  order.released = order.held;
  order.fee = fee;
  order.held = 0;
  order.from_wallet = order.from_red_packet = order.from_card = order.from_coupon = order.from_fund = 0;
  order.state = OrderState::released;
  add_settlement(order.merchant, order.released, fee, 0, 1);
  record_event(order);
  orders_.put(order.id, order);
  return Result::ok;
}

// Before release the money goes back where it came from: card first, then wallet, red-packet
// balance and, last, the coupon's value to its campaign. The card part reaches the card through
// the bank, which was asked before journaling (its answer is in `bank`): approved, it moves to
// the channel's clearing account with the bank's reference, for reconciliation; declined or
// failed, it goes to the buyer's wallet, as a card refund the bank cannot deliver does. After
// release it comes out of the merchant's balance into the buyer's wallet (the fee is not
// returned).
Outcome Payments::refund_order(const Command& command) noexcept {
  if (command.amount <= 0) return outcome(Result::amount_must_be_positive);
  const OrderRecord* found = orders_.find(command.target);
  if (found == nullptr) return outcome(Result::order_not_found);
  if (found->merchant != command.party) return outcome(Result::forbidden);
  OrderRecord order = *found;
  if (order.state == OrderState::released) {
    if (command.amount > order.amount - order.refunded) return outcome(Result::refund_exceeds_paid);
    // A card part here is a refund that asked the bank while the order was still paid and reached
    // the journal after its release (the clock's auto-confirm or the buyer's confirm came in
    // between). Approved, the bank has credited the card already: that part goes from the
    // merchant's balance to the channel's clearing account, as it would have gone from escrow;
    // declined or failed, to the wallet with the rest. The part must be given: a released order
    // no longer knows what the card paid, so a batch step's bare answer does not fit.
    const std::int64_t card_part = command.bank.outcome == BankOutcome::none ? 0 : command.funding.card;
    if (card_part > command.amount || (card_part > 0 && order.channel == 0)) {
      return outcome(Result::card_refund_mismatch);
    }
    if (Result r = check_card_refund(command, card_part, order.channel); r != Result::ok) return outcome(r);
    const bool to_card = card_part > 0 && command.bank.outcome == BankOutcome::approved;
    const std::uint64_t merchant = account_id(AccountKind::merchant, order.merchant);
    if (to_card) {
      chain_.leg(merchant, account_id(AccountKind::bank_clearing, order.channel), card_part,
          TransferCode::order_refund, command.bank.reference);
    }
    if (const std::int64_t to_wallet = command.amount - (to_card ? card_part : 0); to_wallet > 0) {
      chain_.leg(merchant, account_id(AccountKind::wallet, order.buyer), to_wallet, TransferCode::order_refund,
          order.id);
    }
    // Short of balance, nothing moves, and a card credit the bank made stands out in
    // reconciliation as its line without a ledger twin.
    if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
    order.refunded += command.amount;
    if (card_part > 0 && !to_card) order.flags |= order_card_refund_to_wallet;
    add_settlement(order.merchant, 0, 0, command.amount, 0);
    record_event(order);
    orders_.put(order.id, order);
    Outcome done = outcome(Result::ok, command.amount);
    if (card_part > 0) done.card_refund = to_card ? CardRefund::to_card : CardRefund::to_wallet;
    return done;
  }
  if (order.state != OrderState::paid) return outcome(not_paid(order.state));
  if (command.amount > order.held) return outcome(Result::refund_exceeds_paid);
  const std::int64_t card_part = std::min(command.amount, order.from_card);
  if (Result r = check_card_refund(command, card_part, order.channel); r != Result::ok) return outcome(r);
  const bool to_card = card_part > 0 && command.bank.outcome == BankOutcome::approved;

  const std::uint64_t escrow = platform_account(PlatformAccount::escrow);
  const std::uint64_t wallet = account_id(AccountKind::wallet, order.buyer);
  const auto code = TransferCode::order_refund;
  if (card_part > 0) {
    if (to_card) {
      chain_.leg(escrow, account_id(AccountKind::bank_clearing, order.channel), card_part, code,
          command.bank.reference);
    } else {
      chain_.leg(escrow, wallet, card_part, code, order.id);
    }
    order.from_card -= card_part;
  }
  std::int64_t left = command.amount - card_part;
  const auto take = [&](std::int64_t& source, std::uint64_t account) {
    const std::int64_t part = std::min(left, source);
    if (part == 0) return;
    chain_.leg(escrow, account, part, code, order.id);
    source -= part;
    left -= part;
  };
  const bool had_coupon = order.from_coupon > 0;
  take(order.from_wallet, wallet);
  take(order.from_red_packet, account_id(AccountKind::red_packet, order.buyer));
  take(order.from_coupon, account_id(AccountKind::campaign, order.campaign));
  // What fund shares paid goes back as shares: the fund takes the cash back into custody.
  const std::int64_t to_fund = std::min(left, order.from_fund);
  if (to_fund > 0) {
    if (Result r = funds_.refund_legs(order.fund, order.buyer, to_fund, escrow, order.id, chain_); r != Result::ok) {
      chain_.clear();
      return outcome(r);
    }
    order.from_fund -= to_fund;
    left -= to_fund;
  }
  CAP_ASSERT(left == 0);
  const std::uint64_t at = chain_.now();
  if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
  if (to_fund > 0) funds_.refund_done(order.fund, order.buyer, to_fund, at);
  order.held -= command.amount;
  order.refunded += command.amount;
  CAP_ASSERT(order.held >= 0 && order.from_card >= 0 && order.refunded <= order.amount);
  if (had_coupon && order.from_coupon == 0) {
    const CampaignRecord* campaign = campaigns_.find(order.campaign);
    CAP_ASSERT(campaign != nullptr);
    // Handed back to the buyer only while the campaign still runs; the money returns regardless.
    if (chain_.now() < campaign->terms.valid_to_ns) {
      note_coupon_returned(order.campaign, order.buyer);
      order.flags |= order_coupon_restored;
    }
  }
  if (card_part > 0 && !to_card) order.flags |= order_card_refund_to_wallet;
  if (order.held == 0) order.state = OrderState::refunded;
  record_event(order);
  orders_.put(order.id, order);
  Outcome done = outcome(Result::ok, command.amount);
  if (card_part > 0) done.card_refund = to_card ? CardRefund::to_card : CardRefund::to_wallet;
  return done;
}

Outcome Payments::close_order(const Command& command) noexcept {
  const OrderRecord* found = orders_.find(command.target);
  if (found == nullptr) return outcome(Result::order_not_found);
  if (found->merchant != command.party) return outcome(Result::forbidden);
  if (found->state == OrderState::closed) return outcome(Result::order_closed);
  if (found->state != OrderState::awaiting_payment) return outcome(Result::order_not_payable);
  OrderRecord order = *found;
  order.state = OrderState::closed;
  record_event(order);
  orders_.put(order.id, order);
  return outcome(Result::ok);
}

}  // namespace capillary::payments
