#pragma once
// FlowdProcess: the real `flowd` binary as a child process for the integration tests, with its
// JSON log in a file of its own, environment variables of the test's choosing, and helpers to wait
// for log lines and to stop it like an operator would.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "durable_support.h"

namespace flowd::testing {

// Runs a shell command (flowctl, kcat, psql) and returns its exit status and stdout.
inline std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `s` as one single-quoted shell word (for run()).
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class FlowdProcess {
 public:
  FlowdProcess(std::vector<std::string> args, std::map<std::string, std::string> env,
               std::string log_path)
      : log_path_(std::move(log_path)) {
    std::string bin = std::string(FLOWD_BIN_DIR) + "/flowd";
    // A previous run's log must not answer wait_running() before the child truncates it.
    std::remove(log_path_.c_str());
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      FILE* log = std::fopen(log_path_.c_str(), "w");
      if (log) dup2(fileno(log), 2);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv{bin.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~FlowdProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait_exit();
    }
  }

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // The first log line containing `text`, or "" when none (yet).
  std::string find_line(const std::string& text) const {
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line))
      if (line.find(text) != std::string::npos) return line;
    return {};
  }
  // Waits until flowd logged "flowd running" (from then on it handles SIGTERM); false when it
  // exited or did not get there in time.
  bool wait_running(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    return eventually([&] { return !find_line("\"flowd running\"").empty() || exited(); }, limit) &&
           !exited();
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return true;
    }
    return false;
  }
  // Sends `signal` and returns the exit code (128 + signal when it killed the process).
  int stop(int signal = SIGTERM) {
    if (pid_ > 0) kill(pid_, signal);
    return wait_exit();
  }
  int wait_exit() {
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    return status_;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace flowd::testing
