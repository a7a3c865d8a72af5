// The supervisor state machine: every decision of SEMANTICS §2–§4 and §8, without I/O.
#include "vigil/core/machine.hpp"

#include <memory>

#include <algorithm>
#include <cassert>
#include <functional>

#include "vigil/core/error.hpp"

namespace vigil::core {

namespace {
using namespace std::chrono_literals;
constexpr std::size_t max_recent_failures = 16;
constexpr duration min_restart_spacing = 1ms;  // an instantly succeeding `always` task

// "250ms", "2s", "1500us": the shortest exact unit.
std::string describe_duration(duration d) {
  using namespace std::chrono;
  const auto n = d.count();
  if (n % 1'000'000'000 == 0) return std::to_string(n / 1'000'000'000) + "s";
  if (n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "ms";
  if (n % 1'000 == 0) return std::to_string(n / 1'000) + "us";
  return std::to_string(n) + "ns";
}

// §13.14: an attempt's ending event carries its outcome's kind, reason, exit code and signal.
void describe_ending(event& e, const outcome& o) {
  e.outcome = o.kind;
  e.reason = o.reason;
  if (o.kind == outcome_kind::signalled) {
    e.signal = o.code;
  } else {
    e.exit_code = o.code;
  }
}
}  // namespace

struct supervisor_machine::child {
  std::string name;
  std::shared_ptr<const std::string> path;
  std::shared_ptr<const child_policy> policy;
  task_kind kind = task_kind::coroutine;
  child_state state = child_state::pending;
  stop_cause stopping = stop_cause::none;
  bool paused = false;
  bool ready = false;
  bool live = false;
  bool queued = false;       // waiting in permit_queue_
  bool forced_last = false;  // the last attempt's stop had to be forced
  std::uint64_t generation = 0;
  std::uint32_t attempts = 0;
  std::uint32_t streak = 0;
  std::uint32_t restarts_auto = 0;
  std::uint32_t restarts_manual = 0;
  time_point attempt_started{};
  time_point last_outcome_at{};
  time_point next_start{};
  time_point timeout_at{};
  time_point heartbeat_at{};
  time_point stop_deadline{};
  duration prev_delay{};
  std::unique_ptr<outcome> last;        // the last outcome; made at the first exit, then reused
  std::unique_ptr<final_result> final;  // set once terminal (out of line: most children never are)
  std::vector<std::uint64_t> waiters;
  // The last failures, oldest first, as a ring; empty (no allocation) until the first one.
  std::vector<failure_record> failures;
  std::uint8_t failures_head = 0;  // index of the oldest once the ring is full
  child_id id = no_child;
  child_id prev = no_child;
  child_id next = no_child;
  std::uint64_t order = 0;           // insertion sequence (start order)
  std::vector<child_id> deps;        // depends_on, resolved
  std::vector<child_id> dependents;  // children that depend on this one
  bool dep_wait = false;             // pending until its dependencies are satisfied
  bool startup_wait = false;         // pending behind a child that is not ready yet
  bool in_group = false;             // part of the pending group restart
  bool counted_starting = false;     // started, waiting for ready() (wait_ready)
  bool setup_done = false;           // setup ran successfully
  std::uint64_t setup_token = 0;     // the setup run in flight, or 0
  bool asking = false;               // waiting for should_restart's answer
  bool had_turn = false;             // its turn in the shutdown sequence has come
  bool short_turn = false;           // its stop got only min_stop_turn: the grace had run out
  time_point startup_at{};           // startup_timeout deadline
};

supervisor_machine::supervisor_machine(supervisor_policy policy,
                                       std::shared_ptr<const std::string> path, std::uint64_t seed)
    : policy_(policy), path_(std::move(path)), rng_(seed), intensity_(policy.intensity) {
  validate(policy_);
  if (!path_) path_ = std::make_shared<const std::string>("root");
}

supervisor_machine::~supervisor_machine() = default;

// ---------------------------------------------------------------- bookkeeping

supervisor_machine::child* supervisor_machine::get(child_id id) noexcept {
  return id < children_.size() ? children_[id].get() : nullptr;
}

const supervisor_machine::child* supervisor_machine::get(child_id id) const noexcept {
  return id < children_.size() ? children_[id].get() : nullptr;
}

child_id supervisor_machine::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? no_child : it->second;
}

supervisor_machine::child* supervisor_machine::lookup(std::string_view name, command_result& r) {
  if (phase_ != phase::running) {
    r.code = errc::shutting_down;
    r.message = "supervisor " + *path_ + " is shutting down";
    return nullptr;
  }
  const child_id id = find(name);
  if (id == no_child) {
    r.code = errc::not_found;
    r.message = "no child named '" + std::string(name) + "' in " + *path_;
    return nullptr;
  }
  r.id = id;
  return get(id);
}

void supervisor_machine::link_last(child_id id) {
  child& c = *get(id);
  c.prev = last_;
  c.next = no_child;
  if (last_ != no_child)
    get(last_)->next = id;
  else
    first_ = id;
  last_ = id;
}

void supervisor_machine::unlink(child_id id) {
  child& c = *get(id);
  if (shutdown_cursor_ == id) shutdown_cursor_ = c.prev;
  if (c.prev != no_child)
    get(c.prev)->next = c.next;
  else
    first_ = c.next;
  if (c.next != no_child)
    get(c.next)->prev = c.prev;
  else
    last_ = c.prev;
}

std::vector<child_id> supervisor_machine::children() const {
  std::vector<child_id> ids;
  ids.reserve(by_name_.size());
  for (child_id id = first_; id != no_child; id = get(id)->next) ids.push_back(id);
  return ids;
}

const std::shared_ptr<const std::string>& supervisor_machine::path_of(child_id id) const {
  const child* c = get(id);
  return c ? c->path : path_;
}

std::optional<final_result> supervisor_machine::final_of(child_id id) const {
  const child* c = get(id);
  return c && c->final ? std::optional<final_result>(*c->final) : std::nullopt;
}

const child_policy& supervisor_machine::policy_of(child_id id) const {
  return *get(id)->policy;
}

std::vector<std::string> supervisor_machine::dependencies_of(child_id id) const {
  std::vector<std::string> names;
  for (const child_id d : get(id)->deps) {
    if (const child* dc = get(d)) names.push_back(dc->name);
  }
  return names;
}

child_info supervisor_machine::info(child_id id, time_point now) const {
  const child& c = *get(id);
  child_info i;
  i.name = c.name;
  i.path = *c.path;
  i.kind = c.kind;
  i.state = c.state;
  i.paused = c.paused;
  i.ready = c.ready;
  i.attempt = c.attempts;
  i.failure_streak = c.streak;
  i.restarts_automatic = c.restarts_auto;
  i.restarts_manual = c.restarts_manual;
  if (c.last) i.last_outcome = *c.last;
  i.last_outcome_at = c.last_outcome_at;
  if (c.live) i.uptime = now - c.attempt_started;
  if (c.state == child_state::backing_off) i.next_restart = c.next_start;
  if (c.final) i.final = *c.final;
  i.recent_failures.reserve(c.failures.size());
  for (std::size_t k = 0; k < c.failures.size(); ++k) {
    i.recent_failures.push_back(c.failures[(c.failures_head + k) % c.failures.size()]);
  }
  return i;
}

// ---------------------------------------------------------------- events and actions

event& supervisor_machine::emit_event(event_kind k, const child& c, time_point now) {
  // Built in place in the action queue: no moves of the event on the way out.
  event& e = std::get<publish_event>(actions_.emplace_back(std::in_place_type<publish_event>)).ev;
  e.kind = k;
  e.at = now;
  e.path_ = c.path;
  e.attempt = c.attempts;
  e.failure_streak = c.streak;
  return e;
}

event& supervisor_machine::emit_event(event_kind k, time_point now) {
  event& e = std::get<publish_event>(actions_.emplace_back(std::in_place_type<publish_event>)).ev;
  e.kind = k;
  e.at = now;
  e.path_ = path_;
  return e;
}

std::optional<action> supervisor_machine::next_action() {
  if (actions_head_ == actions_.size() && !pending_erase_.empty()) {
    // remove_on_exit children go once their final result is out (outcome waiters resolved),
    // here, where no machine code is still holding a reference to them.
    const auto due = std::move(pending_erase_);
    pending_erase_.clear();
    for (const auto& [id, at] : due) {
      child* c = get(id);
      if (c != nullptr && !c->live && is_terminal(c->state) && c->policy->remove_on_exit) {
        complete_waiters(*c);
        erase(*c, at);
      }
    }
  }
  std::optional<action> a;  // one named result on every path: returned without another move
  if (actions_head_ == actions_.size()) return a;
  a.emplace(std::move(actions_[actions_head_++]));
  if (actions_head_ == actions_.size()) {
    // Drained: start again at the front and keep the capacity, so steady state never allocates.
    actions_.clear();
    actions_head_ = 0;
  } else if (actions_head_ >= 1024 && actions_head_ * 2 >= actions_.size()) {
    // A shell that never drains completely still gets the space of the taken actions back.
    actions_.erase(actions_.begin(), actions_.begin() + static_cast<std::ptrdiff_t>(actions_head_));
    actions_head_ = 0;
  }
  return a;
}

// ---------------------------------------------------------------- deadlines

void supervisor_machine::push_deadline(time_point at, child_id id, std::uint64_t generation,
                                       timer_kind kind) {
  if (at == time_point::max()) return;  // infinity: never
  deadlines_.push_back({at, id, generation, kind});
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
  if (deadlines_.size() > 2 * live_deadlines_hint_ + 64) compact_deadlines();
}

bool supervisor_machine::deadline_valid(const deadline& d) const {
  if (d.kind == timer_kind::grace) {
    return phase_ == phase::shutting_down && d.at == grace_deadline_;
  }
  if (d.kind == timer_kind::group_start) {
    return phase_ == phase::running && group_.active && d.at == group_.start_at;
  }
  const child* c = get(d.id);
  if (c == nullptr || c->generation != d.generation) return false;
  switch (d.kind) {
    case timer_kind::restart:
      return c->state == child_state::backing_off && c->next_start == d.at;
    case timer_kind::timeout:
      return c->live && c->stopping == stop_cause::none && c->timeout_at == d.at;
    case timer_kind::heartbeat:
      return c->live && c->stopping == stop_cause::none && c->heartbeat_at == d.at;
    case timer_kind::stop_deadline:
      return c->live && c->stopping != stop_cause::none && c->stop_deadline == d.at;
    case timer_kind::startup:
      return c->live && c->counted_starting && c->stopping == stop_cause::none &&
             c->startup_at == d.at;
    case timer_kind::grace:
    case timer_kind::group_start:
      break;
  }
  return false;
}

void supervisor_machine::compact_deadlines() {
  // Stale entries (an attempt that ended before its timeout, …) are dropped in bulk, so the heap
  // stays proportional to the live deadlines: amortised O(1) per push.
  std::erase_if(deadlines_, [this](const deadline& d) { return !deadline_valid(d); });
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
  live_deadlines_hint_ = deadlines_.size();
}

std::optional<time_point> supervisor_machine::next_deadline() {
  while (!deadlines_.empty() && !deadline_valid(deadlines_.front())) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
    deadlines_.pop_back();
  }
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.front().at;
}

