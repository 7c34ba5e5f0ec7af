// rabbitmq-c against a real RabbitMQ node (tools/rabbitmq_node.sh; SHMBUS_AMQP_URL names it):
// the calls the bridge's amqp/ adapter will make, checked one by one before the bridge exists.
// Publisher confirms read as raw frames (Debian's rabbitmq-c 0.11 has no
// amqp_publisher_confirm_wait, which came in 0.15), mandatory + basic.return, properties and a
// headers table round trip, consume with basic.qos and manual ack, a wrong password.
// Without SHMBUS_AMQP_URL every test skips.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include <gtest/gtest.h>
#include <sys/time.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string str(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }
amqp_bytes_t bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

struct Url {
  std::string text;
  amqp_connection_info info{};
};

// The broker of this run, or nothing (the test skips).
bool broker_url(Url& url) {
  const char* env = std::getenv("SHMBUS_AMQP_URL");
  if (env == nullptr || *env == '\0') return false;
  url.text = env;
  amqp_default_connection_info(&url.info);
  // amqp_parse_url points into (and writes into) the buffer it is given.
  if (amqp_parse_url(url.text.data(), &url.info) != AMQP_STATUS_OK) return false;
  // rabbitmq-c reads "amqp://h:p/" as the vhost "" (the URI spec's reading; RabbitMQ answers
  // 530 NOT_ALLOWED), pika as "/". The bridge takes an empty path for the default vhost "/";
  // "amqp://h:p/%2f" names it in both readings.
  if (url.info.vhost == nullptr || *url.info.vhost == '\0') url.info.vhost = const_cast<char*>("/");
  return true;
}

std::string reply_text(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply (missing RPC reply type)";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return std::string("library: ") + amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return "connection.close " + std::to_string(m->reply_code) + " " + str(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return "channel.close " + std::to_string(m->reply_code) + " " + str(m->reply_text);
      }
      return std::string("server: ") + amqp_method_name(r.reply.id);
  }
  return "?";
}

// One connection, channel 1 open.
class Conn {
 public:
  explicit Conn(const amqp_connection_info& info, const char* password = nullptr) : c_(amqp_new_connection()) {
    amqp_socket_t* socket = amqp_tcp_socket_new(c_);
    if (socket == nullptr) { error_ = "amqp_tcp_socket_new failed"; return; }
    timeval connect_timeout{5, 0};
    int rc = amqp_socket_open_noblock(socket, info.host, info.port, &connect_timeout);
    if (rc != AMQP_STATUS_OK) { error_ = std::string("socket open: ") + amqp_error_string2(rc); return; }
    // channel_max 0 (broker's), frame_max 128 KiB, heartbeat 10 s.
    amqp_rpc_reply_t r = amqp_login(c_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 10, AMQP_SASL_METHOD_PLAIN,
                                    info.user, password != nullptr ? password : info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) { login_reply_ = r; error_ = "login: " + reply_text(r); return; }
    amqp_channel_open(c_, 1);
    r = amqp_get_rpc_reply(c_);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) { error_ = "channel.open: " + reply_text(r); return; }
    ok_ = true;
  }
  ~Conn() {
    if (ok_) {
      amqp_channel_close(c_, 1, AMQP_REPLY_SUCCESS);
      amqp_connection_close(c_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(c_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  amqp_connection_state_t get() const { return c_; }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const amqp_rpc_reply_t& login_reply() const { return login_reply_; }

  // An exclusive, server-named queue.
  std::string temp_queue() {
    amqp_queue_declare_ok_t* ok =
        amqp_queue_declare(c_, 1, amqp_empty_bytes, /*passive*/ 0, /*durable*/ 0, /*exclusive*/ 1,
                           /*auto_delete*/ 1, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c_);
    EXPECT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << reply_text(r);
    return ok != nullptr ? str(ok->queue) : std::string();
  }

 private:
  amqp_connection_state_t c_;
  bool ok_ = false;
  std::string error_;
  amqp_rpc_reply_t login_reply_{};
};

// What the broker said after publishes on a confirm channel, in arrival order.
struct Event {
  amqp_method_number_t method = 0;
  uint64_t delivery_tag = 0;
  bool multiple = false;
  uint16_t reply_code = 0;  // basic.return
  std::string reply_text, routing_key, body, message_id;
};

// Reads frames until `acks` confirms (ack or nack, counting `multiple`) arrived or the deadline.
std::vector<Event> read_confirms(amqp_connection_state_t c, uint64_t acks, std::chrono::milliseconds limit) {
  std::vector<Event> events;
  uint64_t confirmed = 0, last_tag = 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (confirmed < acks && std::chrono::steady_clock::now() < deadline) {
    amqp_maybe_release_buffers(c);
    amqp_frame_t frame;
    timeval tv{0, 100 * 1000};
    int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) { ADD_FAILURE() << "wait_frame: " << amqp_error_string2(rc); break; }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    Event e;
    e.method = frame.payload.method.id;
    switch (e.method) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        e.delivery_tag = m->delivery_tag;
        e.multiple = m->multiple != 0;
        confirmed += e.multiple ? m->delivery_tag - last_tag : 1;
        last_tag = m->delivery_tag;
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        e.delivery_tag = m->delivery_tag;
        e.multiple = m->multiple != 0;
        confirmed += e.multiple ? m->delivery_tag - last_tag : 1;
        last_tag = m->delivery_tag;
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        auto* m = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
        e.reply_code = m->reply_code;
        e.reply_text = str(m->reply_text);
        e.routing_key = str(m->routing_key);
        // The returned message's header and body frames follow on the same channel.
        amqp_message_t msg;
        amqp_rpc_reply_t r = amqp_read_message(c, frame.channel, &msg, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) { ADD_FAILURE() << "read returned message: " << reply_text(r); break; }
        e.body = str(msg.body);
        if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) e.message_id = str(msg.properties.message_id);
        amqp_destroy_message(&msg);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        ADD_FAILURE() << "broker closed: " << amqp_method_name(e.method);
        return events;
      default:
        break;
    }
    events.push_back(e);
  }
  return events;
}

