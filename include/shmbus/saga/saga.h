// Sagas (docs/sagas.md): everything of the layer in one include.
#pragma once

#include "shmbus/saga/errors.h"
#include "shmbus/saga/machine.h"
#include "shmbus/saga/saga_endpoint.h"
#include "shmbus/saga/sqlite_store.h"
#include "shmbus/saga/step.h"
#include "shmbus/saga/store.h"
