#pragma once
// Which institutions may issue products on the marketplace (SPEC §8, the seeds' filters): banks
// with total assets over 200 billion CNY, insurers with a solvency ratio of at least 150%. Every
// other kind is refused. A pure function, so the API can also tell an issuer why before it lists.

#include "payments/records.h"
#include "payments/result.h"

namespace capillary::wealth {

// Result::ok when `issuer` may list products, else the reason it may not:
// issuer_bank_assets_too_small, issuer_insurer_solvency_too_low or issuer_kind_not_admitted.
payments::Result admit_issuer(const payments::InstitutionRecord& issuer) noexcept;

}  // namespace capillary::wealth
