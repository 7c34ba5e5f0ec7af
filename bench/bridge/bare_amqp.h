// The bare rabbitmq-c client the bridge is measured against: what a user would write to move N
// messages into or out of RabbitMQ with the same guarantees (publisher confirms with a pipelined
// window, mandatory, persistent; manual acks with a prefetch, acked in batches with
// multiple=true as the bridge does). One connection per object, channel 1. Every wait is
// bounded (10 s without progress ends the run with an Error).
#pragma once

#include <cstdint>
#include <string>

namespace shmbus::bench {

// The first and last event of a timed run: the rate counts what came after the first.
struct TimedRun {
  double first_s = 0;       // steady_clock seconds of the first confirm / delivery
  double last_s = 0;        // of the N-th
  uint64_t at_first = 0;    // how many were done at first_s
  uint64_t total = 0;
  double cpu_s = -1;     // CPU time of our side (the bridge process, or the bare client's thread)
  double broker_s = -1;  // CPU time of the broker over the run
  double sleeps = -1;    // our side's voluntary context switches (waits for the socket) over the run
  double per_s() const { return last_s > first_s ? static_cast<double>(total - at_first) / (last_s - first_s) : 0; }
};

// The calling thread's CPU time (s) and its voluntary context switches (its waits) so far.
double thread_cpu_s();
double thread_sleeps();

class BareAmqp {
 public:
  // Throws shmbus::Error saying what failed (URL, connect, login).
  explicit BareAmqp(const std::string& url);
  ~BareAmqp();
  BareAmqp(const BareAmqp&) = delete;
  BareAmqp& operator=(const BareAmqp&) = delete;

  // Setup (synchronous RPCs; throw Error on refusal).
  void declare_exchange(const std::string& name, const std::string& type);
  void declare_queue(const std::string& name);  // durable classic, no arguments (the bridge's)
  void bind(const std::string& queue, const std::string& exchange, const std::string& key);
  void purge(const std::string& queue);
  void remove_queue(const std::string& queue);
  uint64_t depth(const std::string& queue);  // ready messages (passive declare)

  // Publishes `n` persistent, mandatory messages of `payload_bytes` with a message-id each, at
  // most `window` unconfirmed, and returns once every one is confirmed.
  TimedRun publish_confirmed(const std::string& exchange, const std::string& routing_key, uint64_t n,
                             size_t payload_bytes, uint32_t window);
  // Consumes `n` messages with `prefetch`, reads every payload byte, acks (multiple) every
  // prefetch / 4 and at the end; cancels the consumer.
  TimedRun consume_acked(const std::string& queue, uint64_t n, uint32_t prefetch);

 private:
  void rpc(const char* what);
  void* c_;  // amqp_connection_state_t
  bool confirm_mode_ = false;
  uint64_t published_ = 0;  // on this channel: the broker numbers confirms from 1 across runs
  uint64_t consumers_ = 0;
};

}  // namespace shmbus::bench
