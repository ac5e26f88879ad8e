// The message of the ft::Error a piece of code throws, for tests of error paths.
//
//   EXPECT_THAT(error_of([&] { load(path); }), HasSubstr("no tensor"));   // must throw
//   EXPECT_EQ(error_or_empty([&] { load(good); }), "");                  // may throw
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>

#include "ftengine/error.hpp"

namespace ft::testing {

// The message of the ft::Error that fn throws, if it throws one.
template <typename Fn>
std::optional<std::string> thrown_by(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return std::nullopt;
}

// The message of the ft::Error that fn throws; a test failure (and "") when it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  std::optional<std::string> message = thrown_by(std::forward<Fn>(fn));
  if (!message) ADD_FAILURE() << "no ft::Error thrown";
  return message.value_or("");
}

// The message of the ft::Error that fn throws, or "" when it throws none: for helpers that
// check both rejected and accepted input.
template <typename Fn>
std::string error_or_empty(Fn&& fn) {
  return thrown_by(std::forward<Fn>(fn)).value_or("");
}

}  // namespace ft::testing
