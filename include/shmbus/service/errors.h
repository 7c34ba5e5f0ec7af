// What a request (or a send) can fail with, distinctly: the caller acts differently on each.
#pragma once

#include <cstdint>
#include <string>

#include "shmbus/error.h"

namespace shmbus::service {

enum class RequestErrc : uint8_t {
  // No reply before the deadline: the responder is slow, stopped or dead, or the request
  // expired in its queue (dead-lettered or dropped there, by the queue's `expired` setting).
  // Retry if the request is idempotent, or look at the endpoint.
  kTimeout,
  // No queue is bound to the endpoint's command topic: nothing would ever read the command.
  // Start the endpoint (Endpoint::start), or fix the endpoint's name or the route.
  kNoEndpoint,
  // The responder's handler failed on every attempt: the request was dead-lettered and a
  // Fault came back instead of a reply. The message has its exception type and text.
  kRemoteFault,
  // A reply came whose type or JSON is not the reply type asked for: the two sides disagree
  // on the contract (names, versions). Fix one of them.
  kBadReply,
  // The Client went away (destroyed) before the reply came.
  kClosed,
};

const char* to_string(RequestErrc code) noexcept;  // "timeout", "no-endpoint", ...

class RequestError : public shmbus::Error {
 public:
  RequestError(RequestErrc code, const std::string& what)
      : shmbus::Error(what, code == RequestErrc::kNoEndpoint ? ErrorKind::kNotFound : ErrorKind::kGeneral),
        code_(code) {}
  RequestErrc code() const noexcept { return code_; }

 private:
  RequestErrc code_;
};

// A payload that is not the registered type's JSON (thrown while decoding, before any user
// code runs; the endpoint dead-letters the record with what() as the reason).
class DecodeError : public shmbus::Error {
 public:
  explicit DecodeError(const std::string& what) : shmbus::Error(what, ErrorKind::kInvalidArgument) {}
};

// A handler that returned after its endpoint's handler_timeout: the attempt counts as failed
// (what it sent is discarded) and goes the way of any exception (retry, or dead letter).
class HandlerTimeout : public shmbus::Error {
 public:
  explicit HandlerTimeout(const std::string& what) : shmbus::Error(what, ErrorKind::kGeneral) {}
};

}  // namespace shmbus::service
