// One handler thread of an endpoint: takes deliveries from its own Consumer and runs each
// through the pipeline (find the handler by type, decode, call with immediate retries, send
// what it sent, settle; on the last failure dead-letter and publish Fault<T>).
#pragma once

#include "endpoint_impl.h"

namespace shmbus::service::detail {

// Runs until e.stopping; never throws (a failure outside any handler is printed and the
// delivery given back).
void run_handler_thread(EndpointImpl& e, Consumer consumer) noexcept;

}  // namespace shmbus::service::detail
