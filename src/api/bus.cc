#include "shmbus/bus.h"

#include <filesystem>

#include "bus/bus_state.h"
#include "messaging/queue_impl.h"
#include "routing/pattern_subscriber_impl.h"
#include "shmbus/error.h"
#include "topic/publisher_impl.h"
#include "topic/subscriber_impl.h"

namespace shmbus {
namespace fs = std::filesystem;
using bus::BusState;

Bus Bus::open(std::string_view name_or_path, const BusOptions& options) {
  return Bus(BusState::open(name_or_path, options));
}

const std::string& Bus::path() const noexcept { return state_->path; }

bool Bus::create_topic(std::string_view name, const TopicConfig& config) {
  return state_->create_topic(name, config);
}

bool Bus::topic_exists(std::string_view name) const {
  validate_topic_name(name);
  return fs::exists(state_->topic_dir(name) + "/meta");
}

bool Bus::remove_topic(std::string_view name, bool force) { return state_->remove_topic(name, force); }

std::vector<std::string> Bus::topics() const { return state_->registered_topics(); }

TopicStats Bus::stats(std::string_view name) const { return state_->stats(name); }

Queue Bus::create_queue(std::string_view name, const QueueConfig& config) {
  return Queue(detail::QueueImpl::create(state_, name, config));
}
Queue Bus::queue(std::string_view name) { return Queue(detail::QueueImpl::open(state_, name)); }
bool Bus::remove_queue(std::string_view name) { return detail::QueueImpl::remove(*state_, name); }
std::vector<std::string> Bus::queues() const { return detail::QueueImpl::list(*state_); }

void Bus::set_cursor(std::string_view topic, std::string_view name, const StartAt& where) {
  state_->set_cursor(topic, name, where);
}

bool Bus::remove_cursor(std::string_view topic, std::string_view name) { return state_->remove_cursor(topic, name); }

Publisher Bus::publisher(std::string_view topic) {
  auto handle = state_->topic(topic, /*writable=*/true, /*create=*/true);
  return Publisher(std::make_unique<detail::PublisherImpl>(handle, &state_->meta().doorbell, state_));
}

Subscription Bus::subscribe(std::string_view name, const SubscribeOptions& options) {
  if (!is_pattern(name)) {
    auto handle = state_->topic(name, /*writable=*/false, /*create=*/true);
    return Subscription(std::make_unique<detail::SubscriberImpl>(handle, options, state_));
  }
  validate_pattern(name);
  if (!options.cursor.empty()) {
    throw Error("named cursor \"" + options.cursor + "\" with pattern \"" + std::string(name) +
                    "\": a named cursor follows one topic (it keeps one position), not a pattern; "
                    "subscribe to one topic's name to use a cursor",
                ErrorKind::kInvalidArgument);
  }
  return Subscription(std::make_unique<detail::PatternSubscriberImpl>(state_, std::string(name), options));
}

}  // namespace shmbus
