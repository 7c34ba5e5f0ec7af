// eventicket: the processes of the EvenTicket example (examples/eventicket/run.sh runs them).
//   eventicket ordering  --bus B --data D --port P   HTTP API, orders + outbox, the read model
//   eventicket inventory --bus B --data D            stock reserved / released once (inbox)
//   eventicket payments  --bus B --data D [--fault 0.2]   captures, with injected failures
//   eventicket shipping  --bus B --data D            shipments
//   eventicket saga      --bus B --data D            the order saga (orchestration)
//   eventicket drive     --port P --orders N         places orders over HTTP, waits for outcomes
//   eventicket report    --bus B... --data D...      the summary and the consistency check
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "roles.h"

int main(int argc, char** argv) {
  using namespace eventicket;
  CLI::App app{"EvenTicket: an order system on the shmbus service bus, outbox, inbox and saga"};
  app.require_subcommand(1);

  ServiceOptions service;
  long long timeout_ms = service.payment_timeout.count();
  auto add_service = [&](const char* name, const char* what) {
    CLI::App* sub = app.add_subcommand(name, what);
    sub->add_option("--bus", service.bus, "bus directory")->required();
    sub->add_option("--data", service.data, "directory of the service's SQLite database")->required();
    return sub;
  };
  CLI::App* ordering = add_service("ordering", "the Ordering service: HTTP on 127.0.0.1:PORT");
  ordering->add_option("--port", service.port, "HTTP port")->required();
  add_service("inventory", "the Inventory service");
  CLI::App* payments = add_service("payments", "the Payments service");
  payments->add_option("--fault", service.fault, "chance that a capture attempt fails (injected)");
  add_service("shipping", "the Shipping service");
  CLI::App* saga = add_service("saga", "the order saga");
  saga->add_option("--payment-timeout-ms", timeout_ms, "how long the saga waits for a payment");

  DriveOptions drive;
  long long drive_timeout = drive.timeout.count();
  CLI::App* driver = app.add_subcommand("drive", "place orders over HTTP and wait for their outcome");
  driver->add_option("--host", drive.host);
  driver->add_option("--port", drive.port, "Ordering's HTTP port")->required();
  driver->add_option("--orders", drive.orders, "how many orders");
  driver->add_option("--rate", drive.rate, "orders per second");
  driver->add_option("--seed", drive.seed);
  driver->add_option("--timeout", drive_timeout, "seconds to wait for every order to finish");

  ReportOptions report;
  long long settle = report.settle.count();
  CLI::App* reporter = app.add_subcommand("report", "the summary and the consistency check (exit 0 if it holds)");
  reporter->add_option("--bus", report.buses, "bus directories (for the queues' counters)")->required();
  reporter->add_option("--data", report.data, "the services' data directories")->required();
  reporter->add_option("--settle", settle, "seconds to wait for the last events to be handled");

  CLI11_PARSE(app, argc, argv);
  service.payment_timeout = std::chrono::milliseconds(timeout_ms);
  drive.timeout = std::chrono::seconds(drive_timeout);
  report.settle = std::chrono::seconds(settle);
  try {
    // The services stop on SIGTERM / SIGINT through sigwait: blocked before any thread starts.
    // The driver and the report keep the default handling (Ctrl-C ends them).
    if (!app.got_subcommand("drive") && !app.got_subcommand("report")) block_stop_signals();
    if (app.got_subcommand("ordering")) return run_ordering(service);
    if (app.got_subcommand("inventory")) return run_inventory(service);
    if (app.got_subcommand("payments")) return run_payments(service);
    if (app.got_subcommand("shipping")) return run_shipping(service);
    if (app.got_subcommand("saga")) return run_order_saga(service);
    if (app.got_subcommand("drive")) return run_drive(drive);
    if (app.got_subcommand("report")) return run_report(report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eventicket: %s\n", e.what());
    return 1;
  }
  return 2;
}
