// The supervisor actor: commands and attempts. The timer and the end are in supervisor_end.cpp,
// queries and paths in supervisor_queries.cpp, hooks in supervisor_hooks.cpp, the handle's
// sends in handle.cpp.
#include <future>
#include <random>

#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "spawn_later.hpp"
#include "supervisor_impl.hpp"
#include "task_runners.hpp"
#include "vigil/runtime/context.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

owner_token::~owner_token() {
  if (impl) impl->shutdown();
}

void attempt_state::reset(asio::any_io_executor ex) {
  executor = std::move(ex);
  if (stop.stop_requested()) stop = std::stop_source();
  ready_sent.store(false, std::memory_order_relaxed);
  reap_awaited.store(false, std::memory_order_relaxed);
  more.reset();
}

namespace {
std::uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}
}  // namespace

supervisor_impl::supervisor_impl(asio::any_io_executor ex, supervisor_options opts,
                                 vigil::clock& clk, std::shared_ptr<const std::string> path,
                                 std::shared_ptr<event_bus> bus)
    : pool_(std::move(ex)),
      one_thread_(runs_on_one_thread(pool_)),
      nested_(static_cast<bool>(path)),
      strand_(make_strand()),
      clock_(clk),
      opts_(std::move(opts)),
      path_(path ? std::move(path) : std::make_shared<const std::string>(opts_.name)),
      default_policy_(std::make_shared<const core::child_policy>(
          resolve_policy(child_spec{}, opts_.child_defaults))),
      machine_(
          core::supervisor_policy{opts_.strategy, opts_.intensity, opts_.grace,
                                  opts_.max_concurrent, opts_.max_children, opts_.exit_when_idle,
                                  opts_.auto_shutdown, opts_.dead_threshold, opts_.shutdown_order},
          path_, opts_.seed.value_or(fresh_seed())),
      bus_(bus ? std::move(bus) : std::make_shared<event_bus>(pool_)) {
  if (!core::is_valid_child_name(opts_.name)) {
    throw error(errc::invalid_argument, "supervisor_options.name '" + opts_.name +
                                            "' is invalid: use 1 to 128 characters of letters, "
                                            "digits, '.', '_' and '-'");
  }
  if (opts_.subscriber_drain < duration::zero()) {
    throw error(errc::invalid_argument, "supervisor_options.subscriber_drain must not be negative");
  }
  machine_.set_events_enabled(false);
}

supervisor_impl::~supervisor_impl() {
  // Waiters still pending here mean the executor is going away first: each is completed with
  // supervisor_gone. While the executor is being destroyed the post destroys the handler
  // without a call instead (a blocking call turns that into supervisor_gone too).
  const auto gone = make_error_code(errc::supervisor_gone);
  for (auto& slot : slots_) {
    for (auto& w : slot.outcome_waiters) reply(std::move(w), gone, core::final_result{});
    for (auto& w : slot.start_waiters) reply(std::move(w), gone, std::string{});
  }
  for (auto& [token, r] : pending_) reply(std::move(r), gone, std::string{});
}

bool supervisor_impl::running_in_executor_thread() const {
  if (const auto* e = pool_.target<asio::io_context::executor_type>()) {
    return e->running_in_this_thread();
  }
  if (const auto* e = pool_.target<asio::thread_pool::executor_type>()) {
    return e->running_in_this_thread();
  }
  if (const auto* e = pool_.target<asio::strand<asio::io_context::executor_type>>()) {
    return e->get_inner_executor().running_in_this_thread();
  }
  if (const auto* e = pool_.target<asio::strand<asio::any_io_executor>>()) {
    if (const auto* inner = e->get_inner_executor().target<asio::io_context::executor_type>()) {
      return inner->running_in_this_thread();
    }
  }
  return false;
}

// ---------------------------------------------------------------- commands

void supervisor_impl::add(child_spec spec, command_reply r) {
  asio::post(strand_,
             [self = shared_from_this(), spec = std::move(spec), r = std::move(r)]() mutable {
               self->add_now(std::move(spec), std::move(r));
             });
}

