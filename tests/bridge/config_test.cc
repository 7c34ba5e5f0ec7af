// bridge.toml and broker URLs: what is accepted, what each default is, and that every refusal
// names the key and the fix, and never the password.
#include <gtest/gtest.h>

#include <string>

#include "bridge/broker_url.h"
#include "bridge/config.h"
#include "shmbus/error.h"

namespace shmbus::bridge {
namespace {

constexpr const char* kIssueConfig = R"(
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/"
[[outbound]]
topics = "orders.#"
exchange = "orders"
exchange_type = "topic"
cursor = "to-rabbit"
[[inbound]]
queue = "payments-in"
topic = "payments.received"
prefetch = 256
)";

std::string refusal(const std::string& text) {
  try {
    static_cast<void>(parse_config(text, "b.toml"));
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(BrokerUrl, TrailingSlashIsTheDefaultVhost) {
  const BrokerAddress sut = parse_broker_url("amqp://guest:guest@127.0.0.1:5672/");

  EXPECT_EQ(sut.vhost, "/");
  EXPECT_TRUE(sut.vhost_defaulted);
  EXPECT_EQ(sut.port, 5672);
  EXPECT_FALSE(sut.tls);
}

TEST(BrokerUrl, EscapesAreDecodedAndTlsHasItsPort) {
  const BrokerAddress sut = parse_broker_url("amqps://u%40x:p%3Aw@rabbit.example/%2fprod");

  EXPECT_EQ(sut.user, "u@x");
  EXPECT_EQ(sut.password, "p:w");
  EXPECT_EQ(sut.vhost, "/prod");
  EXPECT_EQ(sut.port, 5671);
  EXPECT_TRUE(sut.tls);
}

TEST(BrokerUrl, MaskedNeverShowsThePassword) {
  const BrokerAddress sut = parse_broker_url("amqp://guest:hunter2@h:1234/v");

  EXPECT_EQ(sut.masked(), "amqp://guest:****@h:1234/v");
}

TEST(BrokerUrl, BadSchemeAndPortAreRefusedSayingTheForm) {
  EXPECT_THROW(parse_broker_url("http://h/"), Error);
  try {
    parse_broker_url("amqp://u:secret@h:99999/");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 to 65535"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos);
  }
}

TEST(BridgeConfig, TheIssueConfigWorksWithItsDefaults) {
  const BridgeConfig sut = parse_config(kIssueConfig, "/etc/shmbus/bridge.toml");

  ASSERT_EQ(sut.outbound.size(), 1u);
  ASSERT_EQ(sut.inbound.size(), 1u);
  EXPECT_EQ(sut.outbound[0].dead_letter_topic, "to-rabbit.returned");
  EXPECT_EQ(sut.outbound[0].window, 1024u);
  EXPECT_TRUE(sut.outbound[0].exchange.declare);
  EXPECT_EQ(sut.inbound[0].prefetch, 256u);
  EXPECT_TRUE(sut.inbound[0].journal);
  EXPECT_EQ(sut.lock_path(), "/etc/shmbus/bridge.toml.lock");
  EXPECT_EQ(sut.status_path(), "/etc/shmbus/bridge.toml.status.json");
  EXPECT_NE(describe_plan(sut).find("guest:****@"), std::string::npos);
}

TEST(BridgeConfig, RefusalsNameTheKeyAndTheFix) {
  EXPECT_NE(refusal("[broker]\n[[inbound]]\nqueue=\"q\"\ntopic=\"t\"\nprefech=1\n").find("unknown key prefech"),
            std::string::npos);
  EXPECT_NE(refusal("[broker]\n[[outbound]]\ntopics=\"a\"\nexchange=\"x\"\n").find("needs cursor"), std::string::npos);
  EXPECT_NE(refusal("[broker]\n[[outbound]]\ntopics=\"a\"\nexchange=\"x\"\ncursor=\"c\"\nexchange_type=\"topik\"\n")
                .find("no exchange type"),
            std::string::npos);
  EXPECT_NE(refusal("[broker]\n[[inbound]]\nqueue=\"q\"\ntopic=\"t\"\ndelivery_limit=3\n").find("quorum"),
            std::string::npos);
  EXPECT_NE(refusal("[broker]\n").find("no link"), std::string::npos);
  EXPECT_NE(refusal("[broker\n").find("b.toml:1"), std::string::npos);
}

TEST(BridgeConfig, TwoLinksOnOneCursorAreRefused) {
  const std::string two = "[broker]\n[[outbound]]\ntopics=\"a.#\"\nexchange=\"x\"\ncursor=\"c\"\n"
                          "[[outbound]]\ntopics=\"b.#\"\nexchange=\"y\"\ncursor=\"c\"\n";

  EXPECT_NE(refusal(two).find("cursor c"), std::string::npos);
}

TEST(BridgeConfig, AnInboundTopicForwardedBackOutIsAWarning) {
  const BridgeConfig sut = parse_config(
      "[broker]\n[[outbound]]\ntopics=\"#\"\nexchange=\"x\"\ncursor=\"c\"\n[[inbound]]\nqueue=\"q\"\ntopic=\"t.in\"\n", "");

  ASSERT_EQ(sut.warnings.size(), 1u);
  EXPECT_NE(sut.warnings[0].find("loop"), std::string::npos);
}

constexpr const char* kTwoHostConfig = R"(
[bridge]
origin = "host-a"
[broker]
url = "amqps://guest:guest@localhost:5671/"
tls = { ca_cert = "/etc/ca.pem" }
[[outbound]]
topics = "commands.inventory"
queue = "bridge.inventory"
exchange = "shmbus"
[[inbound]]
queue = "host-a-in"
topic_from = "routing_key"
reply_topic_bytes = 1048576
)";

TEST(TwoHostConfig, QueueLinksRoutingKeyTopicsAndOriginAreRead) {
  const BridgeConfig sut = parse_config(kTwoHostConfig, "b.toml");

  EXPECT_EQ(sut.origin, "host-a");
  ASSERT_EQ(sut.outbound.size(), 1u);
  EXPECT_EQ(sut.outbound[0].queue, "bridge.inventory");
  EXPECT_EQ(sut.outbound[0].cursor, "");
  EXPECT_EQ(sut.outbound[0].dead_letter_topic, "bridge.inventory.returned");
  ASSERT_EQ(sut.inbound.size(), 1u);
  EXPECT_TRUE(sut.inbound[0].topic_from_routing_key);
  EXPECT_TRUE(sut.inbound[0].create_topics);
  EXPECT_EQ(sut.inbound[0].reply_topic_capacity, 1048576u);
  EXPECT_EQ(sut.inbound[0].dead_letter_topic, "host-a-in.undecodable");
  EXPECT_EQ(sut.broker.tls.ca_cert, "/etc/ca.pem");
  EXPECT_NE(describe_plan(sut).find("through bus queue bridge.inventory"), std::string::npos);
  EXPECT_NE(describe_plan(sut).find("origin host-a"), std::string::npos);
}

TEST(TwoHostConfig, EachContradictionIsRefusedWithTheKey) {
  const std::string out = "[broker]\n[[outbound]]\ntopics=\"a\"\nexchange=\"x\"\n";
  const std::string in = "[broker]\n[[inbound]]\nqueue=\"q\"\n";

  EXPECT_NE(refusal(out + "queue=\"q\"\ncursor=\"c\"\n").find("cursor: give cursor or queue, not both"), std::string::npos);
  EXPECT_NE(refusal(out).find("needs cursor"), std::string::npos);
  EXPECT_NE(refusal(in + "topic=\"t\"\ntopic_from=\"routing_key\"\n").find("give topic or topic_from"), std::string::npos);
  EXPECT_NE(refusal(in + "topic_from=\"headers\"\n").find("topic_from: must be \"routing_key\""), std::string::npos);
  EXPECT_NE(refusal(in + "topic_from=\"routing_key\"\nreply_topic_bytes=5000\n").find("power of two"), std::string::npos);
}

}  // namespace
}  // namespace shmbus::bridge
