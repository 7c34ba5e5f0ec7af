// The processes of the outbox and inbox crash tests (run by fork + exec, killed -9 at their
// kill points or at random):
//   outbox_peer writer URL BUS MAX_TX   transactions n = last committed + 1, ...: each inserts
//                                       ledger row n and publishes Ledgered{n, 0..2} through the
//                                       outbox; n % 4 == 3 rolls back. Then flushes and exits 0.
//   outbox_peer write-only URL BUS K    one transaction of K events, no relay of its own
//   outbox_peer inbox URL BUS           endpoint "ledger": Credit through an Inbox (balance +=
//                                       amount, an `applied` row) until SIGTERM
// URL: "sqlite:<path>" or a PostgreSQL URL.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "outbox_test_support.h"

namespace {

using namespace std::chrono_literals;
using namespace shmbus;
using namespace shmbus::outbox;
namespace ot = shmbus::outbox::test;

constexpr int kEventsPerTransaction = 3;

int writer(ot::Db& db, Bus& bus, int max_tx) {
  Outbox out(bus, db.storage(), ot::test_outbox_options("writer"));
  int64_t n = db.scalar("SELECT COALESCE(MAX(n), 0) FROM ledger") + 1;
  for (int t = 0; t < max_tx; ++t, ++n) {
    auto tx = db.begin();
    tx->exec("INSERT INTO ledger(n) VALUES (" + std::to_string(n) + ")");
    for (int i = 0; i < kEventsPerTransaction; ++i) out.publish(tx->tx(), ledger::Ledgered{n, i});
    if (n % 4 == 3) {
      tx->rollback();
    } else {
      tx->commit();
    }
  }
  return out.flush(60s) ? 0 : 3;
}

int write_only(ot::Db& db, Bus& bus, int k) {
  OutboxOptions o = ot::test_outbox_options("write-only");
  o.relay = false;
  Outbox out(bus, db.storage(), o);
  auto tx = db.begin();
  for (int i = 0; i < k; ++i) out.publish(tx->tx(), ledger::Ledgered{1, i});
  tx->commit();
  return 0;
}

template <class Store>
int inbox(std::shared_ptr<Store> store, Bus& bus) {
  Inbox in(store);
  service::EndpointOptions eo;
  eo.concurrency = 2;
  eo.journal = ot::small_journal();
  eo.idle_wait = 5ms;
  eo.retry.min = 1ms;
  eo.retry.max = 5ms;
  eo.max_deliveries = 50;  // the kills must not dead-letter anything
  service::Endpoint e(bus, "ledger", eo);
  e.handle<ledger::Credit>(in.template handler<ledger::Credit>([](const ledger::Credit& c, service::Context&, auto& tx) {
    tx.exec("UPDATE account SET balance = balance + " + std::to_string(c.amount) + " WHERE id = 1");
    tx.exec("INSERT INTO applied(id) VALUES (" + std::to_string(c.id) + ")");
  }));
  e.start();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  e.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: outbox_peer writer|write-only|inbox URL BUS [N]\n");
    return 2;
  }
  // SIGTERM is waited for (inbox), never delivered to a thread: blocked before any starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  try {
    const std::string role = argv[1];
    ot::Db db(argv[2]);
    Bus bus = Bus::open(argv[3]);
    const int n = argc > 4 ? std::atoi(argv[4]) : 0;
    if (role == "writer") return writer(db, bus, n);
    if (role == "write-only") return write_only(db, bus, n);
    if (role == "inbox") return db.sqlite() ? inbox(db.sqlite(), bus) : inbox(db.postgres(), bus);
    std::fprintf(stderr, "outbox_peer: unknown role %s\n", role.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outbox_peer %s: %s\n", argv[1], e.what());
    return 1;
  }
}
