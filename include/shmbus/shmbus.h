// The whole public API.
#pragma once

#include "shmbus/bus.h"
#include "shmbus/bus_options.h"
#include "shmbus/error.h"
#include "shmbus/header_filter.h"
#include "shmbus/headers.h"
#include "shmbus/journal.h"
#include "shmbus/message.h"
#include "shmbus/pattern.h"
#include "shmbus/publisher.h"
#include "shmbus/queue.h"
#include "shmbus/queue_stats_fields.h"
#include "shmbus/subscription.h"
#include "shmbus/topic.h"
#include "shmbus/topic_stats_fields.h"
