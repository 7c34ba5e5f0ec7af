// The inbox: the consumer side of exactly-once effects over at-least-once delivery. A handler
// wrapped by an Inbox runs in a database transaction that also inserts (endpoint, message-id)
// into shmbus_inbox; the two commit together. A message whose id is there already (a
// redelivery after a crash, a replayed dead letter, a journal replay, a duplicate from the
// bridge or from an outbox relay's resend) is acknowledged without calling the handler.
//   auto db = outbox::SqliteStore::open("inventory.db");
//   outbox::Inbox inbox(db);
//   endpoint.handle<ReserveStock>(inbox.handler<ReserveStock>(
//       [&](const ReserveStock& c, svc::Context& ctx, outbox::SqliteTransaction& tx) {
//         tx.exec("UPDATE stock SET reserved = reserved + ...");
//         outbox.publish(tx, StockReserved{...}, ctx);   // what it sends: through the outbox
//       }));
// Send what the handler sends through an Outbox on the same transaction, not through ctx:
// Context's messages go out after the handler returned, so a crash between the commit and
// them would lose them (the redelivery is skipped). The handler throwing rolls everything back
// and fails the attempt as usual (retries, dead letter).
// Thread-safety: the wrapped handlers may run on any number of endpoint threads at once (each
// takes a connection of its own from the inbox's pool).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "shmbus/kill_point.h"
#include "shmbus/outbox/storage.h"
#include "shmbus/service/context.h"
#include "shmbus/service/message_type.h"

namespace shmbus::outbox {

struct InboxOptions {
  // How long a processed message's id is kept (see docs/outbox.md, "Retention"): longer than
  // the longest way a duplicate can come, i.e. the queue's retries (max_deliveries x the
  // longest backoff + the lease), a dead letter replayed by hand, a journal replayed from an
  // old position, the bridge's resends. A duplicate older than this is processed again.
  std::chrono::milliseconds keep{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds cleanup_every{std::chrono::minutes(1)};  // on a handler thread, after a commit
};

struct InboxStats {
  uint64_t processed = 0;  // handler ran and committed
  uint64_t skipped = 0;    // duplicates acknowledged without the handler
  uint64_t failed = 0;     // handler (or the database) threw: rolled back
  uint64_t removed = 0;    // old marks deleted
};

// Store: SqliteStore or PostgresStore (or any store whose connect() gives connections whose
// begin() gives a Transaction with commit()).
template <class Store>
class Inbox {
 public:
  using Connection = decltype(std::declval<Store&>().connect());
  using Tx = decltype(std::declval<Connection&>().begin());

  explicit Inbox(std::shared_ptr<Store> store, InboxOptions options = {})
      : state_(std::make_shared<State>(std::move(store), options)) {}

  // Wraps handler(const T&, Context&, Tx&) for Endpoint::handle<T>. The wrapper may outlive
  // this Inbox (it shares its pool and counters).
  template <service::ServiceMessage T, class F>
  auto handler(F f) const {
    return [state = state_, f = std::move(f)](const T& message, service::Context& ctx) mutable {
      state->run(ctx, [&](Tx& tx) { f(message, ctx, tx); });
    };
  }

  InboxStats stats() const noexcept {
    std::lock_guard<std::mutex> guard(state_->mu);
    return state_->stats;
  }

 private:
  struct State {
    State(std::shared_ptr<Store> s, InboxOptions o)
        : store(std::move(s)), options(o), next_cleanup(std::chrono::steady_clock::now() + o.cleanup_every) {}

    template <class Body>
    void run(service::Context& ctx, Body&& body) {
      const std::string& id = ctx.envelope().message_id;
      if (id.empty()) {
        throw std::invalid_argument("inbox: the message has no message-id header, so a duplicate of it could not be "
                                    "told apart; send it with an envelope (Client, Context, Outbox)");
      }
      Connection conn = take();
      try {
        Tx tx = conn.begin();
        if (!tx.mark_processed(ctx.endpoint(), id)) {
          tx.rollback();
          count(&InboxStats::skipped, 1);
        } else {
          body(tx);
          tx.commit();
          // The crash window "effects committed, message not acknowledged": it is redelivered
          // and skipped.
          kill_point("inbox.after_commit");
          count(&InboxStats::processed, 1);
        }
      } catch (...) {
        count(&InboxStats::failed, 1);
        throw;  // the connection is dropped: it may be broken
      }
      give_back(std::move(conn));
      cleanup_if_due();
    }

    Connection take() {
      {
        std::lock_guard<std::mutex> guard(mu);
        if (!pool.empty()) {
          Connection c = std::move(pool.back());
          pool.pop_back();
          return c;
        }
      }
      return store->connect();
    }
    void give_back(Connection c) {
      std::lock_guard<std::mutex> guard(mu);
      pool.push_back(std::move(c));
    }
    void count(uint64_t InboxStats::*field, uint64_t n) {
      std::lock_guard<std::mutex> guard(mu);
      stats.*field += n;
    }
    void cleanup_if_due() {
      const auto now = std::chrono::steady_clock::now();
      {
        std::lock_guard<std::mutex> guard(mu);
        if (now < next_cleanup) return;
        next_cleanup = now + options.cleanup_every;
      }
      try {
        count(&InboxStats::removed,
              store->relay_connection()->remove_processed(std::chrono::system_clock::now() - options.keep));
      } catch (const std::exception&) {
        // The next one tries again; the handled message is committed and fine.
      }
    }

    std::shared_ptr<Store> store;
    InboxOptions options;
    std::mutex mu;  // guards pool, next_cleanup and stats
    std::vector<Connection> pool;
    std::chrono::steady_clock::time_point next_cleanup;
    InboxStats stats;
  };

  std::shared_ptr<State> state_;
};

}  // namespace shmbus::outbox
