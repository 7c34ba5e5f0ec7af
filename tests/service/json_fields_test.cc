// SHMBUS_FIELDS' direct codec against nlohmann: the writer's bytes are dump()'s, the reader
// gives from_json's value for every text it takes and takes nothing nlohmann refuses, and
// encode / decode fall back to nlohmann where the direct path is not sure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "shmbus/service/service.h"

namespace fields_test {

enum class Colour { kRed = 1, kBlue = 7 };  // nlohmann writes it as its number: a fallback field

struct Inner {
  int32_t a = 0;
  std::string s;
  bool operator==(const Inner&) const = default;
};
SHMBUS_FIELDS(Inner, a, s)

struct Everything {
  int8_t i8 = 0;
  int16_t i16 = 0;
  int32_t i32 = 0;
  int64_t i64 = 0;
  uint8_t u8 = 0;
  uint16_t u16 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  bool flag = false;
  float f = 0;
  double d = 0;
  std::string text;
  std::optional<int> maybe;
  std::optional<std::string> maybe_text;
  std::vector<int> ints;
  std::vector<std::vector<double>> grid;
  std::vector<std::string> words;
  std::vector<bool> bits;
  Inner inner;
  std::vector<Inner> inners;
  std::optional<Inner> maybe_inner;
  std::map<std::string, int> counts;  // not a direct type: nlohmann's, for this field alone
  Colour colour = Colour::kRed;
  bool operator==(const Everything&) const = default;
};
SHMBUS_FIELDS(Everything, i8, i16, i32, i64, u8, u16, u32, u64, flag, f, d, text, maybe, maybe_text, ints, grid,
              words, bits, inner, inners, maybe_inner, counts, colour)

struct Defaults {
  int a = 7;
  std::string b = "bee";
  std::vector<int> c{1, 2};
  std::optional<double> e = 2.5;
  bool operator==(const Defaults&) const = default;
};
SHMBUS_FIELDS_WITH_DEFAULT(Defaults, a, b, c, e)

// A member whose own initialiser differs from Defaults{}: nlohmann's from_json takes a missing
// key's value from Defaults{}, not from what the member held.
struct Outer {
  Defaults d{1, "one", {}, std::nullopt};
  int n = 0;
  bool operator==(const Outer&) const = default;
};
SHMBUS_FIELDS_WITH_DEFAULT(Outer, d, n)

// A type of the macro nested in itself, to any depth.
struct Tree {
  int v = 0;
  std::vector<Tree> kids;
  bool operator==(const Tree&) const = default;
};
SHMBUS_FIELDS(Tree, v, kids)

// A type that keeps its nlohmann line, with the direct codec added beside it.
struct Legacy {
  int id = 0;
  std::optional<std::string> name;
  bool operator==(const Legacy&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Legacy, id, name)
SHMBUS_DIRECT_FIELDS(Legacy, id, name)

}  // namespace fields_test

SHMBUS_MESSAGE(fields_test::Legacy, "FieldsLegacy", 1, event);
SHMBUS_MESSAGE(fields_test::Everything, "FieldsEverything", 1, event);
SHMBUS_MESSAGE(fields_test::Defaults, "FieldsDefaults", 1, event);
SHMBUS_MESSAGE(fields_test::Outer, "FieldsOuter", 1, event);
SHMBUS_MESSAGE(fields_test::Tree, "FieldsTree", 1, event);

namespace shmbus::service {
namespace {

using fields_test::Everything;
using nlohmann::json;

static_assert(detail::DirectJson<Everything> && detail::DirectJson<fields_test::Tree>);
static_assert(!detail::DirectJson<int> && !detail::DirectJson<std::string>);
static_assert(detail::DirectJson<fields_test::Legacy>);

TEST(JsonFields, DirectBesideNlohmannsMacro) {
  const fields_test::Legacy a{7, "seven"}, b{8, std::nullopt};
  for (const fields_test::Legacy& x : {a, b}) {
    EXPECT_EQ(encode(x), json(x).dump());
    fields_test::Legacy got{};
    ASSERT_TRUE(detail::read_json_direct(json(x).dump(), got));
    EXPECT_EQ(got, x);
    EXPECT_EQ(decode<fields_test::Legacy>(json(x).dump()), x);
  }
  EXPECT_EQ(encode(b), R"({"id":8,"name":null})");
}

std::string direct_text(const auto& value) {
  std::string out;
  EXPECT_TRUE(detail::write_json_direct(out, value));
  return out;
}

// Equal, and equal in dump() too (which tells -0.0 from 0.0).
template <class T>
bool identical(const T& a, const T& b) {
  return a == b && json(a).dump() == json(b).dump();
}

// Strings of the characters that matter to JSON: quotes, backslashes, every control
// character, DEL, 2-, 3- and 4-byte UTF-8 up to U+10FFFF.
std::string random_string(std::mt19937_64& rng) {
  static const std::vector<std::string> kPieces = {
      "a", "Z", " ", "\"", "\\", "/", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xef\xbf\xbf", "\xf0\x9f\x98\x80",
      "\xf4\x8f\xbf\xbf", "plain text run", "\b", "\f", "\n", "\r", "\t"};
  std::string s;
  const size_t n = rng() % 8;
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 4 == 0) {
      s.push_back(static_cast<char>(rng() % 0x20));  // any control character
    } else {
      s += kPieces[rng() % kPieces.size()];
    }
  }
  return s;
}

template <class I>
I random_integer(std::mt19937_64& rng) {
  using L = std::numeric_limits<I>;
  switch (rng() % 4) {
    case 0: return L::min();
    case 1: return L::max();
    case 2: return static_cast<I>(rng() % 200) - static_cast<I>(L::is_signed ? 100 : 0);
    default: return static_cast<I>(rng());
  }
}

double random_double(std::mt19937_64& rng) {
  static const double kEdges[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3, 129.95, 1e15, 1e16, 1e17, 1e-5, 1e-4, 123456789012345678.0,
                                  DBL_MAX, -DBL_MAX, DBL_MIN, 5e-324, 9007199254740993.0, 1e300, 2.5e-300};
  if (rng() % 2 == 0) return kEdges[rng() % std::size(kEdges)];
  for (;;) {
    const uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) return d;
  }
}

