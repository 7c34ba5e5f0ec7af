// iceoryx 2.0 (Eclipse): zero-copy loan/publish and take/release through its RouDi daemon,
// which tools/bench.sh starts before and stops after the iceoryx runs (stopping RouDi while an
// application is registered makes RouDi terminate it). One service each way; the publisher waits for a
// slow subscriber and the subscriber's queue blocks the producer (no loss, like the others);
// take() busy-polled. The payload is copied out on receive, as every system's receive does here.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "channel.h"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace {

class IceoryxChannel final : public shmbus::bench::peers::Channel {
 public:
  ~IceoryxChannel() override {
    subscriber_.reset();
    publisher_.reset();
  }
  void prepare() override {
    if (!roudi_running()) throw std::runtime_error("iox-roudi is not running: start it first (tools/bench.sh does)");
    // A service of this run only: RouDi may still be cleaning up the previous run's ports, whose
    // leftover chunks (its stop message among them) must not reach us.
    instance_ = "peer-" + std::to_string(::getpid());
  }
  void open(int side) override {
    side_ = side;
    const std::string name = "shmbus-peer-" + std::to_string(side) + "-" + std::to_string(::getpid());
    iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
    iox::popo::PublisherOptions publisher_options;
    publisher_options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    iox::popo::SubscriberOptions subscriber_options;
    subscriber_options.queueCapacity = 64;  // below the 200 chunks of the 128 KiB pool RouDi makes by default
    subscriber_options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
    const iox::capro::IdString_t instance(iox::cxx::TruncateToCapacity, instance_.c_str());
    publisher_.emplace(iox::capro::ServiceDescription{"shmbus", instance, side == 0 ? "a" : "b"}, publisher_options);
    subscriber_.emplace(iox::capro::ServiceDescription{"shmbus", instance, side == 0 ? "b" : "a"}, subscriber_options);
    // Subscriptions connect asynchronously (through RouDi): wait until both ends are connected.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!publisher_->hasSubscribers() ||
           subscriber_->getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("iceoryx: no subscriber connected");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void send(const std::byte* data, size_t bytes) override {
    for (;;) {
      auto loaned = publisher_->loan(static_cast<uint32_t>(bytes));
      if (loaned.has_error()) continue;  // every chunk in use: the subscriber is behind
      void* payload = loaned.value();
      std::memcpy(payload, data, bytes);
      publisher_->publish(payload);
      return;
    }
  }
  size_t receive(std::byte* buffer, size_t room) override {
    for (;;) {
      auto taken = subscriber_->take();
      if (taken.has_error()) continue;
      const void* payload = taken.value();
      const size_t bytes = std::min<size_t>(iox::mepoo::ChunkHeader::fromUserPayload(payload)->userPayloadSize(), room);
      std::memcpy(buffer, payload, bytes);
      subscriber_->release(payload);
      return bytes;
    }
  }

 private:
  static bool roudi_running() {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::ifstream comm(entry.path() / "comm");
      std::string name;
      if (comm && std::getline(comm, name) && name == "iox-roudi") return true;
    }
    return false;
  }
  int side_ = -1;
  std::string instance_;
  std::optional<iox::popo::UntypedPublisher> publisher_;
  std::optional<iox::popo::UntypedSubscriber> subscriber_;
};

}  // namespace

int main(int argc, char** argv) {
  return shmbus::bench::peers::run_peer_main(argc, argv, "iceoryx", [] { return std::make_unique<IceoryxChannel>(); });
}
