// rabbitmq-c 0.11 (Debian's librabbitmq-dev): the confirms are read frame by frame, as the
// bridge's sink and bench/queue/rabbitmq_harness.cc do (no amqp_publisher_confirm_wait before 0.15).
#include "bare_amqp.h"

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "shmbus/error.h"

namespace shmbus::bench {
namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
amqp_connection_state_t conn(void* c) { return static_cast<amqp_connection_state_t>(c); }
amqp_bytes_t bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }
constexpr double kStallS = 10.0;

}  // namespace

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double thread_sleeps() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_nvcsw);
}

BareAmqp::BareAmqp(const std::string& url) : c_(amqp_new_connection()) {
  std::string buffer = url;  // amqp_parse_url points into it
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) throw Error("not an AMQP URL: " + url);
  // docs/bridge.md, the vhost trap: "amqp://h:p/" is vhost "" for rabbitmq-c; we mean "/".
  if (info.vhost == nullptr || *info.vhost == '\0') info.vhost = const_cast<char*>("/");
  amqp_socket_t* socket = amqp_tcp_socket_new(conn(c_));
  timeval connect_timeout{5, 0};
  if (socket == nullptr || amqp_socket_open_noblock(socket, info.host, info.port, &connect_timeout) != AMQP_STATUS_OK) {
    amqp_destroy_connection(conn(c_));
    throw Error("cannot connect to RabbitMQ at " + url + " (tools/bridge_bench.sh starts a private node)");
  }
  timeval rpc_timeout{10, 0};
  amqp_set_rpc_timeout(conn(c_), &rpc_timeout);
  const amqp_rpc_reply_t r = amqp_login(conn(c_), info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                                        info.user, info.password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    amqp_destroy_connection(conn(c_));
    throw Error("RabbitMQ login at " + url + " refused");
  }
  amqp_channel_open(conn(c_), 1);
  rpc("channel.open");
}

BareAmqp::~BareAmqp() {
  amqp_channel_close(conn(c_), 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn(c_), AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn(c_));
}

void BareAmqp::rpc(const char* what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn(c_));
  if (r.reply_type != AMQP_RESPONSE_NORMAL) throw Error(std::string("RabbitMQ refused ") + what);
}

void BareAmqp::declare_exchange(const std::string& name, const std::string& type) {
  amqp_exchange_declare(conn(c_), 1, bytes(name), bytes(type), 0, /*durable*/ 1, 0, 0, amqp_empty_table);
  rpc("exchange.declare");
}

void BareAmqp::declare_queue(const std::string& name) {
  amqp_queue_declare(conn(c_), 1, bytes(name), 0, /*durable*/ 1, 0, 0, amqp_empty_table);
  rpc("queue.declare");
}

