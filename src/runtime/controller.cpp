// The controller: named slots, admission (queue / replace / drop_if_running), rejections and
// slot events, on its own strand of the supervisor's executor (SEMANTICS §12, §13.22).
#include "vigil/runtime/controller.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "supervisor_impl.hpp"

namespace vigil {

namespace asio = boost::asio;

// ---------------------------------------------------------------- rejection codes

namespace {
class rejection_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "vigil.controller"; }
  std::string message(int v) const override {
    switch (static_cast<rejection>(v)) {
      case rejection::queue_full:
        return "queue_full";
      case rejection::superseded:
        return "superseded";
      case rejection::slot_busy:
        return "slot_busy";
      case rejection::removed_from_queue:
        return "removed_from_queue";
      case rejection::shutting_down:
        return "shutting_down";
      case rejection::already_exists:
        return "already_exists";
    }
    return "unknown rejection";
  }
};
}  // namespace

const std::error_category& rejection_category() noexcept {
  static const rejection_category_impl c;
  return c;
}

std::error_code make_error_code(rejection r) noexcept {
  return {static_cast<int>(r), rejection_category()};
}

std::string_view to_string(slot_state s) noexcept {
  switch (s) {
    case slot_state::idle:
      return "idle";
    case slot_state::running:
      return "running";
    case slot_state::terminating:
      return "terminating";
  }
  return "?";
}

std::string_view to_string(admission a) noexcept {
  switch (a) {
    case admission::queue:
      return "queue";
    case admission::replace:
      return "replace";
    case admission::drop_if_running:
      return "drop_if_running";
  }
  return "?";
}

// ---------------------------------------------------------------- the state

namespace detail {

struct submission {
  std::string slot;
  child_spec spec;
  admission adm = admission::queue;
  std::optional<submit_reply> reply;
};

class controller_state : public std::enable_shared_from_this<controller_state> {
 public:
  controller_state(std::shared_ptr<supervisor_impl> i, controller_options o)
      : impl(std::move(i)), strand(asio::make_strand(impl->executor())), opts(o) {}

  std::shared_ptr<supervisor_impl> impl;
  asio::strand<asio::any_io_executor> strand;
  controller_options opts;
  // Submissions accepted and not yet started or rejected (bounded by max_queued).
  std::atomic<std::size_t> units{0};

  // The controller's answer to a handle's stop or remove of a name the supervisor does not
  // list: none when the controller does not hold it either, else the call's result.
  using name_answer = std::function<void(std::optional<std::error_code>)>;

  // Everything below is touched only on `strand`.
  struct slot {
    slot_state state = slot_state::idle;
    std::string running;
    std::uint64_t token = 0;  // the running submission's
    bool adding = false;      // its add is on its way to the supervisor
    std::deque<submission> queue;
    // Handle commands that came for the running submission before its add arrived.
    std::vector<std::pair<command, name_answer>> after_add;
  };
  std::map<std::string, slot, std::less<>> slots;
  std::deque<submission> waiting;  // for a unit of max_queued
  std::uint64_t next_token = 1;
  bool closed = false;

  bool try_reserve() {
    if (opts.max_queued == 0) {
      units.fetch_add(1);
      return true;
    }
    std::size_t n = units.load();
    while (n < opts.max_queued) {
      if (units.compare_exchange_weak(n, n + 1)) return true;
    }
    return false;
  }

  // A submission left the controller (started or rejected): its unit goes to the first
  // waiting submission, if any (posted, so no admission runs inside another).
  void release() {
    if (!waiting.empty()) {
      auto w = std::make_shared<submission>(std::move(waiting.front()));
      waiting.pop_front();
      asio::post(strand, [self = shared_from_this(), w] { self->admit(std::move(*w)); });
      return;
    }
    units.fetch_sub(1);
  }