float random_float(std::mt19937_64& rng) {
  static const float kEdges[] = {0.0f, -0.0f, 0.1f, 3.4e38f, -1.17549435e-38f, 1e-45f, 16777217.0f};
  if (rng() % 2 == 0) return kEdges[rng() % std::size(kEdges)];
  for (;;) {
    const auto bits = static_cast<uint32_t>(rng());
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (std::isfinite(f)) return f;
  }
}

fields_test::Inner random_inner(std::mt19937_64& rng) { return {random_integer<int32_t>(rng), random_string(rng)}; }

Everything random_everything(std::mt19937_64& rng) {
  Everything e;
  e.i8 = random_integer<int8_t>(rng);
  e.i16 = random_integer<int16_t>(rng);
  e.i32 = random_integer<int32_t>(rng);
  e.i64 = random_integer<int64_t>(rng);
  e.u8 = random_integer<uint8_t>(rng);
  e.u16 = random_integer<uint16_t>(rng);
  e.u32 = random_integer<uint32_t>(rng);
  e.u64 = random_integer<uint64_t>(rng);
  e.flag = rng() % 2 == 0;
  e.f = random_float(rng);
  e.d = random_double(rng);
  e.text = random_string(rng);
  if (rng() % 2) e.maybe = random_integer<int>(rng);
  if (rng() % 2) e.maybe_text = random_string(rng);
  for (size_t n = rng() % 4; n > 0; --n) e.ints.push_back(random_integer<int>(rng));
  for (size_t n = rng() % 3; n > 0; --n) {
    e.grid.emplace_back();
    for (size_t m = rng() % 3; m > 0; --m) e.grid.back().push_back(random_double(rng));
  }
  for (size_t n = rng() % 3; n > 0; --n) e.words.push_back(random_string(rng));
  for (size_t n = rng() % 4; n > 0; --n) e.bits.push_back(rng() % 2 == 0);
  e.inner = random_inner(rng);
  for (size_t n = rng() % 3; n > 0; --n) e.inners.push_back(random_inner(rng));
  if (rng() % 2) e.maybe_inner = random_inner(rng);
  for (size_t n = rng() % 3; n > 0; --n) e.counts[random_string(rng)] = random_integer<int>(rng);
  e.colour = rng() % 2 ? fields_test::Colour::kRed : fields_test::Colour::kBlue;
  return e;
}

