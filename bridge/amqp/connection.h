// bridge::amqp: one AMQP connection with channel 1 open: connect (TCP or TLS), log in with the
// capabilities we rely on, and turn every failure into a sentence that says what to do.
#pragma once

#include <string>

#include "bridge/amqp/rabbitmq_c.h"
#include "bridge/config.h"
#include "bridge/transport.h"

namespace shmbus::bridge::amqp {

class Connection {
 public:
  Connection(const BrokerConfig& broker, std::string name);
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects, logs in, opens channel 1. Throws TransportError (kConfig when the broker refused
  // us: credentials, vhost; kTransient when it is not there or went away).
  void open();
  // Closes politely if still open, then frees the connection. Safe to call twice.
  void close() noexcept;
  bool is_open() const noexcept { return state_ != nullptr && !broken_; }
  amqp_connection_state_t get() const noexcept { return state_; }
  const std::string& user() const noexcept { return broker_.address.user; }
  std::chrono::seconds rpc_timeout() const noexcept { return broker_.rpc_timeout; }

  // Throws TransportError unless the last synchronous call succeeded. `what` names the call
  // ("declare exchange orders"); a refusal (channel.close) is kConfig.
  void check(const std::string& what);
  // Answers a channel.close or connection.close the broker sent (close-ok) and marks the
  // connection broken; returns the broker's words ("channel.close 404 NOT_FOUND - no exchange").
  std::string answer_close(const amqp_frame_t& frame) noexcept;
  // Marks the connection unusable (a socket error): close() then skips the polite goodbye.
  void mark_broken() noexcept { broken_ = true; }
  std::string where() const;  // "amqp://guest:****@host:port/ vhost /" for messages

 private:
  std::string describe(const amqp_rpc_reply_t& reply) const;
  const BrokerConfig& broker_;
  std::string name_;
  amqp_connection_state_t state_ = nullptr;
  bool broken_ = false;
};

}  // namespace shmbus::bridge::amqp
