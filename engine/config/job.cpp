#include "engine/config/job.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <system_error>

#include "engine/config/check.hpp"
#include "engine/config/overrides.hpp"
#include "engine/config/problems.hpp"
#include "engine/config/schema.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

std::string Problem::to_string() const {
  std::string out = origin;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

namespace {

std::string first_problem_line(const std::vector<Problem>& problems) {
  if (problems.empty()) return "invalid job";
  if (problems.size() == 1) return problems[0].to_string();
  return fmt::format("{} (and {} more problem{}; `ftengine validate` lists them all)",
                     problems[0].to_string(), problems.size() - 1, problems.size() == 2 ? "" : "s");
}

}  // namespace

JobError::JobError(std::vector<Problem> problems)
    : Error(first_problem_line(problems)), problems_(std::move(problems)) {}
JobError::~JobError() = default;

std::int64_t ScheduleConfig::warmup_for(std::int64_t total_steps) const {
  if (warmup_ratio)
    return static_cast<std::int64_t>(*warmup_ratio * static_cast<double>(total_steps));
  return warmup_steps;
}

std::string_view to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::linear:
      return "linear";
    case ScheduleKind::cosine:
      return "cosine";
  }
  return "?";
}
std::string_view to_string(DataFormat format) {
  switch (format) {
    case DataFormat::auto_detect:
      return "auto";
    case DataFormat::text:
      return "text";
    case DataFormat::alpaca:
      return "alpaca";
    case DataFormat::chat:
      return "chat";
    case DataFormat::completion:
      return "completion";
  }
  return "?";
}
std::string_view to_string(OverflowPolicy policy) {
  switch (policy) {
    case OverflowPolicy::truncate:
      return "truncate";
    case OverflowPolicy::drop:
      return "drop";
    case OverflowPolicy::split:
      return "split";
    case OverflowPolicy::error:
      return "error";
  }
  return "?";
}
std::string_view to_string(QuantType type) {
  switch (type) {
    case QuantType::nf4:
      return "nf4";
    case QuantType::fp4:
      return "fp4";
  }
  return "?";
}

namespace {

using detail::ProblemList;

// What a valid document becomes: the table as run and the typed Job.
class Resolver {
 public:
  Resolver(const toml::table& doc, const fs::path& file, const ProblemList& problems)
      : doc_(doc), file_(fs::absolute(file)), problems_(problems) {}

  Job resolve() {
    Job job;
    job.file = file_;
    // Two tables: `all` holds every key with its value or default (what the typed fields
    // read), `resolved` only what applies to the chosen plugins (what the run records).
    toml::table all;
    for (const schema::Section& section : schema::sections()) {
      toml::table all_section, resolved_section;
      resolve_section(section, all_section, resolved_section);
      all.insert(section.name, std::move(all_section));
      job.resolved.insert(section.name, std::move(resolved_section));
    }
    fill(job, all);
    return job;
  }

 private:
  void resolve_section(const schema::Section& section, toml::table& all, toml::table& resolved) {
    const toml::table* given = doc_.get_as<toml::table>(section.name);
    std::string plugin = default_plugin(section);
    if (auto p = given ? given->get_as<std::string>("plugin") : nullptr) plugin = p->get();
    const bool open = section.is_open_for(plugin);
    for (const schema::Key& key : section.keys) {
      const toml::node* node = given ? given->get(key.name) : nullptr;
      const bool excluded = !key.excludes.empty() && given && given->contains(key.excludes);
      toml::table holder;
      if (node) {
        holder.insert("v", *node);
        if (key.is_path)
          make_absolute(*holder.get("v"), fmt::format("{}.{}", section.name, key.name));
      } else if (!key.default_value.empty() && !excluded) {
        holder = toml::parse(fmt::format("v = {}", key.default_value));
      } else if (section.name == "job" && key.name == "name") {
        holder.insert("v", file_.stem().string());
      } else if (section.name == "output" && key.name == "dir") {
        const std::string name = job_name();
        holder.insert("v", (fs::current_path() / "runs" / name).lexically_normal().string());
      } else {
        continue;  // optional, unset
      }
      // A key of some built-in plugins is recorded for those, or when the job sets it.
      const bool applies =
          node || key.plugins.empty() ||
          std::find(key.plugins.begin(), key.plugins.end(), plugin) != key.plugins.end();
      if (applies) resolved.insert(key.name, *holder.get("v"));
      all.insert(key.name, std::move(*holder.get("v")));
    }
    // A third-party plugin's own keys pass through unchanged.
    if (given && open)
      for (auto&& [k, v] : *given)
        if (!section.find(k.str())) {
          resolved.insert(k, v);
          all.insert(k, v);
        }
  }

