// SIGINT (Ctrl-C) and SIGTERM during training. The handler only records the signal; the
// trainer looks at step boundaries, writes a checkpoint and exits with 128 + the signal
// (130, 143). A second signal while that happens ends the process at once, as usual: the
// checkpoint being written is then simply absent (checkpoints are written atomically).
//
//   StopSignals signals;                       // handlers installed until it is destroyed
//   ... after each step: if (int sig = signals.pending()) { save; return 128 + sig; }
//
// For tests, FTENGINE_TEST_SIGNAL_AT_STEP=N (or N:TERM) makes the trainer raise SIGINT
// (SIGTERM) itself after step N, through the same handler, so the path is tested without
// racing a real `kill`.
#pragma once

#include <csignal>
#include <cstdint>

namespace ft::engine {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal received (SIGINT or SIGTERM), or 0.
  int pending() const;
  // Raises the signal FTENGINE_TEST_SIGNAL_AT_STEP asks for when `step` is its step.
  void raise_if_test_asks(std::int64_t step) const;

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  std::int64_t test_step_ = -1;
  int test_signal_ = SIGINT;
};

}  // namespace ft::engine
