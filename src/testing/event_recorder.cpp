// The event recorder.
#include "vigil/testing/event_recorder.hpp"

namespace vigil::testing {

event_recorder::event_recorder(const handle& sup)
    : sub_(sup.subscribe(
          [this](const event& e) {
            std::lock_guard lock(m_);
            events_.push_back(e);
          },
          {.queue = 1'000'000})) {}

std::vector<event> event_recorder::events() const {
  std::lock_guard lock(m_);
  return events_;
}

std::vector<event> event_recorder::of(event_kind k, std::string_view path) const {
  std::lock_guard lock(m_);
  std::vector<event> out;
  for (const auto& e : events_) {
    if (e.kind == k && (path.empty() || e.path() == path)) out.push_back(e);
  }
  return out;
}

std::size_t event_recorder::count(event_kind k, std::string_view path) const {
  return of(k, path).size();
}

std::vector<std::string> event_recorder::kinds(std::string_view path) const {
  std::lock_guard lock(m_);
  std::vector<std::string> out;
  for (const auto& e : events_) {
    if (e.path() == path) out.emplace_back(to_string(e.kind));
  }
  return out;
}

}  // namespace vigil::testing