  static std::string default_plugin(const schema::Section& section) {
    const schema::Key* key = section.find("plugin");
    if (!key || key->default_value.empty()) return {};
    return toml::parse(fmt::format("v = {}", key->default_value))["v"].value_or(std::string());
  }

  // The job's name as resolved: [job] name, or the file name.
  std::string job_name() const {
    if (auto job = doc_.get_as<toml::table>("job"))
      if (auto name = job->get_as<std::string>("name")) return name->get();
    return file_.stem().string();
  }

  // Relative paths from the file are taken from its directory, from --set from the current
  // directory.
  void make_absolute(toml::node& node, const std::string& key_path) const {
    const fs::path base =
        problems_.override_for(key_path) ? fs::current_path() : file_.parent_path();
    auto fix = [&](toml::node& n) {
      if (auto s = n.as_string())
        s->get() = (base / fs::path(s->get())).lexically_normal().string();
    };
    if (auto a = node.as_array())
      for (toml::node& element : *a) fix(element);
    else
      fix(node);
  }

  // Typed reads of keys the schema check has already vouched for; a miss is a bug here.
  template <typename T>
  static const T& get(const toml::table& t, std::string_view key) {
    const auto* value = t.get_as<T>(key);
    FT_CHECK(value != nullptr, fmt::format("resolved job lacks \"{}\" of the expected type", key));
    return value->get();
  }
  static const toml::table& section_of(const toml::table& all, std::string_view name) {
    const toml::table* section = all.get_as<toml::table>(name);
    FT_CHECK(section != nullptr, fmt::format("resolved job lacks section [{}]", name));
    return *section;
  }
  static std::string string_of(const toml::table& t, std::string_view key) {
    return get<std::string>(t, key);
  }
  static std::int64_t integer_of(const toml::table& t, std::string_view key) {
    return get<std::int64_t>(t, key);
  }
  static double number_of(const toml::table& t, std::string_view key) {
    if (auto i = t.get_as<std::int64_t>(key)) return static_cast<double>(i->get());
    return get<double>(t, key);
  }
  static bool boolean_of(const toml::table& t, std::string_view key) { return get<bool>(t, key); }
  static std::vector<std::string> strings_of(const toml::table& t, std::string_view key) {
    std::vector<std::string> out;
    const toml::node* node = t.get(key);
    if (!node) return out;
    if (auto s = node->as_string()) {
      out.push_back(s->get());
    } else {
      for (const toml::node& element : *node->as_array()) out.push_back(element.as_string()->get());
    }
    return out;
  }
  static std::vector<double> numbers_of(const toml::table& t, std::string_view key) {
    std::vector<double> out;
    if (const toml::array* a = t.get_as<toml::array>(key))
      for (const toml::node& element : *a) out.push_back(element.value<double>().value_or(0.0));
    return out;
  }
  // A table of strings ([data.fields]); absent: empty.
  static std::map<std::string, std::string> strings_table_of(const toml::table& t,
                                                             std::string_view key) {
    std::map<std::string, std::string> out;
    if (const toml::table* table = t.get_as<toml::table>(key))
      for (const auto& [name, value] : *table)
        out.emplace(std::string(name.str()), value.value<std::string>().value_or(""));
    return out;
  }
  static std::vector<fs::path> paths_of(const toml::table& t, std::string_view key) {
    std::vector<fs::path> out;
    for (std::string& s : strings_of(t, key)) out.emplace_back(std::move(s));
    return out;
  }

