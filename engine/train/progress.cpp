#include "engine/train/progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ftengine/log.hpp"

namespace ft::engine {

namespace {

constexpr double kPlainLineSeconds = 30.0;

void write_stderr(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string format_duration(double seconds) {
  const auto total = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
  const std::int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

std::string format_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

std::size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

Progress::Progress(std::int64_t total_steps, std::int64_t first_step)
    : total_(total_steps), first_step_(first_step), terminal_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

std::string Progress::line_for(const StepProgress& p, Backend& backend) const {
  const double session =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t done = p.step - first_step_;
  const double eta =
      done > 0 ? session / static_cast<double>(done) * static_cast<double>(total_ - p.step) : 0.0;
  const int width = static_cast<int>(fmt::format("{}", total_).size());
  // Peak memory: the backend's tensors, and the whole process (weights mapped from the
  // model file count there, not in the backend's figure).
  return fmt::format(
      "step {:>{}}/{}  loss {:.4f}  lr {:.2e}  gnorm {:.3f}  {:.0f} tok/s  {} eta {}  "
      "peak {} rss {}",
      p.step, width, total_, p.loss, p.lr, p.grad_norm, p.tokens_per_second,
      format_duration(p.elapsed_s), format_duration(eta),
      format_bytes(backend.memory_stats().peak_bytes), format_bytes(peak_rss_bytes()));
}

void Progress::step(const StepProgress& p, Backend& backend) {
  if (log::level() > log::Level::info) return;  // --quiet
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    // Cut to the terminal's width (a wrapped line would not update in place); \33[K clears
    // what a longer previous line left on the right.
    std::string line = line_for(p, backend);
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 &&
        line.size() >= size.ws_col)
      line.resize(size.ws_col - 1u);
    write_stderr(fmt::format("\r{}\33[K", line));
    line_open_ = true;
    return;
  }
  const std::int64_t every = std::max<std::int64_t>(1, total_ / 10);
  const bool due = p.step == first_step_ + 1 || p.step == total_ || p.step % every == 0 ||
                   std::chrono::duration<double>(now - last_line_).count() >= kPlainLineSeconds;
  if (!due) return;
  last_line_ = now;
  write_stderr(fmt::format("{}\n", line_for(p, backend)));
}

void Progress::note(const std::string& line) {
  finish();
  log::info("{}", line);
}

void Progress::finish() {
  if (!line_open_) return;
  write_stderr("\n");
  line_open_ = false;
}

}  // namespace ft::engine
