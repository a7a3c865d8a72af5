// The testing kit as a user sees it (docs/testing.md quotes this file): the application's own
// tree, its tasks replaced by scripted ones, driven in virtual time.
#include <gtest/gtest.h>

#include "vigil/testing/scripted_task.hpp"
#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace vt = vigil::testing;

// The code under test: the application's children and their policies, tasks passed in.
std::vector<vigil::child_spec> app_children(vigil::task db, vigil::task api) {
  return {
      {.name = "db",
       .task = std::move(db),
       .backoff = vigil::backoff::constant(500ms).with_jitter(vigil::jitter::none),
       .wait_ready = true},
      {.name = "api", .task = std::move(api), .shutdown = 2s, .depends_on = {"db"}},
  };
}

TEST(app, api_waits_for_db_and_restarts_with_it) {
  vt::virtual_runtime vr;  // io_context + manual clock + supervisor + event recorder
  vr.start();
  vt::scripted_task db{vr.clock}, api{vr.clock};
  ASSERT_TRUE(vr.add(app_children(db, api)));

  EXPECT_EQ(api.attempts(), 0u);  // api waits until db is ready
  db.ready();
  vr.settle();
  EXPECT_TRUE(api.running(1));

  db.fail("connection lost");  // api depends on db: it is stopped too
  vr.settle();
  EXPECT_TRUE(api.saw_stop(1));
  vr.run_for(500ms);  // db's back-off
  EXPECT_EQ(db.attempts(), 2u);
  EXPECT_EQ(api.attempts(), 1u);  // waiting for db again
  db.ready();
  vr.settle();
  EXPECT_TRUE(api.running(2));
  EXPECT_EQ(vr.status("db")->restarts_automatic, 1u);
}

TEST(app, a_stuck_api_is_forced_after_its_shutdown_timeout) {
  vt::virtual_runtime vr;
  vr.start();
  vt::scripted_task db{vr.clock}, api{vr.clock};
  ASSERT_TRUE(vr.add(app_children(db, api)));
  db.ready();
  vr.settle();

  api.ignore_stop();
  const auto t0 = vr.clock.now();
  ASSERT_TRUE(vr.stop("api"));  // returns once the stop was forced: 2 s of virtual time
  EXPECT_EQ(vr.clock.now() - t0, 2s);
  const auto r = vr.outcome("api");
  ASSERT_TRUE(r) << r;  // on failure, prints the code and the supervisor's message
  EXPECT_EQ(r->status, vigil::final_status::stopped);
  EXPECT_TRUE(r->forced);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/api"), 1u);
}

TEST(app, shutdown_stops_api_before_db) {
  vt::virtual_runtime vr;
  vr.start();
  vt::scripted_task db{vr.clock}, api{vr.clock};
  ASSERT_TRUE(vr.add(app_children(db, api)));
  db.ready();
  vr.settle();

  api.stop_slowly(300ms);
  const auto t0 = vr.clock.now();
  const auto ended = vr.shutdown();
  ASSERT_TRUE(ended) << ended;
  EXPECT_TRUE(ended->ok());
  const auto cancelled = vr.events->of(vigil::event_kind::attempt_cancelled);
  ASSERT_EQ(cancelled.size(), 2u);
  EXPECT_EQ(cancelled[0].path(), "root/api");
  EXPECT_EQ(cancelled[1].path(), "root/db");
  EXPECT_EQ(cancelled[0].at - t0, 300ms);  // api took 300 ms; db was stopped after it
  EXPECT_EQ(cancelled[1].at - t0, 300ms);
  EXPECT_EQ(vr.add({.name = "late", .task = db}).code, vigil::errc::shutting_down);
}

}  // namespace
