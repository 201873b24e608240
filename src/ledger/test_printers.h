#pragma once
// GoogleTest printers for the ledger's enums, shared by the tests: failure messages name the code
// instead of printing its number.

#include <ostream>

#include "ledger/result.h"
#include "ledger/types.h"

namespace capillary::ledger {

inline void PrintTo(CreateAccountResult result, std::ostream* out) { *out << name(result); }
inline void PrintTo(CreateTransferResult result, std::ostream* out) { *out << name(result); }
inline void PrintTo(PendingStatus status, std::ostream* out) { *out << static_cast<int>(status); }

}  // namespace capillary::ledger
