// Credentials and request signatures: round trips, every rejection and its precedence, the
// timestamp window's edges, the master key file, and the bounded key cache.

#include "auth/auth.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "auth/key_cache.h"

namespace capillary::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t now_s = 1'700'000'000;
const Principal merchant{PrincipalKind::merchant, 42};

MasterKey test_master_key(std::uint8_t fill) {
  MasterKey key;
  key.fill(fill);
  return key;
}

struct Signed {
  std::string method = "POST";
  std::string path = "/v1/orders?merchant=42";
  std::string body = R"({"amount":12345})";
  std::string key_id = "merchant:42";
  std::string timestamp = std::to_string(now_s);
  std::string signature;

  SignedRequest request() const { return {method, path, body, key_id, timestamp, signature}; }
};

Signed signed_by(const Keyring& keyring, const Principal& principal, std::int64_t timestamp_s) {
  Signed request;
  request.key_id = key_id(principal);
  request.timestamp = std::to_string(timestamp_s);
  request.signature =
      sign(keyring.secret(principal), request.method, request.path, timestamp_s, request.body);
  return request;
}

TEST(Principal, KeyIdRoundTrip) {
  for (const Principal principal :
       {platform_principal, Principal{PrincipalKind::merchant, 42},
        Principal{PrincipalKind::partner, 7}, Principal{PrincipalKind::user, UINT64_MAX}}) {
    Principal parsed{PrincipalKind::user, 999};
    EXPECT_EQ(parse_key_id(key_id(principal), &parsed), KeyIdParse::ok) << key_id(principal);
    EXPECT_EQ(parsed, principal);
  }
  EXPECT_EQ(key_id(merchant), "merchant:42");
  EXPECT_EQ(key_id(platform_principal), "platform:0");
}

TEST(Principal, KeyIdRejections) {
  Principal out;
  for (const char* malformed :
       {"", "merchant", "merchant:", ":42", "merchant:042", "merchant:-1", "merchant:+1",
        "merchant:4 2", "merchant:42x", "merchant:18446744073709551616"}) {
    EXPECT_EQ(parse_key_id(malformed, &out), KeyIdParse::malformed) << malformed;
  }
  for (const char* unknown : {"bank:1", "Merchant:42", "platform:1", "merchant:0", "user:0"}) {
    EXPECT_EQ(parse_key_id(unknown, &out), KeyIdParse::unknown_kind) << unknown;
  }
}

TEST(Keyring, SecretIsHmacOfMasterKeyOverKeyId) {
  const MasterKey master = test_master_key(0x5a);
  const Keyring keyring(master);
  const std::string id = "merchant:42";
  unsigned char digest[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), master.data(), master.size(),
       reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest, &length);
  ASSERT_EQ(length, 32u);
  EXPECT_EQ(keyring.secret(merchant), to_hex({digest, length}));
  EXPECT_EQ(keyring.secret(merchant).size(), 64u);
  EXPECT_NE(keyring.secret(merchant), keyring.secret({PrincipalKind::partner, 42}));
  EXPECT_NE(keyring.secret(merchant), Keyring(test_master_key(0x5b)).secret(merchant));
}

// The example of docs/auth.md, which openssl and tests/signing.py reproduce byte for byte.
TEST(Keyring, DocumentedExample) {
  MasterKey master;
  for (std::size_t i = 0; i < master.size(); ++i) master[i] = static_cast<std::uint8_t>(i);
  const Keyring keyring(master);
  EXPECT_EQ(keyring.secret(merchant),
            "180dd96f1655d854d5f1d18c19b15d1873d10ba6b72fd4544945a3b4db485eb1");
  EXPECT_EQ(keyring.sign(merchant, "POST", "/v1/orders?merchant=42", 1'700'000'000,
                         R"({"amount":12345})"),
            "0a0549fe82473e70aec6f46a95fd92aa33ba27b392c2e6a1c601e8d04240b10b");
}

