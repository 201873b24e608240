#pragma once
// I/O outcomes. A Status says what failed, whether retrying can help and whether data was lost;
// it is [[nodiscard]] so a failed write cannot be ignored by accident.

#include <string>
#include <utility>

namespace capillary {

class [[nodiscard]] Status {
 public:
  enum class Code { ok, io_error, corruption, invalid_argument, not_found };

  Status() = default;
  static Status ok() { return {}; }
  static Status io_error(std::string message) { return {Code::io_error, std::move(message)}; }
  static Status corruption(std::string message) { return {Code::corruption, std::move(message)}; }
  static Status invalid_argument(std::string message) {
    return {Code::invalid_argument, std::move(message)};
  }
  static Status not_found(std::string message) { return {Code::not_found, std::move(message)}; }

  bool is_ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Corruption is never retryable: the bytes on disk are wrong and must be looked at by a person.
  bool retryable() const { return code_ == Code::io_error; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::ok;
  std::string message_;
};

}  // namespace capillary
