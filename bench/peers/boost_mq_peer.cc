// Boost.Interprocess message_queue: one queue each way (64 messages deep), try_send and
// try_receive busy-polled.
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <memory>
#include <string>

#include "channel.h"

namespace bi = boost::interprocess;

namespace {

class BoostMqChannel final : public shmbus::bench::peers::Channel {
 public:
  explicit BoostMqChannel(size_t max_bytes) : max_bytes_(max_bytes) {}
  ~BoostMqChannel() override {
    out_.reset();
    in_.reset();
    if (side_ == 0) {
      bi::message_queue::remove(names_[0].c_str());
      bi::message_queue::remove(names_[1].c_str());
    }
  }
  void prepare() override {
    const std::string base = "shmbus-peer-mq-" + std::to_string(::getpid());
    names_[0] = base + "-a";
    names_[1] = base + "-b";
    for (const std::string& name : names_) {
      bi::message_queue::remove(name.c_str());
      bi::message_queue(bi::create_only, name.c_str(), 64, max_bytes_);
    }
  }
  void open(int side) override {
    side_ = side;
    out_ = std::make_unique<bi::message_queue>(bi::open_only, names_[side].c_str());
    in_ = std::make_unique<bi::message_queue>(bi::open_only, names_[1 - side].c_str());
  }
  void send(const std::byte* data, size_t bytes) override {
    while (!out_->try_send(data, bytes, 0)) {
    }
  }
  size_t receive(std::byte* buffer, size_t room) override {
    bi::message_queue::size_type got = 0;
    unsigned priority = 0;
    while (!in_->try_receive(buffer, room, got, priority)) {  // room >= the queue's message size
    }
    return got;
  }

 private:
  size_t max_bytes_;
  std::string names_[2];
  std::unique_ptr<bi::message_queue> out_, in_;
  int side_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  size_t max = 64;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--size") max = std::stoul(argv[i + 1]);
  }
  return shmbus::bench::peers::run_peer_main(argc, argv, "boost-message-queue",
                                             [max] { return std::make_unique<BoostMqChannel>(max); });
}