TEST(Keyring, SignVerifyRoundTrip) {
  const Keyring keyring(test_master_key(1));
  for (const Principal principal :
       {platform_principal, merchant, Principal{PrincipalKind::partner, 3},
        Principal{PrincipalKind::user, 123456789}}) {
    const Verification verification =
        keyring.verify(signed_by(keyring, principal, now_s).request(), now_s);
    EXPECT_EQ(verification.result, VerifyResult::ok) << key_id(principal);
    EXPECT_EQ(verification.principal, principal);
  }
  // The keyring signs as the tenant would, and a client's cached key agrees with its secret.
  Signed request = signed_by(keyring, merchant, now_s);
  EXPECT_EQ(keyring.sign(merchant, request.method, request.path, now_s, request.body),
            request.signature);
  EXPECT_EQ(
      sign(HmacKey(keyring.secret(merchant)), request.method, request.path, now_s, request.body),
      request.signature);
  // An empty body and a path without a query are signed like any other.
  request.body.clear();
  request.path = "/v1/status";
  request.signature = sign(keyring.secret(merchant), request.method, request.path, now_s, "");
  EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::ok);
  // Upper-case hex is the same signature.
  for (char& c : request.signature) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::ok);
}

TEST(Keyring, MissingHeaders) {
  const Keyring keyring(test_master_key(1));
  const Signed good = signed_by(keyring, merchant, now_s);
  for (int missing = 0; missing < 3; ++missing) {
    Signed request = good;
    (missing == 0 ? request.key_id : missing == 1 ? request.timestamp : request.signature).clear();
    EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::missing_header)
        << missing;
  }
}

TEST(Keyring, MalformedHeaders) {
  const Keyring keyring(test_master_key(1));
  const Signed good = signed_by(keyring, merchant, now_s);
  auto expect_malformed = [&](auto change) {
    Signed request = good;
    change(request);
    EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::malformed)
        << request.key_id << " " << request.timestamp << " " << request.signature;
  };
  expect_malformed([](Signed& r) { r.key_id = "merchant"; });
  expect_malformed([](Signed& r) { r.key_id = "merchant:042"; });
  expect_malformed([](Signed& r) { r.timestamp = "17e8"; });
  expect_malformed([](Signed& r) { r.timestamp = "-" + r.timestamp; });
  expect_malformed([](Signed& r) { r.timestamp = "+" + r.timestamp; });
  expect_malformed([](Signed& r) { r.timestamp = "1700000000000000"; });
  expect_malformed([](Signed& r) { r.timestamp += " "; });
  expect_malformed([](Signed& r) { r.signature.pop_back(); });
  expect_malformed([](Signed& r) { r.signature += "0"; });
  expect_malformed([](Signed& r) { r.signature[10] = 'z'; });
  // Malformed takes precedence over an unknown key kind.
  expect_malformed([](Signed& r) {
    r.key_id = "bank:1";
    r.timestamp = "soon";
  });
}

TEST(Keyring, UnknownKeyKinds) {
  const Keyring keyring(test_master_key(1));
  for (const char* id : {"bank:42", "platform:1", "merchant:0"}) {
    Signed request = signed_by(keyring, merchant, now_s);
    request.key_id = id;
    EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::unknown_key) << id;
  }
}

TEST(Keyring, TimestampWindowEdges) {
  const Keyring keyring(test_master_key(1));
  for (const std::int64_t offset : {-timestamp_skew_s_max, std::int64_t{0}, timestamp_skew_s_max}) {
    EXPECT_EQ(keyring.verify(signed_by(keyring, merchant, now_s + offset).request(), now_s).result,
              VerifyResult::ok)
        << offset;
  }
  for (const std::int64_t offset :
       {-timestamp_skew_s_max - 1, timestamp_skew_s_max + 1, std::int64_t{-now_s}}) {
    EXPECT_EQ(keyring.verify(signed_by(keyring, merchant, now_s + offset).request(), now_s).result,
              VerifyResult::stale_timestamp)
        << offset;
  }
}