void supervisor_machine::on_deadline(time_point now) {
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    const deadline d = deadlines_.front();
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
    deadlines_.pop_back();
    if (!deadline_valid(d)) continue;
    if (d.kind == timer_kind::grace) {
      // The shared grace ran out: force every attempt that was asked to stop and still runs,
      // newest first (stuck). A child whose turn has not come is not forced now: it still gets
      // its stop request and a short turn of its own (§13.29), as does one given a short turn.
      std::vector<child_id> live;
      for (child_id id = last_; id != no_child; id = get(id)->prev) {
        const child& x = *get(id);
        if (x.live && x.stopping != stop_cause::none && !x.short_turn) live.push_back(id);
      }
      result_stuck_.clear();
      for (child_id id : live) result_stuck_.push_back(*get(id)->path);
      grace_exceeded_ = true;
      if (events_enabled_) {
        event& e = emit_event(event_kind::grace_exceeded, now);
        for (const auto& p : result_stuck_) {
          if (!e.reason.empty()) e.reason += ", ";
          e.reason += p;
        }
      }
      for (child_id id : live) {
        child* c = get(id);
        if (c != nullptr && c->live) force(*c, now);
      }
      continue;
    }
    if (d.kind == timer_kind::group_start) {
      group_step(now);
      continue;
    }
    child& c = *get(d.id);
    if (phase_ != phase::running &&
        (d.kind == timer_kind::timeout || d.kind == timer_kind::heartbeat ||
         d.kind == timer_kind::startup || d.kind == timer_kind::restart)) {
      // During shutdown every child is stopped in its turn (dependents first, within the
      // grace); a timeout must not stop a dependency early, and a child backing off waits for
      // its turn without starting again.
      continue;
    }
    switch (d.kind) {
      case timer_kind::restart:
        request_start(c, now);
        break;
      case timer_kind::timeout:
        request_stop(c, stop_cause::timeout, now);
        break;
      case timer_kind::heartbeat:
        c.heartbeat_at = time_point::min();  // one check at a time
        actions_.emplace_back(check_heartbeat{c.id, c.generation});
        break;
      case timer_kind::stop_deadline:
        force(c, now);
        break;
      case timer_kind::startup:
        request_stop(c, stop_cause::timeout, now);  // §6: no ready() within startup_timeout
        break;
      case timer_kind::grace:
      case timer_kind::group_start:
        break;
    }
  }
}

// ---------------------------------------------------------------- starting

