// The table of requests waiting for replies.
#include "pending_requests.h"

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

size_t PendingRequests::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return by_id_.size();
}

}  // namespace shmbus::service::detail
