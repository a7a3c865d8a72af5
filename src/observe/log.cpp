// The log-line subscriber.
#include "vigil/observe/log.hpp"

#include <ctime>
#include <mutex>

namespace vigil::observe {

namespace {
std::mutex& stream_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

event_handler log_to(std::ostream& out) {
  return [&out](const event& e) {
    const auto t = std::chrono::system_clock::to_time_t(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(e.wall));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(e.wall.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    localtime_r(&t, &tm);
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    const std::string line = std::string(stamp) + "  " + format(e) + "\n";
    std::lock_guard lock(stream_mutex());
    out << line << std::flush;
  };
}

}  // namespace vigil::observe