command_result supervisor_machine::check_new(const std::string& name, const child_policy& policy,
                                             const std::vector<std::string>& depends_on,
                                             const std::vector<std::string_view>& batch) const {
  // Every rule a new child must meet; `batch` holds the names of the children added with it
  // before it (a batch is checked as a whole before any of it is added, §13.10).
  command_result r;
  const auto refuse = [&r](errc code, std::string message) {
    r.code = code;
    r.message = std::move(message);
    return r;
  };
  const auto in_batch = [&batch](std::string_view n) {
    return std::find(batch.begin(), batch.end(), n) != batch.end();
  };
  if (!is_valid_child_name(name)) {
    return refuse(errc::invalid_argument,
                  "invalid child name '" + name +
                      "': use 1 to 128 characters of letters, digits, '.', '_' and '-'");
  }
  if (phase_ != phase::running) {
    return refuse(errc::shutting_down,
                  "supervisor " + *path_ + " is shutting down; cannot add '" + name + "'");
  }
  if (by_name_.contains(name)) {
    return refuse(errc::already_exists, "a child named '" + name + "' already exists in " + *path_);
  }
  if (in_batch(name)) {
    return refuse(errc::already_exists, "the list names '" + name + "' twice");
  }
  if (policy_.max_children && by_name_.size() + batch.size() >= *policy_.max_children) {
    return refuse(errc::too_many_children,
                  "child '" + name + "': " + *path_ +
                      " allows max_children = " + std::to_string(*policy_.max_children));
  }
  try {
    validate(policy);
  } catch (const error& e) {
    r.code = e.code();
    r.message = "child '" + name + "': " + e.what();
    return r;
  }
  if (policy.significant && policy_.auto_shutdown == auto_shutdown::never) {
    return refuse(errc::invalid_argument, "child '" + name + "' is significant, but " + *path_ +
                                              " has auto_shutdown = never");
  }
  // Dependencies must already be listed (or come earlier in the batch): so no cycle can ever
  // form, and start order follows.
  for (const std::string& d : depends_on) {
    if (d == name) return refuse(errc::dependency_cycle, "child '" + name + "' depends on itself");
    if (find(d) == no_child && !in_batch(d)) {
      return refuse(errc::unknown_dependency, "child '" + name + "' depends on '" + d +
                                                  "', which is not a child of " + *path_);
    }
  }
  return r;
}

supervisor_machine::child& supervisor_machine::insert(std::string name,
                                                      std::shared_ptr<const child_policy> policy,
                                                      task_kind kind,
                                                      const std::vector<std::string>& depends_on,
                                                      time_point now) {
  std::vector<child_id> deps;
  for (const std::string& d : depends_on) {
    const child_id dep = find(d);
    if (std::find(deps.begin(), deps.end(), dep) == deps.end()) deps.push_back(dep);
  }
  child_id id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<child_id>(children_.size());
    children_.emplace_back();
  }
  children_[id] = std::make_unique<child>();
  child& c = *children_[id];
  c.id = id;
  c.name = std::move(name);
  c.path = std::make_shared<const std::string>(*path_ + "/" + c.name);
  c.policy = std::move(policy);
  c.kind = kind;
  c.order = next_order_++;
  c.deps = std::move(deps);
  for (const child_id dep : c.deps) get(dep)->dependents.push_back(id);
  by_name_.emplace(std::string_view(c.name), id);
  link_last(id);
  ++active_;
  if (events_enabled_) emit_event(event_kind::child_added, c, now);
  return c;
}

void supervisor_machine::begin(child& c, time_point now) {
  for (const child_id dep : c.deps) {
    // §13.20: a dependency that already failed for good fails its new dependent at once.
    const child& d = *get(dep);
    if (d.final && d.final->status != final_status::completed &&
        d.final->status != final_status::stopped) {
      finish(c, final_status::dependency_failed, now);
      return;
    }
  }
  request_start(c, now);
}

command_result supervisor_machine::add_child(std::string name,
                                             std::shared_ptr<const child_policy> policy,
                                             task_kind kind, time_point now,
                                             const std::vector<std::string>& depends_on) {
  if (!policy) policy = std::make_shared<const child_policy>();
  command_result r = check_new(name, *policy, depends_on, {});
  if (!r) return r;
  child& c = insert(std::move(name), std::move(policy), kind, depends_on, now);
  r.id = c.id;
  begin(c, now);
  return r;
}

batch_result supervisor_machine::add_children(std::vector<new_child> batch, time_point now) {
  batch_result r;
  std::vector<std::string_view> names;
  names.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    new_child& n = batch[i];
    if (!n.policy) n.policy = std::make_shared<const child_policy>();
    command_result c = check_new(n.name, *n.policy, n.depends_on, names);
    if (!c) {
      r.code = c.code;
      r.message = std::move(c.message);
      r.index = i;
      return r;
    }
    names.push_back(n.name);
  }
  // Accepted as a whole: every child is listed before any starts, so a child that ends at
  // once (a failed dependency) cannot end the supervisor as idle before the rest are in.
  r.ids.reserve(batch.size());
  for (new_child& n : batch) {
    r.ids.push_back(insert(std::move(n.name), std::move(n.policy), n.kind, n.depends_on, now).id);
  }
  for (const child_id id : r.ids) {
    child* c = get(id);
    if (c == nullptr || is_terminal(c->state) || c->live) continue;  // failed with a dependency
    if (phase_ != phase::running) {
      stop_waiting(*c, now);  // an earlier child of the batch ended the supervisor
      continue;
    }
    begin(*c, now);
  }
  return r;
}

void supervisor_machine::request_start(child& c, time_point now) {
  if (!deps_satisfied(c)) {
    c.state = child_state::pending;
    c.dep_wait = true;
    return;
  }
  c.dep_wait = false;
  if (c.attempts == 0 && starting_ > 0) {
    // §5: a first start waits until the children started before it are ready.
    c.state = child_state::pending;
    if (!c.startup_wait) {
      c.startup_wait = true;
      startup_queue_.push_back(c.id);
    }
    return;
  }
  if (c.policy->has_setup && !c.setup_done) {
    // §11: setup runs once, before the first attempt, off the strand.
    c.state = child_state::pending;
    if (c.setup_token == 0) {
      c.setup_token = ++generation_;
      actions_.emplace_back(run_setup{c.id, c.setup_token});
    }
    return;
  }
  if (policy_.max_concurrent != 0 && running_ >= policy_.max_concurrent) {
    c.state = child_state::pending;
    if (!c.queued) {
      c.queued = true;
      permit_queue_.push_back(c.id);
    }
    return;
  }
  start_now(c, now);
}

void supervisor_machine::start_now(child& c, time_point now) {
  assert(!c.live);
  c.queued = false;
  ++running_;
  c.generation = ++generation_;
  ++c.attempts;
  c.live = true;
  c.ready = false;
  c.forced_last = false;
  c.short_turn = false;
  c.stopping = stop_cause::none;
  c.state = child_state::running;
  c.attempt_started = now;
  const child_policy& p = *c.policy;
  if (p.timeout > duration::zero()) {
    c.timeout_at = saturating_add(now, p.timeout);
    push_deadline(c.timeout_at, c.id, c.generation, timer_kind::timeout);
  }
  if (p.heartbeat_timeout > duration::zero()) {
    c.heartbeat_at = saturating_add(now, p.heartbeat_timeout);
    push_deadline(c.heartbeat_at, c.id, c.generation, timer_kind::heartbeat);
  }
  c.startup_wait = false;
  if (p.wait_ready) {
    c.state = child_state::starting;
    c.counted_starting = true;
    ++starting_;
    if (p.startup_timeout > duration::zero()) {
      c.startup_at = saturating_add(now, p.startup_timeout);
      push_deadline(c.startup_at, c.id, c.generation, timer_kind::startup);
    }
  }
  if (events_enabled_) emit_event(event_kind::attempt_starting, c, now);
  actions_.emplace_back(start_attempt{c.id, c.generation, c.attempts, c.streak});
  if (!p.wait_ready) release_dependents(c, now);
}

