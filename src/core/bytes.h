#pragma once
// Records as bytes: a trivially copyable value appended to, or taken from the front of, a byte
// string, in the machine's byte order (as the journal's records are).

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace capillary {

template <typename T>
void append(std::string* out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Consumes sizeof(T) bytes from the front of `in`; false, taking nothing, when there are fewer.
template <typename T>
bool take(std::string_view* in, T* value) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (in->size() < sizeof(T)) return false;
  std::memcpy(value, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

}  // namespace capillary
