// Running a child's lifecycle hooks: the attempt wrapper for on_start/on_restart, the hook
// coroutines the supervisor spawns on a child's hook strand, and failure reports.
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "event_bus.hpp"
#include "hooks_impl.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

bool has_hooks(const child_spec& s) noexcept {
  return s.setup || s.on_start || s.on_restart || s.on_failure || s.should_restart || s.cleanup ||
         s.on_shutdown;
}

std::shared_ptr<child_hooks> take_hooks(child_spec& s, const asio::any_io_executor& ex) {
  auto h = std::make_shared<child_hooks>(asio::make_strand(ex));
  h->setup = std::move(s.setup);
  h->on_start = std::move(s.on_start);
  h->on_restart = std::move(s.on_restart);
  h->on_failure = std::move(s.on_failure);
  h->should_restart = std::move(s.should_restart);
  h->cleanup = std::move(s.cleanup);
  h->on_shutdown = std::move(s.on_shutdown);
  return h;
}

std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

void report_hook_failure(const child_hooks& h, std::string_view hook_name, std::exception_ptr e) {
  if (!h.bus || !h.bus->has_subscribers()) return;
  event ev;
  ev.kind = event_kind::subscriber_failed;
  ev.path_ = h.path;
  if (h.clk != nullptr) ev.at = h.clk->now();
  ev.reason = std::string(hook_name) + " hook threw: " + what_of(std::move(e));
  h.bus->publish(std::move(ev));
}

asio::awaitable<void> invoke(std::shared_ptr<const child_hooks> keep, const hook<void()>& h) {
  if (h.sync()) {
    h.sync()();
  } else if (h.async()) {
    auto aw = h.async()();
    co_await std::move(aw);
  }
  (void)keep;
}

asio::awaitable<void> invoke_outcome(std::shared_ptr<const child_hooks> keep,
                                     const hook<void(const outcome&)>& h, outcome o) {
  if (h.sync()) {
    h.sync()(o);
  } else if (h.async()) {
    auto aw = h.async()(o);
    co_await std::move(aw);
  }
  (void)keep;
}

asio::awaitable<bool> invoke_bool(std::shared_ptr<const child_hooks> keep,
                                  const hook<bool(const outcome&)>& h, outcome o) {
  bool r = true;
  if (h.sync()) {
    r = h.sync()(o);
  } else if (h.async()) {
    auto aw = h.async()(o);
    r = co_await std::move(aw);
  }
  (void)keep;
  co_return r;
}

namespace {

asio::awaitable<void> invoke_attempt(const hook<void(std::uint32_t)>& h, std::uint32_t n) {
  if (h.sync()) {
    h.sync()(n);
  } else if (h.async()) {
    auto aw = h.async()(n);
    co_await std::move(aw);
  }
}

// The hooks that run inside an attempt, in order: on_restart (attempts >= 2), then on_start.
// Returns the failure to report instead of running the task, if one threw.
asio::awaitable<std::optional<outcome>> before_attempt(std::shared_ptr<const child_hooks> h,
                                                       std::uint32_t n) {
  const char* which = "on_restart";
  std::exception_ptr thrown;
  try {
    if (n >= 2 && h->on_restart) co_await invoke_attempt(h->on_restart, n);
    which = "on_start";
    if (h->on_start) co_await invoke_attempt(h->on_start, n);
  } catch (...) {
    thrown = std::current_exception();
  }
  if (!thrown) co_return std::nullopt;
  outcome o = failure(std::string(which) + " hook threw: " + what_of(thrown));
  o.exception = thrown;
  co_return o;
}

// A coroutine task behind its on_start/on_restart hooks. Being stateful, vigil::task copies it
// into each attempt's frame (§13.27), which outlives the attempt below: hooked_attempt may
// refer to that copy instead of copying the hooks and the inner task once more.
struct hooked_task {
  std::shared_ptr<const child_hooks> h;
  coroutine_task inner;  // itself runs every attempt on a fresh copy of the user's callable
  asio::awaitable<outcome> operator()(context ctx) const;
};

asio::awaitable<outcome> hooked_attempt(const hooked_task& t, context ctx) {
  auto failed = co_await before_attempt(t.h, ctx.attempt());
  if (failed) co_return std::move(*failed);
  auto aw = t.inner(std::move(ctx));
  co_return co_await std::move(aw);
}

asio::awaitable<outcome> hooked_task::operator()(context ctx) const {
  return hooked_attempt(*this, std::move(ctx));
}

}  // namespace

vigil::task with_attempt_hooks(vigil::task t, const std::shared_ptr<const child_hooks>& h) {
  if (!h || (!h->on_start && !h->on_restart)) return t;
  switch (t.kind()) {
    case task_kind::coroutine: {
      return vigil::task(hooked_task{h, t.coroutine()});
    }
    case task_kind::thread: {
      thread_task inner = t.thread_body();
      return make_thread_task([h, inner](context ctx) -> outcome {
        // The hooks run on the child's hook strand while this thread waits. Everything Asio
        // does with executors happens there: this thread only posts and waits on a promise.
        auto p = std::make_shared<std::promise<std::optional<outcome>>>();
        auto f = p->get_future();
        asio::post(h->strand, [h, p, n = ctx.attempt()] {
          asio::co_spawn(h->strand, before_attempt(h, n),
                         [p](std::exception_ptr e, std::optional<outcome> failed) {
                           if (e) failed = failure("hook threw: " + what_of(e));
                           p->set_value(std::move(failed));
                         });
        });
        if (auto failed = f.get()) return std::move(*failed);
        return inner(std::move(ctx));
      });
    }
    default:
      throw error(errc::invalid_argument,
                  "on_start and on_restart hooks are supported for coroutine and thread tasks "
                  "only");
  }
}

}  // namespace vigil::detail
