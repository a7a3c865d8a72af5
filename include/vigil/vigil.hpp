// vigil: supervision trees for C++20. The umbrella header for users; never included inside
// the library itself.
#pragma once

#include "vigil/core/backoff.hpp"
#include "vigil/core/event.hpp"
#include "vigil/core/outcome.hpp"
#include "vigil/core/policy.hpp"
#include "vigil/observe/log.hpp"
#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/clock.hpp"
#include "vigil/runtime/context.hpp"
#include "vigil/runtime/controller.hpp"
#include "vigil/runtime/handle.hpp"
#include "vigil/runtime/hooks.hpp"
#include "vigil/runtime/runtime.hpp"
#include "vigil/runtime/subscription.hpp"
#include "vigil/runtime/supervisor.hpp"
#include "vigil/runtime/task.hpp"
#include "vigil/runtime/task_object.hpp"
#include "vigil/runtime/types.hpp"
