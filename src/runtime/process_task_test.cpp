// Process tasks with real processes (small /bin/sh and python3 scripts): outcomes, spawn
// failures, exit-code mapping, the stop ladder, output capture and the notify protocol.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "task_runners.hpp"
#include "test_support.hpp"
#include "vigil/testing/event_recorder.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace vt = vigil::testing;

using vigil::test::eventually;

vigil::task sh(std::string script, vigil::process_options o = {}) {
  o.argv = {"/bin/sh", "-c", std::move(script)};
  return vigil::process(std::move(o));
}

// The captured lines of one stream (1 stdout, 2 stderr) of one child, in order.
std::vector<std::string> lines(const vt::event_recorder& rec, std::string_view path, int stream) {
  std::vector<std::string> out;
  for (const auto& e : rec.of(vigil::event_kind::process_output, path)) {
    if (e.exit_code == stream) out.push_back(e.reason);
  }
  return out;
}

// Events reach the recorder asynchronously: waits until the child's `k` event has arrived.
bool recorded(const vt::event_recorder& rec, vigil::event_kind k, std::string_view path) {
  return eventually([&] { return rec.count(k, path) > 0; });
}

bool exists(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0;
}

struct process_tasks : ::testing::Test {
  vigil::runtime rt{{.threads = 2, .signals = vigil::signal_handling::none}};
  vigil::supervisor sup{rt};
  vt::event_recorder rec{sup};

  void TearDown() override {
    sup.shutdown();
    sup.wait();
  }
};

TEST_F(process_tasks, exit_codes_become_exited_outcomes_and_zero_is_success) {
  // /bin/true completes; `exit 3` ends exited(3), a retryable failure; the kind is process.
  const auto once = vigil::restart::never;
  sup.add({.name = "ok", .task = vigil::process({.argv = {"/bin/true"}}), .restart = once});
  sup.add({.name = "three", .task = sh("exit 3"), .restart = once});
  const auto ok = sup.outcome("ok");
  EXPECT_EQ(ok.status, vigil::final_status::completed);
  EXPECT_TRUE(ok.last.is_success());
  const auto three = sup.outcome("three");
  EXPECT_EQ(three.status, vigil::final_status::failed);
  EXPECT_EQ(three.last.kind, vigil::outcome_kind::exited);
  EXPECT_EQ(three.last.code, 3);
  EXPECT_TRUE(three.last.is_failure());
  EXPECT_EQ(sup.status("three").kind, vigil::task_kind::process);
  ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_failed, "root/three"));
  const auto failed = rec.of(vigil::event_kind::attempt_failed, "root/three");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].exit_code, 3);
}

TEST_F(process_tasks, a_process_killed_by_a_signal_is_signalled) {
  // The shell kills itself with SIGKILL: outcome signalled(9), reason naming the signal.
  sup.add({.name = "k", .task = sh("kill -KILL $$"), .restart = vigil::restart::never});
  const auto f = sup.outcome("k");
  EXPECT_EQ(f.last.kind, vigil::outcome_kind::signalled);
  EXPECT_EQ(f.last.code, SIGKILL);
  EXPECT_EQ(f.last.reason, "killed by SIGKILL");
}

TEST_F(process_tasks, a_missing_program_is_a_failure_naming_it_and_the_errno_text) {
  // Neither an absolute path nor a PATH search finds the program: each attempt fails with a
  // reason naming the program and "No such file or directory"; a bad cwd is named too.
  const auto once = vigil::restart::never;
  sup.add({.name = "abs",
           .task = vigil::process({.argv = {"/nonexistent/vigil-prog"}}),
           .restart = once});
  sup.add({.name = "path",
           .task = vigil::process({.argv = {"vigil-no-such-program-x"}}),
           .restart = once});
  sup.add({.name = "cwd",
           .task = vigil::process({.argv = {"/bin/true"}, .cwd = "/nonexistent/dir"}),
           .restart = once});
  const auto abs = sup.outcome("abs").last;
  EXPECT_EQ(abs.kind, vigil::outcome_kind::failure);
  EXPECT_EQ(abs.reason, "cannot spawn '/nonexistent/vigil-prog': No such file or directory");
  const auto path = sup.outcome("path").last;
  EXPECT_EQ(path.kind, vigil::outcome_kind::failure);
  EXPECT_NE(path.reason.find("'vigil-no-such-program-x'"), std::string::npos) << path.reason;
  EXPECT_NE(path.reason.find("No such file or directory"), std::string::npos) << path.reason;
  const auto cwd = sup.outcome("cwd").last;
  EXPECT_NE(cwd.reason.find("'/nonexistent/dir'"), std::string::npos) << cwd.reason;
}

