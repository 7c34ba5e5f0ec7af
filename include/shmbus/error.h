// Errors: Errc + Result<T> on the data path (never thrown), shmbus::Error on set-up paths.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace shmbus {

// Data-path failures. Each enumerator says what the caller should do about it. There is no
// "ok" code: success is a Result that holds a value (Abseil's rule that an OK status is not an
// error), so no Result can be built from a code that means success.
enum class Errc : uint8_t {
  // No space under the `fail` policy (or a bounded wait ran out under `block`): retry the call later.
  kWouldBlock,
  // Reserved: a lapped subscriber (policy `overwrite`) is not told by an error. It jumps ahead
  // and goes on delivering; the exact loss is counted in Subscription::lost(). No call returns it.
  kLapped,
  // The claim was unblocked by another party because this publisher stalled or was presumed dead;
  // the record was not published. Do not retry this claim; claim again if the data still matters.
  kAbandoned,
  // The record is larger than the topic allows (Publisher::max_payload()). Fix the caller.
  kTooLarge,
  // Bytes in shared memory are not a valid record (hostile peer, garbage file). Stop and alert;
  // nothing invalid was delivered.
  kCorrupt,
  // A wait ran out of time with nothing to report (nothing arrived). Wait again or give up.
  kTimeout,
  // The object was closed or moved from. Fix the caller.
  kClosed,
  // Bad argument (e.g. malformed headers). Fix the caller.
  kInvalidArgument,
  // A journal's storage refused: a segment could not be created or mapped (disk full,
  // permissions). Nothing was published; free space and retry (Publisher::explain() says more).
  kStorage,
  // Published, but not known to be durable (fsync `always`: the flush failed or a record before
  // this one stayed unfinished past the wait). The Result still carries the record's position
  // (value()): do NOT publish it again (that makes a duplicate); the flush goes on, and
  // TopicStats::flushed_position tells when it is on disk.
  kNotDurable,
  // The delivery's lease was taken away (it expired, or this consumer was presumed dead):
  // another consumer may hold the record now. Nothing was settled; do not retry this call.
  kStaleLease,
  // Too many samples are held at once (Subscription::kMaxHeldSamples): release one and retry.
  kHeldLimit,
};

// Human-readable name of an Errc ("would-block", "lapped", ...).
const char* to_string(Errc e) noexcept;

// What kind of set-up failure an Error is, for callers that handle some kinds (and for the
// Python binding's exception classes). The message says the rest.
enum class ErrorKind : uint8_t {
  kGeneral,
  kInvalidName,      // a topic, pattern or bus name that is not allowed
  kInvalidArgument,  // a bad option value (capacity, policy, start position, ...)
  kNotFound,         // no such bus, topic or file
  kNotShmbus,        // a file or directory that is not (part of) a shmbus bus
  kVersion,          // a shmbus file of another layout version
  kCorrupt,          // a shmbus file whose contents are damaged
  kIo,               // the operating system refused (permissions, space, mmap)
  kFull,             // a fixed table is full (publisher/subscriber slots, registry)
  kInUse,            // live processes hold what was to be removed (the message names their pids)
};

// A set-up failure: what failed, where, and what to do about it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorKind kind = ErrorKind::kGeneral)
      : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// Value or Errc; member names follow std::expected so this can become it under C++23.
// value() of a Result that holds an error is a default T, except for an error that carries a
// value (kNotDurable: the record's position), built with Result(error, value).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) noexcept : value_(std::move(value)), ok_(true) {}              // NOLINT: implicit
  Result(Errc error) noexcept : value_(), error_(error), ok_(false) {}         // NOLINT: implicit
  Result(Errc error, T carried) noexcept : value_(std::move(carried)), error_(error), ok_(false) {}

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return has_value(); }
  // REQUIRES: !has_value().
  Errc error() const noexcept { return error_; }
  T& value() noexcept { return value_; }
  const T& value() const noexcept { return value_; }
  T& operator*() noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  T* operator->() noexcept { return &value_; }
  const T* operator->() const noexcept { return &value_; }

 private:
  T value_;
  Errc error_ = Errc::kClosed;
  bool ok_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() noexcept : ok_(true) {}
  Result(Errc error) noexcept : error_(error), ok_(false) {}  // NOLINT: implicit
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return has_value(); }
  // REQUIRES: !has_value().
  Errc error() const noexcept { return error_; }

 private:
  Errc error_ = Errc::kClosed;
  bool ok_;
};

}  // namespace shmbus
