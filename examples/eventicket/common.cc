#include <signal.h>

#include <cstdio>

#include "roles.h"

namespace eventicket {

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void wait_for_stop() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
}

shmbus::TopicConfig journal_config() {
  shmbus::TopicConfig c;
  c.kind = shmbus::TopicKind::kJournal;
  // A process maps a journal's segment when it first publishes or reads there; 64 MiB ones
  // (the default) cost each service a visible pause per topic on its first message.
  c.segment_bytes = 4ull << 20;
  return c;
}

shmbus::service::EndpointOptions endpoint_options() {
  shmbus::service::EndpointOptions o;
  o.concurrency = 2;
  o.max_deliveries = 5;
  // Seconds-long backoffs would make a 200-order run wait on its retries: 20 ms, then doubling.
  o.retry.min = std::chrono::milliseconds(20);
  o.retry.max = std::chrono::milliseconds(500);
  o.journal = journal_config();
  return o;
}

}  // namespace eventicket
