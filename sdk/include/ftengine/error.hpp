// ft::Error is the one exception type users see. Its message is written for the
// person running the job: it names the file, key or tensor involved, what was
// expected, what was found, and the fix when there is one. The CLI prints it as a
// single line and exits 2; any other exception escaping a command is a bug in
// ftengine (exit 1), reported as ft::InternalError or a plain std::exception.
#pragma once

#include <stdexcept>
#include <string>

namespace ft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  ~Error() override;
};

// A broken invariant inside ftengine or a plugin, not a user mistake.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error(message) {}
  ~InternalError() override;
};

// FT_CHECK(cond, msg): throws ft::InternalError naming the source line when an
// invariant does not hold. For user input, throw ft::Error with a real message.
#define FT_CHECK(cond, msg)                                                         \
  do {                                                                              \
    if (!(cond))                                                                    \
      throw ::ft::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                ": check failed: " #cond ": " + (msg));             \
  } while (0)

}  // namespace ft
