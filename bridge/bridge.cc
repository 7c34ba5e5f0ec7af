// bridge: run_bridge.
#include "bridge/bridge.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "bridge/inbound_link.h"
#include "bridge/instance_lock.h"
#include "bridge/link_factory.h"
#include "bridge/link_status.h"
#include "bridge/log.h"
#include "bridge/origin.h"
#include "bridge/outbound_link.h"
#include "bridge/status_file.h"
#include "shmbus/bus.h"

namespace shmbus::bridge {

using namespace std::chrono_literals;

void run_bridge(const BridgeConfig& given, const std::string& bus_name, const std::function<bool()>& stop_requested) {
  const InstanceLock lock(given.lock_path());
  BridgeConfig config = given;  // the links keep references to it: it lives until they end
  if (config.bus.empty()) config.bus = bus_name;
  if (config.origin == "auto") config.origin = default_origin(config.bus);
  Bus bus = Bus::open(config.bus);
  const Log log("-");
  if (!config.origin.empty()) {
    log.info("origin " + config.origin + " (x-shmbus-origin: what came in through a bridge is not sent out again)");
  }
  for (const std::string& w : config.warnings) log.info("warning: " + w);

  std::vector<std::unique_ptr<LinkStatus>> statuses;
  std::vector<std::string> excluded;  // dead-letter topics are never forwarded (no loop of returns)
  for (const OutboundConfig& o : config.outbound) excluded.push_back(o.dead_letter_topic);
  for (const InboundConfig& in : config.inbound) excluded.push_back(in.dead_letter_topic);

  std::vector<std::unique_ptr<OutboundLink>> outbound;
  std::vector<std::unique_ptr<InboundLink>> inbound;
  for (const OutboundConfig& o : config.outbound) {
    auto& s = *statuses.emplace_back(std::make_unique<LinkStatus>());
    s.name = o.name;
    s.direction = "outbound";
    s.route = "bus " + o.topics + " -> exchange " + o.exchange.name +
              (o.queue.empty() ? " (cursor " + o.cursor + ")" : " (bus queue " + o.queue + ")");
    outbound.push_back(std::make_unique<OutboundLink>(bus, config, o, make_sink(config, o), s, excluded));
  }
  for (const InboundConfig& in : config.inbound) {
    auto& s = *statuses.emplace_back(std::make_unique<LinkStatus>());
    s.name = in.name;
    s.direction = "inbound";
    s.route = "queue " + in.queue + " -> bus " + (in.topic_from_routing_key ? std::string("<routing key>") : in.topic);
    inbound.push_back(std::make_unique<InboundLink>(bus, config, in, make_source(config, in), s));
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& l : outbound) threads.emplace_back([&stop, link = l.get()] { link->run(stop); });
  for (auto& l : inbound) threads.emplace_back([&stop, link = l.get()] { link->run(stop); });
  log.info("running " + std::to_string(outbound.size()) + " outbound and " + std::to_string(inbound.size()) +
           " inbound link(s); status in " + config.status_path());

  auto next_status = std::chrono::steady_clock::now();
  while (!stop_requested()) {
    if (std::chrono::steady_clock::now() >= next_status) {
      write_status(config, statuses, true);
      next_status += 1s;
    }
    std::this_thread::sleep_for(100ms);
  }
  log.info("stopping: waiting for the confirms in flight (at most 10 s)");
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads) t.join();
  write_status(config, statuses, false);
}

}  // namespace shmbus::bridge
