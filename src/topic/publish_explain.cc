// Publisher::explain(): what a data-path Errc means for this publisher's topic, and what to do.
// The data path returns a bare Errc (it must not allocate); this is the slow path after it.
#include <unistd.h>

#include <string>

#include "base/file.h"
#include "topic/publisher_impl.h"

namespace shmbus::detail {
namespace {

std::string too_large(const std::string& topic, const TopicConfig& config, bool journal, size_t max_payload,
                      size_t payload, size_t headers) {
  std::string what = payload == SIZE_MAX
                         ? "a record is over the limit of topic " + topic
                         : "a record of " + std::to_string(payload) + " bytes of payload" +
                               (headers != 0 ? " + " + std::to_string(headers) + " bytes of headers" : "") +
                               " is over the limit of topic " + topic;
  what += ": at most " + std::to_string(max_payload) + " bytes of payload and headers together (Publisher::max_payload()).";
  if (journal) {
    what += " A record takes at most half a segment, and the segment size is " + std::to_string(config.segment_bytes) +
            " bytes. Send smaller payloads (split them, or store the data elsewhere and send a reference), or make the "
            "topic again with a larger segment size (TopicConfig::segment_bytes, shmbus topic create --segment-size)";
  } else {
    what += " A record takes at most half the ring, and the ring's capacity is " + std::to_string(config.capacity) +
            " bytes. Send smaller payloads (split them, or store the data elsewhere and send a reference), or make the "
            "topic again with a larger capacity (TopicConfig::capacity, shmbus topic create --capacity)";
  }
  return what;
}

std::string storage(const std::string& topic, const TopicConfig& config, bool journal, const std::string& os_error,
                    bool fsync_always) {
  if (!journal) return "the topic's storage refused";
  const std::string& dir = config.data_dir;
  std::string what = "topic " + topic + "'s journal could not get a segment of " +
                     std::to_string(config.segment_bytes) + " bytes in " + dir;
  what += os_error.empty() ? "" : " (" + os_error + ")";
  const std::string free_text = base::free_space_text(dir);
  if (!free_text.empty() && os_error.find(free_text) == std::string::npos) what += "; " + free_text;
  if (::access(dir.c_str(), W_OK) != 0) what += "; " + dir + " is not writable for you (" + base::owner_text(dir) + ")";
  what += ". Nothing was published. Free space there, let retention delete old segments (TopicConfig::retain_bytes / "
          "retain_age, shmbus topic create --retain-bytes / --retain-age), or keep the journal on a larger disk "
          "(TopicConfig::data_dir, --dir); then publish again";
  if (fsync_always) {
    what += ". (fsync always: if flushing failed after the commit, the record was published but is not known to be on "
            "disk)";
  }
  return what;
}

}  // namespace

std::string PublisherImpl::explain(Errc error) const {
  const std::string code = to_string(error);
  const std::string& name = topic_->name();
  const bool journal = topic_->storage().keeps_records();
  switch (error) {
    case Errc::kTooLarge:
      return code + ": " + too_large(name, topic_->config(), journal, max_payload(), refused_payload_, refused_headers_);
    case Errc::kStorage:
      return code + ": " + storage(name, topic_->config(), journal, topic_->storage().last_error(), durable_on_commit_);
    case Errc::kNotDurable:
      return code + ": the record is published (do not publish it again) but was not known to be on disk in time; "
             "its flush goes on (TopicStats::flushed_position)";
    case Errc::kHeldLimit:
    case Errc::kStaleLease: break;
    case Errc::kWouldBlock:
      return code + ": topic " + name + " is full: its slowest subscriber is a whole ring (" +
             std::to_string(lap_) + " bytes) behind. Retry later, or give the topic a larger capacity";
    case Errc::kAbandoned:
      return code + ": this publisher stalled past topic " + name + "'s unblock timeout (" +
             std::to_string(meta_.config.unblock_timeout_ns / 1'000'000) +
             " ms) and its claim was given up; the record was not published. Claim again if it still matters";
    case Errc::kCorrupt:
      return code + ": topic " + name + "'s log holds bytes that are not records (a damaged file or a hostile peer); "
             "nothing invalid was published. Stop and alert; remove and make the topic again";
    case Errc::kInvalidArgument:
      return code + ": malformed headers (a key or a value over 65535 bytes); fix the caller";
    case Errc::kClosed: return code + ": this publisher is closed or was moved from";
    case Errc::kTimeout: return code + ": the wait ran out";
    case Errc::kLapped: break;
  }
  return code;
}

}  // namespace shmbus::detail