void supervisor_impl::add(std::string into, child_spec spec, until u, command_reply r) {
  asio::post(strand_, [self = shared_from_this(), into = std::move(into), spec = std::move(spec), u,
                       r = std::move(r)]() mutable {
    if (into.empty()) {
      self->add_now(std::move(spec), std::move(r), u, true);
      return;
    }
    // "db" or "db/pools": hand the call down one level at a time (a trailing '/' is added so
    // that routed() splits off the first element).
    into += '/';
    self->routed(
        into,
        [&](const std::shared_ptr<supervisor_impl>& n, std::string rest) {
          if (!rest.empty()) rest.pop_back();
          n->add(std::move(rest), std::move(spec), u, std::move(r));
        },
        [&](std::string why) {
          self->reply(std::move(r), make_error_code(errc::not_found), std::move(why));
        });
  });
}

std::optional<supervisor_impl::prepared_child> supervisor_impl::prepare(child_spec& spec,
                                                                        std::error_code& ec,
                                                                        std::string& message) {
  // The checks only the runtime can make (a task, hooks the task kind supports) and the
  // policy; the machine checks the rest when the child is added.
  if (!spec.task) {
    ec = make_error_code(errc::invalid_argument);
    message = "child '" + spec.name + "' has no task";
    return std::nullopt;
  }
  // A nested supervisor's default shutdown differs (resolve_policy): it gets a policy of its own.
  const bool defaults_only = spec.task.kind() != task_kind::supervisor && !spec.restart &&
                             !spec.backoff && !spec.interval && !spec.max_retries &&
                             !spec.stable_after && !spec.timeout && !spec.heartbeat_timeout &&
                             !spec.shutdown && !spec.wait_ready && !spec.startup_timeout &&
                             !spec.significant && !spec.on_exhausted &&
                             spec.retention == retention::keep && !has_hooks(spec);
  prepared_child p;
  try {
    // Children without overrides share one policy object.
    p.policy = defaults_only ? default_policy_
                             : std::make_shared<const core::child_policy>(
                                   resolve_policy(spec, opts_.child_defaults));
    if (has_hooks(spec)) {
      p.hooks = take_hooks(spec, pool_);
      p.task = with_attempt_hooks(std::move(spec.task), p.hooks);
    } else {
      p.task = std::move(spec.task);
    }
  } catch (const error& e) {
    ec = e.code();
    message = "child '" + spec.name + "': " + e.what();
    return std::nullopt;
  }
  return p;
}

void supervisor_impl::install(core::child_id id, prepared_child&& p,
                              std::optional<final_reply> watch) {
  // Called right after the machine accepted the child: its actions are queued, and the slot
  // is filled before pump() performs them.
  if (slots_.size() <= id) slots_.resize(id + 1);
  auto& slot = slots_[id];
  slot = child_slot{};
  slot.task = std::move(p.task);
  slot.shared = std::make_shared<child_shared>();
  slot.strand = next_child_strand();
  if (p.hooks) {
    p.hooks->path = machine_.path_of(id);
    p.hooks->bus = bus_;
    p.hooks->clk = &clock_;
    slot.hooks = std::move(p.hooks);
  }
  if (watch) slot.outcome_waiters.push_back(std::move(*watch));
}

void supervisor_impl::add_now(child_spec spec, command_reply r, until u, bool at_run_time) {
  std::error_code ec;
  std::string message;
  auto p = prepare(spec, ec, message);
  if (!p) {
    reply(std::move(r), ec, std::move(message));
    return;
  }
  auto policy = p->policy;
  const task_kind kind = p->task.kind();
  auto res = machine_.add_child(spec.name, std::move(policy), kind, clock_.now(), spec.depends_on);
  if (res) {
    install(res.id, std::move(*p), std::nullopt);
    auto& slot = slots_[res.id];
    slot.added_at_run_time = at_run_time;
    // Registered before pump() performs the first start, which resolves it.
    if (u == until::running) {
      slot.start_waiters.push_back(std::move(r));
      pump();
      return;
    }
  }
  pump();
  reply(std::move(r), res.code, std::move(res.message));
}

