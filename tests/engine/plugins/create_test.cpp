// PluginRegistry::create_*(): new objects as the interface of their kind, plugin failures
// as ft::Error naming the plugin, unknown names with what was found and a suggestion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/plugins/registry.hpp"
#include "ftengine/error.hpp"
#include "support/errors.hpp"
#include "tests/engine/plugins/loader_fixtures.hpp"

namespace ft::engine {
namespace {

using ft::testing::error_of;
using testing::fixture_dir;
using testing::fixture_file;
using ::testing::HasSubstr;

TEST(Create, MakesObjectsOfTheirKind) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});

  std::unique_ptr<Adapter> lora = registry.create_adapter("lora");
  ASSERT_NE(lora, nullptr);
  EXPECT_TRUE(lora->trainable_parameters().empty());

  std::unique_ptr<Backend> turbo = registry.create_backend("turbo");
  ASSERT_NE(turbo, nullptr);
  EXPECT_EQ(turbo->name(), "turbo");
  EXPECT_EQ(turbo->probe().priority, 10);
  EXPECT_EQ(error_of([&] { turbo->gemm({}); }), "fixture backend has no kernels");
  // A backend without the 4-bit GEMM (the default) says so by name.
  EXPECT_EQ(error_of([&] { turbo->gemm_4bit({}); }),
            "the turbo backend has no 4-bit GEMM: QLoRA needs a backend that has "
            "one, such as cpu");

  // Each call makes a new object.
  std::unique_ptr<Backend> another = registry.create_backend("turbo");
  EXPECT_NE(another.get(), turbo.get());
}

TEST(Create, ObjectsOutliveTheRegistry) {
  std::unique_ptr<Backend> backend;
  {
    PluginRegistry registry;
    registry.scan({fixture_dir("plugins_good")});
    backend = registry.create_backend("basic");
  }
  // Its library is still loaded: the vtable and the code are still there.
  EXPECT_EQ(backend->name(), "basic");
  EXPECT_EQ(backend->probe().device_name, "fixture basic device");
}

TEST(Create, UnknownNameListsWhatWasFoundAndSuggests) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});
  EXPECT_EQ(error_of([&] { registry.create_adapter("lorra"); }),
            "no adapter plugin named \"lorra\"; found: full, lora (search path: " +
                fixture_dir("plugins_good").string() + "); did you mean \"lora\"?");
  // A name of another kind is not a match, and nothing is close enough to suggest.
  EXPECT_EQ(error_of([&] { registry.create_backend("lora"); }),
            "no backend plugin named \"lora\"; found: basic, offline, turbo (search path: " +
                fixture_dir("plugins_good").string() + ")");
}

TEST(Create, UnknownKindSaysNoneWereFound) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good"), fixture_dir("no_such_directory")});
  EXPECT_EQ(error_of([&] { registry.create_model("llama"); }),
            "no model plugin named \"llama\"; found: none (search path: " +
                fixture_dir("plugins_good").string() + ", " +
                fixture_dir("no_such_directory").string() + ")");
  EXPECT_THAT(error_of([&] { registry.create_optimizer("adamw"); }),
              HasSubstr("no optimizer plugin named \"adamw\"; found: none"));
}

TEST(Create, UnknownNameMentionsTheSkippedFileOfThatName) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good"), fixture_dir("plugins_broken")});
  const std::string message = error_of([&] { registry.create_backend("needs_dep"); });
  EXPECT_THAT(message, HasSubstr("no backend plugin named \"needs_dep\"; found: basic, offline, "
                                 "turbo (search path: "));
  EXPECT_THAT(message,
              HasSubstr("; " + fixture_file("plugins_broken", "backend", "needs_dep").string() +
                        " was skipped: missing dependency libftengine_test_missing_dep.so: "));
  // Only the file of that name.
  EXPECT_THAT(message, ::testing::Not(HasSubstr("abi_major")));
}

TEST(Create, PluginExceptionsBecomeErrorsNamingThePlugin) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_none")});
  EXPECT_EQ(error_of([&] { registry.create_backend("throws"); }),
            "plugin backend/throws (" + fixture_file("plugins_none", "backend", "throws").string() +
                "): fixture constructor failed");
}

TEST(Create, AnObjectOfTheWrongInterfaceIsAnError) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_broken")});
  EXPECT_EQ(error_of([&] { registry.create_adapter("wrong_interface"); }),
            "plugin adapter/wrong_interface (" +
                fixture_file("plugins_broken", "adapter", "wrong_interface").string() +
                ") made an object that is not an ft::Adapter, as its kind \"adapter\" requires");
}

}  // namespace
}  // namespace ft::engine