  void publish(event_kind k, const std::string& name, std::string reason) {
    event e;
    e.kind = k;
    e.path_ = std::make_shared<const std::string>(name.empty() ? impl->path()
                                                               : impl->path() + "/" + name);
    e.reason = std::move(reason);
    impl->publish_external(std::move(e));
  }

  void answer(submission& s, std::error_code ec) {
    if (!s.reply) return;
    submit_reply r(std::move(*s.reply));
    s.reply.reset();
    asio::post(impl->executor(), asio::append(std::move(r), ec));
  }

  // Rejects a submission that holds a unit.
  void reject(submission& s, std::error_code ec) {
    publish(event_kind::controller_rejected, s.spec.name,
            std::string(ec.category() == rejection_category() ? ec.message()
                                                              : "error: " + ec.message()) +
                " slot=" + s.slot);
    answer(s, ec);
    release();
  }
  void reject(submission& s, rejection r) { reject(s, make_error_code(r)); }

  void transition(const std::string& slot_name, slot& sl, slot_state to) {
    const slot_state from = sl.state;
    sl.state = to;
    if (from == to) return;
    publish(event_kind::slot_transition, sl.running,
            "slot=" + slot_name + " " + std::string(to_string(from)) + " -> " +
                std::string(to_string(to)));
  }

  bool name_taken(const submission& s) const {
    for (const auto& [name, sl] : slots) {
      if (name != s.slot && sl.state != slot_state::idle && sl.running == s.spec.name) return true;
      for (const auto& q : sl.queue) {
        if (q.spec.name == s.spec.name) return true;
      }
    }
    return false;
  }

  // A submission holding a unit arrives (on the strand).
  void admit(submission s) {
    if (closed) return reject(s, rejection::shutting_down);
    if (name_taken(s)) return reject(s, rejection::already_exists);
    auto& sl = slots[s.slot];
    if (sl.state == slot_state::idle) {
      publish(event_kind::controller_submitted, s.spec.name,
              "slot=" + s.slot + " admission=" + std::string(to_string(s.adm)));
      std::string slot_name = s.slot;  // s is moved below
      return start(slot_name, sl, std::move(s));
    }
    switch (s.adm) {
      case admission::drop_if_running:
        return reject(s, rejection::slot_busy);
      case admission::queue:
        if (sl.queue.size() >= opts.max_slot_queue) return reject(s, rejection::queue_full);
        publish(event_kind::controller_submitted, s.spec.name,
                "slot=" + s.slot + " admission=queue");
        sl.queue.push_back(std::move(s));
        return;
      case admission::replace:
        publish(event_kind::controller_submitted, s.spec.name,
                "slot=" + s.slot + " admission=replace");
        if (!sl.queue.empty()) {
          submission displaced = std::move(sl.queue.front());
          sl.queue.pop_front();
          reject(displaced, rejection::superseded);
        }
        sl.queue.push_front(std::move(s));
        if (sl.state == slot_state::running) {
          transition(sl.queue.front().slot, sl, slot_state::terminating);  // s moved: use front
          impl->command(command::remove, sl.running,
                        command_reply([](std::error_code, std::string) {}));
        }
        return;
    }
  }

  // Adds the submission's child; the slot is freed by its outcome (never by an event).
  void start(std::string slot_name, slot& sl, submission s) {
    const std::uint64_t token = next_token++;
    sl.running = s.spec.name;
    sl.token = token;
    sl.adding = true;
    transition(slot_name, sl, slot_state::running);
    s.spec.retention = retention::remove_on_exit;
    auto sub = std::make_shared<submission>(std::move(s));
    std::vector<child_spec> list;
    list.push_back(std::move(sub->spec));
    sub->spec.name = list.front().name;
    std::vector<final_reply> watch;
    watch.emplace_back(
        [self = shared_from_this(), slot_name, token](std::error_code ec, final_result) {
          if (ec) return;  // a refused add: its command reply below frees the slot
          asio::post(self->strand, [self, slot_name, token] { self->finished(slot_name, token); });
        });
    impl->add_all(std::move(list),
                  command_reply([self = shared_from_this(), slot_name, token, sub](
                                    std::error_code ec, std::string) {
                    asio::post(self->strand, [self, slot_name, token, sub, ec] {
                      self->added(slot_name, token, *sub, ec);
                    });
                  }),
                  std::move(watch));
  }

