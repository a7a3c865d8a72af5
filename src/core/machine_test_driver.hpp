// Test helper of the core's unit tests: a deterministic child policy and a driver that runs one
// supervisor_machine in virtual time and records every action it emits.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "vigil/core/machine.hpp"

namespace machine_test {

using namespace std::chrono_literals;
using namespace vigil::core;

/// A deterministic child policy: exponential 100 ms × 2 up to 30 s, no jitter.
inline child_policy plain(restart r = restart::on_failure) {
  child_policy p;
  p.restart_policy = r;
  p.backoff = backoff::exponential(100ms, 30s, 2.0).with_jitter(jitter::none);
  return p;
}

/// Drives one supervisor_machine in virtual time and records every action it emits.
struct driver {
  supervisor_machine m;
  time_point now = time_point{} + 1000s;

  std::vector<start_attempt> starts;
  std::vector<stop_attempt> stops;
  std::vector<abandon_attempt> abandons;
  std::vector<check_heartbeat> checks;
  std::vector<event> events;
  std::vector<child_finished> finished;
  std::vector<command_done> done;
  std::vector<child_erased> erased;
  std::vector<supervisor_result> ended;
  std::vector<run_shutdown_hook> hooks;
  std::vector<std::string> log;               // every action in order, e.g. "start a#2", "stop b"
  std::map<child_id, start_attempt> current;  // the last start of each child
  std::map<child_id, std::string> names;
  struct life_event {
    bool start;  // start_attempt, else abandon_attempt
    child_id id;
    std::uint64_t generation;
  };
  std::vector<life_event> lifecycle;  // starts and abandons in emission order

  explicit driver(supervisor_policy p = {}, std::uint64_t seed = 42)
      : m(p, std::make_shared<const std::string>("root"), seed) {}

  std::string name_of(child_id id) const {
    const auto it = names.find(id);
    return it == names.end() ? "?" : it->second;
  }

  /// Pulls every pending action into the vectors above.
  void drain() {
    while (auto a = m.next_action()) {
      std::visit(
          [this](auto&& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, start_attempt>) {
              starts.push_back(x);
              lifecycle.push_back({true, x.id, x.generation});
              current[x.id] = x;
              log.push_back("start " + name_of(x.id) + "#" + std::to_string(x.attempt));
            } else if constexpr (std::is_same_v<T, stop_attempt>) {
              stops.push_back(x);
              log.push_back("stop " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, abandon_attempt>) {
              abandons.push_back(x);
              lifecycle.push_back({false, x.id, x.generation});
              log.push_back("abandon " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, check_heartbeat>) {
              checks.push_back(x);
              log.push_back("check " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, publish_event>) {
              events.push_back(x.ev);
              log.push_back(std::string(to_string(x.ev.kind)) + " " + std::string(x.ev.path()));
            } else if constexpr (std::is_same_v<T, child_finished>) {
              finished.push_back(x);
              log.push_back("finished " + name_of(x.id) + " " +
                            std::string(to_string(x.result.status)));
            } else if constexpr (std::is_same_v<T, command_done>) {
              done.push_back(x);
              log.push_back("done " + std::to_string(x.token));
            } else if constexpr (std::is_same_v<T, child_erased>) {
              erased.push_back(x);
              log.push_back("erased " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, run_shutdown_hook>) {
              hooks.push_back(x);
              log.push_back("shutdown_hook " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, supervisor_ended>) {
              ended.push_back(x.result);
              log.push_back("ended");
            }
          },
          *a);
    }
  }

  /// Moves time forward by `d`, firing every deadline due on the way, in order.
  void advance(duration d) {
    const time_point target = now + d;
    drain();
    for (int guard = 0; guard < 1'000'000; ++guard) {
      const auto dl = m.next_deadline();
      if (!dl || *dl > target) {
        now = target;
        return;
      }
      now = std::max(now, *dl);
      m.on_deadline(now);
      drain();
    }
    FAIL() << "advance() did not settle";
  }

  command_result add(const std::string& name, const child_policy& p = plain()) {
    auto r = m.add_child(name, std::make_shared<const child_policy>(p), task_kind::coroutine, now);
    if (r) names[r.id] = name;
    drain();
    return r;
  }

  child_id id(const std::string& name) const { return m.find(name); }

  /// Reports the end of the child's current attempt (the generation of its last start).
  void exit(const std::string& name, outcome o) {
    const child_id i = id(name);
    ASSERT_NE(i, no_child) << name;
    ASSERT_TRUE(current.contains(i)) << name << " never started";
    m.on_exit(i, current[i].generation, std::move(o), now);
    drain();
  }
  void fail(const std::string& name, std::string reason = "boom") {
    exit(name, failure(std::move(reason)));
  }
  void succeed(const std::string& name) { exit(name, success()); }

  command_result stop(const std::string& name, std::uint64_t token = 0) {
    auto r = m.stop_child(name, token, now);
    drain();
    return r;
  }
  command_result remove(const std::string& name, std::uint64_t token = 0) {
    auto r = m.remove_child(name, token, now);
    drain();
    return r;
  }
  command_result restart(const std::string& name, std::uint64_t token = 0) {
    auto r = m.restart_child(name, token, now);
    drain();
    return r;
  }
  command_result start(const std::string& name, std::uint64_t token = 0) {
    auto r = m.start_child(name, token, now);
    drain();
    return r;
  }
  void shutdown(exit_reason why = exit_reason::shutdown_requested) {
    m.shutdown(now, why);
    drain();
  }

  child_info info(const std::string& name) const { return m.info(id(name), now); }
  child_state state(const std::string& name) const { return info(name).state; }

  std::vector<event> of(event_kind k) const {
    std::vector<event> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  std::size_t count(event_kind k) const { return of(k).size(); }
  std::vector<event_kind> kinds() const {
    std::vector<event_kind> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
  }
  std::vector<std::string> started_names() const {
    std::vector<std::string> out;
    for (const auto& s : starts) out.push_back(name_of(s.id));
    return out;
  }
  std::vector<std::string> stopped_names() const {
    std::vector<std::string> out;
    for (const auto& s : stops) out.push_back(name_of(s.id));
    return out;
  }
  std::optional<final_result> final(const std::string& name) const {
    for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
      if (name_of(it->id) == name) return it->result;
    }
    return std::nullopt;
  }
  void clear() {
    starts.clear();
    stops.clear();
    abandons.clear();
    checks.clear();
    events.clear();
    finished.clear();
    done.clear();
    erased.clear();
    ended.clear();
    hooks.clear();
    log.clear();
  }
};

}  // namespace machine_test