void supervisor_machine::grant_permits(time_point now) {
  while (!permit_queue_.empty() &&
         (policy_.max_concurrent == 0 || running_ < policy_.max_concurrent)) {
    const child_id id = permit_queue_.front();
    permit_queue_.pop_front();
    child* c = get(id);
    if (c != nullptr && c->queued && c->state == child_state::pending && !c->live) {
      start_now(*c, now);
    }
  }
}

// ---------------------------------------------------------------- stopping

void supervisor_machine::request_stop(child& c, stop_cause cause, time_point now) {
  assert(c.live);
  const bool first = c.stopping == stop_cause::none;
  c.stopping = cause;
  c.state = child_state::stopping;
  if (!first) return;  // already asked; its deadline is armed
  actions_.emplace_back(stop_attempt{c.id, c.generation});
  bool short_turn = false;
  const duration limit = stop_limit(c, now, &short_turn);
  c.short_turn = short_turn;
  c.stop_deadline = limit == infinity ? time_point::max() : saturating_add(now, limit);
  push_deadline(c.stop_deadline, c.id, c.generation, timer_kind::stop_deadline);
}

void supervisor_machine::stop_waiting(child& c, time_point now) {
  // No attempt runs, so no attempt_cancelled: the event says which wait the stop ended.
  if (events_enabled_) emit_event(event_kind::child_stopped, c, now).reason = to_string(c.state);
  finish(c, final_status::stopped, now);
}

void supervisor_machine::force(child& c, time_point now) {
  actions_.emplace_back(abandon_attempt{c.id, c.generation});
  if (events_enabled_) {
    event& e = emit_event(event_kind::stop_timed_out, c, now);
    e.forced = true;
    e.timeout = c.policy->shutdown;  // brutal (0), a limit, or infinity (the grace forced it)
    if (c.short_turn) e.reason = "cut short: the grace had run out before its turn";
  }
  c.forced_last = true;
  if (phase_ == phase::shutting_down) {
    result_abandoned_.push_back(*c.path);
    if (c.short_turn) result_cut_short_.push_back(*c.path);
  }
  outcome o = cancelled("stop timed out; attempt abandoned");
  attempt_ended(c, std::move(o), now, true);
}

void supervisor_machine::on_exit(child_id id, std::uint64_t generation, outcome o, time_point now) {
  child* c = get(id);
  if (c == nullptr || !c->live || c->generation != generation) return;  // stale: ignore
  attempt_ended(*c, std::move(o), now, false);
}

void supervisor_machine::attempt_ended(child& c, outcome&& o, time_point now, bool forced) {
  c.live = false;
  assert(running_ > 0);
  --running_;
  const stop_cause cause = c.stopping;
  c.stopping = stop_cause::none;
  const duration elapsed = now - c.attempt_started;
  const bool was_starting = c.counted_starting;
  if (was_starting) {
    c.counted_starting = false;
    --starting_;
  }
  grant_permits(now);  // queued children come first (FIFO), before this one restarts

  switch (cause) {
    case stop_cause::none:
      if (o.kind == outcome_kind::timeout || o.kind == outcome_kind::unresponsive) {
        // §6: `timeout` and `unresponsive` say that the supervisor's own deadline passed. A task
        // that returns one itself (nothing of ours expired) has failed, for its own reason.
        if (o.reason.empty()) o.reason = "the task returned " + std::string(to_string(o.kind));
        o.kind = outcome_kind::failure;
      }
      decide(c, std::move(o), elapsed, now);
      break;
    case stop_cause::timeout:
      o.kind = outcome_kind::timeout;
      // The task's own text here is only the cancellation it saw; say what really happened.
      o.reason = was_starting && c.policy->startup_timeout > duration::zero() &&
                         (c.policy->timeout == duration::zero() ||
                          c.policy->startup_timeout <= c.policy->timeout)
                     ? "not ready within its startup_timeout of " +
                           describe_duration(c.policy->startup_timeout)
                     : "exceeded its timeout of " + describe_duration(c.policy->timeout);
      decide(c, std::move(o), elapsed, now);
      break;
    case stop_cause::unresponsive:
      o.kind = outcome_kind::unresponsive;
      o.reason = "no heartbeat within " + describe_duration(c.policy->heartbeat_timeout);
      decide(c, std::move(o), elapsed, now);
      break;
    case stop_cause::stop:
    case stop_cause::restart:
    case stop_cause::remove:
    case stop_cause::shutdown:
    case stop_cause::group: {
      // §13.12: whatever it returned, an attempt that ends after a stop request is cancelled.
      o.kind = outcome_kind::cancelled;
      record_outcome(c, o, now);
      if (events_enabled_) {
        event& e = emit_event(event_kind::attempt_cancelled, c, now);
        describe_ending(e, o);
        e.elapsed = elapsed;
        e.forced = forced;
      }
      if (cause == stop_cause::group && phase_ == phase::running) {
        // A bystander of a group restart: it waits with the group, except a `never` child,
        // which is not started again and costs nothing (§13.5).
        if (c.policy->restart_policy == restart::never) {
          finish(c, final_status::stopped, now);
        } else {
          c.state = child_state::pending;
        }
        complete_waiters(c);
        group_step(now);
      } else if (cause == stop_cause::restart && phase_ == phase::running) {
        if (c.in_group) leave_group(c);
        c.streak = 0;
        c.prev_delay = {};
        ++c.restarts_manual;
        complete_waiters(c);
        request_start(c, now);
      } else {
        finish(c, final_status::stopped, now);
        complete_waiters(c);
        if (cause == stop_cause::remove) erase(c, now);
      }
      break;
    }
  }
  if (starting_ == 0 && !startup_queue_.empty()) release_startup_queue(now);
  if (group_.active) group_step(now);
  if (phase_ == phase::shutting_down) shutdown_next(now);
}

void supervisor_machine::record_outcome(child& c, const outcome& o, time_point now) {
  if (c.last) {
    *c.last = o;
  } else {
    c.last = std::make_unique<outcome>(o);
  }
  c.last_outcome_at = now;
}

void supervisor_machine::record_outcome(child& c, outcome&& o, time_point now) {
  if (c.last) {
    *c.last = std::move(o);
  } else {
    c.last = std::make_unique<outcome>(std::move(o));
  }
  c.last_outcome_at = now;
}