  void added(const std::string& slot_name, std::uint64_t token, submission& s, std::error_code ec) {
    std::vector<std::pair<command, name_answer>> waiting_commands;
    if (auto it = slots.find(slot_name); it != slots.end() && it->second.token == token) {
      it->second.adding = false;
      waiting_commands.swap(it->second.after_add);
    }
    // The add has been handled on the supervisor's strand, so a command sent now finds the
    // child (not_found: it has already ended and gone, which a stop of it also means). A
    // refused add: the submission is rejected and will never run; the command succeeds.
    for (auto& [c, done] : waiting_commands) {
      if (ec) {
        done(std::error_code{});
        continue;
      }
      impl->command(c, s.spec.name,
                    command_reply([done = std::move(done)](std::error_code e, std::string) {
                      done(e == errc::not_found ? std::error_code{} : e);
                    }));
    }
    if (!ec) {
      // Its place in the queue is free before the submitter hears of it: a submit right after
      // must find room (the answer is posted and could run before a later release()).
      release();
      answer(s, {});
      return;
    }
    std::error_code code = ec;
    if (ec == errc::shutting_down) code = make_error_code(rejection::shutting_down);
    if (ec == errc::already_exists) code = make_error_code(rejection::already_exists);
    reject(s, code);
    if (ec == errc::shutting_down) close();
    finished(slot_name, token);
  }

  // The slot's child is terminal (or was never added): start the head of its queue.
  void finished(const std::string& slot_name, std::uint64_t token) {
    auto it = slots.find(slot_name);
    if (it == slots.end() || it->second.token != token) return;
    slot& sl = it->second;
    sl.token = 0;
    transition(slot_name, sl, slot_state::idle);
    sl.running.clear();
    if (sl.queue.empty()) return;
    submission next = std::move(sl.queue.front());
    sl.queue.pop_front();
    if (closed) return reject(next, rejection::shutting_down);
    const std::string name = slot_name;  // `slot_name` may live in a lambda that start() ends
    start(name, sl, std::move(next));
  }

  // §13.22: queued submissions are rejected once the supervisor (or controller) goes away.
  void close() {
    closed = true;
    for (auto& [name, sl] : slots) {
      while (!sl.queue.empty()) {
        submission s = std::move(sl.queue.front());
        sl.queue.pop_front();
        reject(s, rejection::shutting_down);
      }
    }
    while (!waiting.empty()) {
      submission s = std::move(waiting.front());
      waiting.pop_front();
      units.fetch_add(1);  // reject() releases a unit it never held
      reject(s, rejection::shutting_down);
    }
  }

  // §13.22: a handle's stop or remove of `name`, which the supervisor does not list. A queued
  // submission of that name (in a slot's queue or waiting for room) is rejected
  // removed_from_queue and the call succeeds; one whose add is on its way gets the command
  // once it is listed; otherwise the controller does not hold it (nullopt).
  void take_named(command c, const std::string& name, name_answer done) {
    bool taken = false;
    for (auto& [slot_name, sl] : slots) {
      for (auto it = sl.queue.begin(); it != sl.queue.end();) {
        if (it->spec.name != name) {
          ++it;
          continue;
        }
        submission s = std::move(*it);
        it = sl.queue.erase(it);
        reject(s, rejection::removed_from_queue);
        taken = true;
      }
    }
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (it->spec.name != name) {
        ++it;
        continue;
      }
      submission s = std::move(*it);
      it = waiting.erase(it);
      units.fetch_add(1);  // reject() releases a unit it never held
      reject(s, rejection::removed_from_queue);
      taken = true;
    }
    if (taken) return done(std::error_code{});
    for (auto& [slot_name, sl] : slots) {
      if (sl.state != slot_state::idle && sl.adding && sl.running == name) {
        sl.after_add.emplace_back(c, std::move(done));
        return;
      }
    }
    done(std::nullopt);
  }