void BareAmqp::bind(const std::string& queue, const std::string& exchange, const std::string& key) {
  amqp_queue_bind(conn(c_), 1, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
  rpc("queue.bind");
}

void BareAmqp::purge(const std::string& queue) {
  amqp_queue_purge(conn(c_), 1, bytes(queue));
  rpc("queue.purge");
}

void BareAmqp::remove_queue(const std::string& queue) {
  amqp_queue_delete(conn(c_), 1, bytes(queue), 0, 0);
  rpc("queue.delete");
}

uint64_t BareAmqp::depth(const std::string& queue) {
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(conn(c_), 1, bytes(queue), /*passive*/ 1, 1, 0, 0, amqp_empty_table);
  rpc("queue.declare (passive)");
  return ok != nullptr ? ok->message_count : 0;
}

TimedRun BareAmqp::publish_confirmed(const std::string& exchange, const std::string& routing_key, uint64_t n,
                                     size_t payload_bytes, uint32_t window) {
  amqp_connection_state_t c = conn(c_);
  if (!confirm_mode_) {
    amqp_confirm_select(c, 1);
    rpc("confirm.select");
    confirm_mode_ = true;
  }
  const uint64_t base = published_;  // the delivery tag of this run's first publish is base + 1
  std::string body(payload_bytes, 'x');
  std::string id = routing_key + "@";
  const size_t id_prefix = id.size();
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  TimedRun run;
  run.total = n;
  uint64_t published = 0, confirmed = 0;
  double last_progress = now_s();
  while (confirmed < n) {
    while (published < n && published - confirmed < window) {
      id.resize(id_prefix);
      id += std::to_string(published);
      props.message_id = bytes(id);
      if (amqp_basic_publish(c, 1, bytes(exchange), bytes(routing_key), /*mandatory*/ 1, 0, &props, bytes(body)) !=
          AMQP_STATUS_OK) {
        throw Error("bare publisher: basic.publish failed");
      }
      ++published;
    }
    amqp_frame_t frame;
    // Wait only when the window is full (or all are sent); else take what has arrived.
    timeval tv{0, (published == n || published - confirmed >= window) ? 100000 : 0};
    const int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      amqp_maybe_release_buffers(c);
      if (now_s() - last_progress > kStallS) throw Error("bare publisher: no confirm for 10 s");
      continue;
    }
    if (rc != AMQP_STATUS_OK) throw Error("bare publisher: connection lost");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_number_t method = frame.payload.method.id;
    if (method == AMQP_BASIC_ACK_METHOD || method == AMQP_BASIC_NACK_METHOD) {
      if (method == AMQP_BASIC_NACK_METHOD) throw Error("bare publisher: the broker nacked a publish");
      const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
      const uint64_t upto = ack->delivery_tag - base;
      confirmed = std::max(confirmed, upto);  // in order on one channel: single or multiple, all before it too
      const double t = now_s();
      if (run.first_s == 0) {
        run.first_s = t;
        run.at_first = confirmed;
      }
      run.last_s = t;
      last_progress = t;
    } else if (method == AMQP_BASIC_RETURN_METHOD) {
      throw Error("bare publisher: a message was unroutable (no queue bound for " + routing_key + ")");
    } else if (method == AMQP_CHANNEL_CLOSE_METHOD || method == AMQP_CONNECTION_CLOSE_METHOD) {
      throw Error("bare publisher: the broker closed the channel");
    }
  }
  published_ += n;
  return run;
}

TimedRun BareAmqp::consume_acked(const std::string& queue, uint64_t n, uint32_t prefetch) {
  amqp_connection_state_t c = conn(c_);
  amqp_basic_qos(c, 1, 0, static_cast<uint16_t>(prefetch), 0);
  rpc("basic.qos");
  const std::string tag = "bench-" + std::to_string(++consumers_);
  amqp_basic_consume(c, 1, bytes(queue), bytes(tag), 0, /*no_ack*/ 0, 0, amqp_empty_table);
  rpc("basic.consume");
  const uint64_t batch = std::max<uint32_t>(1, prefetch / 4);
  TimedRun run;
  run.total = n;
  uint64_t got = 0, last_tag = 0, acked_tag = 0, got_at_check = 0;
  double last_progress = now_s();
  double cpu0 = 0, sleeps0 = 0;  // at the first delivery: CPU and sleeps over the timed window, as the bridge's
  while (got < n) {
    amqp_maybe_release_buffers(c);
    amqp_envelope_t env;
    timeval tv{0, 100000};
    const amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      const double t = now_s();  // the clock only here and at the first and N-th delivery: none a message
      if (got != got_at_check) {
        got_at_check = got;
        last_progress = t;
      } else if (t - last_progress > kStallS) {
        throw Error("bare consumer: no delivery for 10 s");
      }
      continue;
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) throw Error("bare consumer: consume failed");
    // The handler: read every byte, 8 at a time (byte by byte was ~0.4 us per KiB, more than the
    // bridge's copy and CRC32C of it).
    uint64_t acc = 0;
    const auto* p = static_cast<const unsigned char*>(env.message.body.bytes);
    const size_t len = env.message.body.len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      acc += w;
    }
    for (; i < len; ++i) acc += p[i];
    asm volatile("" : : "r"(acc));
    last_tag = env.delivery_tag;
    amqp_destroy_envelope(&env);
    ++got;
    if (last_tag - acked_tag >= batch || got == n) {
      if (amqp_basic_ack(c, 1, last_tag, /*multiple*/ 1) != AMQP_STATUS_OK) throw Error("bare consumer: ack failed");
      acked_tag = last_tag;
    }
    if (run.first_s == 0) {
      run.first_s = now_s();
      run.at_first = got;
      cpu0 = thread_cpu_s();
      sleeps0 = thread_sleeps();
    }
    if (got == n) run.last_s = now_s();
  }
  run.cpu_s = thread_cpu_s() - cpu0;
  run.sleeps = thread_sleeps() - sleeps0;
  amqp_basic_cancel(c, 1, bytes(tag));
  rpc("basic.cancel");
  return run;
}

}  // namespace shmbus::bench
