// The processes of EvenTicket, one function each (main.cc picks one by its first argument).
// Each service runs until SIGTERM or SIGINT, then stops gracefully (its handlers finish and
// settle what they hold, its outbox relay sends what is committed).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "shmbus/service/endpoint.h"
#include "shmbus/topic.h"

namespace eventicket {

struct ServiceOptions {
  std::string bus;      // the bus directory (or name)
  std::string data;     // the directory of the service's SQLite file
  int port = 0;         // Ordering: the HTTP port on 127.0.0.1
  double fault = 0.2;   // Payments: the chance that one capture attempt fails (injected)
  std::chrono::milliseconds payment_timeout{10000};  // the saga's wait for a payment
};

int run_ordering(const ServiceOptions& options);
int run_inventory(const ServiceOptions& options);
int run_payments(const ServiceOptions& options);
int run_shipping(const ServiceOptions& options);
int run_order_saga(const ServiceOptions& options);

struct DriveOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int orders = 200;
  double rate = 100;    // orders placed per second
  uint64_t seed = 1;
  std::chrono::seconds timeout{120};  // for every order to be completed or cancelled
};
// Places orders over HTTP, then waits until each is completed or cancelled; prints progress
// lines ("progress placed=N finished=K") and each outcome. 0 if all finished in time.
int run_drive(const DriveOptions& options);

struct ReportOptions {
  std::vector<std::string> buses;  // the bus (two with --two-hosts), for the queues' counters
  std::vector<std::string> data;   // where the services' SQLite files are
  std::chrono::seconds settle{20};  // how long to wait for the last events to be handled
};
// The summary and the consistency check; 0 only if the check holds.
int run_report(const ReportOptions& options);

// Blocks SIGTERM and SIGINT in this thread (call first in main: threads started later inherit
// it), so that wait_for_stop() can take them with sigwait.
void block_stop_signals();
void wait_for_stop();

// Options shared by the services' endpoints: two handler threads, quick durable retries (the
// example runs in seconds), and journals with small segments.
shmbus::service::EndpointOptions endpoint_options();
// The topics the services create (events, commands): journals of 4 MiB segments.
shmbus::TopicConfig journal_config();

}  // namespace eventicket
