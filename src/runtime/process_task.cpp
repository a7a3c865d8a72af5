// Process tasks: posix_spawn into a new process group, a pidfd watched by the reactor (no SIGCHLD
// handler, no blocking waitpid), stdout/stderr read line by line, the systemd notify protocol.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include "event_bus.hpp"
#include "supervisor_impl.hpp"
#include "task_runners.hpp"

extern char** environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace vigil {

task process(process_options options) {
  if (options.argv.empty() || options.argv.front().empty()) {
    throw error(errc::invalid_argument, "process_options.argv must name a program");
  }
  if (options.max_line == 0) {
    throw error(errc::invalid_argument, "process_options.max_line must be positive");
  }
  task t;
  t.kind_ = task_kind::process;
  t.body_ = std::shared_ptr<const process_options>(
      std::make_shared<const process_options>(std::move(options)));
  return t;
}

namespace detail {

namespace asio = boost::asio;

std::string sanitize_utf8(std::string_view in) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    // Overlong forms, UTF-16 surrogates and code points above U+10FFFF are invalid too.
    if (ok && len == 3) {
      ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
    } else if (ok && len == 4) {
      ok = !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append(replacement);
      ++i;
    }
  }
  return out;
}

namespace {

// A descriptor owned by this file until it is handed to an Asio object.
struct unique_fd {
  int fd = -1;
  unique_fd() = default;
  explicit unique_fd(int f) : fd(f) {}
  unique_fd(unique_fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~unique_fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

std::string errno_text(int err) {
  return std::string(::strerrordesc_np(err) ? ::strerrordesc_np(err) : "unknown error");
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The child's environment: vigil's own (without NOTIFY_SOCKET, which belongs to vigil's own
// service manager) or nothing, then the spec's variables, then NOTIFY_SOCKET when asked for.
std::vector<std::string> build_env(const process_options& o, const std::string& notify_path) {
  std::map<std::string, std::string> vars;
  if (o.env_mode == env_mode::inherit) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view kv(*e);
      const auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      vars.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    vars.erase("NOTIFY_SOCKET");
  }
  for (const auto& [k, v] : o.env) vars[k] = v;
  if (!notify_path.empty()) vars["NOTIFY_SOCKET"] = notify_path;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

class process_runner final : public attempt_runner,
                             public std::enable_shared_from_this<process_runner> {
 public:
  process_runner(std::shared_ptr<attempt_state> st, std::shared_ptr<const process_options> opts)
      : st_(std::move(st)),
        opts_(std::move(opts)),
        pidfd_(st_->executor),
        out_{asio::posix::stream_descriptor(st_->executor), 1},
        err_{asio::posix::stream_descriptor(st_->executor), 2},
        notify_(st_->executor) {}

  ~process_runner() override {
    // Reached with a live child only when the executor dropped our pending waits (it was
    // destroyed before the child ended): kill and reap here, so there is never a zombie.
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    remove_notify_socket();
  }

  void stop(attempt_state&) override {
    asio::post(st_->executor, [self = shared_from_this()] { self->signal_group(SIGTERM); });
  }

  void abandon(attempt_state&) override {
    asio::post(st_->executor, [self = shared_from_this()] { self->signal_group(SIGKILL); });
  }

  // Runs on the attempt's strand.
  void start() {
    if (st_->stop.stop_requested()) {
      report(core::cancelled("stopped before the process was spawned"));
      return;
    }
    if (auto failed = spawn()) {
      close_all();
      report(core::failure(std::move(*failed)));
      return;
    }
    wait_exit();
    if (out_.d.is_open()) wait_readable(out_);
    if (err_.d.is_open()) wait_readable(err_);
    if (notify_.is_open()) wait_notify();
  }

 private:
  struct stream {
    asio::posix::stream_descriptor d;
    int number;           // 1 stdout, 2 stderr: the event's exit_code field
    std::string partial;  // bytes after the last newline
  };

  // Returns the failure reason, or nothing when the process runs.
  std::optional<std::string> spawn() {
    const process_options& o = *opts_;
    const std::string& program = o.argv.front();
    const bool capture = o.output == output::capture || o.output == output::both;

    unique_fd out_r, out_w, err_r, err_w;
    if (capture) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return "cannot create a pipe: " + errno_text(errno);
      out_r = unique_fd(p[0]);
      out_w = unique_fd(p[1]);
      if (::pipe2(p, O_CLOEXEC) != 0) return "cannot create a pipe: " + errno_text(errno);
      err_r = unique_fd(p[0]);
      err_w = unique_fd(p[1]);
    }
    std::string notify_path;
    if (o.notify) {
      if (auto failed = make_notify_socket()) return failed;
      notify_path = notify_path_;
    }

    std::vector<std::string> env = build_env(o, notify_path);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = o.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (capture) {
      ::posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
      ::posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
    } else if (o.output == output::discard) {
      ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      ::posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    if (!o.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
    // Its own process group (the stop ladder signals the group), no blocked signals, and the
    // default action for every signal whatever vigil's process set up.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    ::posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);

    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, program.c_str(), &fa, &attr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      std::string reason = "cannot spawn '" + program + "'";
      if (!o.cwd.empty()) reason += " in '" + o.cwd + "'";
      return reason + ": " + errno_text(rc);
    }
    pid_ = pid;
    // The pidfd is what the reactor watches; the pid stays ours (unreaped) until waitid below,
    // so neither the pid nor the process group id can be reused meanwhile.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      const int err = errno;
      signal_group(SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      return "cannot watch '" + program + "' (pidfd_open): " + errno_text(err);
    }
    pidfd_.assign(pidfd);
    if (capture) {
      out_w.reset();
      err_w.reset();
      ::fcntl(out_r.fd, F_SETFL, ::fcntl(out_r.fd, F_GETFL) | O_NONBLOCK);
      ::fcntl(err_r.fd, F_SETFL, ::fcntl(err_r.fd, F_GETFL) | O_NONBLOCK);
      out_.d.assign(out_r.release());
      err_.d.assign(err_r.release());
    }
    return std::nullopt;
  }

  std::optional<std::string> make_notify_socket() {
    static std::atomic<std::uint64_t> counter{0};
    const char* base = std::getenv("TMPDIR");
    std::string dir = (base != nullptr && *base != '\0') ? base : "/tmp";
    dir += "/vigil-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-XXXXXX";
    sockaddr_un addr{};
    if (dir.size() + sizeof("/notify") > sizeof(addr.sun_path)) {
      dir = "/tmp/vigil-XXXXXX";
    }
    if (::mkdtemp(dir.data()) == nullptr) {
      return "cannot create the notify socket directory: " + errno_text(errno);
    }
    notify_dir_ = dir;
    notify_path_ = dir + "/notify";
    unique_fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (s.fd < 0) return "cannot create the notify socket: " + errno_text(errno);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, notify_path_.c_str(), notify_path_.size() + 1);
    if (::bind(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return "cannot bind the notify socket '" + notify_path_ + "': " + errno_text(errno);
    }
    notify_.assign(s.release());
    return std::nullopt;
  }

  void remove_notify_socket() {
    if (!notify_path_.empty()) ::unlink(notify_path_.c_str());
    if (!notify_dir_.empty()) ::rmdir(notify_dir_.c_str());
    notify_path_.clear();
    notify_dir_.clear();
  }

  void signal_group(int sig) {
    // Only while the leader is unreaped: until then its pid is also the group id and cannot have
    // been reused.
    if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
  }

  void wait_exit() {
    pidfd_.async_wait(asio::posix::descriptor_base::wait_read,
                      [self = shared_from_this()](boost::system::error_code ec) {
                        if (!ec) self->on_exit_ready();
                      });
  }

  void on_exit_ready() {
    siginfo_t info{};
    // Peek first (WNOWAIT): the leader stays a zombie, so its pid, which is the process group's
    // id, cannot be reused while the rest of the group is killed below.
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      const int err = errno;
      if (err == EINTR) {
        wait_exit();
        return;
      }
      // ECHILD: something else in this process reaped it (a SIGCHLD handler calling
      // waitpid(-1)); its exit status is lost, but the attempt must still end.
      reaped_ = true;
      finish(core::failure("lost track of '" + opts_->argv.front() + "': " + errno_text(err)));
      return;
    }
    if (info.si_pid == 0) {
      wait_exit();
      return;
    }
    // Whatever is left of its process group goes with it (like systemd's KillMode=control-group,
    // without a grace period): orphans would hold the output pipes open and outlive supervision.
    ::kill(-pid_, SIGKILL);
    siginfo_t reaped{};
    while (::waitid(P_PID, static_cast<id_t>(pid_), &reaped, WEXITED) != 0 && errno == EINTR) {
    }
    reaped_ = true;
    core::outcome o;
    if (info.si_code == CLD_EXITED) {
      o = exited(info.si_status);
    } else {
      o = core::outcome{core::outcome_kind::signalled, info.si_status,
                        "killed by " + signal_name(info.si_status), nullptr};
    }
    finish(std::move(o));
  }

  void finish(core::outcome o) {
    // Everything the process wrote is in the pipes by now: read it to the end (or to what
    // is available, when a member that left the group still holds a pipe), close every
    // descriptor, and only then report.
    drain(out_, true);
    drain(err_, true);
    if (notify_.is_open()) read_notify();
    close_all();
    report(std::move(o));
  }

  core::outcome exited(int code) const {
    const auto it = opts_->exit_codes.find(code);
    if (it == opts_->exit_codes.end() || it->second == core::outcome_kind::exited) {
      return core::outcome{core::outcome_kind::exited, code,
                           code == 0 ? std::string() : "exit code " + std::to_string(code),
                           nullptr};
    }
    if (it->second == core::outcome_kind::success) return core::success();
    return core::outcome{it->second, code, "exit code " + std::to_string(code), nullptr};
  }

  void wait_readable(stream& s) {
    s.d.async_wait(asio::posix::descriptor_base::wait_read,
                   [self = shared_from_this(), &s](boost::system::error_code ec) {
                     if (ec || !s.d.is_open()) return;
                     if (self->drain(s, false)) self->wait_readable(s);
                   });
  }

  // Reads what is available; returns false once the stream is closed (end of file or error).
  // At the end (`final`), a partial last line is published too.
  bool drain(stream& s, bool final) {
    if (!s.d.is_open()) return false;
    std::array<char, 16384> buf;
    for (;;) {
      const ssize_t n = ::read(s.d.native_handle(), buf.data(), buf.size());
      if (n > 0) {
        consume(s, std::string_view(buf.data(), static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !final) return true;
      break;  // end of file, an error, or (final) nothing more available now
    }
    if (!s.partial.empty()) {
      publish(s.number, s.partial);
      s.partial.clear();
    }
    boost::system::error_code ignored;
    s.d.close(ignored);
    return false;
  }

  void consume(stream& s, std::string_view data) {
    if (opts_->output == output::both) {
      // The parent's stream gets the bytes as they are.
      const char* p = data.data();
      std::size_t left = data.size();
      while (left > 0) {
        const ssize_t w = ::write(s.number, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= static_cast<std::size_t>(w);
      }
    }
    const std::size_t max = opts_->max_line;
    while (!data.empty()) {
      const auto nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);
      s.partial.append(piece);
      // Split over-long lines, backing off to a UTF-8 character boundary where there is one.
      while (s.partial.size() > max) {
        std::size_t cut = max;
        for (int k = 0;
             k < 3 && cut > 0 && (static_cast<unsigned char>(s.partial[cut]) & 0xC0) == 0x80; ++k) {
          --cut;
        }
        if (cut == 0) cut = max;
        publish(s.number, std::string_view(s.partial).substr(0, cut));
        s.partial.erase(0, cut);
      }
      if (nl == std::string_view::npos) break;
      if (!s.partial.empty() && s.partial.back() == '\r') s.partial.pop_back();
      publish(s.number, s.partial);
      s.partial.clear();
      data.remove_prefix(nl + 1);
    }
  }

  void publish(int number, std::string_view line) {
    const auto& bus = st_->more->bus;
    if (!bus || !bus->has_subscribers()) return;
    core::event e;
    e.kind = core::event_kind::process_output;
    e.at = st_->clk->now();
    e.path_ = st_->path;
    e.attempt = st_->attempt;
    e.failure_streak = st_->failure_streak;
    e.reason = sanitize_utf8(line);
    e.exit_code = number;
    bus->publish(std::move(e));
  }

  void wait_notify() {
    notify_.async_wait(asio::posix::descriptor_base::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec || !self->notify_.is_open()) return;
                         self->read_notify();
                         if (self->notify_.is_open()) self->wait_notify();
                       });
  }

  void read_notify() {
    std::array<char, 4096> buf;
    for (;;) {
      const ssize_t n = ::recv(notify_.native_handle(), buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;  // EAGAIN: nothing more now
      handle_notify(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
  }

  void handle_notify(std::string_view msg) {
    const context ctx(st_);
    while (!msg.empty()) {
      const auto nl = msg.find('\n');
      const std::string_view line = msg.substr(0, nl);
      if (line == "READY=1") {
        ctx.ready();
      } else if (line == "WATCHDOG=1") {
        ctx.heartbeat();
      } else if (line.starts_with("STATUS=")) {
        ctx.status(sanitize_utf8(line.substr(7)));
      }
      if (nl == std::string_view::npos) break;
      msg.remove_prefix(nl + 1);
    }
  }

  void close_all() {
    boost::system::error_code ignored;
    pidfd_.close(ignored);
    out_.d.close(ignored);
    err_.d.close(ignored);
    notify_.close(ignored);
    remove_notify_socket();
  }

  void report(core::outcome o) {
    if (auto sup = st_->sup.lock()) sup->attempt_ended(st_, std::move(o));
  }

  std::shared_ptr<attempt_state> st_;
  std::shared_ptr<const process_options> opts_;
  // Everything below is touched only on the attempt's strand (st_->executor).
  pid_t pid_ = -1;
  bool reaped_ = false;
  asio::posix::stream_descriptor pidfd_;
  stream out_, err_;
  asio::posix::stream_descriptor notify_;
  std::string notify_dir_, notify_path_;
};

}  // namespace

void start_process_attempt(const std::shared_ptr<attempt_state>& st,
                           std::shared_ptr<const process_options> opts) {
  auto r = std::make_shared<process_runner>(st, std::move(opts));
  st->more->runner = r;
  asio::post(st->executor, [r] { r->start(); });
}

}  // namespace detail
}  // namespace vigil