void supervisor_machine::decide(child& c, outcome&& o, duration elapsed, time_point now) {
  const child_policy& p = *c.policy;
  const bool shutting = phase_ != phase::running;
  event_kind kind = event_kind::attempt_failed;
  if (o.is_success())
    kind = event_kind::attempt_succeeded;
  else if (o.kind == outcome_kind::timeout)
    kind = event_kind::attempt_timed_out;
  else if (o.kind == outcome_kind::unresponsive)
    kind = event_kind::attempt_unresponsive;
  else if (o.kind == outcome_kind::cancelled)
    kind = event_kind::attempt_cancelled;

  if (o.is_failure()) {
    // §2: the streak resets after the child ran continuously for stable_after.
    // Decorrelated jitter's memory resets with it, so the next wait starts from `first` again.
    if (elapsed >= p.stable_after) {
      c.streak = 0;
      c.prev_delay = {};
    }
    ++c.streak;
    if (c.failures.size() < max_recent_failures) {
      c.failures.push_back({now, c.attempts, o.kind, o.reason});
    } else {
      // Overwritten field by field: the reason reuses the old record's buffer.
      failure_record& f = c.failures[c.failures_head];
      f.at = now;
      f.attempt = c.attempts;
      f.kind = o.kind;
      f.reason.assign(o.reason);
      c.failures_head = static_cast<std::uint8_t>((c.failures_head + 1) % max_recent_failures);
    }
  } else if (o.is_success()) {
    c.streak = 0;
    c.prev_delay = {};
  }
  if (events_enabled_) {
    event& e = emit_event(kind, c, now);
    describe_ending(e, o);
    e.elapsed = elapsed;
    if (o.kind == outcome_kind::timeout) {
      // The limit that passed: the startup timeout when the attempt was never ready.
      e.timeout = o.reason.rfind("not ready", 0) == 0 ? p.startup_timeout : p.timeout;
    }
    if (o.kind == outcome_kind::unresponsive) e.timeout = p.heartbeat_timeout;
  }
  // Moved, not copied: from here on the outcome is read back as c.last.
  record_outcome(c, std::move(o), now);
  const outcome& last = *c.last;

  if (c.in_group && group_.active && !shutting) {
    // It ended on its own while its group restart is under way: the group restarts it, once
    // (no child ever runs twice), unless it is done for good.
    if (last.kind == outcome_kind::fatal) {
      finish(c, final_status::dead, now);
    } else if (last.is_success() && p.restart_policy != restart::always) {
      finish(c, final_status::completed, now);
    } else {
      c.state = child_state::pending;
    }
    group_step(now);
    return;
  }
  if (last.kind == outcome_kind::fatal) {
    finish(c, final_status::dead, now);
    return;
  }
  if (last.is_success()) {
    if (shutting || p.restart_policy != restart::always) {
      finish(c, final_status::completed, now);
      return;
    }
    if (p.has_should_restart) {
      c.asking = true;
      c.state = child_state::pending;
      actions_.emplace_back(ask_should_restart{c.id, c.generation, last});
      return;
    }
    rerun(c, now);
    return;
  }
  // A retryable failure.
  if (shutting || p.restart_policy == restart::never) {
    finish(c, final_status::failed, now);
    return;
  }
  if (p.max_retries && c.streak > *p.max_retries) {
    if (events_enabled_) emit_event(event_kind::child_exhausted, c, now);
    if (p.on_exhausted_action == on_exhausted::quarantine) {
      finish(c, final_status::quarantined, now);  // parked; its siblings run on
      return;
    }
    escalating_ = true;
    finish(c, final_status::retries_exhausted, now);
    escalate(c, exit_reason::child_exhausted,
             "'" + c.name + "' used up max_retries = " + std::to_string(*p.max_retries), now);
    return;
  }
  if (p.has_should_restart) {
    // §11: consulted only when the policy would restart; the answer comes back later.
    c.asking = true;
    c.state = child_state::pending;
    actions_.emplace_back(ask_should_restart{c.id, c.generation, last});
    return;
  }
  restart_after_failure(c, now);
}

void supervisor_machine::rerun(child& c, time_point now) {
  // Periodic: the interval counts from the end of the attempt, and never sooner than 1 ms
  // after the last start (no hot loop). Successes do not count against the intensity.
  const duration spacing = c.attempt_started + min_restart_spacing - now;
  ++c.restarts_auto;  // a rerun is an automatic restart, but never costs intensity
  schedule_restart(c, std::max(c.policy->interval, spacing), delay_source::interval, now);
}

void supervisor_machine::restart_after_failure(child& c, time_point now) {
  const child_policy& p = *c.policy;
  // A group restart already under way absorbs this failure: one round, counted once.
  if (!group_.active && intensity_.record(now)) {
    // The breaching child may be the last active one: it must not end the supervisor as idle
    // before the escalation below has begun.
    escalating_ = true;
    finish(c, final_status::failed, now);
    escalate(c, exit_reason::intensity_exceeded,
             "more than " + std::to_string(policy_.intensity.max_restarts) + " restarts in " +
                 describe_duration(policy_.intensity.period),
             now);
    return;
  }
  ++c.restarts_auto;
  const duration delay = p.backoff.next_delay(c.streak - 1, c.prev_delay, rng_);
  c.prev_delay = delay;
  if (!group_.active && policy_.strategy == strategy::one_for_one && c.dependents.empty()) {
    // The common case, without building a one-member group (an allocation per restart).
    schedule_restart(c, delay, delay_source::failure, now);
    return;
  }
  std::vector<child_id> members = group_of(c);
  if (members.size() > 1 || group_.active) {
    begin_group(c, members, delay, now);
    return;
  }
  schedule_restart(c, delay, delay_source::failure, now);
}

void supervisor_machine::escalate(child& c, exit_reason reason, const std::string& why,
                                  time_point now) {
  cause_path_ = *c.path;
  cause_ = c.last ? std::optional<outcome>(*c.last) : std::nullopt;
  if (events_enabled_ && reason == exit_reason::intensity_exceeded) {
    event& e = emit_event(event_kind::intensity_exceeded, now);
    e.reason = why + "; last failure in " + cause_path_ + ": " + describe(*c.last);
  }
  shutdown(now, reason);
}

void supervisor_machine::schedule_restart(child& c, duration delay, delay_source source,
                                          time_point now) {
  if (events_enabled_) {
    event& e = emit_event(event_kind::backoff_scheduled, c, now);
    if (c.last) describe_ending(e, *c.last);  // the failure (or success) it waits after
    e.delay = delay;
    e.source = source;
  }
  if (c.paused) {
    c.state = child_state::paused;
    return;
  }
  if (delay <= duration::zero()) {
    request_start(c, now);  // §13.23: zero delay restarts at once, without a timer
    return;
  }
  c.state = child_state::backing_off;
  c.next_start = saturating_add(now, delay);
  push_deadline(c.next_start, c.id, c.generation, timer_kind::restart);
}

