// ZeroMQ over ipc://: a PAIR socket on each side (bind / connect), blocking sends, receives
// busy-polled with ZMQ_DONTWAIT; contexts made after the fork, as ZeroMQ requires.
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "channel.h"

namespace {

class ZmqChannel final : public shmbus::bench::peers::Channel {
 public:
  ~ZmqChannel() override {
    if (socket_ != nullptr) zmq_close(socket_);
    if (context_ != nullptr) zmq_ctx_term(context_);
    if (side_ == 0) ::unlink(path_.c_str());
  }
  void prepare() override { path_ = "/tmp/shmbus-peer-zmq-" + std::to_string(::getpid()); }
  void open(int side) override {
    side_ = side;
    context_ = zmq_ctx_new();
    socket_ = zmq_socket(context_, ZMQ_PAIR);
    const int unlimited = 0;
    zmq_setsockopt(socket_, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt(socket_, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
    const std::string endpoint = "ipc://" + path_;
    const int rc = side == 0 ? zmq_bind(socket_, endpoint.c_str()) : zmq_connect(socket_, endpoint.c_str());
    if (rc != 0) throw std::runtime_error(std::string("zmq: ") + zmq_strerror(zmq_errno()));
  }
  void send(const std::byte* data, size_t bytes) override {
    while (zmq_send(socket_, data, bytes, 0) < 0) {
      if (zmq_errno() != EINTR) throw std::runtime_error(std::string("zmq_send: ") + zmq_strerror(zmq_errno()));
    }
  }
  size_t receive(std::byte* buffer, size_t room) override {
    for (;;) {
      const int n = zmq_recv(socket_, buffer, room, ZMQ_DONTWAIT);
      if (n >= 0) return static_cast<size_t>(n);
      if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) {
        throw std::runtime_error(std::string("zmq_recv: ") + zmq_strerror(zmq_errno()));
      }
    }
  }

 private:
  std::string path_;
  void* context_ = nullptr;
  void* socket_ = nullptr;
  int side_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  return shmbus::bench::peers::run_peer_main(argc, argv, "zeromq-ipc", [] { return std::make_unique<ZmqChannel>(); });
}
