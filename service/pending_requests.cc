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

namespace {
std::exception_ptr request_error(RequestErrc code, const std::string& what) {
  return std::make_exception_ptr(RequestError(code, what));
}
}  // namespace

void complete(PendingRequest& r, const Envelope& env, std::string_view payload) {
  if (env.type.starts_with("Fault<")) {
    const FaultInfo info = nlohmann::json::parse(payload).get<FaultInfo>();
    return r.done({}, request_error(RequestErrc::kRemoteFault,
                                    r.request_type + " failed at endpoint " + info.endpoint + " after " +
                                        std::to_string(info.attempts) + " attempt(s): " + info.exception_type + ": " +
                                        info.exception_message));
  }
  if (env.type != r.reply_type) {
    return r.done({}, request_error(RequestErrc::kBadReply, "the reply to " + r.request_type + " is a " + env.type +
                                                                ", not the " + r.reply_type +
                                                                " asked for: the two sides disagree"));
  }
  r.done(payload, nullptr);
}

void time_out(PendingRequest& r) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.timeout).count();
  r.done({}, request_error(RequestErrc::kTimeout, "no reply to " + r.request_type + " from endpoint " + r.endpoint +
                                                      " within " + std::to_string(ms) +
                                                      " ms: the endpoint is slow, stopped or dead (shmbus queue stat " +
                                                      r.endpoint + " shows its consumers)"));
}

size_t PendingRequests::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return by_id_.size();
}

}  // namespace shmbus::service::detail