void supervisor_machine::finish(child& c, final_status status, time_point now) {
  const bool was_terminal = is_terminal(c.state);
  switch (status) {
    case final_status::completed:
      c.state = child_state::completed;
      break;
    case final_status::dead:
      c.state = child_state::dead;
      break;
    case final_status::stopped:
      c.state = child_state::stopped;
      break;
    case final_status::quarantined:
      c.state = child_state::quarantined;
      break;
    case final_status::dependency_failed:
      c.state = child_state::dependency_failed;
      break;
    case final_status::failed:
    case final_status::retries_exhausted:
    case final_status::restart_prevented:
    case final_status::setup_failed:
      c.state = child_state::failed;
      break;
  }
  if (c.queued) {
    // Leave the permit queue now: a stale entry would let this child (started again later, or
    // a new child reusing its id) jump ahead of those already waiting (§13.21).
    std::erase(permit_queue_, c.id);
    c.queued = false;
  }
  if (c.startup_wait) {
    std::erase(startup_queue_, c.id);
    c.startup_wait = false;
  }
  c.asking = false;
  c.setup_token = 0;
  if (c.policy->remove_on_exit) pending_erase_.emplace_back(c.id, now);
  c.dep_wait = false;
  if (c.in_group) leave_group(c);
  c.final = std::make_unique<final_result>(
      final_result{status, c.attempts, c.last ? *c.last : outcome{}, c.forced_last});
  if (status == final_status::dead && events_enabled_) {
    event& e = emit_event(event_kind::child_dead, c, now);
    e.reason = c.final->last.reason;
  }
  actions_.emplace_back(child_finished{c.id, *c.final});
  if (phase_ == phase::shutting_down && policy_.shutdown_order == shutdown_order::parallel) {
    turn_queue_.insert(turn_queue_.end(), c.deps.begin(), c.deps.end());  // their turn may come
  }
  if (!was_terminal) {
    assert(active_ > 0);
    --active_;
  }
  if (status == final_status::completed) {
    release_dependents(c, now);  // a completed dependency satisfies its dependents (§13.20)
  } else if (status != final_status::stopped) {
    fail_dependents(c, now);
  }
  if (phase_ == phase::running) {
    const bool counts_dead = status == final_status::dead ||
                             status == final_status::retries_exhausted ||
                             status == final_status::quarantined;
    if (counts_dead) ++dead_count_;
    if (c.policy->significant && status == final_status::completed &&
        policy_.auto_shutdown != auto_shutdown::never) {
      bool all_done = true;
      for (child_id id = first_; id != no_child && all_done; id = get(id)->next) {
        const child& x = *get(id);
        if (x.policy->significant && (!x.final || x.final->status != final_status::completed)) {
          all_done = false;
        }
      }
      if (policy_.auto_shutdown == auto_shutdown::any_significant || all_done) {
        shutdown(now, exit_reason::auto_shutdown);
        return;
      }
    }
    if (counts_dead && policy_.dead_threshold > 0.0 &&
        static_cast<double>(dead_count_) >
            policy_.dead_threshold * static_cast<double>(by_name_.size())) {
      result_dead_ = dead_count_;
      result_total_ = static_cast<std::uint32_t>(by_name_.size());
      cause_path_ = *c.path;
      cause_ = c.last ? std::optional<outcome>(*c.last) : std::nullopt;
      escalating_ = true;
      shutdown(now, exit_reason::too_many_dead);
      return;
    }
  }
  check_idle(now);
}

// ---------------------------------------------------------------- dependencies (§5)

bool supervisor_machine::satisfies_dependents(const child& d) const {
  if (d.final) return d.final->status == final_status::completed;
  return d.live && !d.counted_starting && d.stopping == stop_cause::none && !d.in_group;
}

bool supervisor_machine::deps_satisfied(const child& c) const {
  for (const child_id dep : c.deps) {
    if (!satisfies_dependents(*get(dep))) return false;
  }
  return true;
}

void supervisor_machine::release_dependents(child& c, time_point now) {
  if (c.dependents.empty() || phase_ != phase::running) return;
  const std::vector<child_id> dependents = c.dependents;  // starting may change the lists
  for (const child_id id : dependents) {
    child* x = get(id);
    if (x != nullptr && x->dep_wait && !x->live && x->state == child_state::pending &&
        !x->in_group) {
      request_start(*x, now);
    }
  }
}

void supervisor_machine::fail_dependents(child& c, time_point now) {
  const std::vector<child_id> dependents = c.dependents;
  for (const child_id id : dependents) {
    child* x = get(id);
    // §13.20: dependents still waiting to start end with dependency_failed (transitively,
    // through finish()). Running dependents keep running.
    if (x != nullptr && !x->live && !is_terminal(x->state) &&
        (x->dep_wait || x->attempts == 0 || x->in_group)) {
      finish(*x, final_status::dependency_failed, now);
    }
  }
}

void supervisor_machine::mark_ready(child& c, time_point now) {
  if (!c.counted_starting) return;
  c.counted_starting = false;
  --starting_;
  if (c.state == child_state::starting) c.state = child_state::running;
  release_dependents(c, now);
  if (starting_ == 0) release_startup_queue(now);
}

void supervisor_machine::release_startup_queue(time_point now) {
  // In insertion order, until one of them is itself a wait_ready child that blocks the rest.
  while (starting_ == 0 && !startup_queue_.empty() && phase_ == phase::running) {
    const child_id id = startup_queue_.front();
    startup_queue_.pop_front();
    child* x = get(id);
    if (x == nullptr || !x->startup_wait) continue;
    x->startup_wait = false;
    if (!x->live && x->state == child_state::pending) request_start(*x, now);
  }
}

// ---------------------------------------------------------------- group restarts (§5)

std::vector<child_id> supervisor_machine::group_of(const child& c) const {
  if (policy_.strategy == strategy::one_for_one && c.dependents.empty()) return {c.id};
  std::vector<char> in(children_.size(), 0);
  in[c.id] = 1;
  if (policy_.strategy != strategy::one_for_one) {
    const child_id from = policy_.strategy == strategy::one_for_all ? first_ : c.id;
    for (child_id id = from; id != no_child; id = get(id)->next) {
      if (!is_terminal(get(id)->state)) in[id] = 1;
    }
  }
  // Restarting a child restarts its transitive dependents, under every strategy.
  std::vector<child_id> work;
  for (child_id id = first_; id != no_child; id = get(id)->next) {
    if (in[id]) work.push_back(id);
  }
  while (!work.empty()) {
    const child_id id = work.back();
    work.pop_back();
    for (const child_id dep : get(id)->dependents) {
      if (!in[dep] && !is_terminal(get(dep)->state)) {
        in[dep] = 1;
        work.push_back(dep);
      }
    }
  }
  std::vector<child_id> members;
  for (child_id id = first_; id != no_child; id = get(id)->next) {
    if (in[id]) members.push_back(id);
  }
  return members;
}

