// Inventory, Payments and Shipping of the order flow: service endpoints whose state is in a
// SQLite file of their own. Each handler commits its change and derives its answer from what
// is committed, so a redelivery (after a kill -9 between commit and publish, or a retry)
// changes nothing twice and answers the same. `transient` is the chance that a handler throws
// before it does anything (retried by the endpoint).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>

#include "order_messages.h"
#include "shmbus/service/service.h"

namespace orders {

// One connection, one transaction at a time (the handlers are short).
class ParticipantDb {
 public:
  ParticipantDb(const std::string& path, int initial_stock) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
         "CREATE TABLE IF NOT EXISTS stock(id INTEGER PRIMARY KEY, available INT, reserved INT, shipped INT);"
         "CREATE TABLE IF NOT EXISTS reservations(order_id INTEGER PRIMARY KEY, qty INT, status TEXT);"
         "CREATE TABLE IF NOT EXISTS payments(order_id INTEGER PRIMARY KEY, status TEXT);"
         "CREATE TABLE IF NOT EXISTS shipments(order_id INTEGER PRIMARY KEY);");
    exec("INSERT OR IGNORE INTO stock VALUES (1, " + std::to_string(initial_stock) + ", 0, 0)");
  }
  ~ParticipantDb() { sqlite3_close(db_); }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string text = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error("participant db: " + text + " in " + sql);
    }
  }
  // The first column of the first row as text ("" if none).
  std::string text(const std::string& sql) {
    std::string out;
    sqlite3_exec(db_, sql.c_str(), [](void* o, int, char** v, char**) {
      *static_cast<std::string*>(o) = v[0] ? v[0] : "";
      return 1;
    }, &out, nullptr);
    return out;
  }
  long integer(const std::string& sql) {
    const std::string t = text(sql);
    return t.empty() ? 0 : std::stol(t);
  }
  // Runs `body` in BEGIN IMMEDIATE ... COMMIT (rolled back if it throws).
  template <class F>
  void transaction(F body) {
    std::lock_guard<std::mutex> guard(mu_);
    exec("BEGIN IMMEDIATE");
    try {
      body();
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 private:
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

class Participants {
 public:
  Participants(shmbus::Bus bus, const std::string& db_path, int initial_stock, double transient = 0.0)
      : db_(std::make_shared<ParticipantDb>(db_path, initial_stock)), transient_(transient),
        inventory_(bus, "inventory", options()), payments_(bus, "payments", options()),
        shipping_(bus, "shipping", options()) {
    namespace svc = shmbus::service;
    inventory_.handle<ReserveStock>([this](const ReserveStock& c, svc::Context& ctx) {
      fault();
      std::string status;
      db_->transaction([&] {
        const std::string o = std::to_string(c.order);
        status = db_->text("SELECT status FROM reservations WHERE order_id = " + o);
        if (!status.empty()) return;
        if (db_->integer("SELECT available FROM stock") >= c.qty) {
          db_->exec("UPDATE stock SET available = available - " + std::to_string(c.qty) + ", reserved = reserved + " +
                    std::to_string(c.qty));
          db_->exec("INSERT INTO reservations VALUES (" + o + ", " + std::to_string(c.qty) + ", 'reserved')");
          status = "reserved";
        } else {
          db_->exec("INSERT INTO reservations VALUES (" + o + ", 0, 'rejected')");
          status = "rejected";
        }
      });
      if (status == "rejected") {
        ctx.publish(StockRejected{c.order});
      } else {
        ctx.publish(StockReserved{c.order});
      }
    });
    inventory_.handle<ReleaseStock>([this](const ReleaseStock& c, svc::Context& ctx) {
      fault();
      db_->transaction([&] {
        const std::string o = std::to_string(c.order);
        const std::string status = db_->text("SELECT status FROM reservations WHERE order_id = " + o);
        if (status == "reserved") {
          const std::string q = std::to_string(db_->integer("SELECT qty FROM reservations WHERE order_id = " + o));
          db_->exec("UPDATE stock SET available = available + " + q + ", reserved = reserved - " + q);
          db_->exec("UPDATE reservations SET status = 'released' WHERE order_id = " + o);
        } else if (status.empty()) {
          db_->exec("INSERT INTO reservations VALUES (" + o + ", 0, 'released')");
        }
      });
      ctx.publish(StockReleased{c.order});
    });
    payments_.handle<CapturePayment>([this](const CapturePayment& c, svc::Context& ctx) {
      fault();
      std::string status;
      db_->transaction([&] {
        const std::string o = std::to_string(c.order);
        status = db_->text("SELECT status FROM payments WHERE order_id = " + o);
        if (!status.empty()) return;
        status = payment_declined(c.order) ? "failed" : "captured";
        db_->exec("INSERT INTO payments VALUES (" + o + ", '" + status + "')");
      });
      if (status == "captured") {
        ctx.publish(PaymentCaptured{c.order});
      } else {
        ctx.publish(PaymentFailed{c.order, status == "failed" ? "card declined" : "payment " + status});
      }
    });
    payments_.handle<VoidPayment>([this](const VoidPayment& c, svc::Context&) {
      fault();
      db_->transaction([&] {
        const std::string o = std::to_string(c.order);
        const std::string status = db_->text("SELECT status FROM payments WHERE order_id = " + o);
        if (status.empty()) db_->exec("INSERT INTO payments VALUES (" + o + ", 'voided')");
        if (status == "captured") db_->exec("UPDATE payments SET status = 'refunded' WHERE order_id = " + o);
      });
    });
    shipping_.handle<CreateShipment>([this](const CreateShipment& c, svc::Context& ctx) {
      fault();
      db_->transaction([&] {
        const std::string o = std::to_string(c.order);
        if (db_->text("SELECT status FROM reservations WHERE order_id = " + o) != "reserved") return;
        const std::string q = std::to_string(db_->integer("SELECT qty FROM reservations WHERE order_id = " + o));
        db_->exec("UPDATE stock SET reserved = reserved - " + q + ", shipped = shipped + " + q);
        db_->exec("UPDATE reservations SET status = 'shipped' WHERE order_id = " + o);
        db_->exec("INSERT INTO shipments VALUES (" + o + ")");
      });
      ctx.publish(ShipmentCreated{c.order});
    });
  }

  // Payments may be left out (its queue declared, nobody consuming): payments time out.
  void start(bool with_payments = true) {
    inventory_.start();
    shipping_.start();
    if (with_payments) {
      payments_.start();
    } else {
      payments_.start();
      payments_.stop();
    }
  }
  void stop() {
    inventory_.stop();
    payments_.stop();
    shipping_.stop();
  }
  ParticipantDb& db() { return *db_; }

 private:
  static shmbus::service::EndpointOptions options() {
    shmbus::service::EndpointOptions o;
    o.concurrency = 2;
    o.immediate_retries = 1;
    o.max_deliveries = 50;  // transient faults are retried until they pass
    o.retry = shmbus::RetryPolicy::parse("exponential:min=5ms,max=200ms,factor=2,jitter=0.2");
    return o;
  }
  void fault() {
    if (transient_ <= 0) return;
    thread_local std::mt19937_64 rng(std::random_device{}());
    if (std::uniform_real_distribution<double>(0, 1)(rng) < transient_) throw std::runtime_error("transient fault");
  }

  std::shared_ptr<ParticipantDb> db_;
  double transient_;
  shmbus::service::Endpoint inventory_, payments_, shipping_;
};

}  // namespace orders
