#include "exec_handler.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli_output.h"
#include "stop_signal.h"

extern char** environ;

namespace shmbus::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kTailBytes = 4096;
constexpr auto kPollSlice = std::chrono::milliseconds(100);  // how often we look at the clock and signals
constexpr auto kKillGrace = std::chrono::seconds(2);          // SIGTERM, then SIGKILL, past a timeout

[[noreturn]] void fail(const std::string& what) {
  throw Error("consume --exec: " + what + " (" + std::strerror(errno) + ")", ErrorKind::kIo);
}

// "content-type" -> "SHMBUS_HEADER_CONTENT_TYPE": upper case, anything but [A-Z0-9] as '_'.
std::string header_variable(std::string_view key) {
  std::string out = "SHMBUS_HEADER_";
  for (char c : key) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

// Our environment without SHMBUS_* (a consumer started by a consumer must not see stale ones),
// plus the delivery's: SHMBUS_QUEUE, _TOPIC, _POSITION, _SEQ, _ATTEMPT, _MESSAGE_ID,
// _TIMESTAMP_NS, and one SHMBUS_HEADER_<KEY> per header (a value with a NUL byte is left out:
// no environment can hold it). SHMBUS_BUS is kept, so CMD may use the same bus.
std::vector<std::string> environment_of(const std::string& queue, const Delivery& d) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (!v.starts_with("SHMBUS_") || v.starts_with("SHMBUS_BUS=") || v.starts_with("SHMBUS_ROOT=")) env.emplace_back(v);
  }
  const Message& m = d.message();
  env.push_back("SHMBUS_QUEUE=" + queue);
  env.push_back("SHMBUS_TOPIC=" + std::string(m.topic));
  env.push_back("SHMBUS_POSITION=" + std::to_string(m.position));
  env.push_back("SHMBUS_SEQ=" + std::to_string(m.seq));
  env.push_back("SHMBUS_ATTEMPT=" + std::to_string(d.attempt()));
  env.push_back("SHMBUS_MESSAGE_ID=" + m.message_id());
  env.push_back("SHMBUS_TIMESTAMP_NS=" + std::to_string(m.timestamp_ns));
  for (Header h : m.headers) {
    if (h.value.find('\0') == std::string_view::npos) env.push_back(header_variable(h.key) + "=" + std::string(h.value));
  }
  return env;
}

// The payload in an anonymous file, at offset 0: the child's stdin.
int payload_file(std::span<const std::byte> payload) {
  const int fd = ::memfd_create("shmbus-payload", MFD_CLOEXEC);
  if (fd < 0) fail("cannot make the payload file");
  for (size_t done = 0; done < payload.size();) {
    const ssize_t n = ::write(fd, payload.data() + done, payload.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("cannot write the payload file");
    }
    done += static_cast<size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

pid_t spawn(const std::string& command, int stdin_fd, int stderr_fd, std::vector<std::string>& env_strings) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);  // its stdout: our stderr
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    errno = err;
    fail("cannot start /bin/sh");
  }
  return pid;
}

// Reads what the child wrote to stderr (non-blocking), passes it on, keeps the tail. False at EOF.
bool drain(int fd, std::string& tail) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      static_cast<void>(::write(STDERR_FILENO, buf, static_cast<size_t>(n)));
      tail.append(buf, static_cast<size_t>(n));
      if (tail.size() > 2 * kTailBytes) tail.erase(0, tail.size() - kTailBytes);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // 0: EOF
  }
}

}  // namespace

std::string ExecOutcome::describe() const {
  if (timed_out) return "timed out (killed by signal " + std::to_string(signal) + ")";
  if (exited) return "exit status " + std::to_string(exit_code);
  return "killed by signal " + std::to_string(signal);
}

ExecOutcome run_exec(const std::string& command, const std::string& queue, const Delivery& d, const ExecLimits& limits,
                     const std::function<bool()>& extend) {
  std::vector<std::string> env = environment_of(queue, d);
  const int stdin_fd = payload_file(d.message().payload);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(stdin_fd);
    fail("cannot make a pipe");
  }
  std::cout.flush();  // what we printed comes before what the child prints
  std::fflush(stdout);
  pid_t pid = -1;
  try {
    pid = spawn(command, stdin_fd, err_pipe[1], env);
  } catch (...) {
    ::close(stdin_fd);
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    throw;
  }
  ::close(stdin_fd);
  ::close(err_pipe[1]);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  ExecOutcome out;
  const Clock::time_point started = Clock::now();
  Clock::time_point next_extend = started + limits.extend_every;
  Clock::time_point kill_at = Clock::time_point::max();  // SIGKILL from then on
  bool pipe_open = true;
  int status = 0;
  // Short leases are renewed in time: at least two looks per renewal.
  const auto slice = limits.extend_every.count() > 0
                         ? std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(limits.extend_every / 2),
                                      std::chrono::milliseconds(1), std::chrono::milliseconds(kPollSlice))
                         : std::chrono::milliseconds(kPollSlice);
  for (;;) {
    if (pipe_open) {
      pollfd p{err_pipe[0], POLLIN, 0};
      // EINTR (a stop signal) only ends the slice early.
      if (::poll(&p, 1, static_cast<int>(slice.count())) > 0) pipe_open = drain(err_pipe[0], out.stderr_tail);
    } else {
      ::usleep(static_cast<useconds_t>(std::chrono::microseconds(slice).count() / 4));
    }
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    const Clock::time_point now = Clock::now();
    if (stop_requested() && !out.stopped) {
      out.stopped = true;  // pass it on: the child decides how to end its work
      ::kill(-pid, stop_exit_code() - 128);
      kill_at = std::min(kill_at, now + limits.stop_grace);
    }
    if (limits.timeout.count() > 0 && !out.timed_out && now - started >= limits.timeout) {
      out.timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = std::min(kill_at, now + kKillGrace);
    }
    if (now >= kill_at) ::kill(-pid, SIGKILL);
    if (limits.extend_every.count() > 0 && now >= next_extend && !out.lease_lost) {
      out.lease_lost = !extend();
      next_extend = now + limits.extend_every;
    }
  }
  if (pipe_open) drain(err_pipe[0], out.stderr_tail);  // what it wrote last (its own children may hold the pipe on)
  ::close(err_pipe[0]);
  if (out.stderr_tail.size() > kTailBytes) out.stderr_tail.erase(0, out.stderr_tail.size() - kTailBytes);
  out.exited = WIFEXITED(status);
  out.exit_code = out.exited ? WEXITSTATUS(status) : -1;
  out.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return out;
}

}  // namespace shmbus::cli
