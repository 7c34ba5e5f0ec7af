// bridge::amqp: connecting and logging in with rabbitmq-c 0.11 (docs/bridge.md section 2).
#include "bridge/amqp/connection.h"

#include <sys/time.h>
#include <unistd.h>

namespace shmbus::bridge::amqp {
namespace {

timeval to_timeval(std::chrono::seconds s) { return {static_cast<time_t>(s.count()), 0}; }

// Trusted when ca_cert is not given (Debian's bundle): rabbitmq-c alone would trust no CA at all.
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

// What a failed TLS connect means and what to do, by rabbitmq-c's status. "": not a TLS
// failure (the socket's own errors are transient: the broker may come back).
std::string tls_advice(int rc, const std::string& ca_file) {
  switch (rc) {
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
      return "the broker's certificate is not signed by a CA in " + ca_file +
             ": give the CA that signed it as [broker.tls] ca_cert (or, for a test broker only, verify_peer = false)";
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
      return "the broker's certificate does not name this host: connect by a DNS name the certificate holds "
             "(rabbitmq-c checks DNS names, not IP addresses) or set [broker.tls] verify_hostname = false";
    case AMQP_STATUS_SSL_CONNECTION_FAILED:
      return "the TLS handshake failed: is this port the broker's TLS listener, is its certificate one our "
             "[broker.tls] ca_cert trusts, and does it accept our client certificate (cert, key)?";
    case AMQP_STATUS_SSL_ERROR: return "a TLS error: check the [broker.tls] files and the broker's TLS settings";
    default: return {};
  }
}

amqp_field_value_t boolean(bool b) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_BOOLEAN;
  v.value.boolean = b ? 1 : 0;
  return v;
}

}  // namespace

Connection::Connection(const BrokerConfig& broker, std::string name) : broker_(broker), name_(std::move(name)) {}

std::string Connection::where() const { return broker_.address.masked() + " (vhost " + broker_.address.vhost + ")"; }

std::string Connection::describe(const amqp_rpc_reply_t& r) const {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return "connection.close " + std::to_string(m->reply_code) + " " + std::string(as_view(m->reply_text));
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return "channel.close " + std::to_string(m->reply_code) + " " + std::string(as_view(m->reply_text));
      }
      return std::string("server sent ") + amqp_method_name(r.reply.id);
  }
  return "unknown reply";
}

