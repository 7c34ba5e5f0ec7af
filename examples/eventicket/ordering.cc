// Ordering: the HTTP API, and the only writer of orders.
//   POST /orders {"customer": "ann", "items": [{"sku": "VIP", "qty": 2}]}  -> 202 {"id": 17}
//   GET  /orders/17  -> {"id": 17, "status": "placed" | "completed" | "cancelled", "reason": ...}
//   GET  /orders     -> how many orders are in each status
// POST writes the order and its OrderPlaced into the outbox in one SQLite transaction and
// answers at once; the relay puts the event on the bus after the commit (docs/outbox.md). GET
// reads a read model (order_view) that this service's endpoint keeps from the events (OrderPlaced,
// OrderCompleted, OrderCancelled), through the inbox: each event applied once.
#include <httplib.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

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
using nlohmann::json;

void create_tables(ob::SqliteStore& db) {
  db.connect().exec(
      "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT, items TEXT,"
      " amount INTEGER, placed_at INTEGER);"
      "CREATE TABLE IF NOT EXISTS order_view(id INTEGER PRIMARY KEY, customer TEXT, items TEXT, amount INTEGER,"
      " status TEXT, reason TEXT, updated_at INTEGER)");
}

// The body of POST /orders, checked; throws std::invalid_argument with what is wrong.
OrderPlaced parse_order(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument("the body is not a JSON object");
  if (!j.contains("customer") || !j["customer"].is_string() || j["customer"].get<std::string>().empty()) {
    throw std::invalid_argument("\"customer\" must be a non-empty string");
  }
  if (!j.contains("items") || !j["items"].is_array() || j["items"].empty()) {
    throw std::invalid_argument("\"items\" must be a non-empty array of {\"sku\": ..., \"qty\": ...}");
  }
  OrderPlaced o;
  o.customer = j["customer"].get<std::string>();
  for (const json& i : j["items"]) {
    if (!i.is_object() || !i.contains("sku") || !i["sku"].is_string() || !i.contains("qty") ||
        !i["qty"].is_number_integer() || i["qty"].get<long long>() <= 0 || i["qty"].get<long long>() > 100) {
      throw std::invalid_argument("each item needs \"sku\" (a string) and \"qty\" (an integer, 1..100)");
    }
    const Product* p = find_product(i["sku"].get<std::string>());
    if (!p) throw std::invalid_argument("unknown sku " + i["sku"].get<std::string>() + " (FLOOR, SEAT or VIP)");
    o.items.push_back({std::string(p->sku), i["qty"].get<int>()});
    o.amount += p->price * i["qty"].get<long long>();
  }
  return o;
}

// One order as GET shows it: from the read model, or (committed but its OrderPlaced not yet
// back from the bus) from the orders table as "placed". Empty if there is no such order.
json find_order(sqlite3* db, int64_t id) {
  json out;
  sql_each(db, "SELECT id, customer, items, amount, status, reason FROM order_view WHERE id = ?1", {id},
           [&](sqlite3_stmt* r) {
             out = {{"id", sqlite3_column_int64(r, 0)}, {"customer", column_text(r, 1)},
                    {"items", json::parse(column_text(r, 2), nullptr, false)}, {"amount", sqlite3_column_int64(r, 3)},
                    {"status", column_text(r, 4)}};
             if (!column_text(r, 5).empty()) out["reason"] = column_text(r, 5);
           });
  if (out.is_null()) {
    sql_each(db, "SELECT id, customer, items, amount FROM orders WHERE id = ?1", {id}, [&](sqlite3_stmt* r) {
      out = {{"id", sqlite3_column_int64(r, 0)}, {"customer", column_text(r, 1)},
             {"items", json::parse(column_text(r, 2), nullptr, false)}, {"amount", sqlite3_column_int64(r, 3)},
             {"status", "placed"}};
    });
  }
  return out;
}

json counts(sqlite3* db) {
  json out = {{"orders", sql_int(db, "SELECT count(*) FROM orders")}, {"placed", 0}, {"completed", 0}, {"cancelled", 0}};
  sql_each(db, "SELECT status, count(*) FROM order_view GROUP BY status", {}, [&](sqlite3_stmt* r) {
    out[column_text(r, 0)] = sqlite3_column_int64(r, 1);
  });
  // Orders whose OrderPlaced is not projected yet are placed too.
  out["placed"] = out["orders"].get<int64_t>() - out["completed"].get<int64_t>() - out["cancelled"].get<int64_t>();
  return out;
}

