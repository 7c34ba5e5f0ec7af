// The table of requests waiting for replies.
#include "pending_requests.h"

#include <algorithm>

#include "shmbus/service/fault.h"

namespace shmbus::service::detail {

void PendingRequests::add(const std::string& correlation_id, PendingRequest request) {
  std::lock_guard<std::mutex> guard(mu_);
  by_id_.emplace(correlation_id, std::move(request));
}

std::optional<PendingRequest> PendingRequests::take(const std::string& correlation_id) {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = by_id_.find(correlation_id);
  if (it == by_id_.end()) return std::nullopt;
  PendingRequest out = std::move(it->second);
  by_id_.erase(it);
  return out;
}

std::vector<PendingRequest> PendingRequests::take_expired(std::chrono::steady_clock::time_point now) {
  std::vector<PendingRequest> out;
  std::lock_guard<std::mutex> guard(mu_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second.deadline <= now) {
      out.push_back(std::move(it->second));
      it = by_id_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<PendingRequest> PendingRequests::take_all() {
  std::vector<PendingRequest> out;
  std::lock_guard<std::mutex> guard(mu_);
  for (auto& [id, request] : by_id_) out.push_back(std::move(request));
  by_id_.clear();
  return out;
}

std::optional<std::chrono::steady_clock::time_point> PendingRequests::next_deadline() const {
  std::lock_guard<std::mutex> guard(mu_);
  std::optional<std::chrono::steady_clock::time_point> out;
  for (const auto& [id, r] : by_id_) out = out ? std::min(*out, r.deadline) : r.deadline;
  return out;
}

std::optional<RequestError> reply_error(std::string_view request_type, std::string_view reply_type, std::string_view came,
                                        std::string_view payload) {
  if (came == reply_type) return std::nullopt;
  const std::string asked(request_type);
  if (came.starts_with("Fault<")) {
    FaultInfo info;
    try {
      info = nlohmann::json::parse(payload).get<FaultInfo>();
    } catch (const std::exception& e) {
      return RequestError(RequestErrc::kBadReply, asked + " was answered by a " + std::string(came) +
                                                      " that is not a Fault's JSON: " + e.what());
    }
    return RequestError(RequestErrc::kRemoteFault, asked + " failed at endpoint " + info.endpoint + " after " +
                                                       std::to_string(info.attempts) + " attempt(s): " +
                                                       info.exception_type + ": " + info.exception_message);
  }
  return RequestError(RequestErrc::kBadReply, "the reply to " + asked + " is a " + std::string(came) + ", not the " +
                                                  std::string(reply_type) + " asked for: the two sides disagree");
}

std::string timeout_text(std::string_view request_type, std::string_view endpoint, std::chrono::nanoseconds timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  const std::string to(endpoint);
  return "no reply to " + std::string(request_type) + " from endpoint " + to + " within " + std::to_string(ms) +
         " ms: the endpoint is slow, stopped or dead (shmbus queue stat " + to + " shows its consumers)";
}

void complete(PendingRequest& r, const Envelope& env, std::string_view payload) {
  if (std::optional<RequestError> error = reply_error(r.request_type, r.reply_type, env.type, payload)) {
    return r.done({}, std::make_exception_ptr(*error));
  }
  r.done(payload, nullptr);
}

void time_out(PendingRequest& r) {
  r.done({}, std::make_exception_ptr(RequestError(RequestErrc::kTimeout, timeout_text(r.request_type, r.endpoint, r.timeout))));
}

size_t PendingRequests::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return by_id_.size();
}

}  // namespace shmbus::service::detail
