#include "topic/void_claims.h"

#include "base/mapped_file.h"
#include "shmbus/error.h"

namespace shmbus::topic {

std::optional<log::VoidResult> void_abandoned(TopicHandle& topic, const log::LogStorage& log,
                                              const log::AbandonedSpan& span) noexcept {
  log::VoidResult voided = log::VoidResult::kNotVoided;
  try {
    std::optional<base::WritableRange> ranges[2];
    std::byte* bytes[2] = {};
    uint16_t epochs[2] = {};
    for (uint32_t i = 0; i < span.part_count(); ++i) {
      const log::VoidPart part = span.part(i);
      const auto [path, offset] = topic.storage().file_offset_of(part.position);
      bytes[i] = ranges[i].emplace(path, offset, part.end - part.position).at(offset);
      epochs[i] = log.epoch(part.position);
    }
    // Acquire: pairs with cas_tail(), a newer lap's claim (abandoned_claim.h, put_pair()).
    voided = log::void_span(span, bytes, epochs, [&log, &topic](uint64_t position) {
      return log.newer_lap_claimed(position, topic.meta().tail.position.load(std::memory_order_acquire));
    });
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // Relaxed: statistics. Exactly one unblocker's CAS at p wins, so the claims are counted once.
  if (voided == log::VoidResult::kVoided) {
    topic.meta().counters.unblocked.fetch_add(span.seqs == 0 ? 1 : span.seqs, std::memory_order_relaxed);
  }
  return voided;
}

}  // namespace shmbus::topic