// `j` as another writer might put it (Python's json.dumps, a hand-written file): keys in any
// order, whitespace anywhere, \u escapes (ensure_ascii), doubles in %.17g or as integers,
// and keys that are no field, holding values of every kind.
void scramble(const json& j, std::mt19937_64& rng, std::string& out, bool extra_keys) {
  static const char* kSpace[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
  const auto space = [&] { out += kSpace[rng() % std::size(kSpace)]; };
  static const char* kUnknown[] = {R"({"a":[1,2,{"b":null}],"c":"\u00e9"})", R"("x\"y")", "-1.5e10", "true", "[]", "{}",
                                   "18446744073709551616", "null", R"([[[]],{"deep":{"er":[false]}}])"};
  switch (j.type()) {
    case json::value_t::object: {
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      if (extra_keys && rng() % 2) keys.push_back("zz_not_a_field");
      if (extra_keys && rng() % 2) keys.push_back("A_not_a_field");
      std::shuffle(keys.begin(), keys.end(), rng);
      out += '{';
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i) out += ',';
        space();
        out += json(keys[i]).dump();
        space();
        out += ':';
        space();
        if (keys[i].find("_not_a_field") != std::string::npos) {
          out += kUnknown[rng() % std::size(kUnknown)];
        } else {
          scramble(j.at(keys[i]), rng, out, extra_keys && keys[i] != "counts");  // a map takes every key
        }
        space();
      }
      out += '}';
      return;
    }
    case json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out += ',';
        space();
        scramble(j[i], rng, out, extra_keys);
        space();
      }
      out += ']';
      return;
    }
    case json::value_t::string: out += j.dump(-1, ' ', rng() % 2 == 0); return;
    case json::value_t::number_float: {
      const double d = j.get<double>();
      char b[40];
      if (rng() % 3 == 0 && d == std::trunc(d) && std::fabs(d) < 1e15 && !std::signbit(d)) {
        std::snprintf(b, sizeof b, "%.0f", d);
      } else if (rng() % 2 && !(d == 0 && std::signbit(d))) {  // "-0" reads as the integer 0
        std::snprintf(b, sizeof b, "%.17g", d);
      } else {
        out += j.dump();
        return;
      }
      out += b;
      return;
    }
    default: out += j.dump(); return;
  }
}

TEST(JsonFields, WriterGivesDumpsBytes) {
  std::mt19937_64 rng(15);
  for (int i = 0; i < 3000; ++i) {
    const Everything e = random_everything(rng);
    ASSERT_EQ(direct_text(e), json(e).dump());
    ASSERT_EQ(encode(e), json(e).dump());
  }
  // Every single byte below 0x80 in a string, and numbers dump() writes in a special form.
  for (int c = 0; c < 0x80; ++c) {
    fields_test::Inner in{c, std::string(1, static_cast<char>(c)) + "x"};
    ASSERT_EQ(direct_text(in), json(in).dump()) << c;
  }
  Everything e;
  for (double d : {std::nan(""), HUGE_VAL, -HUGE_VAL, -0.0, 1e21, 1e-7, 0.30000000000000004}) {
    e.d = d;
    e.grid = {{d, d}, {}};
    ASSERT_EQ(direct_text(e), json(e).dump()) << d;  // non-finite: null, as dump()
  }
  const fields_test::Tree tree{1, {{2, {}}, {3, {{4, {{5, {}}}}}}}};
  EXPECT_EQ(direct_text(tree), R"({"kids":[{"kids":[],"v":2},{"kids":[{"kids":[{"kids":[],"v":5}],"v":4}],"v":3}],"v":1})");
  EXPECT_EQ(direct_text(tree), json(tree).dump());
  EXPECT_EQ(direct_text(fields_test::Defaults{}), R"({"a":7,"b":"bee","c":[1,2],"e":2.5})");
}

