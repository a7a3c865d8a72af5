// The supervisor's queries (status, children, tree, spec, outcome) and how a path below it
// finds the nested supervisor that owns the child.
#include <iterator>
#include <mutex>

#include "supervisor_impl.hpp"
#include "task_runners.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

std::shared_ptr<supervisor_impl> supervisor_impl::nested_child(std::string_view head) const {
  const core::child_id id = machine_.find(head);
  if (id == core::no_child || id >= slots_.size() || !slots_[id].attempt) return nullptr;
  return nested_of(*slots_[id].attempt);
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
               if (self->routed_query<core::child_info>(name, r, &supervisor_impl::status)) {
                 return;
               }
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

void supervisor_impl::spec(std::string name, spec_reply r) {
  asio::post(strand_,
             [self = shared_from_this(), name = std::move(name), r = std::move(r)]() mutable {
               if (self->routed_query<effective_spec>(name, r, &supervisor_impl::spec)) {
                 return;
               }
               const core::child_id id = self->machine_.find(name);
               if (id == core::no_child) {
                 self->reply(std::move(r), make_error_code(errc::not_found), effective_spec{});
                 return;
               }
               const auto& m = self->machine_;
               self->reply(std::move(r), std::error_code{},
                           effective_spec{name, *m.path_of(id), m.info(id, self->clock_.now()).kind,
                                          m.policy_of(id), m.dependencies_of(id)});
             });
}

void supervisor_impl::outcome(std::string name, final_reply r) {
  asio::post(strand_,
             [self = shared_from_this(), name = std::move(name), r = std::move(r)]() mutable {
               if (self->routed_query<core::final_result>(name, r, &supervisor_impl::outcome)) {
                 return;
               }
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

}  // namespace vigil::detail
