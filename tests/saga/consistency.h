// The end-state check of the order flow: every saga finished (completed or cancelled), and
// what the participants committed agrees with it and with the stock.
#pragma once

#include <string>

#include "participants.h"
#include "shmbus/saga/sqlite_store.h"

namespace orders {

struct Outcome {
  int completed = 0;
  int cancelled = 0;
  int unfinished = 0;
  std::string problems;  // "" when consistent
};

inline Outcome check_orders(shmbus::saga::Store& sagas, ParticipantDb& db, int first, int count, int initial_stock) {
  Outcome out;
  const auto problem = [&](const std::string& p) {
    if (out.problems.size() < 2000) out.problems += p + "\n";
  };
  for (int order = first; order < first + count; ++order) {
    const std::string o = std::to_string(order);
    const auto saga = sagas.find("order-saga", o);
    const std::string reservation = db.text("SELECT status FROM reservations WHERE order_id = " + o);
    const std::string payment = db.text("SELECT status FROM payments WHERE order_id = " + o);
    const bool shipped = db.integer("SELECT count(*) FROM shipments WHERE order_id = " + o) == 1;
    if (!saga || !saga->finished) {
      ++out.unfinished;
      problem("order " + o + ": saga " + (saga ? "in state " + saga->state : std::string("missing")));
      continue;
    }
    if (!saga->timeouts.empty()) problem("order " + o + ": finished with a pending timeout");
    if (saga->state == "completed") {
      ++out.completed;
      if (reservation != "shipped" || payment != "captured" || !shipped) {
        problem("order " + o + ": completed, but reservation " + reservation + ", payment " + payment);
      }
    } else if (saga->state == "cancelled") {
      ++out.cancelled;
      if ((reservation != "rejected" && reservation != "released") || payment == "captured" || shipped) {
        problem("order " + o + ": cancelled, but reservation " + reservation + ", payment " + payment);
      }
    } else {
      problem("order " + o + ": finished in state " + saga->state);
    }
  }
  const long available = db.integer("SELECT available FROM stock");
  const long reserved = db.integer("SELECT reserved FROM stock");
  const long shipped = db.integer("SELECT shipped FROM stock");
  if (available + reserved + shipped != initial_stock || reserved != 0) {
    problem("stock: available " + std::to_string(available) + " + reserved " + std::to_string(reserved) +
            " + shipped " + std::to_string(shipped) + " != " + std::to_string(initial_stock) + " (or reserved != 0)");
  }
  return out;
}

}  // namespace orders
