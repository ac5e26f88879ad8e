#include "engine/config/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ft::engine::schema {

namespace {

constexpr Bound at_least(double v) { return Bound{v, true}; }
constexpr Bound above(double v) { return Bound{v, false}; }
constexpr Bound at_most(double v) { return Bound{v, true}; }
constexpr Bound below(double v) { return Bound{v, false}; }

std::vector<Section> build_schema() {
  std::vector<Section> s;

  s.push_back(Section{.name = "job",
                      .doc = "What the run is called.",
                      .keys = {
                          {.name = "name",
                           .type = Type::string,
                           .doc = "Name of the run; the default output directory is `runs/<name>`.",
                           .default_doc = "the job file's name without `.toml`"},
                      }});

  s.push_back(Section{
      .name = "model",
      .doc = "The model to fine-tune.",
      .keys = {
          {.name = "plugin",
           .type = Type::string,
           .doc = "Model plugin: the architecture family that reads the model directory.",
           .default_value = "\"llama\"",
           .choices = {"llama"},
           .open_choices = true},
          {.name = "path",
           .type = Type::string,
           .doc = "Hugging Face model directory (`config.json`, `*.safetensors`, "
                  "`tokenizer.json`).",
           .required = Required::always,
           .is_path = true},
          {.name = "dtype",
           .type = Type::string,
           .doc = "Type the frozen base weights are held in; trainable weights and optimizer "
                  "state are always f32.",
           .default_value = "\"f32\"",
           .choices = {"f32", "bf16"}},
      }});

  s.push_back(Section{
      .name = "adapter",
      .doc = "How the model is fine-tuned. Open to extra keys for a plugin that is not built in.",
      .keys =
          {
              {.name = "plugin",
               .type = Type::string,
               .doc = "Adapter plugin: `lora`, `qlora` (LoRA on a 4-bit base), `full` (every "
                      "weight trains), or a third-party plugin's name.",
               .required = Required::always,
               .choices = {"lora", "qlora", "full"},
               .open_choices = true},
              {.name = "r",
               .type = Type::integer,
               .doc = "LoRA rank.",
               .default_value = "8",
               .min = at_least(1),
               .plugins = {"lora", "qlora"}},
              {.name = "alpha",
               .type = Type::number,
               .doc = "LoRA scale numerator: updates are scaled by alpha / r (alpha / sqrt(r) "
                      "with use_rslora).",
               .default_value = "16.0",
               .min = above(0),
               .plugins = {"lora", "qlora"}},
              {.name = "dropout",
               .type = Type::number,
               .doc = "Dropout probability on the LoRA input path.",
               .default_value = "0.0",
               .min = at_least(0),
               .max = below(1),
               .plugins = {"lora", "qlora"}},
              {.name = "target_modules",
               .type = Type::string_list,
               .doc = "Linear layers to adapt, by Hugging Face module name (a name matches "
                      "every layer whose name ends with it).",
               .default_value = "[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", "
                                "\"up_proj\", \"down_proj\"]",
               .plugins = {"lora", "qlora"}},
              {.name = "use_rslora",
               .type = Type::boolean,
               .doc = "Rank-stabilised LoRA: scale by alpha / sqrt(r) instead of alpha / r.",
               .default_value = "false",
               .plugins = {"lora", "qlora"}},
              {.name = "quant_type",
               .type = Type::string,
               .doc = "4-bit data type of the quantised base weights.",
               .default_value = "\"nf4\"",
               .choices = {"nf4", "fp4"},
               .plugins = {"qlora"}},
              {.name = "double_quant",
               .type = Type::boolean,
               .doc = "Quantise the per-block scales too (saves about 0.4 bits per weight).",
               .default_value = "true",
               .plugins = {"qlora"}},
              {.name = "block_size",
               .type = Type::integer,
               .doc = "Weights per quantisation block (one absmax each): 32, 64, 128 or 256.",
               .default_value = "64",
               .min = at_least(32),
               .max = at_most(256),
               .plugins = {"qlora"}},
              {.name = "freeze",
               .type = Type::string_array,
               .doc = "Parameters that stay frozen, by name (a name matches every parameter "
                      "whose name contains it), e.g. `[\"embed_tokens\"]`.",
               .default_value = "[]",
               .plugins = {"full"}},
          },
      .builtin_plugins = {"lora", "qlora", "full"}});

  s.push_back(
      Section{.name = "optimizer",
              .doc = "The optimizer. Open to extra keys for a plugin that is not built in.",
              .keys =
                  {
                      {.name = "plugin",
                       .type = Type::string,
                       .doc = "Optimizer plugin: `adamw`, `sgd`, or a third-party plugin's name.",
                       .default_value = "\"adamw\"",
                       .choices = {"adamw", "sgd"},
                       .open_choices = true},
                      {.name = "lr",
                       .type = Type::number,
                       .doc = "Peak learning rate (reached after warmup).",
                       .default_value = "2e-4",
                       .min = above(0)},
                      {.name = "betas",
                       .type = Type::number_array,
                       .doc = "AdamW decay rates of the first and second moment estimates.",
                       .default_value = "[0.9, 0.999]",
                       .min = at_least(0),
                       .max = below(1),
                       .length = 2,
                       .plugins = {"adamw"}},
                      {.name = "eps",
                       .type = Type::number,
                       .doc = "AdamW term added to the denominator.",
                       .default_value = "1e-8",
                       .min = above(0),
                       .plugins = {"adamw"}},
                      {.name = "weight_decay",
                       .type = Type::number,
                       .doc = "Decoupled weight decay (AdamW) or L2 penalty (SGD).",
                       .default_value = "0.0",
                       .min = at_least(0)},
                      {.name = "decay_norms_and_biases",
                       .type = Type::boolean,
                       .doc = "Also apply weight decay to 1-D parameters (norm weights, "
                              "biases); by default only matrices decay, as in HF Trainer.",
                       .default_value = "false",
                       .plugins = {"adamw", "sgd"}},
                      {.name = "momentum",
                       .type = Type::number,
                       .doc = "SGD momentum factor (0: plain SGD).",
                       .default_value = "0.0",
                       .min = at_least(0),
                       .plugins = {"sgd"}},
                      {.name = "nesterov",
                       .type = Type::boolean,
                       .doc = "SGD Nesterov momentum (needs momentum > 0).",
                       .default_value = "false",
                       .plugins = {"sgd"}},
                  },
              .builtin_plugins = {"adamw", "sgd"}});

  s.push_back(Section{
      .name = "schedule",
      .doc = "The learning-rate schedule: linear warmup from 0 to lr, then `kind` down to "
             "lr * min_lr_ratio at the last step.",
      .keys = {
          {.name = "kind",
           .type = Type::string,
           .doc = "Shape of the schedule after warmup.",
           .default_value = "\"cosine\"",
           .choices = {"constant", "linear", "cosine"}},
          {.name = "warmup_steps",
           .type = Type::integer,
           .doc = "Warmup length in optimizer steps. Set this or warmup_ratio, not both.",
           .default_value = "0",
           .min = at_least(0),
           .excludes = "warmup_ratio"},
          {.name = "warmup_ratio",
           .type = Type::number,
           .doc = "Warmup length as a fraction of the total steps. Set this or warmup_steps, "
                  "not both.",
           .min = at_least(0),
           .max = at_most(1),
           .excludes = "warmup_steps"},
          {.name = "min_lr_ratio",
           .type = Type::number,
           .doc = "Final learning rate as a fraction of lr (`linear` and `cosine`).",
           .default_value = "0.0",
           .min = at_least(0),
           .max = at_most(1)},
      }});

  s.push_back(Section{
      .name = "data",
      .doc = "Training and evaluation data: what the examples are and how they become token "
             "sequences.",
      .keys = {
          {.name = "train",
           .type = Type::string_list,
           .doc = "Training data: a file or a list of files (JSON array, JSONL, or plain "
                  "text), all of one format.",
           .required = Required::to_train,
           .is_path = true},
          {.name = "weights",
           .type = Type::number_array,
           .doc = "Mixing weight per training file: how many times each of its examples is "
                  "used per epoch (2 twice, 0.5 a seeded half). Same length as `train`.",
           .default_doc = "1 for every file",
           .min = at_least(0)},
          {.name = "eval",
           .type = Type::string,
           .doc = "Evaluation data, in the training data's format. Set this or val_split, "
                  "not both.",
           .is_path = true,
           .excludes = "val_split"},
          {.name = "val_split",
           .type = Type::number,
           .doc = "Fraction of the training examples held out for evaluation (seeded). Set "
                  "this or eval, not both.",
           .default_value = "0.0",
           .min = at_least(0),
           .max = below(1),
           .excludes = "eval"},
          {.name = "seq_len",
           .type = Type::integer,
           .doc = "Tokens per training sequence.",
           .default_value = "512",
           .min = at_least(8)},
          {.name = "format",
           .type = Type::string,
           .doc = "Example format: `text` (`text`), `alpaca` (`instruction`, `input`, "
                  "`output`), `chat` (`messages` with `role`/`content`, or ShareGPT "
                  "`conversations` with `from`/`value`), `completion` (`prompt`, "
                  "`completion`); `auto` tells by the first record's fields and says so.",
           .default_value = "\"auto\"",
           .choices = {"auto", "text", "alpaca", "chat", "completion"}},
          {.name = "fields",
           .type = Type::string_table,
           .doc = "Field names of the files, where they differ from the format's: "
                  "`[data.fields]` with `instruction = \"question\"`, `messages = "
                  "\"dialog\"`, `role = \"speaker\"`, ...",
           .default_doc = "the format's own names"},
          {.name = "template",
           .type = Type::string,
           .doc = "Chat template for `alpaca` and `chat` examples: `chatml`, `llama3`, "
                  "`llama2`, `mistral`, `zephyr`, `alpaca`, `custom` (from "
                  "[data.custom_template]), or `auto` (from the model's tokenizer, and said).",
           .default_value = "\"auto\"",
           .choices = {"auto", "chatml", "llama3", "llama2", "mistral", "zephyr", "alpaca",
                       "custom"}},
          {.name = "custom_template",
           .type = Type::string_table,
           .doc = "With template = \"custom\": `begin`, `system_prefix`, `system_suffix`, "
                  "`user_prefix`, `user_suffix`, `assistant_prefix`, `assistant_end` (trained; "
                  "default \"{eos}\"), `assistant_after`, `tool_prefix`, `tool_suffix`, "
                  "`default_system`; \"{bos}\" and \"{eos}\" stand for the tokenizer's tokens.",
           .default_doc = "none"},
          {.name = "train_on_inputs",
           .type = Type::boolean,
           .doc = "Also compute the loss on prompt tokens (system, user, tool turns; a "
                  "completion's prompt). By default only responses train.",
           .default_value = "false"},
          {.name = "packing",
           .type = Type::boolean,
           .doc = "Pack several examples into each sequence; they do not attend to each "
                  "other and their positions restart, so the loss is as if each ran alone.",
           .default_doc = "`true` for `alpaca`, `chat` and `completion` data, `false` for `text`"},
          {.name = "group_by_length",
           .type = Type::boolean,
           .doc = "Put rows of similar length in the same micro-batches (each epoch's shuffle "
                  "sorted longest first in groups of 50 micro-batches, as transformers' "
                  "`group_by_length`), so trimmed micro-batches carry little padding.",
           .default_value = "false"},
          {.name = "on_overflow",
           .type = Type::string,
           .doc = "An example longer than seq_len: `truncate` it, `split` it into several "
                  "sequences, `drop` it, or stop with an `error`. Counted in the data report.",
           .default_doc = "`split` for `text` data, `truncate` otherwise",
           .choices = {"truncate", "drop", "split", "error"}},
          {.name = "skip_bad_records",
           .type = Type::boolean,
           .doc = "Skip (and count) records that are invalid JSON or lack a field, instead "
                  "of stopping at the first with its file and line.",
           .default_value = "false"},
      }});

  s.push_back(Section{
      .name = "train",
      .doc = "The training loop.",
      .keys = {
          {.name = "batch_size",
           .type = Type::integer,
           .doc = "Sequences per micro-batch.",
           .default_value = "4",
           .min = at_least(1)},
          {.name = "grad_accum",
           .type = Type::integer,
           .doc = "Micro-batches per optimizer step (gradients are summed over them).",
           .default_value = "1",
           .min = at_least(1)},
          {.name = "max_steps",
           .type = Type::integer,
           .doc = "Optimizer steps to run; when set it wins over epochs.",
           .min = at_least(1)},
          {.name = "epochs",
           .type = Type::number,
           .doc = "Passes over the training data (fractions allowed), when max_steps is unset.",
           .default_value = "1.0",
           .min = above(0)},
          {.name = "grad_clip",
           .type = Type::number,
           .doc = "Clip the global gradient norm to this (0: no clipping).",
           .default_value = "1.0",
           .min = at_least(0)},
          {.name = "seed",
           .type = Type::integer,
           .doc = "Seed of every random choice (initialisation, shuffling, dropout).",
           .default_value = "42",
           .min = at_least(0)},
          {.name = "eval_every",
           .type = Type::integer,
           .doc = "Optimizer steps between evaluations (0: only after the last step).",
           .default_value = "0",
           .min = at_least(0)},
          {.name = "save_every",
           .type = Type::integer,
           .doc = "Optimizer steps between checkpoints (0: only after the last step).",
           .default_value = "0",
           .min = at_least(0)},
          {.name = "keep_checkpoints",
           .type = Type::integer,
           .doc = "Checkpoints kept, the oldest deleted first (0: keep all).",
           .default_value = "0",
           .min = at_least(0)},
          {.name = "checkpointing",
           .type = Type::boolean,
           .doc = "Activation checkpointing: recompute each layer's forward in backward to "
                  "save memory.",
           .default_value = "false"},
          {.name = "precision",
           .type = Type::string,
           .doc = "Operand precision of every GEMM (bf16: rounded to bf16, summed in f32; "
                  "weights, gradients, optimizer state, norms, softmax and the loss stay f32). "
                  "`auto`: bf16 where the backend runs it fast, else f32; `bf16` where it "
                  "does not runs f32 and says why. The run records the resolved one.",
           .default_value = "\"auto\"",
           .choices = {"auto", "f32", "bf16"}},
      }});

  s.push_back(
      Section{.name = "backend",
              .doc = "Where the job computes.",
              .keys = {
                  {.name = "plugin",
                   .type = Type::string,
                   .doc = "Backend plugin; `auto` takes the best available (CUDA, then ROCm, then "
                          "CPU).",
                   .default_value = "\"auto\"",
                   .choices = {"auto", "cpu", "cuda", "rocm"},
                   .open_choices = true},
                  {.name = "threads",
                   .type = Type::integer,
                   .doc = "CPU threads (0: all cores); the cpu backend's option.",
                   .default_value = "0",
                   .min = at_least(0),
                   .max = at_most(4096)},
                  {.name = "device",
                   .type = Type::integer,
                   .doc = "Device index the backend runs on (GPU backends; the CPU has one, 0).",
                   .default_value = "0",
                   .min = at_least(0),
                   .max = at_most(1023)},
                  {.name = "emulate_bf16",
                   .type = Type::boolean,
                   .doc = "cpu: run bf16 GEMMs even without AVX512-BF16 or AMX-BF16 (the same "
                          "numbers, slower than f32), to check bf16 training on any machine.",
                   .default_value = "false"},
              }});

  s.push_back(
      Section{.name = "engine",
              .doc = "The engine itself.",
              .keys = {
                  {.name = "plugin_dirs",
                   .type = Type::string_array,
                   .doc = "More directories to look for plugins in, after `--plugin-dir` and "
                          "`FTENGINE_PLUGIN_PATH`.",
                   .default_value = "[]",
                   .is_path = true},
              }});

  s.push_back(Section{
      .name = "output",
      .doc = "What the run writes.",
      .keys = {
          {.name = "dir",
           .type = Type::string,
           .doc = "Run directory: the resolved job, metrics, checkpoints, the adapter.",
           .default_doc = "`runs/<job.name>` in the current directory",
           .is_path = true},
          {.name = "save_merged",
           .type = Type::boolean,
           .doc = "Also write the model with the adapter merged in (Hugging Face "
                  "safetensors), in `merged/`.",
           .default_value = "false"},
          {.name = "gguf",
           .type = Type::boolean,
           .doc = "Also write the merged model as GGUF for llama.cpp, `<job.name>-f16.gguf` "
                  "(f16 weights; `ftengine export-gguf` writes other types).",
           .default_value = "false"},
      }});

  return s;
}

std::string format_number(double v) { return fmt::format("{}", v); }

std::string quoted_list(const std::vector<std::string_view>& values, std::string_view quote) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("{0}{1}{0}", quote, values[i]);
  }
  return out;
}

}  // namespace