  void remove(const std::string& name, submit_reply r) {
    const auto done = [&](std::error_code ec) {
      asio::post(impl->executor(), asio::append(std::move(r), ec));
    };
    for (auto& [slot_name, sl] : slots) {
      for (auto it = sl.queue.begin(); it != sl.queue.end(); ++it) {
        if (it->spec.name != name) continue;
        submission s = std::move(*it);
        sl.queue.erase(it);
        reject(s, rejection::removed_from_queue);
        return done({});
      }
    }
    for (auto it = waiting.begin(); it != waiting.end(); ++it) {
      if (it->spec.name != name) continue;
      submission s = std::move(*it);
      waiting.erase(it);
      units.fetch_add(1);
      reject(s, rejection::removed_from_queue);
      return done({});
    }
    for (auto& [slot_name, sl] : slots) {
      if (sl.state == slot_state::idle || sl.running != name) continue;
      if (sl.state == slot_state::running) transition(slot_name, sl, slot_state::terminating);
      impl->command(command::remove, name,
                    command_reply([r = std::move(r)](std::error_code ec, std::string) mutable {
                      std::move(r)(ec == errc::not_found ? std::error_code{} : ec);
                    }));
      return;
    }
    done(make_error_code(errc::not_found));
  }
};

// ---------------------------------------------------------------- the supervisor's side

void supervisor_impl::attach_controller(std::weak_ptr<controller_state> c) {
  std::lock_guard lock(controllers_m_);
  std::erase_if(controllers_, [](const auto& w) { return w.expired(); });
  controllers_.push_back(std::move(c));
}

void supervisor_impl::ask_controllers(detail::command c, const std::string& name,
                                      core::command_result res, command_reply r) {
  std::vector<std::shared_ptr<controller_state>> live;
  {
    std::lock_guard lock(controllers_m_);
    std::erase_if(controllers_, [&live](const auto& w) {
      auto s = w.lock();
      if (!s) return true;
      live.push_back(std::move(s));
      return false;
    });
  }
  if (live.empty()) {
    asio::post(pool_, asio::append(std::move(r), res.code, std::move(res.message)));
    return;
  }
  // Every controller is asked on its own strand; once all have answered, the call gets the
  // first success, else the first error, else the machine's not_found.
  struct gather {
    explicit gather(command_reply reply, core::command_result not_found, std::size_t n)
        : r(std::move(reply)), res(std::move(not_found)), left(n) {}
    std::mutex m;
    command_reply r;
    core::command_result res;
    std::size_t left;
    std::optional<std::error_code> answer;
  };
  auto g = std::make_shared<gather>(std::move(r), std::move(res), live.size());
  for (auto& st : live) {
    asio::post(st->strand, [st, c, name, g, ex = pool_] {
      st->take_named(c, name, [g, ex](std::optional<std::error_code> a) {
        std::unique_lock lock(g->m);
        if (a && (!g->answer || (*g->answer && !*a))) g->answer = a;
        if (--g->left != 0) return;
        lock.unlock();
        if (g->answer) {
          asio::post(ex, asio::append(std::move(g->r), *g->answer, std::string{}));
        } else {
          asio::post(ex, asio::append(std::move(g->r), g->res.code, std::move(g->res.message)));
        }
      });
    });
  }
}

}  // namespace detail

// ---------------------------------------------------------------- the controller

controller::controller(handle h, controller_options options) {
  if (!h.impl_) throw error(errc::supervisor_gone, "controller: empty handle");
  state_ = std::make_shared<detail::controller_state>(h.impl_, options);
  h.impl_->attach_controller(state_);
}

