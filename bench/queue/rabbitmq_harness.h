// Our rabbitmq-c harness: what a user of RabbitMQ would run instead of a shmbus queue. One
// producer connection publishing persistent messages with publisher confirms (a pipelined
// window), one consumer connection with a prefetch and a manual ack per message, both on threads
// of this process, against a durable classic or quorum queue declared for the run and deleted
// after it. Every wait is bounded: a broker that is missing, stopped or stalled ends the run with
// an error, never a hang.
#pragma once

#include <cstddef>
#include <string>

namespace shmbus::bench {

struct RabbitOptions {
  std::string url;               // amqp://user:password@host:port/[vhost] ("" or "/" = vhost "/")
  bool quorum = false;           // x-queue-type: quorum (else a classic queue)
  size_t payload_bytes = 64;
  unsigned confirm_window = 256;  // publishes awaiting their confirm at most
  unsigned prefetch = 256;        // basic.qos prefetch_count of the consumer
  double warmup_s = 0.5;
  double seconds = 2.0;
  std::string queue_name;        // unique per run
  int broker_pid = 0;            // the broker's OS process (beam.smp), for its CPU time; 0: not known
};

struct RabbitResult {
  double consumed_per_s = 0;   // messages delivered and acked at the consumer, in the window
  double confirmed_per_s = 0;  // publisher confirms received, in the window
  unsigned long long nacked = 0;  // basic.nack from the broker (whole run)
  double broker_cores = -1;    // the broker's CPU time in the window / its length (-1: not known)
  std::string error;           // non-empty: the run failed (what, and where)
};

// Connects and logs in once (connect timeout 5 s, RPC timeout 10 s): "" if the broker answers,
// else a message saying what failed and how to start a node.
std::string rabbit_check(const std::string& url);

RabbitResult rabbit_run(const RabbitOptions& options);

}  // namespace shmbus::bench
