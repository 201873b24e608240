#include "wealth/admission.h"

#include "wealth/limits.h"

namespace capillary::wealth {

payments::Result admit_issuer(const payments::InstitutionRecord& issuer) noexcept {
  using payments::InstitutionKind;
  using payments::Result;
  switch (issuer.kind) {
    case InstitutionKind::bank:
      return issuer.assets > bank_assets_fen_min_exclusive ? Result::ok
                                                           : Result::issuer_bank_assets_too_small;
    case InstitutionKind::insurer:
      return issuer.solvency_bps >= insurer_solvency_bps_min ? Result::ok
                                                             : Result::issuer_insurer_solvency_too_low;
    case InstitutionKind::fund_company:
    case InstitutionKind::other:
      break;
  }
  return Result::issuer_kind_not_admitted;
}

}  // namespace capillary::wealth
