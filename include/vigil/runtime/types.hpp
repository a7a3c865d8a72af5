// The core's value types under the user-facing names of namespace vigil.
#pragma once

#include "vigil/core/backoff.hpp"
#include "vigil/core/error.hpp"
#include "vigil/core/event.hpp"
#include "vigil/core/intensity.hpp"
#include "vigil/core/machine.hpp"
#include "vigil/core/outcome.hpp"
#include "vigil/core/policy.hpp"
#include "vigil/core/random.hpp"
#include "vigil/core/time.hpp"

namespace vigil {

using core::brutal;
using core::duration;
using core::infinity;
using core::time_point;

using core::cancelled;
using core::failure;
using core::fatal;
using core::fatal_error;
using core::outcome;
using core::outcome_kind;
using core::success;

using core::auto_shutdown;
using core::backoff;
using core::intensity;
using core::jitter;
using core::min_stop_turn;
using core::on_exhausted;
using core::restart;
using core::shutdown_order;
using core::strategy;
/// Restart only the child that ended (the default).
inline constexpr strategy one_for_one = strategy::one_for_one;
/// Restart every child when one ends.
inline constexpr strategy one_for_all = strategy::one_for_all;
/// Restart the child that ended and every child started after it.
inline constexpr strategy rest_for_one = strategy::rest_for_one;

using core::errc;
using core::error;
using core::error_category;

using core::child_info;
using core::child_policy;
using core::child_state;
using core::delay_source;
using core::event;
using core::event_kind;
using core::exit_reason;
using core::failure_record;
using core::final_result;
using core::final_status;
using core::supervisor_result;
using core::task_kind;
/// True for the child states a child does not leave on its own (completed and after).
using core::is_terminal;

/// The seeded random generator behind jitter (xoshiro256**: same seed, same sequence on every
/// platform); backoff::next_delay() draws from one. Not thread-safe.
using core::random_source;

using core::describe;
using core::format;
using core::to_string;

}  // namespace vigil
