// Nested supervisors: a supervisor as a child's task (vigil::subtree).
#include <atomic>

#include "supervisor_impl.hpp"
#include "task_runners.hpp"
#include "vigil/runtime/supervisor.hpp"

namespace vigil {

task::task(const subtree& tree)
    : kind_(task_kind::supervisor),
      body_(std::shared_ptr<const subtree>(std::make_shared<const subtree>(tree))) {}

namespace detail {

namespace {

// The nested supervisor of one attempt. Kept alive by its pending wait; the attempt holds it
// weakly, as for threads and processes.
struct nested_runner final : attempt_runner {
  std::shared_ptr<supervisor_impl> sup;
  void stop(attempt_state&) override { sup->shutdown(); }
  void abandon(attempt_state&) override {
    // Forcing a subtree means giving up on it: it goes on shutting down on its own (bounded
    // by its own grace); its late ending is ignored by generation.
    sup->shutdown();
  }
};

// How the nested supervisor's end looks to its parent: a normal end is a success; an
// escalation is a failure whose reason carries the cause chain down the tree.
core::outcome outcome_of(const std::string& path, const core::supervisor_result& r) {
  switch (r.reason) {
    case core::exit_reason::idle:
    case core::exit_reason::auto_shutdown:
    case core::exit_reason::shutdown_requested:
      return core::success();
    case core::exit_reason::intensity_exceeded:
    case core::exit_reason::child_exhausted:
    case core::exit_reason::too_many_dead:
      break;
  }
  std::string reason = path + ": " + std::string(core::to_string(r.reason));
  if (r.cause) reason += " (" + r.cause_path + ": " + core::describe(*r.cause) + ")";
  return core::failure(std::move(reason));
}

// A nested shutdown that ran past its grace is reported upward, not swallowed: the reason
// names what was stuck (a stop the parent asked for still ends as cancelled, keeping it).
core::outcome outcome_with_grace(const std::string& path, const core::supervisor_result& r) {
  core::outcome o = outcome_of(path, r);
  if (!r.grace_exceeded) return o;
  std::string stuck;
  for (const auto& p : r.stuck) stuck += (stuck.empty() ? "" : ", ") + p;
  std::string note = path + ": grace exceeded (stuck: " + stuck + ")";
  if (!r.cut_short.empty()) {
    std::string cut;
    for (const auto& p : r.cut_short) cut += (cut.empty() ? "" : ", ") + p;
    note.insert(note.size() - 1, "; cut short: " + cut);
  }
  if (o.is_success()) return core::failure(note);
  o.reason += "; " + note;
  return o;
}

}  // namespace

void start_nested_attempt(const std::shared_ptr<attempt_state>& st, supervisor_impl& parent,
                          std::shared_ptr<const subtree> spec) {
  auto fail = [&st](std::string why) {
    if (auto p = st->sup.lock()) p->attempt_ended(st, core::failure(std::move(why)));
  };
  supervisor_options opts = spec->options;
  opts.name = std::string(st->name);
  opts.subscriber_drain = duration::zero();  // the root drains the tree's bus
  auto runner = std::make_shared<nested_runner>();
  try {
    runner->sup = std::make_shared<supervisor_impl>(parent.executor(), std::move(opts),
                                                    parent.clock(), st->path, parent.bus());
  } catch (const std::exception& e) {
    fail(std::string("subtree ") + *st->path + ": " + e.what());
    return;
  }
  runner->sup->listen();
  // Ownership: the parent's record of this attempt owns the nested supervisor (until the next
  // attempt or the parent's end); the replies the nested supervisor stores hold it only
  // weakly. Otherwise a subtree that never ends (abandoned) would own itself forever.
  st->more->runner = runner;
  st->more->keep_alive = runner;
  const std::weak_ptr<attempt_state> weak_st = st;
  const std::weak_ptr<nested_runner> weak_runner = runner;
  // The declared children are added as one list, all or nothing (§13.10): a bad declaration
  // (a name twice, a rule broken) starts none of them and fails the attempt (after a shutdown).
  auto refused = std::make_shared<std::atomic<bool>>(false);
  runner->sup->add_all(spec->children,
                       [weak_runner, refused, weak_st](std::error_code ec, std::string msg) {
                         auto r = weak_runner.lock();
                         auto s = weak_st.lock();
                         if (ec && r && s && !refused->exchange(true)) {
                           s->more->failure_note = msg.empty() ? ec.message() : msg;
                           r->sup->shutdown();
                         }
                       },
                       {});
  runner->sup->wait([weak_st, refused](std::error_code, core::supervisor_result r) {
    auto s = weak_st.lock();
    if (!s) return;
    auto p = s->sup.lock();
    if (!p) return;
    core::outcome o = refused->load()
                          ? core::failure("subtree " + *s->path + ": " + s->more->failure_note)
                          : outcome_with_grace(*s->path, r);
    p->attempt_ended(s, std::move(o));
  });
}

std::shared_ptr<supervisor_impl> nested_of(const attempt_state& st) {
  const auto r = std::dynamic_pointer_cast<nested_runner>(st.runner());
  return r ? r->sup : nullptr;
}

}  // namespace detail
}  // namespace vigil
