// Where the loader tests find their fixture plugins (built by this directory's
// CMakeLists.txt; see its first comment for what each directory holds).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace ft::engine::testing {

inline std::filesystem::path fixture_dir(const std::string& name) {
  return std::filesystem::path(LOADER_FIXTURE_DIR) / name;
}

inline std::filesystem::path fixture_file(const std::string& dir, const std::string& kind,
                                          const std::string& name) {
  return fixture_dir(dir) / ("libftengine-" + kind + "-" + name + ".so");
}

// Sets (or, with nullopt, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace ft::engine::testing
