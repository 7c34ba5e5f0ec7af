// parse_in_place gives what json::parse gives, whatever the document parsed into before it,
// and decode() through it keeps nlohmann's errors.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "messages.h"
#include "shmbus/service/json_in_place.h"

namespace shmbus::service {
namespace {

using nlohmann::json;

// Documents of changing shapes, parsed one after the other into the same json.
const std::vector<std::string> kDocuments = {
    R"({"order":"o-1","customer":"a customer name longer than SSO","quantity":3,"amount":9.5,"note":""})",
    R"({"order":"o-2","customer":"c","quantity":-4,"amount":1e300,"note":"x"})",
    R"({"order":"o-3","quantity":5})",                                    // keys gone
    R"({"order":7,"quantity":"five","extra":[1,2,3]})",                  // types changed, a key more
    R"({"extra":[1],"order":null})",                                     // an array shrinks
    R"({"extra":[{"a":1,"b":[true,false]},{"a":2}],"order":{"x":{"y":{}}}})",
    R"({"extra":[{"b":[]},{"a":2,"c":"new"},3],"order":{"x":[]}})",
    R"({"a":1,"a":{"x":1},"a":{"y":2}})",                                // duplicates: the last wins
    R"({"a":{"x":1,"y":2},"a":{"y":3}})",
    R"([1,"two",{"three":3},[4,[5]],null,true,18446744073709551615,-9223372036854775808])",
    R"([{"k":"v"}])",
    R"("just a string")",
    R"(42)",
    R"({})",
    R"([])",
    R"({"unicode":"\u00e9\ud83d\ude00 \"quoted\" \\ \/ \b\f\n\r\t"})",
};

// Equal and of the same types all the way down (== takes 1u, 1 and 1.0 for one another).
bool same(const json& a, const json& b) {
  if (a.type() != b.type() || a != b) return false;
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!same(it.value(), b.at(it.key()))) return false;
    }
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!same(a[i], b[i])) return false;
    }
  }
  return true;
}

TEST(JsonInPlace, GivesWhatParseGivesWhateverCameBefore) {
  json doc;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < kDocuments.size(); ++i) {
      // Each document after each other one: every shape is parsed over every other.
      for (size_t j = 0; j < kDocuments.size(); ++j) {
        ASSERT_TRUE(detail::parse_in_place(kDocuments[j], doc)) << kDocuments[j];
        ASSERT_TRUE(detail::parse_in_place(kDocuments[i], doc)) << kDocuments[i];
        ASSERT_TRUE(same(doc, json::parse(kDocuments[i]))) << kDocuments[i] << " after " << kDocuments[j];
        ASSERT_EQ(doc.dump(), json::parse(kDocuments[i]).dump());
      }
    }
  }
}

TEST(JsonInPlace, RefusesWhatParseRefusesAndRecovers) {
  json doc;
  for (const char* bad : {"", "{", R"({"a":1,})", R"({"a":1} x)", "[1,2", R"({"a":"\ud800"})", "nul", "1e999",
                          "\"\xff\""}) {
    ASSERT_TRUE(detail::parse_in_place(kDocuments[5], doc));
    EXPECT_FALSE(detail::parse_in_place(bad, doc)) << bad;
    EXPECT_THROW(json doc2 = json::parse(bad), json::exception) << bad;
    ASSERT_TRUE(detail::parse_in_place(kDocuments[0], doc));
    EXPECT_EQ(doc, json::parse(kDocuments[0]));
  }
}

// Numbers at the edges of their types: typed as nlohmann types them, or left to it.
TEST(JsonInPlace, NumbersAsParseTypesThem) {
  json doc;
  for (const char* n : {"0", "-0", "1", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                        "-9223372036854775809", "18446744073709551615", "18446744073709551616", "1.5", "-0.0", "1e2",
                        "1E+2", "1e-2", "0.1", "123456789012345678901234567890", "4.9e-324", "1.7976931348623157e308",
                        "2.2250738585072014e-308", "1e-400", "1e400", "01", "1.", ".1", "-", "1e", "+1", "0x1"}) {
    const bool fast = detail::parse_in_place(n, doc);
    json parsed;
    bool parses = true;
    try {
      parsed = json::parse(n);
    } catch (const json::exception&) {
      parses = false;
    }
    if (fast) {
      ASSERT_TRUE(parses) << n;
      EXPECT_TRUE(same(doc, parsed)) << n << ": " << doc.dump() << " vs " << parsed.dump();
    }
  }
}

// Documents broken at random: whatever parse_in_place accepts, json::parse accepts and reads the same.
TEST(JsonInPlace, AcceptsNothingParseRefusesUnderMutation) {
  std::mt19937 random(15);
  const std::string alphabet = "{}[],:\"\\/ \t\n0123456789-+.eEtrufalsn\x01\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80\xff"
                               "ubfnrtu00e9d83dde00";
  json doc;
  size_t accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = kDocuments[random() % kDocuments.size()];
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = random() % text.size();
      switch (random() % 3) {
        case 0: text[at] = alphabet[random() % alphabet.size()]; break;
        case 1: text.insert(at, 1, alphabet[random() % alphabet.size()]); break;
        default: text.erase(at, 1 + random() % 3);
      }
    }
    const bool fast = detail::parse_in_place(text, doc);
    json parsed;
    bool parses = true;
    try {
      parsed = json::parse(text);
    } catch (const json::exception&) {
      parses = false;
    }
    if (fast) {
      ++accepted;
      ASSERT_TRUE(parses) << text;
      ASSERT_TRUE(same(doc, parsed)) << text;
    } else {
      ++refused;
    }
  }
  EXPECT_GT(accepted, 1000u);  // the mutations left enough documents whole to compare
  EXPECT_GT(refused, 1000u);
}

TEST(JsonInPlace, LeavesBigObjectsToParse) {
  std::string big = "{";
  for (int i = 0; i < 100; ++i) big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  big += "}";
  json doc;
  EXPECT_FALSE(detail::parse_in_place(big, doc));
  EXPECT_EQ(decode<shop::OrderPlaced>(R"({"order":2,"customer":"c"})").order, 2);
}

TEST(JsonInPlace, DecodeKeepsItsErrors) {
  const auto reason = [](std::string_view payload) {
    try {
      (void)decode<shop::OrderPlaced>(payload);
    } catch (const DecodeError& e) {
      return std::string(e.what());
    }
    return std::string("decoded");
  };
  const auto nlohmann_reason = [](std::string_view payload) {
    try {
      (void)json::parse(payload).get<shop::OrderPlaced>();
    } catch (const json::exception& e) {
      return std::string("OrderPlaced@2: ") + e.what();
    }
    return std::string("decoded");
  };
  const std::string good = R"({"order":9,"customer":"c-9","x":[1]})";
  // After a good one, and after each other: the reasons nlohmann gives, word for word.
  for (const char* bad : {R"({"order":1})", R"({"order":"1","customer":"c"})", "{", R"({"order":1,"customer":"c"}x)"}) {
    (void)decode<shop::OrderPlaced>(good);
    EXPECT_EQ(reason(bad), nlohmann_reason(bad));
    EXPECT_NE(reason(bad), "decoded") << bad;
  }
  const shop::OrderPlaced ok = decode<shop::OrderPlaced>(good);
  EXPECT_EQ(ok.order, 9);
  EXPECT_EQ(ok.customer, "c-9");
}

}  // namespace
}  // namespace shmbus::service