void supervisor_machine::begin_group(child& trigger, const std::vector<child_id>& members,
                                     duration delay, time_point now) {
  const time_point at = saturating_add(now, delay);
  const bool merge = group_.active;
  group_.start_at = merge ? std::max(group_.start_at, at) : at;
  group_.active = true;
  if (events_enabled_) {
    if (!merge) {
      // One back-off per round: a failure merged into a running round costs nothing more.
      event& b = emit_event(event_kind::backoff_scheduled, trigger, now);
      if (trigger.last) describe_ending(b, *trigger.last);  // the failure it waits after
      b.delay = delay;
      b.source = delay_source::failure;
    }
    event& g = emit_event(event_kind::group_restart, trigger, now);
    g.delay = delay;
    for (const child_id id : members) {
      if (!g.reason.empty()) g.reason += ", ";
      g.reason += get(id)->name;
    }
  }
  for (const child_id id : members) {
    child& m = *get(id);
    if (m.in_group) continue;
    m.in_group = true;
    group_.members.push_back(id);
    if (!m.live && !is_terminal(m.state)) {
      // Waiting children (backing off, pending) wait for the group instead; their own timers
      // become stale because their state changes.
      m.state = child_state::pending;
      m.dep_wait = false;
      if (m.queued) {
        std::erase(permit_queue_, m.id);
        m.queued = false;
      }
      if (m.startup_wait) {
        std::erase(startup_queue_, m.id);
        m.startup_wait = false;
      }
    }
  }
  std::sort(group_.members.begin(), group_.members.end(),
            [this](child_id a, child_id b) { return get(a)->order < get(b)->order; });
  group_.not_live_from_back = 0;
  trigger.state = child_state::backing_off;  // §13.5: the others show pending
  trigger.next_start = group_.start_at;
  group_step(now);
}

void supervisor_machine::leave_group(child& c) {
  c.in_group = false;
  std::erase(group_.members, c.id);
  group_.not_live_from_back = 0;
}

void supervisor_machine::group_step(time_point now) {
  if (!group_.active || phase_ != phase::running) return;
  // Stop live members one at a time, newest first; wait while one is being stopped.
  const auto& members = group_.members;
  while (group_.not_live_from_back < members.size()) {
    child& m = *get(members[members.size() - 1 - group_.not_live_from_back]);
    if (!m.live) {
      ++group_.not_live_from_back;
      continue;
    }
    if (m.stopping == stop_cause::none) request_stop(m, stop_cause::group, now);
    return;
  }
  if (group_.start_at <= now) {
    start_group(now);
  } else {
    push_deadline(group_.start_at, no_child, 0, timer_kind::group_start);
  }
}

void supervisor_machine::start_group(time_point now) {
  group_.active = false;
  const std::vector<child_id> members = std::move(group_.members);
  group_.members.clear();
  group_.not_live_from_back = 0;
  for (const child_id id : members) get(id)->in_group = false;
  // Start in start order; dependencies and readiness gate as for any start.
  for (const child_id id : members) {
    child* m = get(id);
    if (m == nullptr || m->live || is_terminal(m->state)) continue;
    if (m->paused) {
      m->state = child_state::paused;
      continue;
    }
    request_start(*m, now);
  }
}

void supervisor_machine::check_idle(time_point now) {
  if (phase_ == phase::running && policy_.exit_when_idle && active_ == 0 && !escalating_) {
    end_reason_ = exit_reason::idle;
    end(now);
  }
}

void supervisor_machine::complete_waiters(child& c, std::error_code ec) {
  for (const std::uint64_t token : c.waiters) actions_.emplace_back(command_done{token, ec});
  c.waiters.clear();
}

void supervisor_machine::erase(child& c, time_point now) {
  if (events_enabled_) emit_event(event_kind::child_removed, c, now);
  const child_id id = c.id;
  for (const child_id dep : c.deps) std::erase(get(dep)->dependents, id);
  for (const child_id x : c.dependents) std::erase(get(x)->deps, id);
  if (c.in_group) leave_group(c);
  if (c.final && (c.final->status == final_status::dead ||
                  c.final->status == final_status::retries_exhausted ||
                  c.final->status == final_status::quarantined)) {
    if (dead_count_ > 0) --dead_count_;
  }
  unlink(id);
  by_name_.erase(std::string_view(c.name));
  actions_.emplace_back(child_erased{id});
  children_[id].reset();
  free_ids_.push_back(id);
}

// ---------------------------------------------------------------- commands

command_result supervisor_machine::stop_child(std::string_view name, std::uint64_t token,
                                              time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  if (c->live) {
    // §13.9: concurrent stops are one stop; everyone waits for it.
    if (c->stopping == stop_cause::none)
      request_stop(*c, stop_cause::stop, now);
    else if (c->stopping != stop_cause::remove)
      c->stopping = stop_cause::stop;
    if (token != 0) c->waiters.push_back(token);
    return r;
  }
  if (!is_terminal(c->state)) stop_waiting(*c, now);  // trap 1: no resurrection
  if (token != 0) actions_.emplace_back(command_done{token, {}});
  if (group_.active) group_step(now);  // it may have been the member the group waited for
  return r;
}

command_result supervisor_machine::start_child(std::string_view name, std::uint64_t token,
                                               time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  if (!is_terminal(c->state)) {
    r.code = errc::already_running;
    r.message = "child '" + c->name + "' is " + std::string(to_string(c->state));
    return r;
  }
  if (c->final && (c->final->status == final_status::dead ||
                   c->final->status == final_status::retries_exhausted ||
                   c->final->status == final_status::quarantined)) {
    if (dead_count_ > 0) --dead_count_;  // it is no longer dead
  }
  c->final.reset();
  c->streak = 0;
  c->prev_delay = {};
  if (c->attempts > 0) ++c->restarts_manual;
  ++active_;
  request_start(*c, now);
  if (token != 0) actions_.emplace_back(command_done{token, {}});
  return r;
}

command_result supervisor_machine::restart_child(std::string_view name, std::uint64_t token,
                                                 time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  if (c->live) {
    if (c->stopping == stop_cause::remove) {
      r.code = errc::not_found;
      r.message = "child '" + c->name + "' is being removed";
      return r;
    }
    if (c->stopping == stop_cause::none)
      request_stop(*c, stop_cause::restart, now);
    else
      c->stopping = stop_cause::restart;
    if (token != 0) c->waiters.push_back(token);
    return r;
  }
  if (is_terminal(c->state)) return start_child(name, token, now);
  // Backing off, paused or waiting for a permit: one attempt, now (trap 2).
  if (c->in_group) leave_group(*c);
  c->streak = 0;
  c->prev_delay = {};
  ++c->restarts_manual;
  if (!c->queued) request_start(*c, now);
  if (token != 0) actions_.emplace_back(command_done{token, {}});
  return r;
}

command_result supervisor_machine::remove_child(std::string_view name, std::uint64_t token,
                                                time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  if (c->live) {
    if (c->stopping == stop_cause::none)
      request_stop(*c, stop_cause::remove, now);
    else
      c->stopping = stop_cause::remove;
    if (token != 0) c->waiters.push_back(token);
    return r;
  }
  if (!is_terminal(c->state)) stop_waiting(*c, now);
  if (token != 0) actions_.emplace_back(command_done{token, {}});
  erase(*c, now);
  if (group_.active) group_step(now);
  return r;
}

command_result supervisor_machine::pause_child(std::string_view name, time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  c->paused = true;
  if (c->state == child_state::backing_off) c->state = child_state::paused;
  (void)now;
  return r;
}

command_result supervisor_machine::resume_child(std::string_view name, time_point now) {
  command_result r;
  child* c = lookup(name, r);
  if (c == nullptr) return r;
  c->paused = false;
  if (c->state == child_state::paused) request_start(*c, now);  // the held-back restart
  return r;
}

// ---------------------------------------------------------------- shutdown

