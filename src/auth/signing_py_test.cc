// tests/signing.py, which other tests sign their requests with, agrees with sign() and with the
// keyring's secret derivation on seeded random requests: arbitrary bytes in method, path and body.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "auth/auth.h"

namespace capillary::auth {
namespace {

constexpr int vectors = 200;

std::string random_bytes(std::mt19937_64& random, std::size_t size_max) {
  std::string bytes(std::uniform_int_distribution<std::size_t>(0, size_max)(random), '\0');
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xff);
  return bytes;
}

std::string hex(std::string_view bytes) {
  return bytes.empty()
             ? ""
             : to_hex({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

std::vector<std::string> run_python(const std::filesystem::path& vector_file) {
  const std::string command = "python3 " CAPILLARY_SIGNING_PY " " + vector_file.string();
  std::FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::vector<std::string> lines;
  char line[256];
  while (pipe != nullptr && std::fgets(line, sizeof line, pipe) != nullptr) {
    lines.emplace_back(line);
    if (!lines.back().empty() && lines.back().back() == '\n') lines.back().pop_back();
  }
  if (pipe != nullptr) {
    EXPECT_EQ(::pclose(pipe), 0);
  }
  return lines;
}

TEST(SigningPy, AgreesWithSignAndSecretDerivation) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  MasterKey master_key;
  for (auto& byte : master_key) byte = static_cast<std::uint8_t>(random());
  const Keyring keyring(master_key);

  std::vector<std::string> expected;
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("signing_vectors_" + std::to_string(::getpid()));
  {
    std::ofstream out(file);
    for (int i = 0; i < vectors; ++i) {
      const Principal principal{PrincipalKind::merchant, 1 + random() % 1'000'000};
      out << "secret " << to_hex(master_key) << " " << key_id(principal) << "\n";
      expected.push_back(keyring.secret(principal));
      const std::string secret = keyring.secret(principal);
      const std::string method = random_bytes(random, 8), path = random_bytes(random, 100),
                        body = random_bytes(random, 2000);
      const auto timestamp = static_cast<std::int64_t>(random() % 10'000'000'000);
      out << "sign " << secret << " " << hex(method) << " " << hex(path) << " " << timestamp << " "
          << hex(body) << "\n";
      expected.push_back(sign(secret, method, path, timestamp, body));
    }
  }
  const std::vector<std::string> answers = run_python(file);
  std::filesystem::remove(file);
  ASSERT_EQ(answers.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(answers[i], expected[i]) << i;
}

}  // namespace
}  // namespace capillary::auth