void Connection::open() {
  close();
  broken_ = false;
  state_ = amqp_new_connection();
  if (state_ == nullptr) throw TransportError("out of memory for a connection", FailureKind::kTransient);
  const BrokerAddress& a = broker_.address;
  amqp_socket_t* socket = nullptr;
  std::string ca_file;
  if (a.tls) {
    socket = amqp_ssl_socket_new(state_);
    if (socket == nullptr) throw TransportError("cannot make a TLS socket (rabbitmq-c built without OpenSSL?)", FailureKind::kConfig);
    const TlsConfig& t = broker_.tls;
    ca_file = t.ca_cert.empty() ? kSystemCaBundle : t.ca_cert;
    if ((!t.ca_cert.empty() || ::access(kSystemCaBundle, R_OK) == 0) &&
        amqp_ssl_socket_set_cacert(socket, ca_file.c_str()) != AMQP_STATUS_OK) {
      throw TransportError("tls ca_cert " + ca_file + " cannot be read: give a PEM file", FailureKind::kConfig);
    }
    if (!t.cert.empty() && amqp_ssl_socket_set_key(socket, t.cert.c_str(), t.key.c_str()) != AMQP_STATUS_OK) {
      throw TransportError("tls cert " + t.cert + " / key " + t.key + " cannot be read: give PEM files that match",
                           FailureKind::kConfig);
    }
    amqp_ssl_socket_set_verify_peer(socket, t.verify_peer ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(socket, t.verify_hostname ? 1 : 0);
  } else {
    socket = amqp_tcp_socket_new(state_);
  }
  if (socket == nullptr) throw TransportError("cannot make a socket", FailureKind::kTransient);
  timeval connect_timeout = to_timeval(broker_.connect_timeout);
  const int rc = amqp_socket_open_noblock(socket, a.host.c_str(), a.port, &connect_timeout);
  if (const std::string advice = a.tls ? tls_advice(rc, ca_file) : std::string(); !advice.empty()) {
    // A refusal of our TLS settings, not an absent broker: retried at the longest delay only.
    broken_ = true;
    throw TransportError("cannot connect to " + where() + " over TLS: " + amqp_error_string2(rc) + " (" + advice + ")",
                         FailureKind::kConfig);
  }
  if (rc != AMQP_STATUS_OK) {
    broken_ = true;
    throw TransportError("cannot connect to " + a.host + ":" + std::to_string(a.port) + ": " + amqp_error_string2(rc) +
                             " (is the broker running there? check [broker] url)",
                         FailureKind::kTransient);
  }
  timeval rpc_timeout = to_timeval(broker_.rpc_timeout);
  amqp_set_handshake_timeout(state_, &rpc_timeout);
  amqp_set_rpc_timeout(state_, &rpc_timeout);

  // Without connection.blocked in our capabilities the broker blocks us silently (measured:
  // publishes just stall); consumer_cancel_notify tells an inbound link its queue went away.
  amqp_table_entry_t capabilities[2] = {{amqp_cstring_bytes("connection.blocked"), boolean(true)},
                                        {amqp_cstring_bytes("consumer_cancel_notify"), boolean(true)}};
  amqp_table_entry_t properties[2];
  properties[0].key = amqp_cstring_bytes("connection_name");
  properties[0].value.kind = AMQP_FIELD_KIND_UTF8;
  properties[0].value.value.bytes = as_bytes(name_);
  properties[1].key = amqp_cstring_bytes("capabilities");
  properties[1].value.kind = AMQP_FIELD_KIND_TABLE;
  properties[1].value.value.table = {2, capabilities};
  const amqp_table_t props{2, properties};
  amqp_rpc_reply_t r =
      amqp_login_with_properties(state_, a.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, static_cast<int>(broker_.heartbeat.count()),
                                 &props, AMQP_SASL_METHOD_PLAIN, a.user.c_str(), a.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    broken_ = true;
    const std::string text = describe(r);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
      const bool vhost = text.find(" 530 ") != std::string::npos;
      throw TransportError("login to " + where() + " refused: " + text +
                               (vhost ? " (the vhost does not exist or the user may not use it: check the URL's path)"
                                      : " (check user and password: [broker] url, user, password or password_env)"),
                           FailureKind::kConfig);
    }
    if (a.tls && r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_SSL_ERROR) {
      // Under TLS 1.3 the broker judges our client certificate after our side of the handshake
      // is done: its refusal ends the session during login (measured with RabbitMQ 3.10).
      throw TransportError("login to " + where() + " over TLS failed: " + text +
                               " (the broker ended the TLS session: does it accept our client certificate "
                               "[broker.tls] cert, key, or does it require one?)",
                           FailureKind::kConfig);
    }
    throw TransportError("login to " + where() + " failed: " + text, FailureKind::kTransient);
  }
  amqp_channel_open(state_, 1);
  check("open channel 1");
}

void Connection::check(const std::string& what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(state_);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
  const std::string text = describe(r);
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    // The broker closed the channel (or the connection) over it: say close-ok, then give up on
    // this connection; open() starts afresh.
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_ok_t ok{};
      amqp_send_method(state_, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    }
    broken_ = true;  // the connection is dropped, not reused with a closed channel
    throw TransportError(what + " refused by the broker: " + text, FailureKind::kConfig);
  }
  broken_ = true;
  throw TransportError(what + " failed: " + text, FailureKind::kTransient);
}

std::string Connection::answer_close(const amqp_frame_t& frame) noexcept {
  std::string text;
  if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
    text = "channel.close " + std::to_string(m->reply_code) + " " + std::string(as_view(m->reply_text));
    amqp_channel_close_ok_t ok{};
    amqp_send_method(state_, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  } else {
    auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
    text = "connection.close " + std::to_string(m->reply_code) + " " + std::string(as_view(m->reply_text));
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  }
  broken_ = true;
  return text;
}

void Connection::close() noexcept {
  if (state_ == nullptr) return;
  if (!broken_) {
    // Both are RPCs bounded by the rpc timeout; their failures change nothing.
    static_cast<void>(amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS));
    static_cast<void>(amqp_connection_close(state_, AMQP_REPLY_SUCCESS));
  }
  amqp_destroy_connection(state_);
  state_ = nullptr;
}

}  // namespace shmbus::bridge::amqp