TEST_F(process_tasks, empty_argv_is_rejected_when_the_task_is_made) {
  // vigil::process() throws invalid_argument at once rather than failing every attempt.
  EXPECT_THROW(vigil::process({}), vigil::error);
}

TEST_F(process_tasks, mapped_exit_codes_change_the_outcome_like_restart_prevent_exit_status) {
  // 78 → fatal: the child is dead after one attempt, although restart is always; 42 → success.
  sup.add({.name = "config",
           .task = sh("exit 78", {.exit_codes = {{78, vigil::outcome_kind::fatal}}}),
           .restart = vigil::restart::always});
  sup.add({.name = "fine",
           .task = sh("exit 42", {.exit_codes = {{42, vigil::outcome_kind::success}}}),
           .restart = vigil::restart::on_failure});
  const auto config = sup.outcome("config");
  EXPECT_EQ(config.status, vigil::final_status::dead);
  EXPECT_EQ(config.total_attempts, 1u);
  EXPECT_EQ(config.last.kind, vigil::outcome_kind::fatal);
  EXPECT_EQ(config.last.code, 78);
  EXPECT_EQ(sup.outcome("fine").status, vigil::final_status::completed);
}

TEST_F(process_tasks, an_ending_event_carries_the_mapped_exit_code_of_its_outcome) {
  // §13.14: exit 78 mapped to fatal and exit 5 mapped to failure keep their codes in the
  // outcome, and the ending events (attempt_failed) carry the same exit_code and reason.
  sup.add({.name = "config",
           .task = sh("exit 78", {.exit_codes = {{78, vigil::outcome_kind::fatal}}}),
           .restart = vigil::restart::never});
  sup.add({.name = "soft",
           .task = sh("exit 5", {.exit_codes = {{5, vigil::outcome_kind::failure}}}),
           .restart = vigil::restart::never});
  for (const char* name : {"config", "soft"}) {
    SCOPED_TRACE(name);
    const std::string path = std::string("root/") + name;
    const auto f = sup.outcome(name);
    ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_failed, path));
    const auto ended = rec.of(vigil::event_kind::attempt_failed, path);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].outcome, f.last.kind);
    EXPECT_EQ(ended[0].exit_code, f.last.code);
    EXPECT_EQ(ended[0].reason, f.last.reason);
    EXPECT_NE(f.last.code, 0);
  }
}

TEST_F(process_tasks, stop_sends_sigterm_to_the_process_group) {
  // A shell waiting on a child `sleep`: stop() sends SIGTERM to the whole group, the shell dies
  // of it, and the child ends stopped, not forced, outcome cancelled.
  sup.add({.name = "svc", .task = sh("echo up; sleep 1000")});
  ASSERT_TRUE(eventually([&] { return lines(rec, "root/svc", 1).size() == 1; }));
  sup.stop("svc");
  const auto st = sup.status("svc");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(st.final->last.kind, vigil::outcome_kind::cancelled);
}

TEST_F(process_tasks, a_process_says_goodbye_on_sigterm_within_the_shutdown_timeout) {
  // §13.30 for processes: the script traps TERM, writes a goodbye line and exits; the line is
  // captured (process_output) and the child ends stopped, not forced, without stop_timed_out.
  sup.add({.name = "polite",
           .task = sh("trap 'echo goodbye; exit 0' TERM; echo up; while :; do sleep 0.05; done"),
           .shutdown = 5s});
  ASSERT_TRUE(eventually([&] { return lines(rec, "root/polite", 1).size() == 1; }));
  sup.stop("polite");
  const auto st = sup.status("polite");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(st.final->last.kind, vigil::outcome_kind::cancelled);
  ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_cancelled, "root/polite"));
  EXPECT_EQ(lines(rec, "root/polite", 1), (std::vector<std::string>{"up", "goodbye"}));
  EXPECT_EQ(rec.count(vigil::event_kind::stop_timed_out, "root/polite"), 0u);
}

