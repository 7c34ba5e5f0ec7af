// bridge::amqp: the one place rabbitmq-c is included from. 0.12+ moved the headers to
// <rabbitmq-c/...> and warns on the old paths; Debian bookworm's 0.11 has only the old ones.
#pragma once

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/ssl_socket.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#endif

#include <string>
#include <string_view>

namespace shmbus::bridge::amqp {

inline amqp_bytes_t as_bytes(std::string_view s) noexcept { return {s.size(), const_cast<char*>(s.data())}; }
inline std::string_view as_view(amqp_bytes_t b) noexcept {
  return b.len == 0 ? std::string_view() : std::string_view(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace shmbus::bridge::amqp