TEST(JsonFields, NotUtf8IsDumpsError) {
  for (const std::string bad : {"\xff", "ab\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82"}) {
    Everything e;
    e.words = {"fine", bad};
    std::string out;
    EXPECT_FALSE(detail::write_json_direct(out, e));
    std::string nlohmann_error, encode_error;
    try {
      (void)json(e).dump();
    } catch (const json::exception& x) {
      nlohmann_error = x.what();
    }
    try {
      (void)encode(e);
    } catch (const json::exception& x) {
      encode_error = x.what();
    }
    EXPECT_FALSE(nlohmann_error.empty());
    EXPECT_EQ(encode_error, nlohmann_error);
  }
}

TEST(JsonFields, ReaderGivesFromJsonsValue) {
  std::mt19937_64 rng(1515);
  int read = 0;
  for (int i = 0; i < 3000; ++i) {
    const Everything e = random_everything(rng);
    const json j = e;
    std::string text;
    scramble(j, rng, text, i % 2 == 1);
    Everything want;
    try {
      want = json::parse(text).get<Everything>();
    } catch (const json::exception& x) {
      FAIL() << x.what() << " in " << text;
    }
    Everything got{};
    ASSERT_TRUE(detail::read_json_direct(text, got)) << text;
    ASSERT_TRUE(identical(got, want)) << text;
    ASSERT_TRUE(identical(decode<Everything>(text), want)) << text;
    ASSERT_TRUE(identical(got, e)) << text;  // and the value round trips
    ++read;
  }
  EXPECT_EQ(read, 3000);
  fields_test::Tree deep;
  for (int i = 0; i < 120; ++i) deep = {i, {deep}};  // 240 levels: object and array each
  const std::string text = json(deep).dump();
  fields_test::Tree got{};
  ASSERT_TRUE(detail::read_json_direct(text, got));
  EXPECT_EQ(got, deep);
}

TEST(JsonFields, MissingKeysAsNlohmann) {
  // _WITH_DEFAULT: a missing key takes Defaults{}'s value, also inside a member that started
  // out otherwise.
  for (const std::string text : {R"({})", R"({"a":1})", R"({"b":"x","e":null})", R"({"c":[],"zz":0})"}) {
    fields_test::Defaults got{};
    ASSERT_TRUE(detail::read_json_direct(text, got)) << text;
    EXPECT_TRUE(identical(got, json::parse(text).get<fields_test::Defaults>())) << text;
  }
  for (const std::string text : {R"({"d":{}})", R"({"d":{"a":3},"n":2})", R"({"n":4})"}) {
    fields_test::Outer got{};
    ASSERT_TRUE(detail::read_json_direct(text, got)) << text;
    EXPECT_TRUE(identical(got, json::parse(text).get<fields_test::Outer>())) << text;
    EXPECT_TRUE(identical(decode<fields_test::Outer>(text), json::parse(text).get<fields_test::Outer>())) << text;
  }
  // SHMBUS_FIELDS: a missing key is nlohmann's error, word for word.
  fields_test::Tree tree{};
  EXPECT_FALSE(detail::read_json_direct(R"({"v":1})", tree));
  try {
    (void)decode<fields_test::Tree>(R"({"v":1})");
    FAIL() << "a missing key was taken";
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "FieldsTree@1: [json.exception.out_of_range.403] key 'kids' not found");
  }
}

