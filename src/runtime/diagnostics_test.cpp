// vigil::diagnostics: the asynchronous commands report the supervisor's message, not only a code.
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <optional>
#include <string>

#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.stopped();
  co_return vigil::success();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(diagnostics, async_add_with_an_invalid_field_names_the_field) {
  // A negative shutdown timeout is refused with invalid_argument; the diagnostics passed to
  // async_add carry the supervisor's message, which names the child and the field.
  vt::virtual_runtime vr;
  vr.start();
  vigil::diagnostics diag;
  std::optional<std::error_code> got;
  vr.sup->async_add({.name = "x", .task = hang, .shutdown = -1s}, diag,
                    [&](std::error_code ec) { got = ec; });
  EXPECT_TRUE(diag.message().empty()) << "filled before the handler ran";
  vr.settle();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, vigil::errc::invalid_argument);
  EXPECT_TRUE(contains(diag.message(), "shutdown")) << diag.message();
  EXPECT_TRUE(contains(diag.message(), "'x'")) << diag.message();
}

TEST(diagnostics, each_command_fills_the_message_on_failure_and_empties_it_on_success) {
  // One diagnostics object reused: a failed stop names the missing child; a later successful
  // add empties it; a list with a name twice names that name; pause of an unknown child too.
  vt::virtual_runtime vr;
  vr.start();
  vigil::diagnostics diag;
  std::optional<std::error_code> got;
  const auto record = [&](std::error_code ec) { got = ec; };

  vr.sup->async_stop("zz", diag, record);
  vr.settle();
  ASSERT_EQ(got, vigil::errc::not_found);
  EXPECT_TRUE(contains(diag.message(), "'zz'")) << diag.message();

  got.reset();
  vr.sup->async_add({.name = "a", .task = hang}, diag, record);
  vr.settle();
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(*got);
  EXPECT_EQ(diag.message(), "");

  got.reset();
  std::vector<vigil::child_spec> twice;
  twice.push_back({.name = "b", .task = hang});
  twice.push_back({.name = "b", .task = hang});
  vr.sup->async_add(std::move(twice), diag, record);
  vr.settle();
  ASSERT_EQ(got, vigil::errc::already_exists);
  EXPECT_TRUE(contains(diag.message(), "names 'b' twice")) << diag.message();

  got.reset();
  vr.sup->async_pause("nope", diag, record);
  vr.settle();
  ASSERT_EQ(got, vigil::errc::not_found);
  EXPECT_TRUE(contains(diag.message(), "'nope'")) << diag.message();

  got.reset();
  vr.sup->async_start("a", diag, record);
  vr.settle();
  ASSERT_EQ(got, vigil::errc::already_running);
  EXPECT_TRUE(contains(diag.message(), "'a' is running")) << diag.message();
}

TEST(diagnostics, the_blocking_form_throws_the_same_message) {
  // On a real runtime: the blocking add's vigil::error::what() is the text the diagnostics of
  // the asynchronous form receive (here through use_future), naming the bad field.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt};
  vigil::diagnostics diag;
  const std::error_code ec =
      sup.async_add({.name = "x", .task = hang, .timeout = -5s}, diag, asio::use_future).get();
  EXPECT_EQ(ec, vigil::errc::invalid_argument);
  EXPECT_TRUE(contains(diag.message(), "timeout")) << diag.message();
  try {
    sup.add({.name = "x", .task = hang, .timeout = -5s});
    ADD_FAILURE() << "a negative timeout must be refused";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::invalid_argument);
    EXPECT_TRUE(std::string(e.what()).starts_with(diag.message())) << e.what();
  }
}

}  // namespace
