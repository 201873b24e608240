#pragma once
// Result codes, one per event. Rejections are data, not errors: a batch always returns one code
// per event. Codes are listed in order of precedence: when an event breaks several rules, the
// first one listed is reported. Their names are the API's `result` strings; never renumber them,
// they are stored in idempotency records.

#include <cstdint>
#include <string_view>

namespace capillary::ledger {

#define CAPILLARY_ACCOUNT_RESULTS(X)                                                            \
  X(ok, "created")                                                                             \
  X(linked_event_failed, "another event of its linked chain failed, so none was applied")       \
  X(linked_event_chain_open, "the last event of the batch has the linked flag")                 \
  X(reserved_flag, "a flag bit that has no meaning is set")                                     \
  X(id_must_not_be_zero, "id 0 is reserved")                                                    \
  X(id_must_not_be_max, "id 2^64-1 is reserved")                                                \
  X(flags_are_mutually_exclusive, "both balance constraints are set")                           \
  X(credit_limit_must_not_be_negative, "credit_limit is below zero")                            \
  X(credit_limit_requires_debit_constraint,                                                     \
    "credit_limit is only meaningful with debits_must_not_exceed_credits")                      \
  X(ledger_must_not_be_zero, "ledger 0 is reserved")                                            \
  X(code_must_not_be_zero, "code 0 is reserved")                                                \
  X(exists_with_different_fields, "an account with this id exists with other fields")           \
  X(exists, "an identical account exists; nothing changed")                                     \
  X(accounts_full, "the cell holds its maximum number of accounts")

#define CAPILLARY_TRANSFER_RESULTS(X)                                                           \
  X(ok, "applied")                                                                             \
  X(linked_event_failed, "another event of its linked chain failed, so none was applied")       \
  X(linked_event_chain_open, "the last event of the batch has the linked flag")                 \
  X(reserved_flag, "a flag bit that has no meaning is set")                                     \
  X(reserved_field, "the reserved field is not zero")                                           \
  X(id_must_not_be_zero, "id 0 is reserved")                                                    \
  X(id_must_not_be_max, "id 2^64-1 is reserved")                                                \
  X(flags_are_mutually_exclusive, "more than one of pending, post_pending, void_pending")        \
  X(pending_id_must_be_zero, "only a post or void names a pending transfer")                    \
  X(pending_id_must_not_be_zero, "a post or void must name the pending transfer")               \
  X(pending_id_must_not_be_max, "id 2^64-1 is reserved")                                        \
  X(pending_id_must_be_different, "a transfer cannot settle itself")                            \
  X(timeout_reserved_for_pending_transfer, "only a pending transfer can time out")              \
  X(amount_must_be_positive, "amount is zero or negative")                                      \
  X(amount_must_not_be_negative, "a post or void amount is negative")                           \
  X(debit_account_id_must_not_be_zero, "debit account id is 0")                                 \
  X(credit_account_id_must_not_be_zero, "credit account id is 0")                               \
  X(accounts_must_be_different, "debit and credit are the same account")                        \
  X(ledger_must_not_be_zero, "ledger 0 is reserved")                                            \
  X(code_must_not_be_zero, "code 0 is reserved")                                                \
  X(exists_with_different_fields, "a transfer with this id exists with other fields")           \
  X(exists, "an identical transfer exists; nothing changed")                                    \
  X(debit_account_not_found, "no account has the debit account id")                             \
  X(credit_account_not_found, "no account has the credit account id")                           \
  X(accounts_must_have_the_same_ledger, "the two accounts are in different currencies")         \
  X(transfer_must_have_the_same_ledger_as_accounts, "transfer ledger differs from the accounts") \
  X(pending_transfer_not_found, "no transfer has the pending id")                               \
  X(pending_transfer_not_pending, "the named transfer is not a hold")                           \
  X(pending_transfer_has_different_debit_account_id, "debit account differs from the hold's")   \
  X(pending_transfer_has_different_credit_account_id, "credit account differs from the hold's") \
  X(pending_transfer_has_different_ledger, "ledger differs from the hold's")                    \
  X(pending_transfer_has_different_code, "code differs from the hold's")                        \
  X(exceeds_pending_transfer_amount, "post amount is more than the hold")                       \
  X(pending_transfer_has_different_amount, "a void must release the whole hold")                \
  X(pending_transfer_already_posted, "the hold was already posted")                             \
  X(pending_transfer_already_voided, "the hold was already voided")                             \
  X(pending_transfer_expired, "the hold timed out and its funds were released")                 \
  X(overflows_debits_pending, "the debit account's pending debits would overflow")              \
  X(overflows_credits_pending, "the credit account's pending credits would overflow")           \
  X(overflows_debits_posted, "the debit account's posted debits would overflow")                \
  X(overflows_credits_posted, "the credit account's posted credits would overflow")             \
  X(overflows_debits, "the debit account's total debits would overflow")                        \
  X(overflows_credits, "the credit account's total credits would overflow")                     \
  X(overflows_timeout, "timestamp plus timeout would overflow")                                 \
  X(exceeds_credits, "the debit account would owe more than its credits and credit limit")      \
  X(exceeds_debits, "the credit account would hold more credits than debits")                   \
  X(transfers_full, "the cell holds its maximum number of resident transfers")

#define CAPILLARY_ENUM_VALUE(name, description) name,
enum class CreateAccountResult : std::uint8_t { CAPILLARY_ACCOUNT_RESULTS(CAPILLARY_ENUM_VALUE) };
enum class CreateTransferResult : std::uint8_t { CAPILLARY_TRANSFER_RESULTS(CAPILLARY_ENUM_VALUE) };
#undef CAPILLARY_ENUM_VALUE

std::string_view name(CreateAccountResult result);
std::string_view name(CreateTransferResult result);
std::string_view description(CreateAccountResult result);
std::string_view description(CreateTransferResult result);

// Every code, for documentation and tests that must cover each one.
inline constexpr int create_account_result_count = static_cast<int>(CreateAccountResult::accounts_full) + 1;
inline constexpr int create_transfer_result_count = static_cast<int>(CreateTransferResult::transfers_full) + 1;

}  // namespace capillary::ledger
