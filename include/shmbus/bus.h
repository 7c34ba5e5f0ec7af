// A bus: a directory (by name: /dev/shm/shmbus/NAME) holding a registry of topics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/bus_options.h"
#include "shmbus/message.h"
#include "shmbus/pattern.h"
#include "shmbus/publisher.h"
#include "shmbus/queue.h"
#include "shmbus/subscription.h"
#include "shmbus/topic.h"

namespace shmbus {

namespace bus {
struct BusState;
}

// Set-up calls throw shmbus::Error with what failed and what to do. A Bus may be shared by
// threads; the objects it hands out keep the mappings they need alive on their own.
class Bus {
 public:
  // `name_or_path`: a bare name (no '/') means /dev/shm/shmbus/NAME (or $SHMBUS_ROOT/NAME);
  // anything with a '/' is a directory path.
  static Bus open(std::string_view name_or_path, const BusOptions& options = {});

  const std::string& path() const noexcept;

  // Creates a topic; if it exists already with the same kind, returns false and leaves it be.
  bool create_topic(std::string_view name, const TopicConfig& config = {});
  bool topic_exists(std::string_view name) const;
  // Removes a topic: its directory goes away in one step (then its files are deleted), its
  // registry entry becomes a tombstone, and pattern subscribers detach it. The name can be
  // created again at once, as a new, empty topic. Returns false if there was no such topic.
  // While live processes have publishers or subscribers on it (pattern subscribers aside: they
  // detach it by themselves), throws Error (kind kInUse, naming their pids) unless `force`; forced, they keep their mappings and go on working on
  // a topic nobody else can open. A journal's segments in a directory of its own (TopicConfig::
  // data_dir) are left there: delete them, or create the topic with that directory to go on.
  bool remove_topic(std::string_view name, bool force = false);
  std::vector<std::string> topics() const;
  TopicStats stats(std::string_view name) const;

  // Publishes to one topic, creating it with the bus defaults if it is new.
  Publisher publisher(std::string_view topic);
  // The one way to read: `name` is a topic ("orders.eu": created with the bus defaults if it is
  // new) or a pattern with `*` / `#` words ("orders.#": every matching topic, existing or
  // created later); see shmbus/subscription.h. The same options apply to both, except a named
  // cursor (options.cursor), which follows one topic: with a pattern it throws Error
  // (kInvalidArgument). Throws Error (kInvalidName) for an invalid name or pattern.
  Subscription subscribe(std::string_view name, const SubscribeOptions& options = {});

  // Durable queues (shmbus/queue.h): creates one (or opens it if it exists with the same
  // bindings and limits; other ones: Error), opens one, removes one (its state files beside the
  // topics stay until the topics go), lists them.
  Queue create_queue(std::string_view name, const QueueConfig& config);
  Queue queue(std::string_view name);
  bool remove_queue(std::string_view name);
  std::vector<std::string> queues() const;

  // Journal topics: named cursors (their stats are in stats(topic).cursors). set_cursor moves
  // one, creating it if need be, to `where` (a record, earliest, latest or a time);
  // remove_cursor deletes one (false if there was none), so that the next subscriber with that
  // name starts where its options say. Both throw Error if a live subscriber holds the cursor.
  void set_cursor(std::string_view topic, std::string_view name, const StartAt& where);
  bool remove_cursor(std::string_view topic, std::string_view name);

 private:
  explicit Bus(std::shared_ptr<bus::BusState> state) : state_(std::move(state)) {}
  std::shared_ptr<bus::BusState> state_;
};

}  // namespace shmbus
