// Requests waiting for their reply, by correlation-id, each with its deadline.
#pragma once

#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "shmbus/service/client.h"
#include "shmbus/service/envelope.h"

namespace shmbus::service::detail {

struct PendingRequest {
  std::chrono::steady_clock::time_point deadline;
  std::string request_type;  // "GetOrderStatus@1", for the error texts
  std::string reply_type;    // the type header the reply must have
  std::string endpoint;
  std::chrono::nanoseconds timeout{};
  Client::ReplyCallback done;
};

// Thread-safety: all methods may be called from any thread. Callbacks are never called with
// the lock held (a callback may make another request).
class PendingRequests {
 public:
  void add(const std::string& correlation_id, PendingRequest request);
  // Removes and returns the request `correlation_id` answers (nullopt: unknown, or timed out).
  std::optional<PendingRequest> take(const std::string& correlation_id);
  // Removes the requests whose deadline passed.
  std::vector<PendingRequest> take_expired(std::chrono::steady_clock::time_point now);
  std::vector<PendingRequest> take_all();
  size_t size() const;
  // The earliest deadline of those waiting (nullopt: none waits).
  std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, PendingRequest> by_id_;
};

// What a reply (its `type` header `came`, JSON `payload`) means for the request of type
// `request_type` that waits for a `reply_type`: nullopt, the reply asked for; or the error (a
// Fault: kRemoteFault; a Fault whose JSON is not one, or another type: kBadReply).
std::optional<RequestError> reply_error(std::string_view request_type, std::string_view reply_type, std::string_view came,
                                        std::string_view payload);
// The text of a request's kTimeout.
std::string timeout_text(std::string_view request_type, std::string_view endpoint, std::chrono::nanoseconds timeout);

// Completes `r` with the reply that came: the reply, or the error it means (reply_error).
void complete(PendingRequest& r, const Envelope& env, std::string_view payload);
// Fails `r` with kTimeout.
void time_out(PendingRequest& r);

}  // namespace shmbus::service::detail