void project(sqlite3* db, long long order, const std::string& status, const std::string& reason) {
  // A final status may arrive before OrderPlaced is projected (two topics, two handler threads):
  // the row is made by whichever comes first, and "placed" never overwrites a final status.
  sql_run(db,
          "INSERT INTO order_view(id, status, reason, updated_at) VALUES (?1, ?2, ?3, unixepoch())"
          " ON CONFLICT(id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
          " updated_at = excluded.updated_at",
          {static_cast<int64_t>(order), status, reason});
}

}  // namespace

int run_ordering(const ServiceOptions& options) {
  shmbus::Bus bus = shmbus::Bus::open(options.bus);
  auto db = ob::SqliteStore::open(options.data + "/ordering.db");
  create_tables(*db);
  ob::Outbox outbox(bus, db, {.source = "ordering", .journal = journal_config()});
  ob::Inbox inbox(db);

  svc::Endpoint view(bus, "ordering", endpoint_options());
  view.handle<OrderPlaced>(inbox.handler<OrderPlaced>(
      [](const OrderPlaced& e, svc::Context&, ob::SqliteTransaction& tx) {
        sql_run(tx.handle(),
                "INSERT INTO order_view(id, customer, items, amount, status, reason, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, 'placed', '', unixepoch())"
                " ON CONFLICT(id) DO UPDATE SET customer = excluded.customer, items = excluded.items,"
                " amount = excluded.amount",
                {static_cast<int64_t>(e.order), e.customer, json(e.items).dump(), static_cast<int64_t>(e.amount)});
      }));
  view.handle<OrderCompleted>(inbox.handler<OrderCompleted>(
      [](const OrderCompleted& e, svc::Context&, ob::SqliteTransaction& tx) {
        project(tx.handle(), e.order, "completed", "");
      }));
  view.handle<OrderCancelled>(inbox.handler<OrderCancelled>(
      [](const OrderCancelled& e, svc::Context&, ob::SqliteTransaction& tx) {
        project(tx.handle(), e.order, "cancelled", e.reason);
      }));
  view.start();

  // One connection writes (SQLite has one writer at a time anyway), one reads; the HTTP
  // server's threads take turns on each.
  std::mutex write_mu, read_mu;
  ob::SqliteConnection writer = db->connect();
  ob::SqliteConnection reader = db->connect();

  httplib::Server http;
  http.set_tcp_nodelay(true);
  http.Post("/orders", [&](const httplib::Request& req, httplib::Response& res) {
    OrderPlaced order;
    try {
      order = parse_order(req.body);
    } catch (const std::invalid_argument& e) {
      res.status = 400;
      res.set_content(json{{"error", e.what()}}.dump(), "application/json");
      return;
    }
    {
      std::lock_guard<std::mutex> guard(write_mu);
      ob::SqliteTransaction tx = writer.begin();
      sql_run(tx.handle(), "INSERT INTO orders(customer, items, amount, placed_at) VALUES (?1, ?2, ?3, unixepoch())",
              {order.customer, json(order.items).dump(), static_cast<int64_t>(order.amount)});
      order.order = sqlite3_last_insert_rowid(tx.handle());
      outbox.publish(tx, order);  // the order and its event: one transaction
      tx.commit();                // wakes the relay
    }
    res.status = 202;
    res.set_header("Location", "/orders/" + std::to_string(order.order));
    res.set_content(json{{"id", order.order}}.dump(), "application/json");
  });
  http.Get(R"(/orders/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    json order;
    {
      std::lock_guard<std::mutex> guard(read_mu);
      order = find_order(reader.handle(), std::stoll(req.matches[1].str()));
    }
    if (order.is_null()) {
      res.status = 404;
      res.set_content(json{{"error", "no such order"}}.dump(), "application/json");
      return;
    }
    res.set_content(order.dump(), "application/json");
  });
  http.Get("/orders", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> guard(read_mu);
    res.set_content(counts(reader.handle()).dump(), "application/json");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(json{{"error", what}}.dump(), "application/json");
  });

  if (!http.bind_to_port("127.0.0.1", options.port)) {
    std::fprintf(stderr, "eventicket ordering: cannot listen on 127.0.0.1:%d (in use?)\n", options.port);
    view.stop();
    return 1;
  }
  std::thread server([&] { http.listen_after_bind(); });
  std::printf("eventicket ordering: ready on http://127.0.0.1:%d\n", options.port);
  std::fflush(stdout);
  wait_for_stop();
  http.stop();
  server.join();
  view.stop();
  outbox.stop();
  return 0;
}

}  // namespace eventicket