  void fill(Job& job, const toml::table& all) const {
    job.name = string_of(section_of(all, "job"), "name");

    const toml::table& model = section_of(all, "model");
    job.model.plugin = string_of(model, "plugin");
    job.model.path = string_of(model, "path");
    job.model.dtype = string_of(model, "dtype") == "bf16" ? DType::bf16 : DType::f32;

    const toml::table& adapter = section_of(all, "adapter");
    AdapterConfig& a = job.adapter;
    a.plugin = string_of(adapter, "plugin");
    a.r = integer_of(adapter, "r");
    a.alpha = number_of(adapter, "alpha");
    a.dropout = number_of(adapter, "dropout");
    a.target_modules = strings_of(adapter, "target_modules");
    a.use_rslora = boolean_of(adapter, "use_rslora");
    a.quant_type = string_of(adapter, "quant_type") == "fp4" ? QuantType::fp4 : QuantType::nf4;
    a.double_quant = boolean_of(adapter, "double_quant");
    a.block_size = integer_of(adapter, "block_size");
    a.freeze = strings_of(adapter, "freeze");
    a.extra = extras(adapter, "adapter");

    const toml::table& optimizer = section_of(all, "optimizer");
    OptimizerConfig& o = job.optimizer;
    o.plugin = string_of(optimizer, "plugin");
    o.lr = number_of(optimizer, "lr");
    const toml::array* betas = optimizer.get_as<toml::array>("betas");
    FT_CHECK(betas && betas->size() == 2, "resolved job lacks optimizer.betas");
    for (std::size_t i = 0; i < 2; ++i) o.betas[i] = betas->get(i)->value<double>().value_or(0.0);
    o.eps = number_of(optimizer, "eps");
    o.weight_decay = number_of(optimizer, "weight_decay");
    o.decay_norms_and_biases = boolean_of(optimizer, "decay_norms_and_biases");
    o.momentum = number_of(optimizer, "momentum");
    o.nesterov = boolean_of(optimizer, "nesterov");
    o.extra = extras(optimizer, "optimizer");

    const toml::table& schedule = section_of(all, "schedule");
    ScheduleConfig& s = job.schedule;
    const std::string kind = string_of(schedule, "kind");
    s.kind = kind == "constant" ? ScheduleKind::constant
             : kind == "linear" ? ScheduleKind::linear
                                : ScheduleKind::cosine;
    if (schedule.contains("warmup_steps")) s.warmup_steps = integer_of(schedule, "warmup_steps");
    if (schedule.contains("warmup_ratio")) s.warmup_ratio = number_of(schedule, "warmup_ratio");
    s.min_lr_ratio = number_of(schedule, "min_lr_ratio");

    const toml::table& data = section_of(all, "data");
    DataConfig& d = job.data;
    d.train = paths_of(data, "train");
    if (data.contains("eval")) d.eval = string_of(data, "eval");
    if (data.contains("val_split")) d.val_split = number_of(data, "val_split");
    d.seq_len = integer_of(data, "seq_len");
    const std::string format = string_of(data, "format");
    d.format = format == "text"         ? DataFormat::text
               : format == "alpaca"     ? DataFormat::alpaca
               : format == "chat"       ? DataFormat::chat
               : format == "completion" ? DataFormat::completion
                                        : DataFormat::auto_detect;
    if (data.contains("weights")) d.weights = numbers_of(data, "weights");
    d.fields = strings_table_of(data, "fields");
    d.chat_template = string_of(data, "template");
    d.custom_template = strings_table_of(data, "custom_template");
    d.skip_bad_records = boolean_of(data, "skip_bad_records");
    d.train_on_inputs = boolean_of(data, "train_on_inputs");
    if (data.contains("packing")) d.packing = boolean_of(data, "packing");
    d.group_by_length = boolean_of(data, "group_by_length");
    if (data.contains("on_overflow")) {
      const std::string overflow = string_of(data, "on_overflow");
      d.on_overflow = overflow == "drop"    ? OverflowPolicy::drop
                      : overflow == "split" ? OverflowPolicy::split
                      : overflow == "error" ? OverflowPolicy::error
                                            : OverflowPolicy::truncate;
    }

    const toml::table& train = section_of(all, "train");
    TrainConfig& t = job.train;
    t.batch_size = integer_of(train, "batch_size");
    t.grad_accum = integer_of(train, "grad_accum");
    if (train.contains("max_steps")) t.max_steps = integer_of(train, "max_steps");
    t.epochs = number_of(train, "epochs");
    t.grad_clip = number_of(train, "grad_clip");
    t.seed = integer_of(train, "seed");
    t.eval_every = integer_of(train, "eval_every");
    t.save_every = integer_of(train, "save_every");
    t.keep_checkpoints = integer_of(train, "keep_checkpoints");
    t.checkpointing = boolean_of(train, "checkpointing");
    t.precision = string_of(train, "precision");

    const toml::table& backend = section_of(all, "backend");
    job.backend.plugin = string_of(backend, "plugin");
    job.backend.threads = static_cast<int>(integer_of(backend, "threads"));

    job.engine.plugin_dirs = paths_of(section_of(all, "engine"), "plugin_dirs");

    const toml::table& output = section_of(all, "output");
    job.output.dir = string_of(output, "dir");
    job.output.save_merged = boolean_of(output, "save_merged");
    job.output.gguf = boolean_of(output, "gguf");
  }

