// The whole service-bus API (docs/service.md): typed events, commands and replies; endpoints;
// the envelope; request/response; the TestBus harness.
#pragma once

#include "shmbus/service/client.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/context.h"
#include "shmbus/service/endpoint.h"
#include "shmbus/service/endpoint_lookup.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/fault.h"
#include "shmbus/service/json_fields.h"
#include "shmbus/service/message_id.h"
#include "shmbus/service/message_type.h"
#include "shmbus/service/test_bus.h"
#include "shmbus/service/topology.h"
#include "shmbus/service/trace_context.h"
