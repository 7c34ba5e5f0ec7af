#include "stop_signal.h"

#include <atomic>
#include <csignal>

namespace shmbus::cli {
namespace {

// Set and read on the main thread and in its signal handler only: relaxed is enough, the
// handler interrupts the thread it runs on. Lock-free, so they may be touched in a handler.
std::atomic<int> g_signal{0};
std::atomic<bool> g_exit_at_once{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

void die_by(int signal) {
  // Async-signal-safe: sigaction and raise. The default action ends the process, so its parent
  // sees it ended by the signal.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(signal, &dfl, nullptr);
  std::raise(signal);
}

void on_stop_signal(int signal) {
  g_signal.store(signal, std::memory_order_relaxed);
  if (g_exit_at_once.load(std::memory_order_relaxed)) die_by(signal);
}

}  // namespace

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking reads and writes return EINTR
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() noexcept { return g_signal.load(std::memory_order_relaxed) != 0; }

int stop_exit_code() noexcept {
  const int signal = g_signal.load(std::memory_order_relaxed);
  return signal == 0 ? 0 : 128 + signal;
}

ExitOnStopSignal::ExitOnStopSignal() noexcept {
  g_exit_at_once.store(true, std::memory_order_relaxed);
  const int signal = g_signal.load(std::memory_order_relaxed);
  if (signal != 0) die_by(signal);  // it came just before: do not start a wait it cannot end
}

ExitOnStopSignal::~ExitOnStopSignal() { g_exit_at_once.store(false, std::memory_order_relaxed); }

}  // namespace shmbus::cli
