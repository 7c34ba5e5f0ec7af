// CRC32C: the published check value, chaining, and ISA-L == the table on random data.
#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

#include "log/crc32c.h"

namespace shmbus::log {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(Crc32c, KnownValues) {
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);  // the CRC-32C check value (RFC 3720)
  EXPECT_EQ(crc32c_portable(bytes_of("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
  std::vector<std::byte> zeros(32);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
}

TEST(Crc32c, ChainsLikeOneCall) {
  EXPECT_EQ(crc32c(bytes_of("56789"), crc32c(bytes_of("1234"))), crc32c(bytes_of("123456789")));
}

TEST(Crc32c, IsalAndTableAgreeOnRandomData) {
  std::mt19937_64 rng(42);
  std::vector<std::byte> data(4099);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4099u}) {
    for (size_t start : {0u, 1u, 3u}) {
      if (start + n > data.size()) continue;
      auto part = std::span<const std::byte>(data).subspan(start, n);
      EXPECT_EQ(crc32c(part, 0x1234u), crc32c_portable(part, 0x1234u)) << n << " bytes at " << start;
    }
  }
}

}  // namespace
}  // namespace shmbus::log
