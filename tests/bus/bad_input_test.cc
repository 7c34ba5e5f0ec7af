// Bad input: each a clear error, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "log/file_header.h"
#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using test::TempBus;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BadInput, InvalidTopicNamesAreRefused) {
  TempBus tb;
  Bus bus = tb.open();
  for (const std::string& name : std::vector<std::string>{"a..b", "../x", "", std::string(300, 'a'), "a/b", ".a", "a.", "a b"}) {
    EXPECT_NE(error_of([&] { bus.publisher(name); }), "") << name;
  }
  EXPECT_NE(error_of([&] { bus.subscribe("a.#.b*"); }), "");
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), as
// Python's strict decoder checks it.
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const size_t n = b(0) < 0x80 ? 1 : b(0) >= 0xC2 && b(0) <= 0xDF ? 2 : b(0) >= 0xE0 && b(0) <= 0xEF ? 3
                   : b(0) >= 0xF0 && b(0) <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) return false;
    }
    if ((b(0) == 0xE0 && b(1) < 0xA0) || (b(0) == 0xED && b(1) >= 0xA0) || (b(0) == 0xF0 && b(1) < 0x90) ||
        (b(0) == 0xF4 && b(1) >= 0x90)) {
      return false;
    }
    i += n;
  }
  return true;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

TEST(BadInput, NonAsciiCharacterIsNamedWholeWithItsCodePoint) {
  TempBus tb;
  Bus bus = tb.open();

  const std::string sut = error_of([&] { bus.publisher("orders.z\u0430\u043a\u0430\u0437"); });

  EXPECT_TRUE(contains(sut, "has the character '\u0430' (U+0430)")) << sut;
  EXPECT_TRUE(contains(sut, "\"orders.z\u0430\u043a\u0430\u0437\"")) << sut;
  EXPECT_TRUE(valid_utf8(sut)) << sut;
}

TEST(BadInput, CharacterOutsideTheBasicPlaneIsNamedWithItsCodePoint) {
  const std::string sut = error_of([] { validate_topic_name("alerts.\U0001F525"); });

  EXPECT_TRUE(contains(sut, "'\U0001F525' (U+1F525)")) << sut;
  EXPECT_TRUE(valid_utf8(sut)) << sut;
}

TEST(BadInput, InvalidUtf8ByteIsNamedAsAByte) {
  struct Case {
    std::string name;
    std::string_view named;
  };
  const std::vector<Case> cases = {
      {"orders.z\xD0", "has byte 0xD0 (not UTF-8)"},              // truncated sequence at the end
      {"orders.z\xD0x", "has byte 0xD0 (not UTF-8)"},             // lead byte without its continuation
      {"orders.\xFF", "has byte 0xFF (not UTF-8)"},               // never valid
      {"orders.\xC0\xAF", "has byte 0xC0 (not UTF-8)"},           // overlong '/'
      {"orders.\xED\xA0\x80", "has byte 0xED (not UTF-8)"},       // a surrogate
      {"orders.\xF4\x90\x80\x80", "has byte 0xF4 (not UTF-8)"},   // past U+10FFFF
  };
  for (const Case& c : cases) {
    const std::string sut = error_of([&] { validate_topic_name(c.name); });

    EXPECT_TRUE(contains(sut, c.named)) << sut;
    EXPECT_TRUE(valid_utf8(sut)) << sut;
  }
}

TEST(BadInput, InvalidBytesInTheQuotedNameAreEscaped) {
  const std::string sut = error_of([] { validate_topic_name("a.\xD0\xFF"); });

  EXPECT_TRUE(contains(sut, "\"a.\\xD0\\xFF\"")) << sut;
  EXPECT_TRUE(valid_utf8(sut)) << sut;
}

TEST(BadInput, ControlCharacterIsNamedByItsCodePoint) {
  const std::string sut = error_of([] { validate_topic_name(std::string("a.b\0c\td", 7)); });

  EXPECT_TRUE(contains(sut, "has U+0000 (a control character)")) << sut;
  EXPECT_TRUE(contains(sut, "\"a.b\\u0000c\\u0009d\"")) << sut;
  EXPECT_EQ(sut.find('\0'), std::string::npos);
}

TEST(BadInput, LongNonAsciiNameIsCutBetweenCharacters) {
  std::string name = "orders.";
  for (int i = 0; i < 90; ++i) name += "\u0436";  // 2 bytes each: 187 bytes, under the limit

  const std::string sut = error_of([&] { validate_topic_name(name); });

  EXPECT_TRUE(contains(sut, "...\"")) << sut;
  EXPECT_TRUE(contains(sut, "has the character '\u0436' (U+0436)")) << sut;
  EXPECT_TRUE(valid_utf8(sut)) << sut;
}

TEST(BadInput, PatternWithNonAsciiCharacterNamesIt) {
  TempBus tb;
  Bus bus = tb.open();

  const std::string sut = error_of([&] { bus.subscribe("orders.*.z\u0430\u043a\u0430\u0437"); });

  EXPECT_TRUE(contains(sut, "invalid pattern")) << sut;
  EXPECT_TRUE(contains(sut, "has the character '\u0430' (U+0430)")) << sut;
  EXPECT_TRUE(valid_utf8(sut)) << sut;
}

TEST(BadInput, FileThatIsNotABus) {
  TempBus tb;
  std::ofstream(tb.path()) << "hello";
  EXPECT_NE(error_of([&] { tb.open(); }).find("not a bus directory"), std::string::npos);
  std::filesystem::remove(tb.path());
  std::filesystem::create_directories(tb.path());
  std::ofstream(tb.path() + "/bus.meta") << std::string(4096, 'z');
  EXPECT_NE(error_of([&] { tb.open(); }).find("bad magic"), std::string::npos);
}

TEST(BadInput, BusOfAnotherLayoutVersion) {
  TempBus tb;
  { tb.open(); }
  std::fstream f(tb.path() + "/bus.meta", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offsetof(log::FileHeader, version));
  uint32_t version = 99;
  f.write(reinterpret_cast<const char*>(&version), sizeof version);
  f.close();
  EXPECT_NE(error_of([&] { tb.open(); }).find("layout version 99"), std::string::npos);
}

TEST(BadInput, RingOfGarbageNeverCrashesReaderOrWriter) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(8192, Policy::kOverwrite);
  bus.create_topic("t", config);
  {
    std::fstream f(tb.path() + "/topics/t/ring", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 8192 / 8; ++i) {
      uint64_t v = rng();
      f.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }
  Subscription sub = bus.subscribe("t", {StartAt::earliest()});
  Publisher pub = bus.publisher("t");

  for (int i = 0; i < 1000; ++i) {
    Result<uint64_t> p = pub.publish("x");
    if (!p) {
      EXPECT_EQ(p.error(), Errc::kCorrupt);
    }
    Result<size_t> n = sub.poll([](const Message& m) { EXPECT_LE(m.payload.size(), 8192u); }, 16);
    if (!n) {
      EXPECT_EQ(n.error(), Errc::kCorrupt);
    }
  }
}

TEST(BadInput, BadCapacityIsRefused) {
  TempBus tb;
  Bus bus = tb.open();
  TopicConfig config = test::ring_config(5000);
  EXPECT_NE(error_of([&] { bus.create_topic("t", config); }).find("power of two"), std::string::npos);
}

}  // namespace
}  // namespace shmbus