void supervisor_impl::publish_external(core::event e) {
  if (!bus_->has_subscribers()) return;
  e.at = clock_.now();
  bus_->publish(std::move(e));
}

void supervisor_impl::add_all(std::vector<child_spec> specs, command_reply r,
                              std::vector<final_reply> watch) {
  asio::post(strand_, [self = shared_from_this(), specs = std::move(specs), r = std::move(r),
                       watch = std::move(watch)]() mutable {
    // §13.10: all or nothing. The runtime's own checks run for the whole list first, then the
    // machine checks and adds it as one batch; only then is any slot filled or task started.
    // On the strand, so nothing else can take a name in between.
    std::vector<prepared_child> prepared;
    std::vector<core::new_child> batch;
    prepared.reserve(specs.size());
    batch.reserve(specs.size());
    for (auto& s : specs) {
      std::error_code ec;
      std::string message;
      auto p = self->prepare(s, ec, message);
      if (!p) {
        self->reply(std::move(r), ec, std::move(message));
        return;
      }
      batch.push_back({std::move(s.name), p->policy, p->task.kind(), std::move(s.depends_on)});
      prepared.push_back(std::move(*p));
    }
    auto res = self->machine_.add_children(std::move(batch), self->clock_.now());
    if (!res) {
      self->reply(std::move(r), res.code, std::move(res.message));
      return;
    }
    for (std::size_t i = 0; i < res.ids.size(); ++i) {
      std::optional<final_reply> w;
      if (i < watch.size()) w.emplace(std::move(watch[i]));
      self->install(res.ids[i], std::move(prepared[i]), std::move(w));
    }
    self->pump();
    self->reply(std::move(r), std::error_code{}, std::string{});
  });
}

void supervisor_impl::command(detail::command c, std::string name, command_reply r, until u) {
  asio::post(strand_,
             [self = shared_from_this(), c, u, name = std::move(name), r = std::move(r)]() mutable {
               const bool handed_on = self->routed(
                   name,
                   [&](const std::shared_ptr<supervisor_impl>& n, std::string rest) {
                     n->command(c, std::move(rest), std::move(r), u);
                   },
                   [&](std::string why) {
                     self->reply(std::move(r), make_error_code(errc::not_found), std::move(why));
                   });
               if (!handed_on) self->run_command(c, name, std::move(r), u);
             });
}

void supervisor_impl::run_command(detail::command c, const std::string& name, command_reply r,
                                  until u) {
  const auto now = clock_.now();
  // A start that waits until running is answered by its start waiter, not by command_done.
  const bool until_running = c == command::start && u == until::running;
  const bool waits = !until_running && (c == command::stop || c == command::restart ||
                                        c == command::remove || c == command::start);
  const std::uint64_t token = waits ? next_token_++ : 0;
  core::command_result res;
  switch (c) {
    case command::stop:
      res = machine_.stop_child(name, token, now);
      break;
    case command::start:
      res = machine_.start_child(name, token, now);
      break;
    case command::restart:
      res = machine_.restart_child(name, token, now);
      break;
    case command::remove:
      res = machine_.remove_child(name, token, now);
      break;
    case command::pause:
      res = machine_.pause_child(name, now);
      break;
    case command::resume:
      res = machine_.resume_child(name, now);
      break;
  }
  // A refused command gets no command_done. An accepted one may already have queued its
  // command_done, which pump() performs below, after the reply is registered. Handlers are only
  // ever move-constructed: any_completion_handler's move assignment recurses in Asio 1.26.
  if (!res && res.code == errc::not_found && (c == command::stop || c == command::remove)) {
    ask_controllers(c, name, std::move(res), std::move(r));  // it may be queued in one (§13.22)
  } else if (!res) {
    reply(std::move(r), res.code, std::move(res.message));
  } else if (waits) {
    pending_.emplace(token, std::move(r));
  } else if (until_running) {
    slots_[machine_.find(name)].start_waiters.push_back(std::move(r));
  } else {
    reply(std::move(r), std::error_code{}, std::string{});
  }
  pump();
}