// Texts the direct reader leaves to the DOM path, and what decode gives for them: nlohmann's.
TEST(JsonFields, FallsBackWhereNotSure) {
  const std::vector<std::string> texts = {
      R"({"v":1,"kids":[],"v":2})",           // a duplicate: the last wins
      R"({"\u0076":1,"kids":[]})",            // an escaped key
      R"({"v":1.5,"kids":[]})",               // a float into an int: nlohmann truncates
      R"({"v":1e2,"kids":[]})",
      R"({"v":4294967296,"kids":[]})",        // out of int's range: nlohmann's static_cast
      R"({"v":-2147483649,"kids":[]})",
      "\xef\xbb\xbf{\"v\":1,\"kids\":[]}",    // a BOM
      R"({"v":true,"kids":[]})",              // a type nlohmann refuses
      R"({"v":null,"kids":[]})",
      R"({"v":"1","kids":[]})",
      R"({"v":1,"kids":{}})",
      R"([{"v":1,"kids":[]}])",
      R"({"v":1,"kids":[]} x)",
      R"({"v":1,"kids":[],"x":1e400})",       // out of double's range, in a key that is no field
      R"({"v":1,"kids":[],"x":[01]})",
      R"()",
  };
  for (const std::string& text : texts) {
    fields_test::Tree direct{};
    EXPECT_FALSE(detail::read_json_direct(text, direct)) << text;
    std::optional<fields_test::Tree> want;
    std::string error;
    try {
      want = json::parse(text).get<fields_test::Tree>();
    } catch (const json::exception& e) {
      error = std::string("FieldsTree@1: ") + e.what();
    }
    try {
      const fields_test::Tree got = decode<fields_test::Tree>(text);
      ASSERT_TRUE(want.has_value()) << text << ": decoded what nlohmann refuses";
      EXPECT_EQ(got, *want) << text;
    } catch (const DecodeError& e) {
      ASSERT_FALSE(want.has_value()) << text << ": refused what nlohmann takes";
      EXPECT_EQ(e.what(), error) << text;
    }
  }
  // Deeper than the direct reader goes: nlohmann reads it.
  std::string deep = R"({"v":0,"kids":[)";
  for (int i = 0; i < 300; ++i) deep += R"({"v":1,"kids":[)";
  for (int i = 0; i < 300; ++i) deep += "]}";
  deep += "]}";
  fields_test::Tree direct{};
  EXPECT_FALSE(detail::read_json_direct(deep, direct));
  EXPECT_EQ(decode<fields_test::Tree>(deep), json::parse(deep).get<fields_test::Tree>());
  // A float into a float field from a big integer: straight from the integer, as nlohmann.
  Everything e{};
  std::string text = json(e).dump();
  text.replace(text.find("\"f\":0.0"), 7, "\"f\":16777217");
  ASSERT_TRUE(detail::read_json_direct(text, e));
  EXPECT_EQ(e.f, json::parse(text).get<Everything>().f);
  // Past float's range (a cast nlohmann makes, undefined): left to it.
  text.replace(text.find("\"f\":16777217"), 12, "\"f\":1e39");
  EXPECT_FALSE(detail::read_json_direct(text, e));
}

// Broken documents: the direct reader either refuses one or gives nlohmann's value for it,
// and decode answers as nlohmann does, value or error.
TEST(JsonFields, BrokenDocumentsNeverGiveAnotherValue) {
  std::mt19937_64 rng(42);
  static const char kBytes[] = "{}[]\",:\\ 0123456789.eE+-truefalsnul\x01\x7f\xc3\xa9\xff";
  int taken = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    scramble(json(random_everything(rng)), rng, text, true);
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0 && !text.empty(); --k) {
      const size_t at = rng() % text.size();
      switch (rng() % 6) {
        case 0: text.erase(at, 1); break;
        case 1: text.insert(at, 1, kBytes[rng() % (sizeof kBytes - 1)]); break;
        case 2: text[at] = kBytes[rng() % (sizeof kBytes - 1)]; break;
        case 3: text.resize(at); break;
        case 4: text.insert(1, R"("i32":5,)"); break;  // a duplicate key
        default: text.insert(at, ".5"); break;
      }
    }
    std::optional<Everything> want;
    std::string error;
    try {
      want = json::parse(text).get<Everything>();
    } catch (const json::exception& e) {
      error = std::string("FieldsEverything@1: ") + e.what();
    }
    Everything direct{};
    if (detail::read_json_direct(text, direct)) {
      ASSERT_TRUE(want.has_value()) << text << ": the direct reader took what nlohmann refuses";
      ASSERT_TRUE(identical(direct, *want)) << text;
      ++taken;
    } else {
      ++refused;
    }
    try {
      const Everything got = decode<Everything>(text);
      ASSERT_TRUE(want.has_value()) << text;
      ASSERT_TRUE(identical(got, *want)) << text;
    } catch (const DecodeError& e) {
      ASSERT_FALSE(want.has_value()) << text;
      ASSERT_EQ(e.what(), error) << text;
    }
  }
  // Both outcomes occur: the mutations are neither all fatal nor all harmless.
  EXPECT_GT(taken, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace shmbus::service
