// A subscriber that writes one readable, timestamped line per event.
#pragma once

#include <ostream>

#include "vigil/runtime/subscription.hpp"

namespace vigil::observe {

/// An event handler writing "HH:MM:SS.mmm kind path attempt=… reason=…" lines to `out`.
/// `out` must outlive the subscription; lines are written whole even from several subscribers.
event_handler log_to(std::ostream& out);

}  // namespace vigil::observe
