// Appends records to one topic.
#pragma once

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shmbus/error.h"
#include "shmbus/headers.h"
#include "shmbus/topic.h"

namespace shmbus {

namespace detail {
class PublisherImpl;
}

// A claimed frame: fill payload() in place, then Publisher::commit() or Publisher::abort().
class Claim {
 public:
  std::span<std::byte> payload() const noexcept { return payload_; }
  uint64_t position() const noexcept { return position_; }

 private:
  friend class detail::PublisherImpl;
  std::span<std::byte> payload_;
  std::byte* frame_ = nullptr;
  uint64_t committed_word_ = 0;  // the commit word commit() writes with seq_
  uint64_t position_ = 0;
  uint64_t seq_ = 0;
};

// Thread-safety: one thread at a time per Publisher; any number of Publishers (threads or
// processes) may share a topic. Hot calls allocate nothing, take no lock and never throw.
class Publisher {
 public:
  Publisher();
  explicit Publisher(std::unique_ptr<detail::PublisherImpl> impl) noexcept;
  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();

  // Claim + copy + commit. Returns the record's position. On a journal topic with fsync
  // `always`, returns once the record is on disk; kStorage / kTimeout then mean the record was
  // published but is not known to be durable. Under `block` waits for space (while
  // evicting dead subscribers); under `fail` returns kWouldBlock; under `overwrite` never waits.
  Result<uint64_t> publish(std::span<const std::byte> payload, std::span<const Header> headers = {}) noexcept;
  Result<uint64_t> publish(std::string_view payload, std::span<const Header> headers = {}) noexcept {
    return publish(std::as_bytes(std::span(payload.data(), payload.size())), headers);
  }
  // Pipelined durability (a journal's answer to publisher confirms): on a journal with fsync
  // `always`, publish() without waiting for the disk; the record is committed (readers see it)
  // and becomes durable with the next flush. Learn which records are on disk from
  // durable_position(), or make them so with wait_durable(): one msync for everything published
  // so far, so a single publisher fills a group commit on its own. Elsewhere the same as publish().
  Result<uint64_t> publish_pipelined(std::span<const std::byte> payload, std::span<const Header> headers = {}) noexcept;
  Result<uint64_t> publish_pipelined(std::string_view payload, std::span<const Header> headers = {}) noexcept {
    return publish_pipelined(std::as_bytes(std::span(payload.data(), payload.size())), headers);
  }
  // Journal topics: every record before this position is on disk (0 on a memory topic).
  uint64_t durable_position() const noexcept;
  // Journal topics: flushes (or waits for another process's flush) until the record published at
  // `position` is on disk; returns durable_position(). kStorage if msync failed; kTimeout if a
  // record before it stayed unfinished (its writer stalled or died) for `timeout`;
  // kInvalidArgument on a memory topic (never durable).
  Result<uint64_t> wait_durable(uint64_t position, std::chrono::nanoseconds timeout) noexcept;

  // publish() that never waits: kWouldBlock when a `block` topic is full (for event loops).
  Result<uint64_t> try_publish(std::span<const std::byte> payload, std::span<const Header> headers = {}) noexcept;
  Result<uint64_t> try_publish(std::string_view payload, std::span<const Header> headers = {}) noexcept {
    return try_publish(std::as_bytes(std::span(payload.data(), payload.size())), headers);
  }

  // Zero copy: claims room for `payload_bytes` (+ headers, written now) and hands back the span
  // to fill. claim() applies the topic's policy like publish(); try_claim() never waits.
  Result<Claim> claim(size_t payload_bytes, std::span<const Header> headers = {}) noexcept;
  Result<Claim> try_claim(size_t payload_bytes, std::span<const Header> headers = {}) noexcept;
  // Publishes a claim. kAbandoned: the claim was unblocked meanwhile (this publisher stalled past
  // the topic's unblock timeout); the record was not published.
  Result<uint64_t> commit(Claim& claim) noexcept;
  // Gives a claim up: readers skip it.
  void abort(Claim& claim) noexcept;

  // Largest payload a record can carry without headers (half the ring, minus the header).
  size_t max_payload() const noexcept;
  // What an Errc from this publisher means here and what to do about it, for a person: e.g.
  // for kTooLarge the size of the record refused last, the topic's limit and the settings that
  // raise it; for kStorage the journal's directory, its free space, the operating system's
  // reason and retention. Starts with to_string(error). The slow path: it allocates and may
  // look at the filesystem, so call it after a failure, never in a publish loop.
  std::string explain(Errc error) const;
  std::string_view topic() const noexcept;
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  // The topic's policy (block, fail or overwrite; a journal: block).
  Policy policy() const noexcept;
  // Keeps the topic's mappings alive (for views of a claim's payload that outlive the Publisher).
  std::shared_ptr<const void> mapping() const noexcept;

 private:
  std::unique_ptr<detail::PublisherImpl> impl_;
};

}  // namespace shmbus