void supervisor_impl::wait(wait_reply r) {
  asio::post(strand_, [self = shared_from_this(), r = std::move(r)]() mutable {
    if (self->drained_) {
      self->reply(std::move(r), std::error_code{}, *self->machine_.result());
      return;
    }
    self->waiters_.push_back(std::move(r));
  });
}

void supervisor_impl::shutdown() {
  asio::post(strand_, [self = shared_from_this()] {
    self->machine_.shutdown(self->clock_.now());
    self->pump();
  });
}

void supervisor_impl::listen() {
  // The bus reports every change in the subscriber count (also unsubscribes), so events stop
  // being built once nobody listens. The listener holds the supervisor weakly: no cycle.
  bus_->add_listener([w = weak_from_this()](bool) {
    if (auto self = w.lock()) {
      asio::post(self->strand_,
                 [self] { self->machine_.set_events_enabled(self->bus_->has_subscribers()); });
    }
  });
  asio::post(strand_, [self = shared_from_this()] {
    self->machine_.set_events_enabled(self->bus_->has_subscribers());
  });
}

subscription supervisor_impl::subscribe(event_handler fn, subscriber_options opts) {
  if (!fn) throw error(errc::invalid_argument, "subscribe() needs a callable");
  auto s = bus_->subscribe(std::move(fn), opts);
  // Events are built only while someone listens; the switch is ordered with later commands
  // because both go through the strand.
  asio::post(strand_, [self = shared_from_this()] {
    self->machine_.set_events_enabled(self->bus_->has_subscribers());
  });
  return subscription(std::move(s));
}

// ---------------------------------------------------------------- attempts

void supervisor_impl::attempt_ended(const std::shared_ptr<attempt_state>& st, core::outcome o) {
  asio::post(strand_, [self = shared_from_this(), st, o = std::move(o)]() mutable {
    // Read on the strand, where perform(abandon_attempt) sets it.
    const bool reaped_after_abandon = st->reap_awaited.load(std::memory_order_relaxed);
    self->exit_now(st->id, st->generation, std::move(o));
    if (reaped_after_abandon) self->hook_job_done();
  });
}

void supervisor_impl::coroutine_ended(core::child_id id, std::uint64_t gen, core::outcome&& o) {
  if (one_thread_ && !pumping_) {
    // The completion runs on the executor's one thread, which is the supervisor's too: handle
    // the exit right here (no type-erased dispatch, no allocation for it).
    exit_now(id, gen, std::move(o));
    return;
  }
  // Dispatched, not posted: when the supervisor's strand is free (the usual case) the exit is
  // handled at once on this thread, and the next attempt starts without a scheduler round trip.
  asio::dispatch(strand_, [self = shared_from_this(), id, gen, o = std::move(o)]() mutable {
    if (self->pumping_) {
      // Never re-enter pump(): queue behind the actions being performed.
      asio::post(self->strand_, [self, id, gen, o = std::move(o)]() mutable {
        self->exit_now(id, gen, std::move(o));
      });
      return;
    }
    self->exit_now(id, gen, std::move(o));
  });
}

void supervisor_impl::exit_now(core::child_id id, std::uint64_t gen, core::outcome&& o) {
  // No copy of the attempt's shared_ptr here: the next attempt reuses the state only when
  // the slot holds the last reference.
  const bool current =
      id < slots_.size() && slots_[id].attempt && slots_[id].attempt->generation == gen;
  if (current && !slots_[id].start_waiters.empty()) {
    // The attempt ended before it was confirmed running (or ready): a success still counts.
    if (o.is_success()) {
      resolve_start_waiters(id, {}, {});
    } else {
      resolve_start_waiters(id, make_error_code(errc::start_failed),
                            "child '" + std::string(machine_.info(id, clock_.now()).name) +
                                "' ended before it was running: " + core::describe(o));
    }
  }
  machine_.on_exit(id, gen, std::move(o), clock_.now());
  if (current && slots_[id].hooks) after_exit(id);
  pump();
}

