// Unix domain sockets: a SOCK_SEQPACKET socketpair (message boundaries kept, as the others),
// blocking sends, receives busy-polled with MSG_DONTWAIT.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "channel.h"

namespace {

class UdsChannel final : public shmbus::bench::peers::Channel {
 public:
  ~UdsChannel() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  void prepare() override {
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds_) != 0) throw std::runtime_error(std::strerror(errno));
    const int bytes = 4 << 20;
    for (int fd : fds_) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
  }
  void open(int side) override {
    fd_ = fds_[side];
    ::close(fds_[1 - side]);
    fds_[1 - side] = -1;
  }
  void send(const std::byte* data, size_t bytes) override {
    while (::send(fd_, data, bytes, 0) < 0) {
      if (errno != EINTR) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
  }
  size_t receive(std::byte* buffer, size_t room) override {
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, room, MSG_DONTWAIT);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EAGAIN && errno != EINTR) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    }
  }

 private:
  int fds_[2] = {-1, -1};
  int fd_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  return shmbus::bench::peers::run_peer_main(argc, argv, "unix-socket", [] { return std::make_unique<UdsChannel>(); });
}