TEST_F(process_tasks, a_process_ignoring_sigterm_gets_sigkill_after_the_shutdown_timeout) {
  // The script traps TERM and loops: after the 100 ms shutdown it is killed (stop_timed_out,
  // final forced) and then reaped: its pid disappears (a zombie would still answer kill(pid, 0)).
  sup.add({.name = "stubborn",
           .task = sh("trap '' TERM; echo $$; while :; do sleep 0.1; done"),
           .shutdown = 100ms});
  ASSERT_TRUE(eventually([&] { return lines(rec, "root/stubborn", 1).size() == 1; }));
  const pid_t pid = std::stoi(lines(rec, "root/stubborn", 1)[0]);
  sup.stop("stubborn");
  const auto st = sup.status("stubborn");
  ASSERT_TRUE(st.final.has_value());
  EXPECT_TRUE(st.final->forced);
  EXPECT_TRUE(recorded(rec, vigil::event_kind::stop_timed_out, "root/stubborn"));
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }));
}

TEST_F(process_tasks, output_is_captured_line_by_line_bounded_and_valid_utf8) {
  // stdout and stderr lines arrive as process_output events (exit_code 1 and 2), a 10,000-byte
  // line is split into 4096 + 4096 + 1808, invalid bytes become U+FFFD, and a last line without
  // a newline is kept.
  sup.add({.name = "talk",
           .task = sh("printf 'hello\\nworld\\r\\n'; printf 'oops\\n' >&2;"
                      "head -c 10000 /dev/zero | tr '\\000' a; echo;"
                      "printf 'bad \\377\\376 bytes \\342\\202\\254\\n'; printf 'tail'"),
           .restart = vigil::restart::never});
  EXPECT_TRUE(sup.outcome("talk").last.is_success());
  ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_succeeded, "root/talk"));
  const auto out = lines(rec, "root/talk", 1);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0], "hello");
  EXPECT_EQ(out[1], "world");
  EXPECT_EQ(out[2], std::string(4096, 'a'));
  EXPECT_EQ(out[3], std::string(4096, 'a'));
  EXPECT_EQ(out[4], std::string(1808, 'a'));
  EXPECT_EQ(out[5], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xE2\x82\xAC");
  EXPECT_EQ(out[6], "tail");
  EXPECT_EQ(lines(rec, "root/talk", 2), std::vector<std::string>{"oops"});
  // The output of an attempt precedes the event of its ending.
  const auto events = rec.events();
  std::uint64_t last_output = 0, ended = 0;
  for (const auto& e : events) {
    if (e.path() != "root/talk") continue;
    if (e.kind == vigil::event_kind::process_output) last_output = e.seq;
    if (e.kind == vigil::event_kind::attempt_succeeded) ended = e.seq;
  }
  EXPECT_LT(last_output, ended);
}

TEST(process_output, sanitize_utf8_replaces_each_invalid_byte) {
  // Valid sequences pass; stray continuation bytes, overlongs, surrogates and truncated
  // sequences become U+FFFD, one per byte.
  using vigil::detail::sanitize_utf8;
  EXPECT_EQ(sanitize_utf8("plain \xC3\xA9 \xF0\x9F\x98\x80"), "plain \xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(sanitize_utf8("\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("a\xE2\x82"), "a\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(process_tasks, env_and_cwd_are_applied_and_replace_mode_starts_empty) {
  // inherit: the spec's FOO is set on top of vigil's environment (PATH still there);
  // replace: the child sees exactly the spec's variables.
  const auto once = vigil::restart::never;
  sup.add({.name = "inherit",
           .task = sh("echo \"$FOO ${PATH:+has-path} $(pwd)\"",
                      {.env = {{"FOO", "bar"}}, .cwd = "/tmp"}),
           .restart = once});
  sup.add({.name = "replace",
           .task = vigil::process({.argv = {"/usr/bin/env"},
                                   .env = {{"ONLY", "1"}},
                                   .env_mode = vigil::env_mode::replace}),
           .restart = once});
  EXPECT_TRUE(sup.outcome("inherit").last.is_success());
  EXPECT_TRUE(sup.outcome("replace").last.is_success());
  ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_succeeded, "root/inherit"));
  ASSERT_TRUE(recorded(rec, vigil::event_kind::attempt_succeeded, "root/replace"));
  EXPECT_EQ(lines(rec, "root/inherit", 1), std::vector<std::string>{"bar has-path /tmp"});
  EXPECT_EQ(lines(rec, "root/replace", 1), std::vector<std::string>{"ONLY=1"});
}