const Key* Section::find(std::string_view key) const {
  for (const Key& k : keys)
    if (k.name == key) return &k;
  return nullptr;
}

bool Section::is_open_for(std::string_view plugin) const {
  if (builtin_plugins.empty()) return false;
  return std::find(builtin_plugins.begin(), builtin_plugins.end(), plugin) == builtin_plugins.end();
}

std::span<const Section> sections() {
  static const std::vector<Section> schema = build_schema();
  return schema;
}

const Section* find_section(std::string_view name) {
  for (const Section& s : sections())
    if (s.name == name) return &s;
  return nullptr;
}

std::string describe_range(const Key& key) {
  if (!key.min && !key.max) return {};
  if (key.min && key.max) {
    return fmt::format("{}{}, {}{}", key.min->inclusive ? "[" : "(", format_number(key.min->value),
                       format_number(key.max->value), key.max->inclusive ? "]" : ")");
  }
  if (key.min)
    return fmt::format("{} {}", key.min->inclusive ? ">=" : ">", format_number(key.min->value));
  return fmt::format("{} {}", key.max->inclusive ? "<=" : "<", format_number(key.max->value));
}

std::string describe_expected(const Key& key) {
  std::string range = describe_range(key);
  std::string bounded;
  if (!range.empty()) bounded = (key.min && key.max) ? " in " + range : " " + range;
  switch (key.type) {
    case Type::string:
      if (!key.choices.empty() && !key.open_choices)
        return "one of " + quoted_list(key.choices, "\"");
      return "a string";
    case Type::integer:
      return "an integer" + bounded;
    case Type::number:
      return "a number" + bounded;
    case Type::boolean:
      return "a boolean (true or false)";
    case Type::string_list:
      return "a string or an array of strings";
    case Type::string_array:
      return "an array of strings";
    case Type::number_array:
      if (key.length > 0) return fmt::format("an array of {} numbers{}", key.length, bounded);
      return "an array of numbers" + bounded;
    case Type::string_table:
      return "a table of strings";
  }
  return "a value";
}

