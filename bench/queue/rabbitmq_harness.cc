// rabbitmq-c 0.11 (Debian's librabbitmq-dev): no amqp_publisher_confirm_wait (0.15), so the
// producer reads the confirm frames itself, as tests/bridge/rabbitmq_c_smoke_test.cc does.
#include "rabbitmq_harness.h"

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include <sys/socket.h>
#include <sys/time.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace shmbus::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr timeval kConnectTimeout{5, 0};
constexpr timeval kRpcTimeout{10, 0};  // every synchronous RPC (declare, qos, close) and the login
constexpr timeval kPollTimeout{0, 100 * 1000};  // a frame wait; the loops look at their stop flag after each
constexpr auto kStallLimit = std::chrono::seconds(10);  // no confirm / no delivery for this long: the broker is stuck

std::string str(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }
amqp_bytes_t bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

std::string reply_text(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return std::string("rabbitmq-c: ") + amqp_error_string2(r.library_error);
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

struct Url {
  std::string text;
  amqp_connection_info info{};
};

std::string parse(const std::string& url, Url& out) {
  if (url.empty()) return "no AMQP URL (set AMQP_URL, or start a node: tools/rabbitmq_node.sh start DIR; . DIR/env)";
  out.text = url;
  amqp_default_connection_info(&out.info);
  // amqp_parse_url points into (and writes into) the buffer it is given.
  if (amqp_parse_url(out.text.data(), &out.info) != AMQP_STATUS_OK) return "not an AMQP URL: " + url;
  // docs/bridge.md, the vhost trap: rabbitmq-c reads "amqp://h:p/" as the vhost "", which
  // RabbitMQ refuses (530); an empty path means the default vhost "/" here.
  if (out.info.vhost == nullptr || *out.info.vhost == '\0') out.info.vhost = const_cast<char*>("/");
  return {};
}

// One connection with channel 1 open; every wait bounded.
class Conn {
 public:
  explicit Conn(const amqp_connection_info& info) : c_(amqp_new_connection()) {
    if (c_ == nullptr) { error_ = "amqp_new_connection failed"; return; }
    amqp_socket_t* socket = amqp_tcp_socket_new(c_);
    if (socket == nullptr) { error_ = "amqp_tcp_socket_new failed"; return; }
    timeval connect_timeout = kConnectTimeout;
    const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &connect_timeout);
    if (rc != AMQP_STATUS_OK) {
      error_ = std::string("cannot connect to ") + info.host + ":" + std::to_string(info.port) + ": " + amqp_error_string2(rc);
      return;
    }
    // rabbitmq-c's writes block: a broker that stops reading would hold a publish forever.
    timeval send_timeout{10, 0};
    setsockopt(amqp_get_sockfd(c_), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    timeval handshake = kRpcTimeout, rpc = kRpcTimeout;
    amqp_set_handshake_timeout(c_, &handshake);
    amqp_set_rpc_timeout(c_, &rpc);
    // Heartbeats off: every loop here is inside a library call with a timeout of its own.
    amqp_rpc_reply_t r = amqp_login(c_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                                    info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) { error_ = "login: " + reply_text(r); return; }
    amqp_channel_open(c_, 1);
    r = amqp_get_rpc_reply(c_);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) { error_ = "channel.open: " + reply_text(r); return; }
    ok_ = true;
  }
  ~Conn() {
    if (c_ == nullptr) return;
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
  // After a failed call: the connection is unusable; do not close it politely.
  void broken() { ok_ = false; }

  // "" or what failed.
  std::string rpc(const char* what) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c_);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return {};
    broken();
    return std::string(what) + ": " + reply_text(r);
  }

 private:
  amqp_connection_state_t c_;
  bool ok_ = false;
  std::string error_;
};

struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> confirmed{0};
  std::atomic<uint64_t> nacked{0};
  std::atomic<int> ready{0};
  std::mutex error_mutex;
  std::string error;
  void fail(std::string e) {
    std::lock_guard lock(error_mutex);
    if (error.empty()) error = std::move(e);
    stop.store(true);
  }
};