  // The keys of a section that the schema does not know (a third-party plugin's).
  static toml::table extras(const toml::table& section, std::string_view name) {
    toml::table out;
    const schema::Section* spec = schema::find_section(name);
    for (auto&& [k, v] : section)
      if (!spec->find(k.str())) out.insert(k, v);
    return out;
  }

  const toml::table& doc_;
  fs::path file_;
  const ProblemList& problems_;
};

struct Outcome {
  std::vector<Problem> problems;
  std::optional<Job> job;
};

// One path for files and strings: parse (text given, or read from `file`), apply the
// overrides, check, resolve.
Outcome load(const std::string* text, const fs::path& file,
             const std::vector<std::string>& overrides, JobPurpose purpose) {
  std::vector<std::string> arguments;
  for (const std::string& o : overrides) arguments.push_back("--set " + o);
  ProblemList problems(file.string(), arguments);

  toml::table doc;
  if (!text) {
    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (!fs::exists(status)) {
      problems.add_in_file(0, 0, "", "job file not found");
      return {problems.sorted(), std::nullopt};
    }
    if (fs::is_directory(status)) {
      problems.add_in_file(0, 0, "", "is a directory, not a job file");
      return {problems.sorted(), std::nullopt};
    }
  }
  try {
    doc = text ? toml::parse(*text, file.string()) : toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::string description(e.description());
    if (!description.empty()) description[0] = static_cast<char>(std::tolower(description[0]));
    const auto& at = e.source().begin;
    if (at.line == 0)
      problems.add_in_file(0, 0, "", "cannot read the job file: " + description);
    else
      problems.add_in_file(static_cast<int>(at.line), static_cast<int>(at.column), "",
                           "invalid TOML: " + description);
    return {problems.sorted(), std::nullopt};
  }

  detail::apply_overrides(doc, overrides, problems);
  detail::check_document(doc, purpose, problems);
  if (!problems.empty()) return {problems.sorted(), std::nullopt};
  return {{}, Resolver(doc, file, problems).resolve()};
}

Job job_or_throw(Outcome outcome) {
  if (!outcome.problems.empty()) throw JobError(std::move(outcome.problems));
  return std::move(*outcome.job);
}

}  // namespace

std::vector<Problem> validate_job(const fs::path& file, const std::vector<std::string>& overrides,
                                  JobPurpose purpose) {
  return load(nullptr, file, overrides, purpose).problems;
}

Job load_job(const fs::path& file, const std::vector<std::string>& overrides, JobPurpose purpose) {
  return job_or_throw(load(nullptr, file, overrides, purpose));
}

Job load_job_from_string(std::string_view toml_text, const fs::path& origin,
                         const std::vector<std::string>& overrides, JobPurpose purpose) {
  const std::string text(toml_text);
  return job_or_throw(load(&text, origin, overrides, purpose));
}

std::vector<Problem> validate_job_string(std::string_view toml_text, const fs::path& origin,
                                         const std::vector<std::string>& overrides,
                                         JobPurpose purpose) {
  const std::string text(toml_text);
  return load(&text, origin, overrides, purpose).problems;
}

}  // namespace ft::engine
