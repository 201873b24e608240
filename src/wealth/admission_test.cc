#include "wealth/admission.h"

#include <gtest/gtest.h>

#include "wealth/limits.h"

namespace capillary::wealth {
namespace {

using payments::InstitutionKind;
using payments::InstitutionRecord;
using payments::Result;

InstitutionRecord institution(InstitutionKind kind, std::uint64_t assets, std::uint32_t solvency_bps) {
  InstitutionRecord record{};
  record.id = 7;
  record.kind = kind;
  record.assets = assets;
  record.solvency_bps = solvency_bps;
  return record;
}

constexpr std::uint64_t billion_cny = 1'000'000'000ull * 100;

TEST(AdmissionTest, BankNeedsAssetsOver200BillionCny) {
  EXPECT_EQ(bank_assets_fen_min_exclusive, 200 * billion_cny);
  // Exactly 200 billion is not "over": rejected; one fen more is admitted.
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::bank, 200 * billion_cny, 0)),
            Result::issuer_bank_assets_too_small);
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::bank, 200 * billion_cny - 1, 0)),
            Result::issuer_bank_assets_too_small);
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::bank, 200 * billion_cny + 1, 0)), Result::ok);
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::bank, 0, 90'000)),
            Result::issuer_bank_assets_too_small);
}

TEST(AdmissionTest, InsurerNeedsSolvencyOfAtLeast150Percent) {
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::insurer, 0, 14'999)),
            Result::issuer_insurer_solvency_too_low);  // 149.99%
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::insurer, 0, 15'000)), Result::ok);  // 150%
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::insurer, 0, 15'001)), Result::ok);
  // An insurer's assets do not stand in for its solvency.
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::insurer, 1'000 * billion_cny, 0)),
            Result::issuer_insurer_solvency_too_low);
}

TEST(AdmissionTest, OtherKindsAreRefusedWhateverTheirFigures) {
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::fund_company, 1'000 * billion_cny, 90'000)),
            Result::issuer_kind_not_admitted);
  EXPECT_EQ(admit_issuer(institution(InstitutionKind::other, 1'000 * billion_cny, 90'000)),
            Result::issuer_kind_not_admitted);
  EXPECT_EQ(admit_issuer(institution(static_cast<InstitutionKind>(9), 1'000 * billion_cny, 90'000)),
            Result::issuer_kind_not_admitted);
}

}  // namespace
}  // namespace capillary::wealth
