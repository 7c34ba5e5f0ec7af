// A forked process of the benchmark, optionally pinned to one CPU, that dies with its parent
// (PR_SET_PDEATHSIG): a benchmark killed by a signal leaves no spinning consumer behind.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <thread>

#include "shmbus/error.h"

namespace shmbus::bench {

class Child {
 public:
  // cpu < 0: not pinned (the parent's affinity). The body's return value is the exit code; an
  // exception is printed and becomes 98.
  Child(std::string name, int cpu, const std::function<int()>& body) : name_(std::move(name)) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw Error("benchmark: fork failed: " + std::string(std::strerror(errno)));
    if (pid_ != 0) return;
    int code = 98;
    try {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(97);  // the parent died before the prctl
      if (cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        ::sched_setaffinity(0, sizeof one, &one);  // best effort, as Pinned
      }
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", name_.c_str(), e.what());
    } catch (...) {
    }
    ::_exit(code);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // True while it runs; once it has ended, its status is kept for join().
  bool running() {
    if (pid_ <= 0) return false;
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      ended_ = true;
      return false;
    }
    return true;
  }

  // Waits at most `timeout_s`, then kills it; throws unless it exited with 0.
  void join(double timeout_s = 10.0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        throw Error("benchmark: " + name_ + " did not finish within " + std::to_string(timeout_s) + " s (killed)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!ended_) return;
    if (!WIFEXITED(status_) || WEXITSTATUS(status_) != 0) {
      throw Error("benchmark: " + name_ + " failed (" +
                  (WIFEXITED(status_) ? "exit " + std::to_string(WEXITSTATUS(status_))
                                      : "signal " + std::to_string(WTERMSIG(status_))) +
                  ")");
    }
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool ended_ = false;
};

}  // namespace shmbus::bench
