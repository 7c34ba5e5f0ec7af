// bridge: broker -> bus. One thread, one Source connection. Each delivery is published into the
// local topic; the broker gets the ack only after that publish returned, i.e. after the record
// is committed (and on disk, for a journal with fsync `always`). Acks are batched: one ack with
// multiple=1 for the highest tag whose message and every earlier one are committed. A crash
// between commit and ack makes the broker redeliver: the copy has the same message-id.
//
// topic_from = "routing_key": each message goes to the topic its routing key names (created if
// missing, or skipped when create_topics is off). A message whose x-shmbus-origin is this
// bridge's own came back through the exchange: acked and skipped (bridge/origin.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "bridge/backoff.h"
#include "bridge/config.h"
#include "bridge/link_status.h"
#include "bridge/log.h"
#include "bridge/transport.h"
#include "shmbus/bus.h"

namespace shmbus::bridge {

class InboundLink {
 public:
  InboundLink(Bus& bus, const BridgeConfig& config, const InboundConfig& link, std::unique_ptr<Source> source,
              LinkStatus& status);
  void run(const std::atomic<bool>& stop);

 private:
  bool connect(const std::atomic<bool>& stop);
  void session(const std::atomic<bool>& stop);
  void deliver(const Delivery& d) noexcept;
  Publisher* destination(const Delivery& d) noexcept;
  Publisher* topic_publisher(std::string_view topic, std::string& why);
  void make_reply_topic(const Delivery& d);
  TopicConfig topic_config() const;
  bool wait_durable(const std::string& topic, uint64_t position);
  void dead_letter(const Delivery& d, const std::string& why);
  void ack_committed();
  void fail(const std::string& why);

  Bus& bus_;
  const BridgeConfig& config_;
  const InboundConfig& link_;
  std::unique_ptr<Source> source_;
  LinkStatus& status_;
  Backoff backoff_;
  Log log_;
  Publisher publisher_;                                        // the fixed topic
  std::map<std::string, Publisher, std::less<>> publishers_;   // topic_from = "routing_key"
  std::set<std::string, std::less<>> reply_topics_;            // known to exist here
  Publisher dead_letters_;
  uint64_t committed_tag_ = 0;  // every delivery up to it is committed locally
  uint64_t acked_tag_ = 0;
  bool failed_ = false;
};

}  // namespace shmbus::bridge
