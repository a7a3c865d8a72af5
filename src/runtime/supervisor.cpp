// The supervisor actor, the handle's calls and the supervisor object.
#include <future>
#include <random>

#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "supervisor_impl.hpp"
#include "task_runners.hpp"
#include "vigil/runtime/context.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

owner_token::~owner_token() {
  if (impl) impl->shutdown();
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
      strand_(asio::make_strand(pool_)),
      clock_(clk),
      opts_(std::move(opts)),
      path_(path ? std::move(path) : std::make_shared<const std::string>(opts_.name)),
      default_policy_(std::make_shared<const core::child_policy>(
          resolve_policy(child_spec{}, opts_.child_defaults))),
      machine_(
          core::supervisor_policy{opts_.strategy, opts_.intensity, opts_.grace,
                                  opts_.max_concurrent, opts_.max_children, opts_.exit_when_idle,
                                  opts_.auto_shutdown, opts_.dead_threshold},
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
  // Waiters still pending here mean the executor was destroyed first: their handlers are
  // destroyed without a call (a blocking wait turns that into supervisor_gone).
}

template <class Reply, class... Args>
void supervisor_impl::reply(Reply r, Args&&... args) {
  // Handlers never run inline: post through the pool, which hands the handler on to its own
  // associated executor when it has one.
  asio::post(pool_, asio::append(std::move(r), std::forward<Args>(args)...));
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
  asio::post(
      strand_, [self = shared_from_this(), spec = std::move(spec), r = std::move(r)]() mutable {
        std::shared_ptr<const core::child_policy> policy;
        if (!spec.task) {
          self->reply(std::move(r), make_error_code(errc::invalid_argument),
                      "child '" + spec.name + "' has no task");
          return;
        }
        // A nested supervisor stops its own children first: no forced stop unless asked for.
        if (spec.task.kind() == task_kind::supervisor && !spec.shutdown) spec.shutdown = infinity;
        const bool defaults_only = !spec.restart && !spec.backoff && !spec.interval &&
                                   !spec.max_retries && !spec.stable_after && !spec.timeout &&
                                   !spec.heartbeat_timeout && !spec.shutdown && !spec.wait_ready &&
                                   !spec.startup_timeout && !spec.significant && !spec.on_exhausted;
        try {
          // Children without overrides share one policy object.
          policy = defaults_only ? self->default_policy_
                                 : std::make_shared<const core::child_policy>(
                                       resolve_policy(spec, self->opts_.child_defaults));
        } catch (const error& e) {
          self->reply(std::move(r), e.code(), "child '" + spec.name + "': " + e.what());
          return;
        }
        auto res = self->machine_.add_child(spec.name, std::move(policy), spec.task.kind(),
                                            self->clock_.now(), spec.depends_on);
        // add_child queued its actions; the slot is filled before pump() performs them.
        if (res) {
          if (self->slots_.size() <= res.id) self->slots_.resize(res.id + 1);
          auto& slot = self->slots_[res.id];
          slot = child_slot{};
          slot.task = std::move(spec.task);
          slot.shared = std::make_shared<child_shared>();
        }
        self->pump();
        self->reply(std::move(r), res.code, std::move(res.message));
      });
}

void supervisor_impl::command(detail::command c, std::string name, command_reply r) {
  asio::post(strand_, [self = shared_from_this(), c, name = std::move(name),
                       r = std::move(r)]() mutable { self->run_command(c, name, std::move(r)); });
}

void supervisor_impl::run_command(detail::command c, const std::string& name, command_reply r) {
  const auto now = clock_.now();
  const bool waits =
      c == command::stop || c == command::restart || c == command::remove || c == command::start;
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
  if (!res) {
    reply(std::move(r), res.code, std::move(res.message));
  } else if (waits) {
    pending_.emplace(token, std::move(r));
  } else {
    reply(std::move(r), std::error_code{}, std::string{});
  }
  pump();
}

core::child_info supervisor_impl::info_of(core::child_id id) {
  core::child_info i = machine_.info(id, clock_.now());
  if (id < slots_.size() && slots_[id].shared) {
    std::lock_guard lock(slots_[id].shared->m);
    i.status_text = slots_[id].shared->status_text;
  }
  return i;
}

void supervisor_impl::status(std::string name, info_reply r) {
  asio::post(strand_,
             [self = shared_from_this(), name = std::move(name), r = std::move(r)]() mutable {
               const core::child_id id = self->machine_.find(name);
               if (id == core::no_child) {
                 self->reply(std::move(r), make_error_code(errc::not_found), core::child_info{});
                 return;
               }
               self->reply(std::move(r), std::error_code{}, self->info_of(id));
             });
}

void supervisor_impl::children(list_reply r) {
  asio::post(strand_, [self = shared_from_this(), r = std::move(r)]() mutable {
    std::vector<core::child_info> list;
    for (const core::child_id id : self->machine_.children()) list.push_back(self->info_of(id));
    self->reply(std::move(r), std::error_code{}, std::move(list));
  });
}

void supervisor_impl::tree(std::function<void(std::vector<core::child_info>)> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    // Each nested supervisor answers from its own strand; the parts are spliced in start
    // order once the last one has answered.
    struct gather {
      std::mutex m;
      std::vector<std::vector<core::child_info>> parts;
      std::size_t pending = 1;
      std::function<void(std::vector<core::child_info>)> done;
      void arrived() {
        std::vector<core::child_info> all;
        {
          std::lock_guard lock(m);
          if (--pending != 0) return;
          for (auto& p : parts) std::move(p.begin(), p.end(), std::back_inserter(all));
        }
        done(std::move(all));
      }
    };
    auto g = std::make_shared<gather>();
    g->done = std::move(done);
    const auto ids = self->machine_.children();
    g->parts.resize(ids.size());
    std::vector<std::pair<std::size_t, std::shared_ptr<supervisor_impl>>> nested;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      g->parts[i].push_back(self->info_of(ids[i]));
      const auto& st = ids[i] < self->slots_.size() ? self->slots_[ids[i]].attempt : nullptr;
      if (st) {
        if (auto n = nested_of(*st)) nested.emplace_back(i, std::move(n));
      }
    }
    g->pending += nested.size();
    for (auto& [i, n] : nested) {
      n->tree([g, i = i](std::vector<core::child_info> sub) {
        {
          std::lock_guard lock(g->m);
          auto& part = g->parts[i];
          std::move(sub.begin(), sub.end(), std::back_inserter(part));
        }
        g->arrived();
      });
    }
    g->arrived();
  });
}