void consume(const Url& url, const RabbitOptions& o, Shared& s) {
  Conn conn(url.info);
  if (!conn.ok()) return s.fail("consumer: " + conn.error());
  amqp_connection_state_t c = conn.get();
  amqp_basic_qos(c, 1, 0, static_cast<uint16_t>(std::min(o.prefetch, 65535u)), 0);
  if (std::string e = conn.rpc("basic.qos"); !e.empty()) return s.fail("consumer: " + e);
  amqp_basic_consume(c, 1, bytes(o.queue_name), amqp_empty_bytes, 0, /*no_ack*/ 0, 0, amqp_empty_table);
  if (std::string e = conn.rpc("basic.consume"); !e.empty()) return s.fail("consumer: " + e);
  s.ready.fetch_add(1);
  auto last = Clock::now();
  uint64_t n = 0;
  while (!s.stop.load(std::memory_order_relaxed)) {
    amqp_maybe_release_buffers(c);
    amqp_envelope_t env;
    timeval tv = kPollTimeout;
    amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      if (Clock::now() - last > kStallLimit) return s.fail("consumer: no delivery for 10 s");
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A frame other than a delivery (e.g. the broker closing the channel): read it.
      amqp_frame_t frame;
      timeval ftv = kPollTimeout;
      if (amqp_simple_wait_frame_noblock(c, &frame, &ftv) == AMQP_STATUS_OK && frame.frame_type == AMQP_FRAME_METHOD &&
          (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD || frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        conn.broken();
        return s.fail(std::string("consumer: the broker sent ") + amqp_method_name(frame.payload.method.id));
      }
      continue;
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      conn.broken();
      return s.fail("consumer: " + reply_text(r));
    }
    // The handler: read every byte, as our consumers do.
    uint64_t acc = 0;
    const auto* p = static_cast<const unsigned char*>(env.message.body.bytes);
    for (size_t i = 0; i < env.message.body.len; ++i) acc += p[i];
    asm volatile("" : : "r"(acc));
    const int rc = amqp_basic_ack(c, 1, env.delivery_tag, /*multiple*/ 0);
    amqp_destroy_envelope(&env);
    if (rc != AMQP_STATUS_OK) {
      conn.broken();
      return s.fail(std::string("consumer: basic.ack: ") + amqp_error_string2(rc));
    }
    last = Clock::now();
    s.consumed.store(++n, std::memory_order_relaxed);
  }
}

void produce(const Url& url, const RabbitOptions& o, Shared& s) {
  Conn conn(url.info);
  if (!conn.ok()) return s.fail("producer: " + conn.error());
  amqp_connection_state_t c = conn.get();
  amqp_confirm_select(c, 1);
  if (std::string e = conn.rpc("confirm.select"); !e.empty()) return s.fail("producer: " + e);
  s.ready.fetch_add(1);
  std::string body(o.payload_bytes, 'x');
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.content_type = amqp_cstring_bytes("application/octet-stream");
  // Delivery tags count from 1 after confirm.select; a confirm with `multiple` covers every tag
  // up to its own. RabbitMQ confirms in order on one channel; `confirmed` is the highest tag
  // covered.
  uint64_t published = 0, confirmed = 0;
  auto last = Clock::now();
  while (!s.stop.load(std::memory_order_relaxed)) {
    while (published - confirmed < o.confirm_window) {
      std::memcpy(body.data(), &published, std::min(sizeof published, body.size()));
      const int rc = amqp_basic_publish(c, 1, amqp_empty_bytes, bytes(o.queue_name), 0, 0, &props, bytes(body));
      if (rc != AMQP_STATUS_OK) {
        conn.broken();
        return s.fail(std::string("producer: basic.publish: ") + amqp_error_string2(rc));
      }
      ++published;
    }
    amqp_maybe_release_buffers(c);
    amqp_frame_t frame;
    timeval tv = kPollTimeout;
    const int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      if (Clock::now() - last > kStallLimit) return s.fail("producer: no confirm for 10 s with the window full");
      continue;
    }
    if (rc != AMQP_STATUS_OK) {
      conn.broken();
      return s.fail(std::string("producer: waiting for confirms: ") + amqp_error_string2(rc));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        // multiple: every tag up to this one; single: this one (in order, so all before it too).
        confirmed = std::max<uint64_t>(confirmed, m->delivery_tag);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        s.nacked.fetch_add(1, std::memory_order_relaxed);
        confirmed = std::max<uint64_t>(confirmed, m->delivery_tag);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        conn.broken();
        return s.fail(std::string("producer: the broker sent ") + amqp_method_name(frame.payload.method.id));
      default: break;
    }
    last = Clock::now();
    s.confirmed.store(confirmed, std::memory_order_relaxed);
  }
}

