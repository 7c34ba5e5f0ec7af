// The summary of a run and its consistency check, read from the services' own databases
// (attached side by side to one SQLite connection) and the bus queues' counters:
//   - every order placed is completed or cancelled, in the read model and in its saga, and the
//     saga has no timeout left pending;
//   - for each SKU: available + reserved + shipped = the initial stock, nothing left reserved,
//     and what Inventory counts as shipped is what Shipping shipped;
//   - every completed order was reserved, paid and shipped; every cancelled one was not shipped,
//     and its payment (if any was captured) refunded; every paid order shipped or refunded.
// The last events of a run may still be on their way when the driver saw every order finished
// (Inventory moves reserved tickets to shipped on ShipmentCreated, as the saga completes on it):
// the check is repeated until it holds or `settle` runs out.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "roles.h"
#include "shmbus/bus.h"
#include "shmbus/queue.h"
#include "sql.h"

namespace eventicket {
namespace {

struct Database {
  const char* schema;
  const char* file;
};
constexpr Database kDatabases[] = {
    {"o", "ordering.db"}, {"i", "inventory.db"}, {"p", "payments.db"}, {"s", "shipping.db"}, {"g", "saga.db"}};

sqlite3* attach_all(const std::vector<std::string>& dirs) {
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  for (const Database& d : kDatabases) {
    std::string found;
    for (const std::string& dir : dirs) {
      if (std::filesystem::exists(dir + "/" + d.file)) found = dir + "/" + d.file;
    }
    if (found.empty()) throw std::runtime_error(std::string("no ") + d.file + " in the data directories given");
    sql_run(db, "ATTACH DATABASE ?1 AS " + std::string(d.schema), {found});
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

// One check: a count of rows that break a rule; prints the rule and its verdict.
struct Checks {
  sqlite3* db;
  bool print;
  int failed = 0;
  void expect_none(const std::string& rule, const std::string& violations_sql) {
    const int64_t n = sql_int(db, violations_sql);
    if (n != 0) ++failed;
    if (print) std::printf("  %-4s %s%s\n", n == 0 ? "ok" : "FAIL", rule.c_str(),
                           n == 0 ? "" : (" (" + std::to_string(n) + " violations)").c_str());
  }
};

int run_checks(sqlite3* db, bool print) {
  Checks c{db, print};
  c.expect_none("every order placed is completed or cancelled (read model)",
                "SELECT count(*) FROM o.orders LEFT JOIN o.order_view v USING (id)"
                " WHERE v.status IS NULL OR v.status NOT IN ('completed', 'cancelled')");
  c.expect_none("each order's saga finished in the same state, no timeout pending",
                "SELECT count(*) FROM o.order_view v LEFT JOIN g.shmbus_saga s"
                " ON s.saga = 'order-saga' AND s.key = CAST(v.id AS TEXT)"
                " WHERE s.state IS NOT v.status OR s.finished != 1 OR s.timeouts NOT IN ('{}', '[]', '')");
  c.expect_none("stock + reserved + shipped = initial stock, for every SKU",
                "SELECT count(*) FROM i.stock WHERE available + reserved + shipped != initial OR available < 0");
  c.expect_none("nothing left reserved once every order is finished", "SELECT count(*) FROM i.stock WHERE reserved != 0");
  c.expect_none("Inventory's shipped tickets are Shipping's, SKU by SKU",
                "SELECT count(*) FROM i.stock k WHERE k.shipped !="
                " (SELECT coalesce(sum(qty), 0) FROM s.shipment_items t WHERE t.sku = k.sku)");
  c.expect_none("every paid order shipped or refunded",
                "SELECT count(*) FROM p.payments WHERE status = 'captured'"
                " AND order_id NOT IN (SELECT order_id FROM s.shipments)");
  c.expect_none("every completed order reserved, paid and shipped",
                "SELECT count(*) FROM o.order_view v WHERE v.status = 'completed' AND ("
                " v.id NOT IN (SELECT order_id FROM s.shipments)"
                " OR v.id NOT IN (SELECT order_id FROM p.payments WHERE status = 'captured')"
                " OR v.id NOT IN (SELECT order_id FROM i.reservations WHERE status = 'shipped'))");
  c.expect_none("every cancelled order unshipped, its stock released or never reserved, nothing charged",
                "SELECT count(*) FROM o.order_view v WHERE v.status = 'cancelled' AND ("
                " v.id IN (SELECT order_id FROM s.shipments)"
                " OR v.id IN (SELECT order_id FROM p.payments WHERE status = 'captured')"
                " OR v.id IN (SELECT order_id FROM i.reservations WHERE status NOT IN ('rejected', 'released')))");
  return c.failed;
}

struct QueueTotals {
  uint64_t redelivered = 0, dead_lettered = 0;
};

// Messages an endpoint's inbox marked processed (each applied once); -1 for queues without one.
int64_t inbox_marks(sqlite3* db, const std::string& queue) {
  for (const char* schema : {"o", "i", "p", "s", "g"}) {  // g: the saga's database (its marks: endpoint = saga name)
    const int64_t n =
        sql_int(db, "SELECT count(*) FROM " + std::string(schema) + ".shmbus_inbox WHERE endpoint = ?1", {queue});
    if (n > 0) return n;
  }
  return -1;
}

QueueTotals print_queues(sqlite3* db, const std::vector<std::string>& buses) {
  QueueTotals t;
  for (const std::string& path : buses) {
    shmbus::Bus bus = shmbus::Bus::open(path);
    for (const std::string& name : bus.queues()) {
      const shmbus::QueueStats s = bus.queue(name).stats();
      t.redelivered += s.redelivered;
      t.dead_lettered += s.dead_lettered;
      // Acked but not marked: acknowledged without being applied. At a participant, duplicates
      // (a redelivery after a kill -9, a relay's resend) that its inbox skipped; at the saga
      // also stale timeouts and late answers for a finished order, which it ignores.
      const int64_t marks = inbox_marks(db, name);
      const std::string skipped =
          marks < 0 ? "" : "  skipped " + std::to_string(static_cast<int64_t>(s.acked) - marks);
      std::printf("    %-18s acked %4llu  retried %3llu  dead-lettered %2llu%s  (%s)\n", name.c_str(),
                  static_cast<unsigned long long>(s.acked), static_cast<unsigned long long>(s.redelivered),
                  static_cast<unsigned long long>(s.dead_lettered), skipped.c_str(),
                  std::filesystem::path(path).parent_path().filename().c_str());
    }
  }
  return t;
}

}  // namespace

int run_report(const ReportOptions& options) {
  sqlite3* db = attach_all(options.data);
  const auto deadline = std::chrono::steady_clock::now() + options.settle;
  while (run_checks(db, false) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const int64_t placed = sql_int(db, "SELECT count(*) FROM o.orders");
  const int64_t completed = sql_int(db, "SELECT count(*) FROM o.order_view WHERE status = 'completed'");
  const int64_t cancelled = sql_int(db, "SELECT count(*) FROM o.order_view WHERE status = 'cancelled'");
  std::printf("EvenTicket summary\n");
  std::printf("  orders placed %lld, completed %lld, cancelled %lld\n", static_cast<long long>(placed),
              static_cast<long long>(completed), static_cast<long long>(cancelled));
  sql_each(db, "SELECT reason, count(*) FROM o.order_view WHERE status = 'cancelled' GROUP BY reason ORDER BY 2 DESC", {},
           [](sqlite3_stmt* r) {
             std::printf("    cancelled %4lld: %s\n", static_cast<long long>(sqlite3_column_int64(r, 1)),
                         column_text(r, 0).c_str());
           });
  std::printf("  payments captured %lld (%lld on a retry), refunded %lld, voided %lld\n",
              static_cast<long long>(sql_int(db, "SELECT count(*) FROM p.payments WHERE status IN ('captured', 'refunded')")),
              static_cast<long long>(sql_int(db, "SELECT count(*) FROM p.payments WHERE attempts > 1")),
              static_cast<long long>(sql_int(db, "SELECT count(*) FROM p.payments WHERE status = 'refunded'")),
              static_cast<long long>(sql_int(db, "SELECT count(*) FROM p.payments WHERE status = 'voided'")));
  std::printf("  queues:\n");
  const QueueTotals t = print_queues(db, options.buses);
  std::printf("  messages retried %llu, dead-lettered %llu\n", static_cast<unsigned long long>(t.redelivered),
              static_cast<unsigned long long>(t.dead_lettered));
  std::printf("  stock:\n");
  sql_each(db, "SELECT sku, initial, available, reserved, shipped FROM i.stock ORDER BY sku", {}, [](sqlite3_stmt* r) {
    std::printf("    %-6s %4lld available + %lld reserved + %4lld shipped = %4lld (initial %lld)\n",
                column_text(r, 0).c_str(), static_cast<long long>(sqlite3_column_int64(r, 2)),
                static_cast<long long>(sqlite3_column_int64(r, 3)), static_cast<long long>(sqlite3_column_int64(r, 4)),
                static_cast<long long>(sqlite3_column_int64(r, 2) + sqlite3_column_int64(r, 3) + sqlite3_column_int64(r, 4)),
                static_cast<long long>(sqlite3_column_int64(r, 1)));
  });
  std::printf("  consistency:\n");
  const int failed = run_checks(db, true);
  std::printf("consistency check: %s\n", failed == 0 ? "OK" : "FAILED");
  sqlite3_close(db);
  return failed == 0 ? 0 : 1;
}

}  // namespace eventicket