void supervisor_impl::outcome(std::string name, final_reply r) {
  asio::post(strand_,
             [self = shared_from_this(), name = std::move(name), r = std::move(r)]() mutable {
               const core::child_id id = self->machine_.find(name);
               if (id == core::no_child) {
                 self->reply(std::move(r), make_error_code(errc::not_found), core::final_result{});
                 return;
               }
               if (auto f = self->machine_.final_of(id)) {
                 self->reply(std::move(r), std::error_code{}, *f);
                 return;
               }
               self->slots_[id].outcome_waiters.push_back(std::move(r));
             });
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
      asio::post(self->strand_, [self] {
        self->machine_.set_events_enabled(self->bus_->has_subscribers());
      });
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
  asio::post(strand_, [self = shared_from_this(), id = st->id, gen = st->generation,
                       o = std::move(o)]() mutable {
    self->machine_.on_exit(id, gen, std::move(o), self->clock_.now());
    self->pump();
  });
}

void supervisor_impl::attempt_ready(const std::shared_ptr<attempt_state>& st) {
  asio::post(strand_, [self = shared_from_this(), id = st->id, gen = st->generation] {
    self->machine_.on_ready(id, gen, self->clock_.now());
    self->pump();
  });
}

void supervisor_impl::pump() {
  while (auto a = machine_.next_action()) {
    std::visit([this](auto& x) { perform(x); }, *a);
  }
  if (!machine_.ended()) arm_timer();
}

