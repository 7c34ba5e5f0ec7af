// Payments: captures the order's amount, and voids or refunds it when the saga gives the order
// up. The payment gateway is simulated, and fails `--fault` of the capture attempts (20 % by
// default) before anything is charged: the endpoint retries the message after a short backoff,
// and after its second failed delivery the queue dead-letters it and the endpoint publishes
// Fault<CapturePayment>, which the saga compensates (stock released, order cancelled). Each
// handler runs in the inbox's transaction and answers through the outbox, so a redelivery
// after a kill -9 charges nothing twice.
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

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

// The injected fault: the gateway times out on a fraction of the attempts, at random.
class FlakyGateway {
 public:
  explicit FlakyGateway(double fault) : fault_(fault), random_(std::random_device{}() ^ static_cast<unsigned>(getpid())) {}
  void charge() {
    std::lock_guard<std::mutex> guard(mu_);
    if (std::uniform_real_distribution<double>(0, 1)(random_) < fault_) {
      throw std::runtime_error("payment gateway timed out (injected fault)");
    }
  }

 private:
  double fault_;
  std::mutex mu_;
  std::mt19937_64 random_;
};

}  // namespace

int run_payments(const ServiceOptions& options) {
  shmbus::Bus bus = shmbus::Bus::open(options.bus);
  auto db = ob::SqliteStore::open(options.data + "/payments.db");
  db->connect().exec(
      "CREATE TABLE IF NOT EXISTS payments(order_id INTEGER PRIMARY KEY, amount INTEGER, status TEXT, attempts INTEGER)");
  ob::Outbox outbox(bus, db, {.source = "payments", .journal = journal_config()});
  ob::Inbox inbox(db);
  FlakyGateway gateway(options.fault);
  svc::EndpointOptions eo = endpoint_options();
  eo.max_deliveries = 2;  // a second failure dead-letters the capture: the saga compensates
  svc::Endpoint endpoint(bus, "payments", eo);

  endpoint.handle<CapturePayment>(inbox.handler<CapturePayment>(
      [&](const CapturePayment& c, svc::Context& ctx, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        const std::string status = sql_text(h, "SELECT status FROM payments WHERE order_id = ?1", {c.order});
        if (status == "voided") {
          // The saga gave the order up before this capture came: never charge it.
          outbox.publish(tx, PaymentDeclined{c.order, "the order was given up before its payment"}, ctx);
          return;
        }
        if (status.empty()) {
          gateway.charge();  // throws: the transaction rolls back, the message is retried
          sql_run(h, "INSERT INTO payments VALUES (?1, ?2, 'captured', ?3)",
                  {c.order, c.amount, static_cast<int64_t>(ctx.attempt())});
        }
        outbox.publish(tx, PaymentCaptured{c.order}, ctx);
      }));

  endpoint.handle<VoidPayment>(inbox.handler<VoidPayment>(
      [&](const VoidPayment& c, svc::Context&, ob::SqliteTransaction& tx) {
        sqlite3* h = tx.handle();
        const std::string status = sql_text(h, "SELECT status FROM payments WHERE order_id = ?1", {c.order});
        if (status == "captured") {
          sql_run(h, "UPDATE payments SET status = 'refunded' WHERE order_id = ?1", {c.order});
        } else if (status.empty()) {
          sql_run(h, "INSERT INTO payments VALUES (?1, 0, 'voided', 0)", {c.order});
        }
      }));

  endpoint.start();
  std::printf("eventicket payments: ready (fault %.0f %%)\n", options.fault * 100);
  std::fflush(stdout);
  wait_for_stop();
  endpoint.stop();
  outbox.stop();
  return 0;
}

}  // namespace eventicket