void supervisor_impl::resolve_start_waiters(core::child_id id, std::error_code ec,
                                            const std::string& message) {
  auto waiters = std::move(slots_[id].start_waiters);
  slots_[id].start_waiters.clear();
  for (auto& w : waiters) reply(std::move(w), ec, message);
}

void supervisor_impl::confirm_started(core::child_id id, std::uint64_t gen) {
  if (id >= slots_.size() || slots_[id].start_waiters.empty()) return;
  const auto& st = slots_[id].attempt;
  if (!st || st->generation != gen) return;
  // Still this attempt, and it has not ended: it runs (a wait_ready child waits for ready()).
  if (machine_.info(id, clock_.now()).state == core::child_state::running) {
    resolve_start_waiters(id, {}, {});
  }
}

void supervisor_impl::attempt_ready(const std::shared_ptr<attempt_state>& st) {
  asio::post(strand_, [self = shared_from_this(), id = st->id, gen = st->generation] {
    if (id < self->slots_.size() && self->slots_[id].attempt &&
        self->slots_[id].attempt->generation == gen) {
      self->resolve_start_waiters(id, {}, {});
    }
    self->machine_.on_ready(id, gen, self->clock_.now());
    self->pump();
  });
}

void supervisor_impl::pump() {
  pumping_ = true;
  struct reset {
    bool& flag;
    ~reset() { flag = false; }
  } guard{pumping_};
  while (auto a = machine_.next_action()) std::visit([this](auto& x) { perform(x); }, *a);
  if (!machine_.ended()) arm_timer();
}

asio::any_io_executor supervisor_impl::next_child_strand() {
  // Children share a few strands instead of one each (a strand costs ≈ 120 bytes and a
  // locked allocation): coroutine attempts never block, so 64 strands keep every thread busy,
  // and a strand still serialises an attempt with its cancellation and its process I/O.
  if (one_thread_) return pool_;
  const std::size_t i = next_strand_++ % child_strands;
  if (i == child_strands_.size()) child_strands_.push_back(make_strand());
  return child_strands_[i];
}

asio::any_io_executor supervisor_impl::make_strand() const {
  // A concrete io_context strand fits in any_io_executor's small buffer: copying it for every
  // attempt, post and co_spawn allocates nothing (a strand<any_io_executor> did, several times
  // per restart; docs/performance.md). On a one-thread runtime nothing runs concurrently: no
  // strand at all.
  if (one_thread_) return pool_;
  if (const auto* io = pool_.target<asio::io_context::executor_type>()) {
    return asio::make_strand(*io);
  }
  return asio::make_strand(pool_);
}