std::string describe_type(const Key& key) {
  switch (key.type) {
    case Type::string:
      return "string";
    case Type::integer:
      return "integer";
    case Type::number:
      return "number";
    case Type::boolean:
      return "boolean";
    case Type::string_list:
      return "string or array of strings";
    case Type::string_array:
      return "array of strings";
    case Type::number_array:
      if (key.length > 0) return fmt::format("array of {} numbers", key.length);
      return "array of numbers";
    case Type::string_table:
      return "table of strings";
  }
  return "value";
}

std::string describe_default(const Key& key) {
  if (key.required == Required::always) return "required";
  if (key.required == Required::to_train) return "required to train";
  if (!key.default_doc.empty()) return std::string(key.default_doc);
  if (!key.default_value.empty()) return fmt::format("`{}`", key.default_value);
  return "unset";
}

std::string markdown_table(const Section& section) {
  std::string out = "| key | type | default | allowed | meaning |\n";
  out += "| --- | --- | --- | --- | --- |\n";
  for (const Key& key : section.keys) {
    std::string allowed;
    if (!key.choices.empty()) {
      for (std::size_t i = 0; i < key.choices.size(); ++i)
        allowed += fmt::format("{}`\"{}\"`", i > 0 ? ", " : "", key.choices[i]);
      if (key.open_choices) allowed += ", or any plugin name";
    } else if (key.type == Type::number_array && key.length > 0) {
      allowed = fmt::format("{} elements, each `{}`", key.length, describe_range(key));
    } else if (key.type == Type::boolean) {
      allowed = "`true`, `false`";
    } else if (key.min || key.max) {
      allowed = fmt::format("`{}`", describe_range(key));
    }
    if (allowed.empty()) allowed = "any";
    std::string meaning(key.doc);
    if (!key.plugins.empty()) {
      meaning += " Only for ";
      for (std::size_t i = 0; i < key.plugins.size(); ++i)
        meaning += fmt::format(
            "{}`{}`", i == 0 ? "" : (i + 1 == key.plugins.size() ? " and " : ", "), key.plugins[i]);
      meaning += ".";
    }
    if (key.is_path) meaning += " Relative paths: see [Paths](#paths).";
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", key.name, describe_type(key),
                       describe_default(key), allowed, meaning);
  }
  return out;
}

}  // namespace ft::engine::schema