class RabbitmqC : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!broker_url(url_)) GTEST_SKIP() << "SHMBUS_AMQP_URL not set (tools/rabbitmq_node.sh start DIR; source DIR/env)";
  }
  Url url_;
};

TEST_F(RabbitmqC, ConfirmedPublishThenConsumeWithManualAck) {
  Conn conn(url_.info);
  ASSERT_TRUE(conn.ok()) << conn.error();
  amqp_connection_state_t c = conn.get();
  const std::string queue = conn.temp_queue();
  ASSERT_FALSE(queue.empty());

  amqp_confirm_select(c, 1);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
  ASSERT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << reply_text(r);

  // The envelope as the bridge will send it: properties where AMQP has one, the rest in headers.
  const std::string payload("{\"order\":42}\0tail", 17);  // binary-safe
  const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string kind = "event";
  amqp_table_entry_t entries[3];
  entries[0].key = amqp_cstring_bytes("traceparent");
  entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
  entries[0].value.value.bytes = bytes(traceparent);
  entries[1].key = amqp_cstring_bytes("kind");
  entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
  entries[1].value.value.bytes = bytes(kind);
  entries[2].key = amqp_cstring_bytes("x-original-position");
  entries[2].value.kind = AMQP_FIELD_KIND_I64;
  entries[2].value.value.i64 = 4096;
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                 AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                 AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.message_id = amqp_cstring_bytes("orders.eu.created@4096");
  props.correlation_id = amqp_cstring_bytes("corr-1");
  props.type = amqp_cstring_bytes("OrderPlaced@2");
  props.timestamp = 1700000000;  // AMQP timestamps are seconds
  props.headers.num_entries = 3;
  props.headers.entries = entries;

  ASSERT_EQ(amqp_basic_publish(c, 1, amqp_empty_bytes, bytes(queue), /*mandatory*/ 1, /*immediate*/ 0, &props,
                               bytes(payload)),
            AMQP_STATUS_OK);
  std::vector<Event> events = read_confirms(c, 1, std::chrono::seconds(10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].method, AMQP_BASIC_ACK_METHOD) << amqp_method_name(events[0].method);
  EXPECT_EQ(events[0].delivery_tag, 1u);  // publish sequence numbers start at 1 after confirm.select

  amqp_basic_qos(c, 1, 0, /*prefetch_count*/ 16, /*global*/ 0);
  r = amqp_get_rpc_reply(c);
  ASSERT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << reply_text(r);
  amqp_basic_consume(c, 1, bytes(queue), amqp_empty_bytes, /*no_local*/ 0, /*no_ack*/ 0, /*exclusive*/ 0,
                     amqp_empty_table);
  r = amqp_get_rpc_reply(c);
  ASSERT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << reply_text(r);

  amqp_envelope_t env;
  timeval tv{10, 0};
  amqp_maybe_release_buffers(c);
  r = amqp_consume_message(c, &env, &tv, 0);
  ASSERT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << reply_text(r);
  EXPECT_EQ(str(env.message.body), payload);
  EXPECT_FALSE(env.redelivered);
  const amqp_basic_properties_t& p = env.message.properties;
  ASSERT_TRUE(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
  EXPECT_EQ(str(p.message_id), "orders.eu.created@4096");
  EXPECT_EQ(str(p.correlation_id), "corr-1");
  EXPECT_EQ(str(p.type), "OrderPlaced@2");
  EXPECT_EQ(str(p.content_type), "application/json");
  EXPECT_EQ(p.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(p.timestamp, 1700000000u);
  ASSERT_TRUE(p._flags & AMQP_BASIC_HEADERS_FLAG);
  std::map<std::string, amqp_field_value_t> headers;
  for (int i = 0; i < p.headers.num_entries; ++i) headers[str(p.headers.entries[i].key)] = p.headers.entries[i].value;
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers["traceparent"].kind, AMQP_FIELD_KIND_UTF8);
  EXPECT_EQ(str(headers["traceparent"].value.bytes), traceparent);
  EXPECT_EQ(str(headers["kind"].value.bytes), "event");
  EXPECT_EQ(headers["x-original-position"].kind, AMQP_FIELD_KIND_I64);
  EXPECT_EQ(headers["x-original-position"].value.i64, 4096);
  EXPECT_EQ(amqp_basic_ack(c, 1, env.delivery_tag, /*multiple*/ 0), AMQP_STATUS_OK);
  amqp_destroy_envelope(&env);

  // Acked: nothing left to deliver.
  tv = {0, 300 * 1000};
  r = amqp_consume_message(c, &env, &tv, 0);
  EXPECT_EQ(r.reply_type, AMQP_RESPONSE_LIBRARY_EXCEPTION);
  EXPECT_EQ(r.library_error, AMQP_STATUS_TIMEOUT);
}

TEST_F(RabbitmqC, UnroutableMandatoryPublishIsReturnedThenAcked) {
  Conn conn(url_.info);
  ASSERT_TRUE(conn.ok()) << conn.error();
  amqp_connection_state_t c = conn.get();
  amqp_confirm_select(c, 1);
  ASSERT_EQ(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);

  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_MESSAGE_ID_FLAG;
  props.message_id = amqp_cstring_bytes("nowhere@1");
  const std::string key = "no.queue.is.bound.to.this";
  // Several in flight, pipelined: the second is routable through the default exchange to nothing
  // either (no such queue), the third goes to a real queue.
  const std::string queue = conn.temp_queue();
  ASSERT_EQ(amqp_basic_publish(c, 1, amqp_cstring_bytes("amq.direct"), bytes(key), 1, 0, &props,
                               amqp_cstring_bytes("lost?")),
            AMQP_STATUS_OK);
  ASSERT_EQ(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes("no-such-queue"), 1, 0, &props,
                               amqp_cstring_bytes("lost too?")),
            AMQP_STATUS_OK);
  ASSERT_EQ(amqp_basic_publish(c, 1, amqp_empty_bytes, bytes(queue), 1, 0, &props, amqp_cstring_bytes("kept")),
            AMQP_STATUS_OK);
  std::vector<Event> events = read_confirms(c, 3, std::chrono::seconds(10));
  // Per unroutable message: basic.return first, then its basic.ack (a return is not a nack).
  std::vector<Event> returns, acks;
  for (const Event& e : events) {
    if (e.method == AMQP_BASIC_RETURN_METHOD) returns.push_back(e);
    if (e.method == AMQP_BASIC_ACK_METHOD) acks.push_back(e);
    EXPECT_NE(e.method, AMQP_BASIC_NACK_METHOD);
  }
  ASSERT_EQ(returns.size(), 2u);
  EXPECT_EQ(returns[0].reply_code, 312);  // NO_ROUTE
  EXPECT_EQ(returns[0].reply_text, "NO_ROUTE");
  EXPECT_EQ(returns[0].routing_key, key);
  EXPECT_EQ(returns[0].body, "lost?");
  EXPECT_EQ(returns[0].message_id, "nowhere@1");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].method, AMQP_BASIC_RETURN_METHOD);
  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(acks.back().delivery_tag, 3u);
}

TEST_F(RabbitmqC, WrongPasswordIsALoginError) {
  Conn conn(url_.info, "not-the-password");
  ASSERT_FALSE(conn.ok());
  // RabbitMQ closes with 403 ACCESS_REFUSED (rabbitmq-c advertises authentication_failure_close).
  const amqp_rpc_reply_t& r = conn.login_reply();
  EXPECT_TRUE(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION || r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
      << conn.error();
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    ASSERT_EQ(r.reply.id, AMQP_CONNECTION_CLOSE_METHOD);
    EXPECT_EQ(static_cast<amqp_connection_close_t*>(r.reply.decoded)->reply_code, 403) << conn.error();
  }
  std::cerr << "wrong password: " << conn.error() << "\n";
}

}  // namespace