// utime + stime of a process, in seconds (-1: unreadable).
double cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command may hold spaces
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  size_t i = close + 2;
  while (i < stat.size() && fields.size() < 15) {
    size_t j = stat.find(' ', i);
    if (j == std::string::npos) j = stat.size();
    fields.push_back(stat.substr(i, j - i));
    i = j + 1;
  }
  if (fields.size() < 13) return -1;
  // After the command: state(0) ... utime(11) stime(12), in clock ticks.
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

std::string rabbit_check(const std::string& url_text) {
  Url url;
  if (std::string e = parse(url_text, url); !e.empty()) return e;
  Conn conn(url.info);
  if (!conn.ok()) {
    return "RabbitMQ at " + url_text + ": " + conn.error() +
           " (tools/queue_bench.sh starts a private node; by hand: tools/rabbitmq_node.sh start DIR; . DIR/env)";
  }
  return {};
}

RabbitResult rabbit_run(const RabbitOptions& o) {
  RabbitResult result;
  Url url;
  if (std::string e = parse(o.url, url); !e.empty()) return {0, 0, 0, -1, e};
  Conn admin(url.info);
  if (!admin.ok()) return {0, 0, 0, -1, "RabbitMQ: " + admin.error()};
  amqp_connection_state_t c = admin.get();
  // A durable queue (classic, or quorum: quorum queues must be durable and not exclusive).
  amqp_table_entry_t type{amqp_cstring_bytes("x-queue-type"), {}};
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes(o.quorum ? "quorum" : "classic");
  amqp_table_t args{1, &type};
  amqp_queue_declare(c, 1, bytes(o.queue_name), 0, /*durable*/ 1, 0, 0, args);
  if (std::string e = admin.rpc("queue.declare"); !e.empty()) return {0, 0, 0, -1, e};

  Shared s;
  std::thread consumer([&] { consume(url, o, s); });
  std::thread producer([&] { produce(url, o, s); });
  // Both connected (bounded: each connect and RPC has its timeout), then the warm-up and the window.
  const auto start_deadline = Clock::now() + std::chrono::seconds(30);
  while (s.ready.load() < 2 && !s.stop.load() && Clock::now() < start_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (s.ready.load() < 2 && !s.stop.load()) s.fail("the producer or consumer did not connect within 30 s");
  double c0 = 0, p0 = 0, c1 = 0, p1 = 0, seconds = 0, cpu0 = -1, cpu1 = -1;
  if (!s.stop.load()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
    const auto t0 = Clock::now();
    c0 = static_cast<double>(s.consumed.load());
    p0 = static_cast<double>(s.confirmed.load());
    cpu0 = cpu_seconds(o.broker_pid);
    // Sliced so that a failing thread ends the window early.
    while (!s.stop.load() && std::chrono::duration<double>(Clock::now() - t0).count() < o.seconds) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto t1 = Clock::now();
    c1 = static_cast<double>(s.consumed.load());
    p1 = static_cast<double>(s.confirmed.load());
    cpu1 = cpu_seconds(o.broker_pid);
    seconds = std::chrono::duration<double>(t1 - t0).count();
  }
  s.stop.store(true);
  producer.join();
  consumer.join();
  amqp_queue_delete(c, 1, bytes(o.queue_name), 0, 0);
  std::string deleted = admin.rpc("queue.delete");
  result.error = s.error.empty() ? deleted : s.error;
  result.nacked = s.nacked.load();
  if (seconds > 0) {
    result.consumed_per_s = (c1 - c0) / seconds;
    result.confirmed_per_s = (p1 - p0) / seconds;
    if (cpu0 >= 0 && cpu1 >= 0) result.broker_cores = (cpu1 - cpu0) / seconds;
  }
  return result;
}

}  // namespace shmbus::bench