TEST_F(process_tasks, notify_socket_reports_ready_and_status_and_is_removed_afterwards) {
  // A python3 program written for systemd's Type=notify: READY=1 marks the child ready, STATUS=
  // sets its status text; after the child stops, the socket file is gone.
  const char* script =
      "import os, socket, sys, time\n"
      "path = os.environ['NOTIFY_SOCKET']\n"
      "print(path, flush=True)\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
      "s.connect(path)\n"
      "s.send(b'READY=1\\nSTATUS=serving requests')\n"
      "time.sleep(1000)\n";
  sup.add(
      {.name = "svc", .task = vigil::process({.argv = {"python3", "-c", script}, .notify = true})});
  ASSERT_TRUE(eventually([&] {
    const auto st = sup.status("svc");
    return st.ready && st.status_text == "serving requests";
  }));
  const auto out = lines(rec, "root/svc", 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(exists(out[0]));
  sup.stop("svc");
  EXPECT_FALSE(exists(out[0]));
}

TEST_F(process_tasks, notify_watchdog_keeps_a_process_alive_under_a_heartbeat_timeout) {
  // WATCHDOG=1 every 10 ms for about a second, with a 500 ms heartbeat timeout: the process
  // runs to its own end (success). A second one stops sending and is caught as unresponsive.
  const char* beating =
      "import os, socket, time\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
      "s.connect(os.environ['NOTIFY_SOCKET'])\n"
      "for i in range(100):\n"
      "    s.send(b'WATCHDOG=1')\n"
      "    time.sleep(0.01)\n";
  const char* silent =
      "import os, socket, time\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
      "s.connect(os.environ['NOTIFY_SOCKET'])\n"
      "s.send(b'WATCHDOG=1')\n"
      "time.sleep(1000)\n";
  sup.add({.name = "beating",
           .task = vigil::process({.argv = {"python3", "-c", beating}, .notify = true}),
           .restart = vigil::restart::never,
           .heartbeat_timeout = 500ms});
  sup.add({.name = "silent",
           .task = vigil::process({.argv = {"python3", "-c", silent}, .notify = true}),
           .restart = vigil::restart::never,
           .heartbeat_timeout = 200ms});
  EXPECT_TRUE(sup.outcome("beating").last.is_success());
  EXPECT_EQ(sup.outcome("silent").last.kind, vigil::outcome_kind::unresponsive);
}

TEST_F(process_tasks, mixed_kinds_share_one_supervisor) {
  // A coroutine, a thread and a process child in one supervisor: all three complete.
  const auto once = vigil::restart::never;
  sup.add({.name = "co",
           .task = [](vigil::context) -> boost::asio::awaitable<vigil::outcome> {
             co_return vigil::success();
           },
           .restart = once});
  sup.add({.name = "th", .task = vigil::thread([](vigil::context) {}), .restart = once});
  sup.add({.name = "pr", .task = vigil::process({.argv = {"/bin/true"}}), .restart = once});
  for (const char* n : {"co", "th", "pr"}) {
    EXPECT_EQ(sup.outcome(n).status, vigil::final_status::completed) << n;
  }
  EXPECT_EQ(sup.status("co").kind, vigil::task_kind::coroutine);
  EXPECT_EQ(sup.status("th").kind, vigil::task_kind::thread);
  EXPECT_EQ(sup.status("pr").kind, vigil::task_kind::process);
}

}  // namespace