void supervisor_impl::perform(core::start_attempt& a) {
  child_slot& slot = slots_[a.id];
  if (!slot.strand) slot.strand = next_child_strand();
  std::shared_ptr<attempt_state> st;
  if (slot.task.kind() == task_kind::coroutine && slot.attempt && slot.attempt.use_count() == 1) {
    // Nobody else holds the previous coroutine attempt's state (its frame and completion are
    // gone): reset it for this attempt instead of allocating a new one.
    st = std::move(slot.attempt);
    st->reset(slot.strand);
  } else {
    st = std::make_shared<attempt_state>(slot.strand);
    st->sup = weak_from_this();
  }
  st->id = a.id;
  st->generation = a.generation;
  st->attempt = a.attempt;
  st->failure_streak = a.failure_streak;
  st->path = machine_.path_of(a.id);
  st->name = std::string_view(*st->path).substr(st->path->rfind('/') + 1);
  st->clk = &clock_;
  st->shared = slot.shared;
  st->last_beat.store(clock_.now().time_since_epoch().count(), std::memory_order_relaxed);
  slot.attempt = st;
  {
    std::lock_guard lock(slot.shared->m);
    slot.shared->current_generation = a.generation;
  }

  if (slot.task.kind() != task_kind::coroutine) {
    st->more = std::make_unique<attempt_state::runner_state>();
  }
  // until::running: confirmed after the attempt has had its first turn on its own strand
  // (behind the start, which every kind below posts or runs before this function returns), so
  // that a spawn that fails or a body that fails before its first suspension is reported
  // through the exit, which comes first.
  struct confirm_when_started {
    supervisor_impl* self;
    const std::shared_ptr<attempt_state>* st;
    std::uint64_t gen;
    bool wanted;
    ~confirm_when_started() {
      if (!wanted) return;
      asio::post((*st)->executor, [self = self->shared_from_this(), id = (*st)->id, gen = gen] {
        asio::post(self->strand_, [self, id, gen] { self->confirm_started(id, gen); });
      });
    }
  } confirm{this, &st, a.generation,
            !slot.start_waiters.empty() && !machine_.policy_of(a.id).wait_ready};
  switch (slot.task.kind()) {
    case task_kind::thread:
      start_thread_attempt(st, slot.task.thread_body());
      return;
    case task_kind::process:
      st->more->bus = bus_;
      start_process_attempt(st, slot.task.process_spec());
      return;
    case task_kind::supervisor:
      start_nested_attempt(st, *this, slot.task.subtree_spec());
      return;
    default:
      break;
  }
  // Not assigned over a default awaitable: that leaks the replaced frame in Asio 1.26.
  std::optional<asio::awaitable<core::outcome>> aw;
  try {
    aw.emplace(slot.task.coroutine()(context(st)));
  } catch (...) {
    // A factory that throws is a failed attempt (§1); report it like any other ending.
    attempt_ended(st, core::outcome_from_exception(std::current_exception()));
    return;
  }
  auto done = [st](std::exception_ptr e, core::outcome o) mutable {
    auto sup = st->sup.lock();
    const core::child_id id = st->id;
    const std::uint64_t gen = st->generation;
    st.reset();  // the next attempt may reuse the state
    if (!sup) return;
    if (e) o = core::outcome_from_exception(e);
    sup->coroutine_ended(id, gen, std::move(o));
  };
  if (one_thread_) {
    // Nothing runs concurrently with the supervisor here anyway: start at once (the fast path).
    asio::co_spawn(st->executor, std::move(*aw),
                   asio::bind_cancellation_slot(st->cancel.slot(), std::move(done)));
    return;
  }
  spawn_later(st->executor, std::move(*aw),
              asio::bind_cancellation_slot(st->cancel.slot(), std::move(done)));
}

void supervisor_impl::perform(core::stop_attempt& a) {
  const auto& st = slots_[a.id].attempt;
  if (!st || st->generation != a.generation) return;
  st->stop.request_stop();
  if (auto r = st->runner()) {
    r->stop(*st);  // a thread or process attempt: its own ladder
    return;
  }
  // The cancellation signal belongs to the attempt's strand: emit it there.
  asio::post(st->executor, [st] { st->cancel.emit(asio::cancellation_type::terminal); });
}

void supervisor_impl::perform(core::abandon_attempt& a) {
  // A coroutine cannot be destroyed while it may be running on another thread: it is
  // abandoned. Its frame goes when it next resumes and finishes (it was cancelled), and its late
  // completion is ignored by generation.
  // A thread is abandoned the same way (it is reported, never joined by the supervisor); a
  // process gets SIGKILL and is reaped by its runner.
  auto& st = slots_[a.id].attempt;
  if (!st || st->generation != a.generation) return;
  st->stop.request_stop();
  if (slots_[a.id].task.kind() == task_kind::process && !st->reap_awaited.exchange(true)) {
    // The end (wait()) waits for the SIGKILLed process to be reaped: no child of ours
    // outlives the supervisor. Its runner reports through attempt_ended once it has reaped.
    ++hook_jobs_;
  }
  if (auto r = st->runner()) r->abandon(*st);
  if (!slots_[a.id].start_waiters.empty()) {
    resolve_start_waiters(a.id, make_error_code(errc::start_failed),
                          "child '" + machine_.info(a.id, clock_.now()).name +
                              "' was forced to stop before it was running");
  }
  slots_[a.id].strand = next_child_strand();  // the abandoned attempt keeps the old one
  // The machine already recorded how the forced attempt ended (timeout, unresponsive, or a
  // cancellation for a requested stop): on_failure runs for the failures, as for any exit.
  if (slots_[a.id].hooks) after_exit(a.id);
}

