// Shipping: one shipment per order, with its tickets; ShipmentCreated tells the saga (the
// order is completed) and Inventory (the reserved tickets are now shipped). Inbox and outbox
// as in Inventory: one shipment per order however often CreateShipment comes.
#include <cstdio>
#include <string>

#include "messages.h"
#include "roles.h"
#include "shmbus/outbox/inbox.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/sqlite.h"
#include "shmbus/service/service.h"
#include "sql.h"

namespace eventicket {

int run_shipping(const ServiceOptions& options) {
  namespace ob = shmbus::outbox;
  namespace svc = shmbus::service;
  shmbus::Bus bus = shmbus::Bus::open(options.bus);
  auto db = ob::SqliteStore::open(options.data + "/shipping.db");
  db->connect().exec(
      "CREATE TABLE IF NOT EXISTS shipments(order_id INTEGER PRIMARY KEY, customer TEXT, created_at INTEGER);"
      "CREATE TABLE IF NOT EXISTS shipment_items(order_id INTEGER, sku TEXT, qty INTEGER)");
  ob::Outbox outbox(bus, db, {.source = "shipping", .journal = journal_config()});
  ob::Inbox inbox(db);
  svc::Endpoint endpoint(bus, "shipping", endpoint_options());

  endpoint.handle<CreateShipment>(inbox.handler<CreateShipment>(
      [&](const CreateShipment& c, svc::Context& ctx, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        if (sql_int(h, "SELECT count(*) FROM shipments WHERE order_id = ?1", {c.order}) == 0) {
          sql_run(h, "INSERT INTO shipments VALUES (?1, ?2, unixepoch())", {c.order, c.customer});
          for (const Item& i : c.items) {
            sql_run(h, "INSERT INTO shipment_items VALUES (?1, ?2, ?3)", {c.order, i.sku, static_cast<int64_t>(i.qty)});
          }
        }
        outbox.publish(tx, ShipmentCreated{c.order, c.items}, ctx);
      }));

  endpoint.start();
  std::printf("eventicket shipping: ready\n");
  std::fflush(stdout);
  wait_for_stop();
  endpoint.stop();
  outbox.stop();
  return 0;
}

}  // namespace eventicket
