// ftengine plugins [--json]: what the plugin search path holds, and why files were skipped.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cli/cli.hpp"
#include "engine/plugins/registry.hpp"

namespace ft::cli {

namespace {

std::string abi_text(const engine::PluginInfo& p) {
  return fmt::format("{}.{}", p.abi_major, p.abi_minor);
}

// What a backend says of this machine: its device, or why it cannot run here.
struct BackendStatus {
  bool available = false;
  std::string text;  // the device, or the reason
  PrecisionSupport precision;  // when available
};

BackendStatus backend_status(engine::PluginRegistry& registry, const engine::PluginInfo& p) {
  try {
    const std::unique_ptr<Backend> backend = registry.create_backend(p.name);
    const DeviceInfo d = backend->probe();
    if (d.available) return {true, d.device_name, backend->precision_support()};
    return {false, d.reason.empty() ? "not available (no reason given)" : d.reason, {}};
  } catch (const std::exception& e) {
    return {false, e.what(), {}};
  }
}

// "f32, bf16 (AVX512-BF16)" or "f32 (no bf16: no AVX512-BF16 or AMX-BF16)"
std::string precisions_text(const PrecisionSupport& p) {
  return p.bf16 ? fmt::format("f32, bf16 ({})", p.how) : fmt::format("f32 (no bf16: {})", p.how);
}

void print_json(engine::PluginRegistry& registry,
                const std::vector<std::filesystem::path>& search_path) {
  nlohmann::ordered_json out = {{"plugins", nlohmann::ordered_json::array()},
                                {"skipped", nlohmann::ordered_json::array()},
                                {"search_path", nlohmann::ordered_json::array()}};
  for (const engine::PluginInfo& p : registry.plugins()) {
    nlohmann::ordered_json entry = {{"kind", p.kind},
                                    {"name", p.name},
                                    {"version", p.version},
                                    {"abi", abi_text(p)},
                                    {"description", p.description},
                                    {"path", p.path.string()}};
    if (p.kind == "backend") {
      const BackendStatus status = backend_status(registry, p);
      entry["available"] = status.available;
      entry[status.available ? "device" : "reason"] = status.text;
      if (status.available) {
        entry["precisions"] = status.precision.bf16 ? nlohmann::ordered_json{"f32", "bf16"}
                                                    : nlohmann::ordered_json{"f32"};
        entry["bf16"] = status.precision.how;
      }
    }
    out["plugins"].push_back(std::move(entry));
  }
  for (const engine::SkippedPlugin& s : registry.skipped())
    out["skipped"].push_back({{"path", s.path.string()}, {"reason", s.reason}});
  for (const auto& dir : search_path) out["search_path"].push_back(dir.string());
  fmt::print("{}\n", out.dump(2));
}

void print_table(engine::PluginRegistry& registry,
                 const std::vector<std::filesystem::path>& search_path) {
  std::vector<std::array<std::string, 5>> rows = {{"KIND", "NAME", "VERSION", "ABI", "PATH"}};
  for (const engine::PluginInfo& p : registry.plugins())
    rows.push_back({p.kind, p.name, p.version, abi_text(p), p.path.string()});
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());

  if (registry.plugins().empty()) {
    fmt::print("no plugins found\n");
  } else {
    for (const auto& row : rows)
      fmt::print("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], width[0], row[1], width[1], row[2],
                 width[2], row[3], width[3], row[4]);
  }
  bool any_backend = false;
  for (const engine::PluginInfo& p : registry.plugins()) {
    if (p.kind != "backend") continue;
    if (!any_backend) fmt::print("\nbackends on this machine:\n");
    any_backend = true;
    const BackendStatus status = backend_status(registry, p);
    if (status.available)
      fmt::print("  {}: {}; precisions: {}\n", p.name, status.text,
                 precisions_text(status.precision));
    else
      fmt::print("  {}: not available: {}\n", p.name, status.text);
  }
  if (!registry.skipped().empty()) {
    fmt::print("\nskipped:\n");
    for (const engine::SkippedPlugin& s : registry.skipped())
      fmt::print("  {}: {}\n", s.path.string(), s.reason);
  }
  fmt::print("\nsearch path:\n");
  for (const auto& dir : search_path) fmt::print("  {}\n", dir.string());
}

}  // namespace

int plugins_command(const GlobalOptions& global, const PluginsOptions& options) {
  const std::vector<std::filesystem::path> search_path =
      engine::plugin_search_path(global.plugin_dirs, {});
  engine::PluginRegistry registry;
  registry.scan(search_path);
  if (options.json)
    print_json(registry, search_path);
  else
    print_table(registry, search_path);
  return kExitOk;  // skipped files are reported, not failures
}

const CommandSpec kPluginsCommand{
    .name = "plugins",
    .synopsis = "",
    .summary = "list the plugins found, and why any file was skipped",
    .details = "",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          options.add_options()("json", po::bool_switch(), "print JSON instead of a table");
        },
    .run =
        [](const GlobalOptions& global, const po::variables_map& args) {
          return plugins_command(global, PluginsOptions{args["json"].as<bool>()});
        },
};

}  // namespace ft::cli