TEST(Keyring, TamperedRequests) {
  const Keyring keyring(test_master_key(1));
  const Signed good = signed_by(keyring, merchant, now_s);
  auto expect_bad = [&](auto change) {
    Signed request = good;
    change(request);
    EXPECT_EQ(keyring.verify(request.request(), now_s).result, VerifyResult::bad_signature)
        << request.method << " " << request.path << " " << request.body << " " << request.key_id;
  };
  expect_bad([](Signed& r) { r.method = "GET"; });
  expect_bad([](Signed& r) { r.path = "/v1/orders?merchant=43"; });
  expect_bad([](Signed& r) { r.path = "/v1/orders"; });
  expect_bad([](Signed& r) { r.body = R"({"amount":12346})"; });
  expect_bad([](Signed& r) { r.body += " "; });
  expect_bad([](Signed& r) { r.timestamp = std::to_string(now_s + 1); });
  // Another tenant's key id with this tenant's signature.
  expect_bad([](Signed& r) { r.key_id = "merchant:43"; });
  expect_bad([](Signed& r) { r.key_id = "user:42"; });
  // Moving the separator between fields changes what is signed.
  expect_bad([](Signed& r) {
    r.method = "POST\n/v1";
    r.path = "orders?merchant=42";
  });
  // Any one digit of the signature changed.
  for (std::size_t i = 0; i < good.signature.size(); ++i) {
    expect_bad([i](Signed& r) { r.signature[i] = r.signature[i] == '0' ? '1' : '0'; });
  }
  // A different master key: every secret changes.
  EXPECT_EQ(Keyring(test_master_key(2)).verify(good.request(), now_s).result,
            VerifyResult::bad_signature);
}

TEST(Keyring, ThreadsShareTheCache) {
  const Keyring keyring(test_master_key(1));
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 2000; ++i) {
        const Principal principal{PrincipalKind::user,
                                  1 + (i * 7 + static_cast<std::uint64_t>(t)) % 300};
        if (keyring.verify(signed_by(keyring, principal, now_s).request(), now_s).result !=
            VerifyResult::ok) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
}

TEST(KeyCache, StaysBoundedAndKeepsKeysCorrect) {
  KeyCache cache(32);
  const Keyring keyring(test_master_key(3));
  int built = 0;
  for (std::uint64_t id = 1; id <= 500; ++id) {
    const Principal principal{PrincipalKind::user, id};
    const std::string secret = keyring.secret(principal);
    const auto key = cache.get(principal, [&] {
      ++built;
      return std::make_shared<const HmacKey>(secret);
    });
    EXPECT_EQ(key->mac("x"), HmacKey(secret).mac("x"));
    EXPECT_LE(cache.size(), 32u);
  }
  EXPECT_EQ(built, 500);
  // A hit does not rebuild.
  const Principal last{PrincipalKind::user, 500};
  cache.get(last, [&] {
    ++built;
    return std::make_shared<const HmacKey>(keyring.secret(last));
  });
  EXPECT_EQ(built, 500);
}

class MasterKeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("capillary_auth_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(MasterKeyFile, CreatedWithMode0600ThenReloaded) {
  MasterKey first{}, second{};
  ASSERT_TRUE(load_or_create_master_key(dir_ / "data", &first).is_ok());
  const fs::path path = dir_ / "data" / master_key_file;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(info.st_size, static_cast<off_t>(master_key_bytes));
  EXPECT_NE(first, MasterKey{}) << "32 random bytes are not all zero";
  ASSERT_TRUE(load_or_create_master_key(dir_ / "data", &second).is_ok());
  EXPECT_EQ(first, second);
  // Secrets survive a restart because the key does.
  std::unique_ptr<Keyring> keyring;
  ASSERT_TRUE(Keyring::open(dir_ / "data", &keyring).is_ok());
  EXPECT_EQ(keyring->secret(merchant), Keyring(first).secret(merchant));
}

TEST_F(MasterKeyFile, TwoDataDirectoriesGetDifferentKeys) {
  MasterKey first{}, second{};
  ASSERT_TRUE(load_or_create_master_key(dir_ / "a", &first).is_ok());
  ASSERT_TRUE(load_or_create_master_key(dir_ / "b", &second).is_ok());
  EXPECT_NE(first, second);
}

TEST_F(MasterKeyFile, LoosePermissionsAreRefused) {
  MasterKey key{};
  ASSERT_TRUE(load_or_create_master_key(dir_, &key).is_ok());
  fs::permissions(dir_ / master_key_file,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  const Status status = load_or_create_master_key(dir_, &key);
  EXPECT_EQ(status.code(), Status::Code::invalid_argument) << status.message();
}

TEST_F(MasterKeyFile, WrongSizeIsCorruption) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / master_key_file) << "short";
  fs::permissions(dir_ / master_key_file, fs::perms::owner_read | fs::perms::owner_write);
  MasterKey key{};
  const Status status = load_or_create_master_key(dir_, &key);
  EXPECT_EQ(status.code(), Status::Code::corruption) << status.message();
}

}  // namespace
}  // namespace capillary::auth
