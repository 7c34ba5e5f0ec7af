// HeaderFilter: RabbitMQ's own headers-exchange cases, replayed, then the rules one by one and
// the CLI form's parser (its error paths one test each).
#include "shmbus/header_filter.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "shmbus/error.h"
#include "shmbus/headers.h"

namespace shmbus {
namespace {

// A message's headers, encoded as a record carries them.
class Encoded {
 public:
  Encoded(std::initializer_list<Header> headers) : headers_(headers) {
    bytes_.resize(encoded_headers_size(headers_));
    encode_headers(headers_, bytes_);
  }
  HeadersView view() const { return HeadersView(bytes_); }

 private:
  std::vector<Header> headers_;
  std::vector<std::byte> bytes_;
};

// One message of a RabbitMQ test and whether each of two bindings (all / any flavour) routes it.
struct Routed {
  const char* name;
  Encoded message;
  bool first;
  bool second;
};

void expect_routing(const HeaderFilter& first, const HeaderFilter& second, const std::vector<Routed>& cases) {
  for (const Routed& c : cases) {
    EXPECT_EQ(first.matches(c.message.view()), c.first) << first.to_string() << " on message " << c.name;
    EXPECT_EQ(second.matches(c.message.view()), c.second) << second.to_string() << " on message " << c.name;
  }
}

// rabbitmq-java-client Routing.java headersRouting: h3 is bound void (Java null), and the messages
// that carry h3 carry it void too; ours carry it with an empty value, which presence matches alike.
// Q1 gets message 4 alone; Q2 gets 1, 1b, 2, 3, 4, 5, 6, 7 (its comments number them 1..8).
TEST(HeaderFilterRabbitMq, JavaClientHeadersRouting) {
  const HeaderFilter q1 = HeaderFilter::parse("h1=12345,h2=bar,h3,x-key-1=bindings starting with x- get filtered out");
  const HeaderFilter q2 =
      HeaderFilter::parse("h1=12345,h2=bar,h3,x-key-1=bindings starting with x- get filtered out,x-match=any");

  expect_routing(q1, q2,
                 {
                     {"0 (no headers)", {}, false, false},
                     {"1", {{"h1", "12345"}}, false, true},
                     {"1b", {{"h1", "12345"}}, false, true},
                     {"2", {{"h2", "bar"}}, false, true},
                     {"3", {{"h1", "12345"}, {"h2", "bar"}}, false, true},
                     {"4", {{"h1", "12345"}, {"h2", "bar"}, {"h3", ""}}, true, true},
                     {"5", {{"h1", "12345"}, {"h2", "quux"}}, false, true},
                     {"6", {{"h1", "zot"}, {"h2", "quux"}, {"h3", ""}}, false, true},
                     {"7", {{"h3", ""}}, false, true},
                     {"8", {{"h1", "zot"}, {"h2", "quux"}}, false, false},
                     {"9", {{"x-key-1", "bindings starting with x- get filtered out"}}, false, false},
                 });
}

// rabbitmq-java-client Routing.java headersWithXRouting (RabbitMQ 3.10 and later).
TEST(HeaderFilterRabbitMq, JavaClientHeadersWithXRouting) {
  const HeaderFilter q1 = HeaderFilter::parse("x-key-1=value-1,x-key-2=value-2,x-match=all-with-x");
  const HeaderFilter q2 = HeaderFilter::parse("x-key-1=value-1,x-key-2=value-2,x-match=any-with-x");

  expect_routing(q1, q2,
                 {
                     {"0", {}, false, false},
                     {"1", {{"x-key-1", "value-1"}}, false, true},
                     {"2", {{"x-key-1", "value-1"}, {"x-key-2", "value-2"}}, true, true},
                     {"3", {{"x-key-1", "value-1"}, {"x-key-2", "value-2"}, {"x-key-3", "value-3"}}, true, true},
                 });
}

// rabbitmq-server exchanges_SUITE.erl headers_exchange.
TEST(HeaderFilterRabbitMq, ExchangesSuiteHeadersExchange) {
  const HeaderFilter q = HeaderFilter::parse("x-match=all,foo=bar,fuu=ber");
  const HeaderFilter alt_q = HeaderFilter::parse("x-match=any,foo=bar,fuu=ber");

  expect_routing(q, alt_q,
                 {
                     {"msg1", {{"foo", "bar"}, {"fuu", "ber"}}, true, true},
                     {"msg2", {{"foo", "bar"}}, false, true},
                     {"msg3 (no headers)", {}, false, false},
                 });
}

// rabbitmq-server exchanges_SUITE.erl headers_exchange_key_presence_only: void arguments ask
// only for presence, whatever the value, x- ones included under *-with-x.
TEST(HeaderFilterRabbitMq, ExchangesSuiteKeyPresenceOnly) {
  const HeaderFilter q_all = HeaderFilter::parse("x-match=all-with-x,foo,x-foo");
  const HeaderFilter q_any = HeaderFilter::parse("x-match=any-with-x,foo,x-foo");

  expect_routing(q_all, q_any,
                 {
                     {"msg1", {{"foo", "anything"}, {"x-foo", "42"}}, true, true},
                     {"msg2", {{"foo", "whatever"}}, false, true},
                     {"msg3", {{"x-foo", "something"}}, false, true},
                     {"msg4", {{"other", "value"}}, false, false},
                     {"msg5 (no headers)", {}, false, false},
                 });
}

// rabbitmq-server dead_lettering_SUITE.erl dead_letter_headers_first_death_route: dead letters
// routed by their x- reason headers, which only *-with-x bindings can see.
TEST(HeaderFilterRabbitMq, DeadLetteringFirstDeathRoute) {
  const HeaderFilter expired = HeaderFilter::parse("x-match=all-with-x,x-first-death-reason=expired,x-first-death-queue=q1");
  const HeaderFilter rejected = HeaderFilter::parse("x-match=any-with-x,x-first-death-reason=rejected");

  expect_routing(expired, rejected,
                 {
                     {"msg1 expired in q1", {{"x-first-death-reason", "expired"}, {"x-first-death-queue", "q1"}}, true, false},
                     {"msg2 expired in q2", {{"x-first-death-reason", "expired"}, {"x-first-death-queue", "q2"}}, false, false},
                     {"msg3 rejected in q2", {{"x-first-death-reason", "rejected"}, {"x-first-death-queue", "q2"}}, false, true},
                 });
}

// rabbitmq-server amqp_client_SUITE.erl: dead letters bound by x-fruit under any-with-x.
TEST(HeaderFilterRabbitMq, AmqpClientSuiteXFruit) {
  const HeaderFilter apple = HeaderFilter::parse("x-fruit=apple,x-match=any-with-x");
  const HeaderFilter banana = HeaderFilter::parse("x-fruit=banana,x-match=any-with-x");

  expect_routing(apple, banana,
                 {
                     {"m1 (no annotation)", {}, false, false},
                     {"m3", {{"x-fruit", "apple"}}, true, false},
                 });
}

// The same filter in our own header names (DESIGN.md section 11), as a queue's .dlq binding.
TEST(HeaderFilterRabbitMq, OurDeathReasonHeaderRoutesUnderAnyWithX) {
  const HeaderFilter sut = HeaderFilter::parse("x-match=any-with-x,x-death-reason=delivery_limit");
  const Encoded dead{{"message-id", "m-1"}, {"x-death-reason", "delivery_limit"}};

  EXPECT_TRUE(sut.matches(dead.view()));
}

// Rule 4 (match_all([]) is true; HeadersExchangeValidation binds with no arguments at all).
TEST(HeaderFilter, AllWithNothingToCompareMatchesEveryMessage) {
  const HeaderFilter sut;
  const Encoded some{{"type", "OrderPlaced@2"}};

  EXPECT_TRUE(sut.matches(Encoded{}.view()));
  EXPECT_TRUE(sut.matches(some.view()));
}

// Rule 4 (match_any([]) is false).
TEST(HeaderFilter, AnyWithNothingToCompareMatchesNoMessage) {
  const HeaderFilter sut = HeaderFilter::parse("x-match=any");
  const Encoded some{{"type", "OrderPlaced@2"}};

  EXPECT_FALSE(sut.matches(Encoded{}.view()));
  EXPECT_FALSE(sut.matches(some.view()));
}

// Rules 2 and 4: a binding of x- arguments only has nothing to compare under all/any.
TEST(HeaderFilter, OnlyXArgumentsCompareNothingWithoutWithX) {
  const HeaderFilter all = HeaderFilter::parse("x-tenant=a");
  const HeaderFilter any = HeaderFilter::parse("x-match=any,x-tenant=a");
  const Encoded other_tenant{{"x-tenant", "b"}};
  const Encoded tenant{{"x-tenant", "a"}};

  EXPECT_TRUE(all.matches(other_tenant.view()));
  EXPECT_FALSE(any.matches(tenant.view()));
}

// Rule 3: under any, a header present with another value does not count, and does not spoil a
// match that another argument makes.
TEST(HeaderFilter, PresentWithOtherValueDoesNotCountForAny) {
  const HeaderFilter sut = HeaderFilter::parse("x-match=any,type=OrderPlaced,region=eu");
  const Encoded wrong_type{{"type", "OrderCancelled"}};
  const Encoded wrong_type_right_region{{"type", "OrderCancelled"}, {"region", "eu"}};

  EXPECT_FALSE(sut.matches(wrong_type.view()));
  EXPECT_TRUE(sut.matches(wrong_type_right_region.view()));
}

// Rule 3 under all: present with another value fails like absent.
TEST(HeaderFilter, PresentWithOtherValueFailsAll) {
  const HeaderFilter sut = HeaderFilter::parse("type=OrderPlaced,region=eu");
  const Encoded other_region{{"type", "OrderPlaced"}, {"region", "us"}};

  EXPECT_FALSE(sut.matches(other_region.view()));
}

// Message headers the filter does not name never matter (the merge walk skips them).
TEST(HeaderFilter, ExtraMessageHeadersAreIgnored) {
  const HeaderFilter sut = HeaderFilter::parse("type=OrderPlaced");
  const Encoded many{{"message-id", "1"}, {"type", "OrderPlaced"}, {"x-delivery-count", "3"}, {"key", "k"}};

  EXPECT_TRUE(sut.matches(many.view()));
}

// Rule 2: the x- prefix is bytes, lower case; X-Tenant is an ordinary key, compared under all.
TEST(HeaderFilter, UpperCaseXPrefixIsAnOrdinaryKey) {
  const HeaderFilter sut = HeaderFilter::parse("X-Tenant=a");
  const Encoded other{{"X-Tenant", "b"}};

  EXPECT_FALSE(sut.matches(other.view()));
}

// Rule 2: x-match is the mode, never an argument, even under *-with-x (match_x/2 skips it).
TEST(HeaderFilter, XMatchHeaderOfMessageIsNeverCompared) {
  const HeaderFilter sut = HeaderFilter::parse("x-match=any-with-x");
  const Encoded message{{"x-match", "any-with-x"}};

  EXPECT_FALSE(sut.matches(message.view()));
  EXPECT_TRUE(sut.arguments().empty());
}

// Rule 3: values compare as exact bytes (AMQP's type+value equality, all values being strings).
TEST(HeaderFilter, ValuesCompareAsExactBytes) {
  const HeaderFilter sut = HeaderFilter::parse("count=1");

  EXPECT_TRUE(sut.matches(Encoded{{"count", "1"}}.view()));
  EXPECT_FALSE(sut.matches(Encoded{{"count", "01"}}.view()));
  EXPECT_FALSE(sut.matches(Encoded{{"count", "1 "}}.view()));
  EXPECT_FALSE(sut.matches(Encoded{{"Count", "1"}}.view()));
}

// `key=` wants an empty value; a bare `key` (void) any value.
TEST(HeaderFilter, EmptyValueIsAValueNotPresence) {
  const HeaderFilter empty = HeaderFilter::parse("note=");
  const HeaderFilter present = HeaderFilter::parse("note");
  const Encoded filled{{"note", "text"}};

  EXPECT_FALSE(empty.matches(filled.view()));
  EXPECT_TRUE(empty.matches(Encoded{{"note", ""}}.view()));
  EXPECT_TRUE(present.matches(filled.view()));
}

TEST(HeaderFilter, FirstOfDuplicateMessageHeadersCounts) {
  const HeaderFilter sut = HeaderFilter::parse("type=A");

  EXPECT_TRUE(sut.matches(Encoded{{"type", "A"}, {"type", "B"}}.view()));
  EXPECT_FALSE(sut.matches(Encoded{{"type", "B"}, {"type", "A"}}.view()));
}

TEST(HeaderFilter, MalformedBlockHasNoHeaders) {
  const std::byte garbage[] = {std::byte{9}, std::byte{0}, std::byte{9}, std::byte{0}, std::byte{'t'}};
  const HeadersView view(garbage);
  ASSERT_FALSE(view.valid());

  EXPECT_FALSE(HeaderFilter::parse("t").matches(view));
  EXPECT_TRUE(HeaderFilter().matches(view));
}

TEST(HeaderFilter, ConstructorTakesBindingArgumentsAsParseDoes) {
  const HeaderFilter sut({{"type", "OrderPlaced"}, {"x-match", "any"}, {"region", std::nullopt}});

  EXPECT_EQ(sut, HeaderFilter::parse("x-match=any,type=OrderPlaced,region"));
  EXPECT_EQ(sut.x_match(), XMatch::kAny);
  ASSERT_EQ(sut.arguments().size(), 2u);
  EXPECT_EQ(sut.arguments()[1], (BindingArgument{"region", std::nullopt}));
}

// ---- the CLI form ----

TEST(HeaderFilterParse, CliFormGivesModeAndArgumentsInOrder) {
  const HeaderFilter sut = HeaderFilter::parse("x-match=any,type=OrderPlaced,region");

  EXPECT_EQ(sut.x_match(), XMatch::kAny);
  const std::vector<BindingArgument> expected = {{"type", "OrderPlaced"}, {"region", std::nullopt}};
  EXPECT_EQ(sut.arguments(), expected);
}

TEST(HeaderFilterParse, EmptySpecIsTheDefaultFilter) {
  EXPECT_EQ(HeaderFilter::parse(""), HeaderFilter());
  EXPECT_EQ(HeaderFilter::parse("x-match=all"), HeaderFilter());
}

TEST(HeaderFilterParse, BackslashEscapesCommaEqualsAndBackslash) {
  const HeaderFilter sut = HeaderFilter::parse(R"(note=a\,b,k\=1=x\=y,path=c:\\tmp)");

  const std::vector<BindingArgument> expected = {{"note", "a,b"}, {"k=1", "x=y"}, {"path", R"(c:\tmp)"}};
  EXPECT_EQ(sut.arguments(), expected);
}

TEST(HeaderFilterParse, ToStringRoundTrips) {
  const char* const specs[] = {
      "", "x-match=any,type=OrderPlaced,region", R"(note=a\,b,k\=1=x\=y,path=c:\\tmp)",
      "x-match=all-with-x,x-death-reason=expired,x-original-topic", "x-match=any-with-x,e=", "a=1,x-ignored=2",
  };
  for (const char* spec : specs) {
    const HeaderFilter sut = HeaderFilter::parse(spec);
    EXPECT_EQ(HeaderFilter::parse(sut.to_string()), sut) << spec << " -> " << sut.to_string();
  }
}

TEST(HeaderFilterParse, ToStringIsModeFirstThenArgumentsEscaped) {
  const HeaderFilter sut({{"a,b", "c=d\\e"}, {"x-match", "any"}, {"f", std::nullopt}});

  EXPECT_EQ(sut.to_string(), R"(x-match=any,a\,b=c\=d\\e,f)");
  EXPECT_EQ(HeaderFilter().to_string(), "x-match=all");
}

// ---- error paths: one each; the message says what is wrong and what to do ----

void expect_refused(std::string_view spec, std::string_view reason, std::string_view advice) {
  try {
    (void)HeaderFilter::parse(spec);
    ADD_FAILURE() << "accepted: " << spec;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << spec;
    const std::string what = e.what();
    EXPECT_NE(what.find(reason), std::string::npos) << what;
    EXPECT_NE(what.find(advice), std::string::npos) << what;
    EXPECT_NE(what.find("header filter"), std::string::npos) << what;
  }
}

TEST(HeaderFilterParse, UnknownXMatchValueIsRefused) {
  expect_refused("x-match=some,a=1", "unknown x-match value 'some'", "use all (the default), any, all-with-x or any-with-x");
}

TEST(HeaderFilterParse, EmptyXMatchValueIsRefused) {
  expect_refused("x-match=", "unknown x-match value ''", "use all");
}

TEST(HeaderFilterParse, XMatchWithoutValueIsRefused) {
  expect_refused("a=1,x-match", "x-match has no value", "write x-match=all, any, all-with-x or any-with-x");
}

TEST(HeaderFilterParse, XMatchValueIsCaseSensitive) {
  expect_refused("x-match=ANY", "unknown x-match value 'ANY'", "use all");
}

TEST(HeaderFilterParse, EmptyKeyIsRefused) {
  expect_refused("a=1,=2", "argument 2 has an empty key", "write key=value, or a bare key");
}

TEST(HeaderFilterParse, EmptyArgumentIsRefused) {
  expect_refused("a=1,,b=2", "argument 2 is empty", "remove the extra comma");
}

TEST(HeaderFilterParse, TrailingCommaIsRefused) {
  expect_refused("a=1,", "argument 2 is empty", "remove the extra comma");
}

TEST(HeaderFilterParse, DuplicateKeyIsRefused) {
  expect_refused("a=1,b,a=2", "key 'a' is given twice (arguments 1 and 3)", "keep one argument per key");
}

TEST(HeaderFilterParse, DuplicateXMatchIsRefused) {
  expect_refused("x-match=any,x-match=all", "key 'x-match' is given twice", "keep one argument per key");
}

TEST(HeaderFilterParse, SecondBareEqualsIsRefused) {
  expect_refused("a=b=c", "argument 1 has a second '='", R"(write it as \= if it is part of the value)");
}

TEST(HeaderFilterParse, UnknownEscapeIsRefused) {
  expect_refused(R"(a=1,b=x\n)", R"(argument 2 has '\n', which is no escape)", R"(write \\ for a backslash)");
}

TEST(HeaderFilterParse, LoneTrailingBackslashIsRefused) {
  expect_refused(R"(a=1\)", "the spec ends in a lone backslash", R"(write \\ for a backslash)");
}

TEST(HeaderFilterParse, SpaceAroundKeyIsRefused) {
  expect_refused("x-match=any, region=eu", "the key of argument 2, ' region', has a space at one end",
                 "without spaces around ',' and '='");
}

TEST(HeaderFilterParse, TooLongValueIsRefused) {
  const std::string spec = "a=" + std::string(65536, 'v');
  expect_refused(spec, "has a key or value of 65536 bytes", "shorten it");
}

TEST(HeaderFilter, ConstructorRefusesEmptyKey) {
  try {
    const HeaderFilter sut({{"", "x"}});
    ADD_FAILURE() << "accepted an empty key";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "header filter: argument 1 has an empty key: write key=value, or a bare key to ask only "
                           "that the header be present");
  }
}

TEST(HeaderFilter, LongestKeyAndValueAreAccepted) {
  const std::string longest(65535, 'k');
  const HeaderFilter sut({{longest, longest}});
  const Header h{longest, longest};
  std::vector<std::byte> bytes(encoded_headers_size({&h, 1}));
  encode_headers({&h, 1}, bytes);

  EXPECT_TRUE(sut.matches(HeadersView(bytes)));
}

// find_each: what find() gives per key, in one pass (the first of a repeated key; a key asked
// twice answered twice; a malformed block answers nothing).
TEST(HeadersView, FindEachGivesWhatFindGivesForEveryKey) {
  const std::string long_key(70, 'k'), longer_key(80, 'k');  // past 63 bytes, lengths share a bit
  const Encoded block{{"type", "A"}, {"message-id", "m1"}, {"type", "B"}, {"", "empty key"}, {longer_key, "80"},
                      {long_key, "70"}};
  const std::string_view keys[] = {"type", "missing", "message-id", "type", "", long_key, longer_key};
  std::optional<std::string_view> sut[7];

  block.view().find_each(keys, sut);

  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(sut[i], block.view().find(keys[i])) << keys[i];
  EXPECT_EQ(sut[5], "70");
  EXPECT_EQ(sut[6], "80");
  EXPECT_EQ(sut[0], "A");
  EXPECT_FALSE(sut[1].has_value());
  EXPECT_EQ(sut[4], "empty key");
  const std::byte garbage[] = {std::byte{9}, std::byte{0}, std::byte{9}, std::byte{0}, std::byte{'t'}};
  HeadersView(garbage).find_each(keys, sut);
  for (const auto& v : sut) EXPECT_FALSE(v.has_value());
}

// A block that changes after its view was made (shared memory, a broken writer): iterating
// stops at the entry that no longer fits, never reads past the block, never stands still.
TEST(HeadersView, ABlockChangedAfterItsViewWasMadeEndsTheIteration) {
  const std::vector<Header> headers = {{"a", "1"}, {"bb", "22"}, {"ccc", "333"}};
  std::vector<std::byte> block(encoded_headers_size(headers));
  encode_headers(headers, block);
  const HeadersView sut(block);
  ASSERT_TRUE(sut.valid());
  const size_t second = 4 + 1 + 1;  // where "bb" starts

  block[second] = std::byte{0xff};  // its key now runs past the block
  block[second + 1] = std::byte{0xff};

  std::vector<std::string_view> keys;
  for (const Header h : sut) keys.push_back(h.key);
  EXPECT_EQ(keys, (std::vector<std::string_view>{"a", ""}));  // the changed entry reads as empty, then the end
  EXPECT_FALSE(sut.find("ccc").has_value());
  block[second + 2] = std::byte{0xff};  // its value too
  EXPECT_FALSE(sut.find("bb").has_value());
}

}  // namespace
}  // namespace shmbus