void supervisor_machine::shutdown(time_point now, exit_reason reason) {
  if (phase_ != phase::running) return;  // the first trigger wins
  phase_ = phase::shutting_down;
  end_reason_ = reason;
  if (events_enabled_) emit_event(event_kind::shutdown_requested, now);
  if (policy_.grace != infinity) {
    grace_deadline_ = saturating_add(now, policy_.grace);
    push_deadline(grace_deadline_, no_child, 0, timer_kind::grace);
  }
  // Nothing starts any more: children waiting (backing off, paused, pending) are stopped at
  // their turn like the others (their restart timers are ignored from now on).
  permit_queue_.clear();
  startup_queue_.clear();
  group_.active = false;
  shutdown_cursor_ = last_;
  if (policy_.shutdown_order == shutdown_order::parallel) {
    // Offered newest first (taken from the back): dependents before their dependencies.
    turn_queue_.clear();
    for (child_id id = first_; id != no_child; id = get(id)->next) turn_queue_.push_back(id);
  }
  shutdown_next(now);
}

void supervisor_machine::take_turn(child& c, time_point now) {
  // §13.28: the child's turn in the stop sequence: its on_shutdown hook, then its stop.
  c.had_turn = true;
  if (c.policy->has_on_shutdown) {
    actions_.emplace_back(run_shutdown_hook{c.id, stop_limit(c, now)});
  }
  if (!c.live) {
    stop_waiting(c, now);
    complete_waiters(c);
    return;
  }
  if (c.stopping == stop_cause::none) {
    request_stop(c, stop_cause::shutdown, now);
  } else if (c.stopping != stop_cause::stop && c.stopping != stop_cause::remove) {
    c.stopping = stop_cause::shutdown;  // already stopping (a restart, a timeout): it stays down
  }
}

duration supervisor_machine::stop_limit(const child& c, time_point now, bool* short_turn) const {
  duration limit = c.policy->shutdown;
  if (phase_ == phase::shutting_down && grace_deadline_ != time_point::max()) {
    // §13.29: within the grace, min(shutdown, what is left of it); when the grace has (nearly)
    // run out before the child's turn, still a short turn of its own before it is forced.
    const duration remaining = std::max(duration::zero(), grace_deadline_ - now);
    const duration floor = std::min(min_stop_turn, policy_.grace);
    limit = std::min(limit, std::max(remaining, floor));
    if (short_turn != nullptr)
      *short_turn = remaining < min_stop_turn && limit < c.policy->shutdown;
  }
  return limit;
}

bool supervisor_machine::dependents_done(const child& c) const {
  for (const child_id id : c.dependents) {
    if (!is_terminal(get(id)->state)) return false;
  }
  return true;
}

void supervisor_machine::shutdown_next(time_point now) {
  if (phase_ != phase::shutting_down) return;
  if (policy_.shutdown_order == shutdown_order::parallel) {
    // Every child whose dependents have all ended takes its turn at once; a child's end offers
    // the turn to its dependencies (finish() queues them): waves of the dependency graph.
    while (!turn_queue_.empty()) {
      child* c = get(turn_queue_.back());
      turn_queue_.pop_back();
      if (c != nullptr && !c->had_turn && !is_terminal(c->state) && dependents_done(*c)) {
        take_turn(*c, now);
      }
    }
  } else {
    // One child at a time in reverse start order (dependents come after their dependencies
    // in start order): the next one's turn comes only after the previous one has ended or was
    // forced. A child that is not running at its turn is stopped at once.
    while (shutdown_cursor_ != no_child) {
      child& c = *get(shutdown_cursor_);
      if (!c.had_turn && !is_terminal(c.state)) take_turn(c, now);
      if (c.live) return;
      shutdown_cursor_ = c.prev;
    }
  }
  // Children that were already stopping before their turn must end too.
  if (running_ != 0) return;
  for (child_id id = first_; id != no_child; id = get(id)->next) {
    child& c = *get(id);
    if (!is_terminal(c.state)) take_turn(c, now);  // not running: stopped at once
  }
  end(now);
}

void supervisor_machine::end(time_point now) {
  if (phase_ == phase::ended) return;
  const bool was_shutting = phase_ == phase::shutting_down;
  phase_ = phase::ended;
  if (was_shutting && !grace_exceeded_ && events_enabled_) {
    emit_event(event_kind::all_stopped_within_grace, now);
  }
  supervisor_result res;
  res.reason = end_reason_;
  res.grace_exceeded = grace_exceeded_;
  res.stuck = result_stuck_;
  res.cut_short = result_cut_short_;
  res.cause_path = cause_path_;
  res.cause = cause_;
  res.dead = result_dead_;
  res.abandoned = result_abandoned_;
  res.total = result_total_;
  result_ = res;
  actions_.emplace_back(supervisor_ended{std::move(res)});
}

// ---------------------------------------------------------------- reports from attempts

void supervisor_machine::on_setup_done(child_id id, std::uint64_t token,
                                       std::optional<outcome> failed, time_point now) {
  child* c = get(id);
  if (c == nullptr || c->setup_token == 0 || c->setup_token != token || c->live) return;
  c->setup_token = 0;
  if (failed) {
    failed->kind = outcome_kind::failure;
    failed->reason = "setup failed: " + failed->reason;  // the outcome says what its event says
    if (events_enabled_) describe_ending(emit_event(event_kind::attempt_failed, *c, now), *failed);
    record_outcome(*c, *failed, now);
    finish(*c, final_status::setup_failed, now);
    if (phase_ == phase::shutting_down) shutdown_next(now);  // it may have been the last one
    return;
  }
  c->setup_done = true;
  if (phase_ == phase::running && c->state == child_state::pending) request_start(*c, now);
}

void supervisor_machine::on_should_restart(child_id id, std::uint64_t generation, bool restart_it,
                                           time_point now) {
  child* c = get(id);
  if (c == nullptr || !c->asking || c->generation != generation || c->live) return;
  c->asking = false;
  if (phase_ != phase::running) return;
  if (!restart_it) {
    if (events_enabled_) emit_event(event_kind::restart_prevented, *c, now);
    finish(*c, final_status::restart_prevented, now);
    return;
  }
  if (c->last && c->last->is_success()) {
    rerun(*c, now);
  } else {
    restart_after_failure(*c, now);
  }
}

void supervisor_machine::on_ready(child_id id, std::uint64_t generation, time_point now) {
  child* c = get(id);
  if (c == nullptr || !c->live || c->generation != generation || c->ready) return;
  c->ready = true;
  if (events_enabled_) emit_event(event_kind::child_ready, *c, now);
  mark_ready(*c, now);
}

void supervisor_machine::on_heartbeat(child_id id, std::uint64_t generation, time_point last,
                                      time_point now) {
  child* c = get(id);
  if (c == nullptr || !c->live || c->generation != generation) return;
  if (c->stopping != stop_cause::none) return;  // no false positives while stopping
  const duration limit = c->policy->heartbeat_timeout;
  const time_point due = saturating_add(std::max(last, c->attempt_started), limit);
  if (due > now) {
    c->heartbeat_at = due;
    push_deadline(due, c->id, c->generation, timer_kind::heartbeat);
    return;
  }
  request_stop(*c, stop_cause::unresponsive, now);
}

}  // namespace vigil::core
