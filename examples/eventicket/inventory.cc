// Inventory: tickets reserved for an order, released when the order is given up, and moved
// to "shipped" when its shipment is made. Every handler runs in the inbox's transaction
// (shmbus/outbox/inbox.h): its stock changes, the message's "processed" mark and the answer it
// sends through the outbox commit together, so a redelivered, replayed or resent message
// (after a kill -9 between the commit and the ack, say) changes the stock once and is answered
// once.
#include <cstdio>
#include <map>
#include <string>

#include "catalog.h"
#include "messages.h"
#include "roles.h"
#include "shmbus/outbox/inbox.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/sqlite.h"
#include "shmbus/service/service.h"
#include "sql.h"

namespace eventicket {
namespace {

namespace ob = shmbus::outbox;
namespace svc = shmbus::service;

void create_tables(ob::SqliteStore& db) {
  ob::SqliteConnection c = db.connect();
  c.exec(
      "CREATE TABLE IF NOT EXISTS stock(sku TEXT PRIMARY KEY, initial INTEGER, available INTEGER,"
      " reserved INTEGER, shipped INTEGER);"
      "CREATE TABLE IF NOT EXISTS reservations(order_id INTEGER PRIMARY KEY, status TEXT, reason TEXT);"
      "CREATE TABLE IF NOT EXISTS reservation_items(order_id INTEGER, sku TEXT, qty INTEGER,"
      " PRIMARY KEY(order_id, sku))");
  for (const Product& p : kCatalog) {
    sql_run(c.handle(), "INSERT OR IGNORE INTO stock VALUES (?1, ?2, ?2, 0, 0)", {std::string(p.sku), p.stock});
  }
}

// The quantity asked of each SKU (an order may name one twice).
std::map<std::string, long long> by_sku(const std::vector<Item>& items) {
  std::map<std::string, long long> out;
  for (const Item& i : items) out[i.sku] += i.qty;
  return out;
}

// Reserves all of the order's tickets or none; returns "" or why not.
std::string reserve(sqlite3* db, const ReserveStock& c) {
  const auto wanted = by_sku(c.items);
  for (const auto& [sku, qty] : wanted) {
    const int64_t available = sql_int(db, "SELECT available FROM stock WHERE sku = ?1", {sku}, -1);
    if (available < 0) return "unknown sku " + sku;
    if (qty <= 0) return "bad quantity for " + sku;
    if (available < qty) return "out of stock: " + sku;
  }
  for (const auto& [sku, qty] : wanted) {
    sql_run(db, "UPDATE stock SET available = available - ?2, reserved = reserved + ?2 WHERE sku = ?1",
            {sku, static_cast<int64_t>(qty)});
    sql_run(db, "INSERT INTO reservation_items VALUES (?1, ?2, ?3)", {c.order, sku, static_cast<int64_t>(qty)});
  }
  return "";
}

}  // namespace

int run_inventory(const ServiceOptions& options) {
  shmbus::Bus bus = shmbus::Bus::open(options.bus);
  auto db = ob::SqliteStore::open(options.data + "/inventory.db");
  create_tables(*db);
  ob::Outbox outbox(bus, db, {.source = "inventory", .journal = journal_config()});
  ob::Inbox inbox(db);
  svc::Endpoint endpoint(bus, "inventory", endpoint_options());

  endpoint.handle<ReserveStock>(inbox.handler<ReserveStock>(
      [&](const ReserveStock& c, svc::Context& ctx, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        // The order's reservation is decided once; a second ReserveStock for it (not a
        // duplicate message: the inbox has those) gets the same answer.
        std::string status = sql_text(h, "SELECT status FROM reservations WHERE order_id = ?1", {c.order});
        std::string reason = sql_text(h, "SELECT reason FROM reservations WHERE order_id = ?1", {c.order});
        if (status.empty()) {
          reason = reserve(h, c);
          status = reason.empty() ? "reserved" : "rejected";
          sql_run(h, "INSERT INTO reservations VALUES (?1, ?2, ?3)", {c.order, status, reason});
        }
        if (status == "rejected") {
          outbox.publish(tx, StockRejected{c.order, reason}, ctx);
        } else {
          outbox.publish(tx, StockReserved{c.order}, ctx);
        }
      }));

  endpoint.handle<ReleaseStock>(inbox.handler<ReleaseStock>(
      [&](const ReleaseStock& c, svc::Context& ctx, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        const std::string status = sql_text(h, "SELECT status FROM reservations WHERE order_id = ?1", {c.order});
        if (status == "reserved") {
          sql_each(h, "SELECT sku, qty FROM reservation_items WHERE order_id = ?1", {c.order}, [&](sqlite3_stmt* r) {
            sql_run(h, "UPDATE stock SET available = available + ?2, reserved = reserved - ?2 WHERE sku = ?1",
                    {column_text(r, 0), static_cast<int64_t>(sqlite3_column_int64(r, 1))});
          });
          sql_run(h, "UPDATE reservations SET status = 'released' WHERE order_id = ?1", {c.order});
        } else if (status.empty()) {
          // Released before it was reserved (the reservation is still on its way): it never will be.
          sql_run(h, "INSERT INTO reservations VALUES (?1, 'released', 'released before reserved')", {c.order});
        }
        outbox.publish(tx, StockReleased{c.order}, ctx);
      }));

  endpoint.handle<ShipmentCreated>(inbox.handler<ShipmentCreated>(
      [&](const ShipmentCreated& e, svc::Context&, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        if (sql_text(h, "SELECT status FROM reservations WHERE order_id = ?1", {e.order}) != "reserved") return;
        sql_each(h, "SELECT sku, qty FROM reservation_items WHERE order_id = ?1", {e.order}, [&](sqlite3_stmt* r) {
          sql_run(h, "UPDATE stock SET reserved = reserved - ?2, shipped = shipped + ?2 WHERE sku = ?1",
                  {column_text(r, 0), static_cast<int64_t>(sqlite3_column_int64(r, 1))});
        });
        sql_run(h, "UPDATE reservations SET status = 'shipped' WHERE order_id = ?1", {e.order});
      }));

  endpoint.start();
  std::printf("eventicket inventory: ready\n");
  std::fflush(stdout);
  wait_for_stop();
  endpoint.stop();
  outbox.stop();
  return 0;
}

}  // namespace eventicket
