#include "engine/train/stop_signals.hpp"

#include <cstdlib>
#include <string>

namespace ft::engine {

namespace {

volatile std::sig_atomic_t g_pending = 0;

extern "C" void record_signal(int signal) { g_pending = signal; }

}  // namespace

StopSignals::StopSignals() {
  g_pending = 0;
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the next signal gets the default action: it ends us
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);

  if (const char* test = std::getenv("FTENGINE_TEST_SIGNAL_AT_STEP")) {
    const std::string text = test;
    test_step_ = std::strtoll(text.c_str(), nullptr, 10);
    if (text.ends_with(":TERM")) test_signal_ = SIGTERM;
  }
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
}

int StopSignals::pending() const { return g_pending; }

void StopSignals::raise_if_test_asks(std::int64_t step) const {
  if (step == test_step_) std::raise(test_signal_);
}

}  // namespace ft::engine