controller::~controller() {
  asio::post(state_->strand, [s = state_] { s->close(); });
}

void controller::submit_(const std::shared_ptr<detail::controller_state>& st, std::string slot,
                         child_spec spec, admission a, detail::submit_reply r, bool wait) {
  detail::submission s{std::move(slot), std::move(spec), a, std::nullopt};
  s.reply.emplace(std::move(r));
  auto sub = std::make_shared<detail::submission>(std::move(s));
  if (st->try_reserve()) {
    asio::post(st->strand, [st, sub] { st->admit(std::move(*sub)); });
    return;
  }
  (void)wait;  // try_submit never gets here (it checks first)
  asio::post(st->strand, [st, sub] {
    if (st->try_reserve()) return st->admit(std::move(*sub));
    if (st->closed) {
      st->units.fetch_add(1);
      return st->reject(*sub, rejection::shutting_down);
    }
    st->waiting.push_back(std::move(*sub));
  });
}

std::error_code controller::try_submit(std::string slot, child_spec spec, admission a,
                                       std::function<void(std::error_code)> done) {
  if (!state_->try_reserve()) return make_error_code(rejection::queue_full);
  detail::submission s{std::move(slot), std::move(spec), a, std::nullopt};
  s.reply.emplace(detail::submit_reply([done = std::move(done)](std::error_code ec) {
    if (done) done(ec);
  }));
  auto sub = std::make_shared<detail::submission>(std::move(s));
  asio::post(state_->strand, [st = state_, sub] { st->admit(std::move(*sub)); });
  return {};
}

namespace {
void check_blocking(const detail::controller_state& s, const char* what) {
  if (s.impl->running_in_executor_thread()) {
    throw error(errc::would_deadlock, std::string("controller::") + what +
                                          ": blocking call from a thread running the "
                                          "supervisor's executor; use the async_ form");
  }
}
template <class T>
T get(std::future<T>& f, const char* what) {
  try {
    return f.get();
  } catch (const std::future_error&) {
    throw error(errc::supervisor_gone, std::string("controller::") + what + ": gone");
  }
}
}  // namespace

std::error_code controller::submit(std::string slot, child_spec spec, admission a) {
  check_blocking(*state_, "submit");
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  submit_(state_, std::move(slot), std::move(spec), a,
          detail::submit_reply([p](std::error_code ec) { p->set_value(ec); }), true);
  return get(f, "submit");
}

void controller::remove_(const std::shared_ptr<detail::controller_state>& st, std::string name,
                         detail::submit_reply r) {
  auto sr = std::make_shared<detail::submit_reply>(std::move(r));
  asio::post(st->strand, [st, name = std::move(name), sr] { st->remove(name, std::move(*sr)); });
}

std::error_code controller::remove(std::string name) {
  check_blocking(*state_, "remove");
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  remove_(state_, std::move(name),
          detail::submit_reply([p](std::error_code ec) { p->set_value(ec); }));
  return get(f, "remove");
}

void controller::slots_(const std::shared_ptr<detail::controller_state>& st,
                        detail::slots_reply r) {
  auto sr = std::make_shared<detail::slots_reply>(std::move(r));
  asio::post(st->strand, [st, sr] {
    std::vector<slot_info> out;
    for (const auto& [name, sl] : st->slots) {
      out.push_back({name, sl.state, sl.running, sl.queue.size()});
    }
    asio::post(st->impl->executor(),
               asio::append(std::move(*sr), std::error_code{}, std::move(out)));
  });
}

std::vector<slot_info> controller::slots() const {
  check_blocking(*state_, "slots");
  auto p = std::make_shared<std::promise<std::vector<slot_info>>>();
  auto f = p->get_future();
  slots_(state_, detail::slots_reply([p](std::error_code, std::vector<slot_info> v) {
           p->set_value(std::move(v));
         }));
  return get(f, "slots");
}

}  // namespace vigil