void supervisor_impl::perform(core::check_heartbeat& a) {
  const auto& st = slots_[a.id].attempt;
  if (!st || st->generation != a.generation) return;
  const core::time_point last{core::duration(st->last_beat.load(std::memory_order_relaxed))};
  machine_.on_heartbeat(a.id, a.generation, last, clock_.now());
}

void supervisor_impl::perform(core::publish_event& a) {
  bus_->publish(std::move(a.ev));
}

void supervisor_impl::perform(core::child_finished& a) {
  if (!slots_[a.id].start_waiters.empty()) {
    resolve_start_waiters(a.id, make_error_code(errc::start_failed),
                          "child '" + machine_.info(a.id, clock_.now()).name + "' ended " +
                              std::string(core::to_string(a.result.status)) +
                              " before it was running: " + core::describe(a.result.last));
  }
  auto waiters = std::move(slots_[a.id].outcome_waiters);
  slots_[a.id].outcome_waiters.clear();
  const auto& h = slots_[a.id].hooks;
  if (h && h->cleanup) {
    // §11: cleanup once per terminal transition (the machine reports each exactly once), off
    // the strand; the waiters that were already there resolve after it.
    ++hook_jobs_;
    auto w = std::make_shared<std::vector<final_reply>>(std::move(waiters));
    spawn_later(h->strand, invoke(h, h->cleanup),
                [self = shared_from_this(), h, w, result = a.result](std::exception_ptr e) {
                  if (e) report_hook_failure(*h, "cleanup", e);
                  for (auto& r : *w) self->reply(std::move(r), std::error_code{}, result);
                  asio::post(self->strand_, [self] { self->hook_job_done(); });
                });
    return;
  }
  for (auto& w : waiters) reply(std::move(w), std::error_code{}, a.result);
}

void supervisor_impl::perform(core::child_erased& a) {
  if (!slots_[a.id].start_waiters.empty()) {
    resolve_start_waiters(a.id, make_error_code(errc::start_failed),
                          "the child was removed before it was running");
  }
  slots_[a.id] = child_slot{};
}

void supervisor_impl::perform(core::command_done& a) {
  auto it = pending_.find(a.token);
  if (it == pending_.end()) return;
  auto r = std::move(it->second);
  pending_.erase(it);
  reply(std::move(r), a.code, std::string{});
}

void supervisor_impl::report_run_time_children_removed() {
  // §13.7: the next attempt of this subtree starts from its declared children only.
  if (!nested_ || !bus_->has_subscribers()) return;
  for (const core::child_id id : machine_.children()) {
    if (id >= slots_.size() || !slots_[id].added_at_run_time) continue;
    core::event e;
    e.kind = core::event_kind::child_removed;
    e.at = clock_.now();
    e.path_ = machine_.path_of(id);
    e.reason = "added at run time; its subtree ended";
    bus_->publish(std::move(e));
  }
}

void supervisor_impl::perform(core::supervisor_ended&) {
  report_run_time_children_removed();
  // Nothing will run again: drop the task factories, so a task that captured a handle to its
  // own supervisor (a reference cycle) does not keep it alive forever.
  for (auto& slot : slots_) slot.task = vigil::task{};
  cancel_timer();
  finish_after_drain();
}

}  // namespace vigil::detail
