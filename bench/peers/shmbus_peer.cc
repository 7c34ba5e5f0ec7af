// shmbus through the same harness as the peers: one topic each way (`block` policy, memory
// rings of 8 MiB, or journal topics with SHMBUS_PEER_JOURNAL), publish() and a spinning
// subscriber whose poll copies the payload out, as the other systems' receive does.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "channel.h"
#include "shmbus/bus.h"

namespace {

#ifdef SHMBUS_PEER_JOURNAL
constexpr bool kJournal = true;
constexpr const char* kSystem = "shmbus-journal";
#else
constexpr bool kJournal = false;
constexpr const char* kSystem = "shmbus";
#endif

class ShmbusChannel final : public shmbus::bench::peers::Channel {
 public:
  ~ShmbusChannel() override {
    subscriber_.reset();
    publisher_.reset();
    bus_.reset();
    if (side_ == 0) std::filesystem::remove_all(path_);
  }
  void prepare() override {
    path_ = "/dev/shm/shmbus-peer-" + std::to_string(::getpid());
    std::filesystem::remove_all(path_);
    shmbus::Bus bus = shmbus::Bus::open(path_);
    shmbus::TopicConfig config;
    if (kJournal) {
      config.kind = shmbus::TopicKind::kJournal;  // segments in the bus directory (tmpfs), fsync never
      config.retain_bytes = 4 * (config.segment_bytes + 4096);
    }
    bus.create_topic("a", config);
    bus.create_topic("b", config);
  }
  void open(int side) override {
    side_ = side;
    shmbus::BusOptions existing;
    existing.create = false;
    bus_.emplace(shmbus::Bus::open(path_, existing));
    publisher_.emplace(bus_->publisher(side == 0 ? "a" : "b"));
    // Earliest: the topics are new, so nothing the other side sent before we attached is missed.
    subscriber_.emplace(bus_->subscribe(side == 0 ? "b" : "a",
                                         {shmbus::StartAt::earliest(), shmbus::WaitStrategy::kSpin}));
  }
  void send(const std::byte* data, size_t bytes) override {
    while (!publisher_->publish(std::span<const std::byte>(data, bytes))) {
    }
  }
  size_t receive(std::byte* buffer, size_t room) override {
    size_t got = 0;
    for (;;) {
      shmbus::Result<size_t> n = subscriber_->poll(
          [&](const shmbus::Message& m) {
            got = std::min(m.payload.size(), room);
            std::memcpy(buffer, m.payload.data(), got);
          },
          1);
      if (n && *n == 1) return got;
    }
  }

 private:
  std::string path_;
  std::optional<shmbus::Bus> bus_;
  std::optional<shmbus::Publisher> publisher_;
  std::optional<shmbus::Subscription> subscriber_;
  int side_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  return shmbus::bench::peers::run_peer_main(argc, argv, kSystem, [] { return std::make_unique<ShmbusChannel>(); });
}