void supervisor_impl::perform(core::start_attempt& a) {
  child_slot& slot = slots_[a.id];
  auto st = std::make_shared<attempt_state>(asio::make_strand(pool_));
  st->sup = weak_from_this();
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

  switch (slot.task.kind()) {
    case task_kind::thread:
      start_thread_attempt(st, slot.task.thread_body());
      return;
    case task_kind::process:
      st->bus = bus_;
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
  auto done = [st](std::exception_ptr e, core::outcome o) {
    auto sup = st->sup.lock();
    if (!sup) return;
    sup->attempt_ended(st, e ? core::outcome_from_exception(e) : std::move(o));
  };
  asio::co_spawn(st->executor, std::move(*aw),
                 asio::bind_cancellation_slot(st->cancel.slot(), std::move(done)));
}

void supervisor_impl::perform(core::stop_attempt& a) {
  const auto& st = slots_[a.id].attempt;
  if (!st || st->generation != a.generation) return;
  st->stop.request_stop();
  if (auto r = st->runner.lock()) {
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
  if (auto r = st->runner.lock()) r->abandon(*st);
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
  auto waiters = std::move(slots_[a.id].outcome_waiters);
  slots_[a.id].outcome_waiters.clear();
  for (auto& w : waiters) reply(std::move(w), std::error_code{}, a.result);
}

void supervisor_impl::perform(core::child_erased& a) {
  slots_[a.id] = child_slot{};
}

void supervisor_impl::perform(core::command_done& a) {
  auto it = pending_.find(a.token);
  if (it == pending_.end()) return;
  auto r = std::move(it->second);
  pending_.erase(it);
  reply(std::move(r), a.code, std::string{});
}

void supervisor_impl::perform(core::supervisor_ended&) {
  // Nothing will run again: drop the task factories, so a task that captured a handle to its
  // own supervisor (a reference cycle) does not keep it alive forever.
  for (auto& slot : slots_) slot.task = vigil::task{};
  cancel_timer();
  finish_after_drain();
}

void supervisor_impl::perform(core::run_setup& a) {
  // No setup hook is wired to child_spec yet (TODO(#6)): a setup step succeeds at once.
  machine_.on_setup_done(a.id, a.token, std::nullopt, clock_.now());
}

void supervisor_impl::perform(core::ask_should_restart& a) {
  // No should_restart hook is wired to child_spec yet (TODO(#6)): the policy decides.
  machine_.on_should_restart(a.id, a.generation, true, clock_.now());
}

// ---------------------------------------------------------------- the one timer

void supervisor_impl::arm_timer() {
  const auto next = machine_.next_deadline();
  if (next == armed_) return;
  cancel_timer();
  armed_ = next;
  if (!next) return;
  auto sig = std::make_shared<asio::cancellation_signal>();
  timer_cancel_ = sig;
  clock_.async_wait_until(
      strand_, *next, sig->slot(),
      asio::bind_executor(strand_, [self = shared_from_this(), sig](boost::system::error_code ec) {
        if (!ec) self->on_timer(sig);
      }));
}

void supervisor_impl::cancel_timer() {
  if (timer_cancel_) {
    timer_cancel_->emit(asio::cancellation_type::all);
    timer_cancel_.reset();
  }
  armed_.reset();
}

void supervisor_impl::on_timer(const std::shared_ptr<asio::cancellation_signal>& sig) {
  if (sig != timer_cancel_) return;  // superseded by a re-arm
  timer_cancel_.reset();
  armed_.reset();
  machine_.on_deadline(clock_.now());
  pump();
}

// ---------------------------------------------------------------- the end

void supervisor_impl::finish_after_drain() {
  if (draining_) return;
  draining_ = true;
  // §13.18: subscribers get one shared deadline to drain; a blocked one is not awaited past it.
  auto sig = std::make_shared<asio::cancellation_signal>();
  timer_cancel_ = sig;
  clock_.async_wait_until(
      strand_, core::saturating_add(clock_.now(), opts_.subscriber_drain), sig->slot(),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->complete_wait();
      }));
  bus_->notify_when_idle([self = shared_from_this()] {
    asio::post(self->strand_, [self] { self->complete_wait(); });
  });
}

void supervisor_impl::complete_wait() {
  if (drained_) return;
  drained_ = true;
  cancel_timer();
  bus_->notify_when_idle(nullptr);
  for (auto& w : waiters_) reply(std::move(w), std::error_code{}, *machine_.result());
  waiters_.clear();
}

// ---------------------------------------------------------------- handle plumbing

namespace {
void require(const std::shared_ptr<supervisor_impl>& impl) {
  if (!impl) throw error(errc::supervisor_gone, "empty vigil::handle");
}
}  // namespace

void send_add(const std::shared_ptr<supervisor_impl>& impl, child_spec spec, command_reply r) {
  require(impl);
  impl->add(std::move(spec), std::move(r));
}

void send_command(const std::shared_ptr<supervisor_impl>& impl, command c, std::string name,
                  command_reply r) {
  require(impl);
  impl->command(c, std::move(name), std::move(r));
}

void send_status(const std::shared_ptr<supervisor_impl>& impl, std::string name, info_reply r) {
  require(impl);
  impl->status(std::move(name), std::move(r));
}

void send_children(const std::shared_ptr<supervisor_impl>& impl, list_reply r) {
  require(impl);
  impl->children(std::move(r));
}

void send_tree(const std::shared_ptr<supervisor_impl>& impl, list_reply r) {
  require(impl);
  auto ex = impl->executor();
  auto shared = std::make_shared<list_reply>(std::move(r));
  impl->tree([ex, shared](std::vector<core::child_info> all) {
    asio::post(ex, asio::append(std::move(*shared), std::error_code{}, std::move(all)));
  });
}

void send_outcome(const std::shared_ptr<supervisor_impl>& impl, std::string name, final_reply r) {
  require(impl);
  impl->outcome(std::move(name), std::move(r));
}

void send_wait(const std::shared_ptr<supervisor_impl>& impl, wait_reply r) {
  require(impl);
  impl->wait(std::move(r));
}

asio::any_io_executor executor_of(const std::shared_ptr<supervisor_impl>& impl) {
  return impl->executor();
}

}  // namespace vigil::detail
