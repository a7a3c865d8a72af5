// The simulator: the core machine, virtual time and imaginary attempts.
#include "vigil/testing/simulator.hpp"

#include <memory>
#include <type_traits>
#include <variant>

namespace vigil::testing {

using namespace vigil::core;

simulator::simulator(supervisor_policy policy, std::uint64_t seed, std::string path,
                     time_point start)
    : m_(policy, std::make_shared<const std::string>(std::move(path)), seed), now_(start) {}

std::string simulator::name_of(child_id id) const {
  const auto it = names_.find(id);
  return it == names_.end() ? "?" : it->second;
}

void simulator::drain() {
  // Cooperative attempts end as soon as they are asked to stop; that ending is fed back after
  // the current batch of actions, as a real attempt's completion would be.
  for (;;) {
    while (auto a = m_.next_action()) {
      std::visit(
          [this](auto&& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, start_attempt>) {
              if (live_.contains(x.id)) ++overlapping_starts_;
              live_[x.id] = x.generation;
              beats_[x.id] = now_;
              ++starts_[name_of(x.id)];
              log_.push_back("start " + name_of(x.id) + "#" + std::to_string(x.attempt));
            } else if constexpr (std::is_same_v<T, stop_attempt>) {
              log_.push_back("stop " + name_of(x.id));
              if (!stubborn_.contains(name_of(x.id))) {
                stopping_.emplace_back(x.id, x.generation);
              } else {
                ignored_.emplace_back(x.id, x.generation);
              }
            } else if constexpr (std::is_same_v<T, abandon_attempt>) {
              auto it = live_.find(x.id);
              if (it != live_.end() && it->second == x.generation) live_.erase(it);
              log_.push_back("abandon " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, check_heartbeat>) {
              m_.on_heartbeat(x.id, x.generation, beats_[x.id], now_);
            } else if constexpr (std::is_same_v<T, publish_event>) {
              events_.push_back(x.ev);
            } else if constexpr (std::is_same_v<T, child_finished>) {
              log_.push_back("finished " + name_of(x.id) + " " +
                             std::string(to_string(x.result.status)));
            } else if constexpr (std::is_same_v<T, command_done>) {
            } else if constexpr (std::is_same_v<T, child_erased>) {
              log_.push_back("erased " + name_of(x.id));
              names_.erase(x.id);
            } else if constexpr (std::is_same_v<T, run_setup> ||
                                 std::is_same_v<T, ask_should_restart>) {
              answers_.emplace_back(x);
            } else if constexpr (std::is_same_v<T, run_shutdown_hook>) {
              log_.push_back("shutdown_hook " + name_of(x.id));
            } else if constexpr (std::is_same_v<T, supervisor_ended>) {
              result_ = x.result;
              log_.push_back("ended " + std::string(to_string(x.result.reason)));
            }
          },
          *a);
    }
    if (!answers_.empty()) {
      auto due = std::move(answers_);
      answers_.clear();
      for (auto& a : due) {
        if (const auto* setup = std::get_if<run_setup>(&a)) {
          const auto it = setup_results_.find(name_of(setup->id));
          std::optional<outcome> failed;
          if (it != setup_results_.end() && it->second) failed = failure(*it->second);
          log_.push_back("setup " + name_of(setup->id) + (failed ? " failed" : " ok"));
          m_.on_setup_done(setup->id, setup->token, std::move(failed), now_);
        } else if (const auto* ask = std::get_if<ask_should_restart>(&a)) {
          const auto it = should_restart_.find(name_of(ask->id));
          const bool yes = it == should_restart_.end() || it->second;
          log_.push_back("ask " + name_of(ask->id) + (yes ? " yes" : " no"));
          m_.on_should_restart(ask->id, ask->generation, yes, now_);
        }
      }
      continue;
    }
    if (stopping_.empty()) return;
    auto due = std::move(stopping_);
    stopping_.clear();
    for (const auto& [id, gen] : due) {
      auto it = live_.find(id);
      if (it == live_.end() || it->second != gen) continue;
      live_.erase(it);
      m_.on_exit(id, gen, cancelled("stopped"), now_);
    }
  }
}

command_result simulator::add(const std::string& name, const child_policy& policy,
                              const std::vector<std::string>& depends_on) {
  auto r = m_.add_child(name, std::make_shared<const child_policy>(policy), task_kind::coroutine,
                        now_, depends_on);
  if (r) names_[r.id] = name;
  drain();
  return r;
}

command_result simulator::name_command(command_result r, const std::string&) {
  drain();
  return r;
}

command_result simulator::stop(const std::string& n) {
  return name_command(m_.stop_child(n, 0, now_), n);
}
command_result simulator::start(const std::string& n) {
  return name_command(m_.start_child(n, 0, now_), n);
}
command_result simulator::restart(const std::string& n) {
  return name_command(m_.restart_child(n, 0, now_), n);
}
command_result simulator::remove(const std::string& n) {
  return name_command(m_.remove_child(n, 0, now_), n);
}
command_result simulator::pause(const std::string& n) {
  return name_command(m_.pause_child(n, now_), n);
}
command_result simulator::resume(const std::string& n) {
  return name_command(m_.resume_child(n, now_), n);
}

void simulator::shutdown() {
  m_.shutdown(now_);
  drain();
}

bool simulator::exit(const std::string& name, outcome o) {
  const child_id id = m_.find(name);
  const auto it = live_.find(id);
  if (id == no_child || it == live_.end()) return false;
  const std::uint64_t gen = it->second;
  live_.erase(it);
  m_.on_exit(id, gen, std::move(o), now_);
  drain();
  return true;
}

bool simulator::ready(const std::string& name) {
  const child_id id = m_.find(name);
  const auto it = live_.find(id);
  if (id == no_child || it == live_.end()) return false;
  m_.on_ready(id, it->second, now_);
  drain();
  return true;
}

bool simulator::heartbeat(const std::string& name) {
  const child_id id = m_.find(name);
  if (id == no_child || !live_.contains(id)) return false;
  beats_[id] = now_;
  return true;
}

void simulator::set_stubborn(const std::string& name, bool stubborn) {
  if (stubborn) {
    stubborn_.insert(name);
    return;
  }
  stubborn_.erase(name);
  // A stop it ignored is honoured now.
  const child_id id = m_.find(name);
  for (const auto& [iid, gen] : ignored_) {
    if (iid == id) stopping_.emplace_back(iid, gen);
  }
  std::erase_if(ignored_, [id](const auto& p) { return p.first == id; });
  drain();
}

void simulator::set_setup_result(const std::string& name, std::optional<std::string> failure) {
  setup_results_[name] = std::move(failure);
}

void simulator::set_should_restart(const std::string& name, bool answer) {
  should_restart_[name] = answer;
}

void simulator::advance(duration d) {
  const time_point target = now_ + d;
  drain();
  for (;;) {
    const auto dl = m_.next_deadline();
    if (!dl || *dl > target) break;
    now_ = std::max(now_, *dl);
    m_.on_deadline(now_);
    drain();
  }
  now_ = target;
}

void simulator::run_until_idle(duration limit) {
  const time_point end = now_ + limit;
  drain();
  for (;;) {
    const auto dl = m_.next_deadline();
    if (!dl || *dl > end) return;
    now_ = std::max(now_, *dl);
    m_.on_deadline(now_);
    drain();
  }
}

std::set<std::string> simulator::live() const {
  std::set<std::string> out;
  for (const auto& [id, gen] : live_) out.insert(name_of(id));
  return out;
}

bool simulator::is_live(const std::string& name) const {
  const child_id id = m_.find(name);
  return id != no_child && live_.contains(id);
}

std::uint32_t simulator::starts(const std::string& name) const {
  const auto it = starts_.find(name);
  return it == starts_.end() ? 0 : it->second;
}

child_info simulator::info(const std::string& name) const {
  return m_.info(m_.find(name), now_);
}

std::vector<std::string> simulator::children() const {
  std::vector<std::string> out;
  for (const child_id id : m_.children()) out.push_back(name_of(id));
  return out;
}

std::size_t simulator::count(event_kind k, const std::string& name) const {
  std::size_t n = 0;
  for (const auto& e : events_) {
    if (e.kind != k) continue;
    if (!name.empty()) {
      const std::string_view p = e.path();
      if (p.size() < name.size() + 1 || p.substr(p.size() - name.size()) != name ||
          p[p.size() - name.size() - 1] != '/') {
        continue;
      }
    }
    ++n;
  }
  return n;
}

}  // namespace vigil::testing
