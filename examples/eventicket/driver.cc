// The load: places orders over Ordering's HTTP API at a steady rate (random customers and
// tickets, seeded), then waits until each one is completed or cancelled, printing progress
// (run.sh watches it to kill a worker mid-flight) and the outcome of each order.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog.h"
#include "roles.h"

namespace eventicket {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json random_order(std::mt19937_64& random, int n) {
  static const char* const kCustomers[] = {"ann", "bob", "chen", "dora", "emil", "fatima", "gus", "hana"};
  std::uniform_int_distribution<int> customer(0, 7), lines(1, 2), qty(1, 3), product(0, 9);
  json items = json::array();
  const int count = lines(random);
  for (int i = 0; i < count; ++i) {
    const int p = product(random);  // VIP one time in five
    items.push_back({{"sku", p < 5 ? "FLOOR" : p < 8 ? "SEAT" : "VIP"}, {"qty", qty(random)}});
  }
  return {{"customer", std::string(kCustomers[customer(random)]) + "-" + std::to_string(n)}, {"items", items}};
}

// Finished orders per /orders (completed + cancelled), or -1 if Ordering did not answer.
long long finished(httplib::Client& http) {
  auto res = http.Get("/orders");
  if (!res || res->status != 200) return -1;
  const json c = json::parse(res->body, nullptr, false);
  if (c.is_discarded()) return -1;
  return c.value("completed", 0LL) + c.value("cancelled", 0LL);
}

}  // namespace

int run_drive(const DriveOptions& options) {
  httplib::Client http(options.host, options.port);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);  // a request's header and body go in two writes: no Nagle wait between them
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  std::mt19937_64 random(options.seed);
  std::vector<long long> ids;
  const auto start = Clock::now();
  const auto gap = std::chrono::duration<double>(1.0 / options.rate);
  long long last_finished = -1;
  for (int n = 0; n < options.orders; ++n) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(gap * n));
    auto res = http.Post("/orders", random_order(random, n).dump(), "application/json");
    if (!res || res->status != 202) {
      std::fprintf(stderr, "eventicket drive: POST /orders failed: %s\n",
                   res ? (std::to_string(res->status) + " " + res->body).c_str() : httplib::to_string(res.error()).c_str());
      return 1;
    }
    ids.push_back(json::parse(res->body).at("id").get<long long>());
    if (n % 10 == 9) {
      last_finished = finished(http);
      std::printf("progress placed=%d finished=%lld\n", n + 1, last_finished);
      std::fflush(stdout);
    }
  }
  const double placing = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("placed %zu orders in %.1f s\n", ids.size(), placing);
  const auto deadline = Clock::now() + options.timeout;
  long long done = 0;
  while ((done = finished(http)) < static_cast<long long>(ids.size()) && Clock::now() < deadline) {
    if (done != last_finished) {
      std::printf("progress placed=%zu finished=%lld\n", ids.size(), done);
      std::fflush(stdout);
      last_finished = done;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Each order's own answer, as a user of the API sees it.
  std::map<std::string, int> outcomes;
  int unfinished = 0;
  for (long long id : ids) {
    auto res = http.Get("/orders/" + std::to_string(id));
    const json o = res && res->status == 200 ? json::parse(res->body, nullptr, false) : json();
    const std::string status = o.is_object() ? o.value("status", "?") : "no answer";
    if (status != "completed" && status != "cancelled") ++unfinished;
    outcomes[status == "cancelled" ? "cancelled (" + o.value("reason", std::string("?")) + ")" : status]++;
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("all %zu orders answered by GET /orders/{id} after %.1f s:\n", ids.size(), total);
  for (const auto& [what, n] : outcomes) std::printf("  %4d %s\n", n, what.c_str());
  if (unfinished > 0) {
    std::printf("drive: %d orders neither completed nor cancelled within %lld s\n", unfinished,
                static_cast<long long>(options.timeout.count()));
    return 1;
  }
  return 0;
}

}  // namespace eventicket
