// `shmbus consume --exec CMD`: runs CMD (via /bin/sh -c) for one delivery and says how it ended.
//
// The child gets the payload on stdin (a memfd: no pipe to deadlock on, whatever its size), the
// delivery in SHMBUS_* variables (exec_handler.cc: environment_of), its stdout and stderr sent to
// our stderr (our stdout carries only the report lines, so --json stays parseable), the last
// 4 KiB of its stderr kept as the error text. It starts with default signal actions and an
// empty signal mask (our handlers and mask are not its business), in a process group of its own
// so that a timeout or a stop reaches its children too.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "shmbus/queue.h"

namespace shmbus::cli {

struct ExecLimits {
  std::chrono::nanoseconds timeout{0};        // 0: none; past it the child is killed
  std::chrono::nanoseconds extend_every{0};   // how often `extend` renews the lease while it runs
  std::chrono::nanoseconds stop_grace{std::chrono::seconds(10)};  // after a stop signal, then SIGKILL
};

struct ExecOutcome {
  bool exited = false;        // exit_code is valid; else it died by `signal`
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;     // killed past ExecLimits::timeout
  bool stopped = false;       // a stop signal came while it ran (it was passed on to the child)
  bool lease_lost = false;    // an extend failed: another consumer may hold the record now
  std::string stderr_tail;    // the last 4 KiB of what it wrote to stderr
  std::string describe() const;  // "exit status 3", "killed by signal 9", "timed out after 2s"
};

// Runs `command` for `d`. `extend` renews the lease (returns false once it is lost). Throws
// Error if the child cannot be started at all (no /bin/sh, no memory, no file descriptors).
ExecOutcome run_exec(const std::string& command, const std::string& queue, const Delivery& d, const ExecLimits& limits,
                     const std::function<bool()>& extend);

}  // namespace shmbus::cli
