// bridge: the status file, written and read with nlohmann-json.
#include "bridge/status_file.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bridge/instance_lock.h"
#include "shmbus/error.h"

namespace shmbus::bridge {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_time(int64_t ns) {
  if (ns == 0) return "-";
  const time_t s = static_cast<time_t>(ns / 1000000000);
  tm t{};
  gmtime_r(&s, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

nlohmann::json link_json(const LinkStatus& l) {
  auto [error, error_ns] = l.error();
  nlohmann::json j = {
      {"name", l.name},
      {"direction", l.direction},
      {"route", l.route},
      {"connected", l.connected.load(std::memory_order_relaxed)},
      {"blocked", l.blocked.load(std::memory_order_relaxed)},
      {"forwarded", l.forwarded.load(std::memory_order_relaxed)},
      {"confirmed", l.confirmed.load(std::memory_order_relaxed)},
      {"returned", l.returned.load(std::memory_order_relaxed)},
      {"nacked", l.nacked.load(std::memory_order_relaxed)},
      {"redelivered", l.redelivered.load(std::memory_order_relaxed)},
      {"dead_lettered", l.dead_lettered.load(std::memory_order_relaxed)},
      {"skipped", l.skipped.load(std::memory_order_relaxed)},
      {"in_flight", l.in_flight.load(std::memory_order_relaxed)},
      {"lag", l.lag.load(std::memory_order_relaxed)},
      {"lost", l.lost.load(std::memory_order_relaxed)},
      {"topics", l.topics.load(std::memory_order_relaxed)},
      {"connects", l.connects.load(std::memory_order_relaxed)},
      {"failures", l.failures.load(std::memory_order_relaxed)},
      {"retry_at_ns", l.retry_at_ns.load(std::memory_order_relaxed)},
      {"last_error", error},
      {"last_error_ns", error_ns},
  };
  return j;
}

}  // namespace

void write_status(const BridgeConfig& config, const std::vector<std::unique_ptr<LinkStatus>>& links, bool running) {
  nlohmann::json j = {{"pid", ::getpid()}, {"config", config.path}, {"running", running}, {"updated_ns", now_ns()}};
  j["links"] = nlohmann::json::array();
  for (const auto& l : links) j["links"].push_back(link_json(*l));
  const std::string path = config.status_path();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!out) return;  // a full disk costs the status, never the bridge
  }
  std::rename(tmp.c_str(), path.c_str());
}

std::string read_status(const BridgeConfig& config, bool as_json) {
  std::ifstream in(config.status_path());
  if (!in) {
    throw Error("no status at " + config.status_path() + ": the bridge has not run with this config (start it with "
                "`shmbus bridge --config " + config.path + "`)",
                ErrorKind::kNotFound);
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error("status file " + config.status_path() + " is not JSON (" + e.what() + "): wait a second and retry",
                ErrorKind::kCorrupt);
  }
  const bool running = InstanceLock::held(config.lock_path());
  j["running"] = running;
  if (as_json) return j.dump() + "\n";
  std::ostringstream out;
  const int64_t age_s = (now_ns() - j.value("updated_ns", int64_t{0})) / 1000000000;
  out << "bridge " << (running ? "running, pid " + std::to_string(j.value("pid", 0)) : std::string("not running"))
      << "; status of " << iso_time(j.value("updated_ns", int64_t{0})) << " (" << age_s << " s ago)\n";
  for (const nlohmann::json& l : j["links"]) {
    out << l.value("direction", "") << " " << l.value("name", "") << ": " << l.value("route", "") << "\n"
        << "  connected " << (l.value("connected", false) ? "yes" : "no") << (l.value("blocked", false) ? " (blocked by the broker)" : "")
        << ", forwarded " << l.value("forwarded", 0ull) << ", confirmed " << l.value("confirmed", 0ull) << ", returned "
        << l.value("returned", 0ull) << ", redelivered " << l.value("redelivered", 0ull) << ", in flight "
        << l.value("in_flight", 0ull) << ", lag " << l.value("lag", 0ull);
    if (l.value("lost", 0ull) != 0) out << ", lost " << l.value("lost", 0ull);
    if (l.value("dead_lettered", 0ull) != 0) out << ", dead-lettered " << l.value("dead_lettered", 0ull);
    if (l.value("skipped", 0ull) != 0) out << ", skipped " << l.value("skipped", 0ull);
    out << "\n  connects " << l.value("connects", 0ull) << ", failures " << l.value("failures", 0ull);
    const std::string error = l.value("last_error", "");
    out << ", last error " << (error.empty() ? "none" : error + " (" + iso_time(l.value("last_error_ns", int64_t{0})) + ")");
    const int64_t retry = l.value("retry_at_ns", int64_t{0});
    if (retry != 0 && !l.value("connected", false)) out << ", next attempt " << iso_time(retry);
    out << "\n";
  }
  return out.str();
}

}  // namespace shmbus::bridge
