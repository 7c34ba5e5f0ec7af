// SIGINT and SIGTERM in the commands that wait (sub, pub reading stdin, journal dump).
//
// The handlers only record the signal; each loop checks stop_requested() at least every 100 ms
// and returns stop_exit_code(): 130 after SIGINT, 143 after SIGTERM (128 + the signal, as a shell
// reports a process the signal ended). They are installed without SA_RESTART, so a read of
// stdin or a write to a full stdout pipe returns EINTR instead of waiting on. A wait inside the
// library that checks no flag (publish() into a full `block` topic) runs under an
// ExitOnStopSignal: there the signal ends the process at once, the way it would without handlers.
// Commands that do not wait keep the default action: the signal ends them at once.
#pragma once

namespace shmbus::cli {

void catch_stop_signals();
bool stop_requested() noexcept;
int stop_exit_code() noexcept;  // 0 if no stop signal came

// While one lives, a stop signal (or one that came before it) ends the process at once.
class ExitOnStopSignal {
 public:
  ExitOnStopSignal() noexcept;
  ~ExitOnStopSignal();
  ExitOnStopSignal(const ExitOnStopSignal&) = delete;
  ExitOnStopSignal& operator=(const ExitOnStopSignal&) = delete;
};

}  // namespace shmbus::cli
