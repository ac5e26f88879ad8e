#include "engine/data/chat_template.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace {

const char* const kAlpacaSystem =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.";
const char* const kAlpacaSystemWithInput =
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.";

ChatTemplate chatml() {
  ChatTemplate t;
  t.name = "chatml";
  t.system_prefix = "<|im_start|>system\n";
  t.system_suffix = "<|im_end|>\n";
  t.user_prefix = "<|im_start|>user\n";
  t.user_suffix = "<|im_end|>\n";
  t.assistant_prefix = "<|im_start|>assistant\n";
  t.assistant_end = "<|im_end|>";
  t.assistant_after = "\n";
  // Qwen2.5's way: tool results come back in a user turn.
  t.tool_prefix = "<|im_start|>user\n<tool_response>\n";
  t.tool_suffix = "\n</tool_response><|im_end|>\n";
  t.special_tokens = {"<|im_start|>", "<|im_end|>"};
  return t;
}

ChatTemplate llama3() {
  ChatTemplate t;
  t.name = "llama3";
  t.begin = "<|begin_of_text|>";
  auto header = [](const char* role) {
    return fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n", role);
  };
  t.system_prefix = header("system");
  t.system_suffix = "<|eot_id|>";
  t.user_prefix = header("user");
  t.user_suffix = "<|eot_id|>";
  t.assistant_prefix = header("assistant");
  t.assistant_end = "<|eot_id|>";
  t.tool_prefix = header("ipython");
  t.tool_suffix = "<|eot_id|>";
  t.trim_content = true;
  t.special_tokens = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                      "<|eot_id|>"};
  return t;
}

ChatTemplate llama2() {
  ChatTemplate t;
  t.name = "llama2";
  t.user_prefix = "{bos}[INST] ";
  t.user_suffix = " [/INST]";
  t.assistant_content_prefix = " ";
  t.assistant_end = " {eos}";
  t.tool_prefix = t.user_prefix;
  t.tool_suffix = t.user_suffix;
  t.system_in_first_user = "<<SYS>>\n{system}\n<</SYS>>\n\n{content}";
  t.trim_content = true;
  t.special_tokens = {"{bos}", "{eos}"};
  return t;
}

ChatTemplate mistral() {
  ChatTemplate t;
  t.name = "mistral";
  t.begin = "{bos}";
  t.user_prefix = "[INST] ";
  t.user_suffix = " [/INST]";
  t.assistant_end = "{eos}";
  t.tool_prefix = t.user_prefix;
  t.tool_suffix = t.user_suffix;
  t.system_in_first_user = "{system}\n\n{content}";
  t.special_tokens = {"{bos}", "{eos}"};
  return t;
}

ChatTemplate zephyr() {
  ChatTemplate t;
  t.name = "zephyr";
  t.system_prefix = "<|system|>\n";
  t.system_suffix = "{eos}\n";
  t.user_prefix = "<|user|>\n";
  t.user_suffix = "{eos}\n";
  t.assistant_prefix = "<|assistant|>\n";
  t.assistant_end = "{eos}";
  t.assistant_after = "\n";
  t.tool_prefix = t.user_prefix;
  t.tool_suffix = t.user_suffix;
  t.special_tokens = {"{eos}"};
  return t;
}

ChatTemplate alpaca() {
  ChatTemplate t;
  t.name = "alpaca";
  t.begin = "{bos}";
  t.system_suffix = "\n\n";
  t.user_prefix = "### Instruction:\n";
  t.user_suffix = "\n\n";
  t.input_separator = "\n\n### Input:\n";
  t.assistant_prefix = "### Response:\n";
  t.assistant_end = "{eos}";
  t.assistant_after = "\n\n";
  t.tool_prefix = t.user_prefix;
  t.tool_suffix = t.user_suffix;
  t.default_system = kAlpacaSystem;
  t.default_system_with_input = kAlpacaSystemWithInput;
  t.special_tokens = {"{eos}"};
  return t;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

std::string trimmed(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// `format` with "{system}" and "{content}" replaced (once each, so braces inside the
// texts themselves stay as they are).
std::string with_system(const std::string& format, const std::string& system,
                        const std::string& content) {
  std::string out;
  for (std::size_t at = 0; at < format.size();) {
    if (format.compare(at, 8, "{system}") == 0) {
      out += system;
      at += 8;
    } else if (format.compare(at, 9, "{content}") == 0) {
      out += content;
      at += 9;
    } else {
      out += format[at++];
    }
  }
  return out;
}

// The BOS text when the tokenizer puts BOS in front of a sequence, else "".
std::string leading_bos(const Tokenizer& tokenizer) {
  const std::vector<std::int32_t> specials = tokenizer.encode("", /*add_special=*/true);
  const auto bos = tokenizer.bos_id();
  const bool adds_bos = bos && !specials.empty() && specials.front() == *bos;
  return adds_bos ? tokenizer.token_text(*bos) : std::string();
}

std::string eos_text(const Tokenizer& tokenizer) {
  return tokenizer.eos_id() ? tokenizer.token_text(*tokenizer.eos_id()) : std::string();
}

}  // namespace

ChatTemplate builtin_template(const std::string& name) {
  if (name == "chatml") return chatml();
  if (name == "llama3") return llama3();
  if (name == "llama2") return llama2();
  if (name == "mistral") return mistral();
  if (name == "zephyr") return zephyr();
  if (name == "alpaca") return alpaca();
  throw Error(fmt::format("unknown chat template \"{}\"; built in: {}, or \"custom\" with "
                          "[data.custom_template], or \"auto\"",
                          name, fmt::join(kBuiltinTemplates, ", ")));
}

ChatTemplate custom_template(const std::map<std::string, std::string>& keys) {
  ChatTemplate t;
  t.name = "custom";
  t.assistant_end = "{eos}";
  bool tool_set = false;
  const std::map<std::string, std::string*> fields = {
      {"begin", &t.begin},
      {"system_prefix", &t.system_prefix},
      {"system_suffix", &t.system_suffix},
      {"user_prefix", &t.user_prefix},
      {"user_suffix", &t.user_suffix},
      {"assistant_prefix", &t.assistant_prefix},
      {"assistant_end", &t.assistant_end},
      {"assistant_after", &t.assistant_after},
      {"tool_prefix", &t.tool_prefix},
      {"tool_suffix", &t.tool_suffix},
      {"default_system", &t.default_system},
  };
  for (const auto& [key, value] : keys) {
    const auto field = fields.find(key);
    if (field == fields.end()) {
      std::vector<std::string> names;
      for (const auto& [name, _] : fields) names.push_back(name);
      throw Error(fmt::format("data.custom_template.{}: unknown key; the keys are {}", key,
                              fmt::join(names, ", ")));
    }
    *field->second = value;
    tool_set = tool_set || key.starts_with("tool_");
  }
  if (!tool_set) {
    t.tool_prefix = t.user_prefix;
    t.tool_suffix = t.user_suffix;
  }
  if (trimmed(t.assistant_end).empty())
    throw Error(
        "data.custom_template.assistant_end is empty: an assistant turn must end with a "
        "token the model learns to stop at, such as \"{eos}\" or \"<|im_end|>\"");
  return t;
}

ChatTemplate resolve_template(ChatTemplate t, const Tokenizer& tokenizer) {
  const std::string bos = tokenizer.bos_id() ? tokenizer.token_text(*tokenizer.bos_id()) : "";
  const std::string eos = eos_text(tokenizer);
  const auto uses = [&](std::string_view placeholder) {
    for (const std::string* s : {&t.begin, &t.user_prefix, &t.system_suffix, &t.user_suffix,
                                 &t.assistant_end, &t.tool_prefix, &t.tool_suffix})
      if (s->find(placeholder) != std::string::npos) return true;
    return false;
  };
  if (uses("{eos}") && eos.empty())
    throw Error(fmt::format("chat template \"{}\" ends turns with EOS, and this tokenizer has "
                            "no EOS token (eos_token in tokenizer_config.json)",
                            t.name));
  for (std::string* s : {&t.begin, &t.system_prefix, &t.system_suffix, &t.user_prefix,
                         &t.user_suffix, &t.assistant_prefix, &t.assistant_content_prefix,
                         &t.assistant_end, &t.assistant_after, &t.tool_prefix, &t.tool_suffix}) {
    replace_all(*s, "{bos}", bos);  // a tokenizer without BOS (Qwen): nothing
    replace_all(*s, "{eos}", eos);
  }
  if (t.name == "custom") {
    // Its end of turn is what the user wrote: it must end in a special token.
    const std::vector<std::int32_t> end = tokenizer.encode(t.assistant_end, false);
    if (end.empty() || !tokenizer.is_special(end.back()))
      throw Error(fmt::format(
          "data.custom_template.assistant_end \"{}\" does not end with a special token of "
          "this tokenizer: a model fine-tuned on it would never learn to stop. End it with "
          "\"{{eos}}\" or the model's end-of-turn token",
          t.assistant_end));
  }
  for (std::string& token : t.special_tokens) {
    replace_all(token, "{bos}", bos);
    replace_all(token, "{eos}", eos);
    if (token.empty()) continue;
    const std::vector<std::int32_t> ids = tokenizer.encode(token, false);
    if (ids.size() != 1)
      throw Error(fmt::format(
          "chat template \"{}\": \"{}\" is not a single token of this tokenizer (it encodes "
          "as {} tokens), so the model could never produce it and would never stop. Use "
          "template = \"auto\" to pick a template this tokenizer has the tokens for, or "
          "write one in [data.custom_template]",
          t.name, token, ids.size()));
  }
  return t;
}

TemplateChoice auto_template(const Tokenizer& tokenizer, const std::filesystem::path& model_dir,
                             DataFormat format) {
  // 1. The model's own Hugging Face chat template, recognised by its markers.
  std::string jinja;
  std::ifstream in(model_dir / "tokenizer_config.json");
  if (in) {
    const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
    const auto found = config.is_object() ? config.find("chat_template") : config.end();
    if (found != config.end() && found->is_string()) jinja = found->get<std::string>();
    if (found != config.end() && found->is_array())  // [{"name": "default", "template": ...}]
      for (const auto& entry : *found)
        if (entry.is_object() && entry.value("name", "") == "default")
          jinja = entry.value("template", "");
  }
  const std::vector<std::pair<const char*, const char*>> markers = {
      {"<|im_start|>", "chatml"}, {"<|start_header_id|>", "llama3"}, {"<<SYS>>", "llama2"},
      {"[INST]", "mistral"},      {"<|assistant|>", "zephyr"},       {"### Instruction", "alpaca"}};
  for (const auto& [marker, name] : markers)
    if (jinja.find(marker) != std::string::npos)
      return {name, fmt::format("the model's chat_template (tokenizer_config.json) uses {}",
                                marker)};
  // 2. Chat tokens in the vocabulary.
  if (tokenizer.token_to_id("<|im_start|>") && tokenizer.token_to_id("<|im_end|>"))
    return {"chatml", "the tokenizer has <|im_start|> and <|im_end|>"};
  if (tokenizer.token_to_id("<|start_header_id|>") && tokenizer.token_to_id("<|eot_id|>"))
    return {"llama3", "the tokenizer has <|start_header_id|> and <|eot_id|>"};
  // 3. A base model without chat tokens: a plain-text template that needs only EOS.
  if (format == DataFormat::alpaca)
    return {"alpaca", "the model has no chat template or chat tokens, and the data is Alpaca"};
  return {"zephyr",
          "the model has no chat template or chat tokens; zephyr's turns need only EOS"};
}

std::vector<TemplatePart> render(const Example& example, const ChatTemplate* t,
                                 const Tokenizer& tokenizer, const RenderOptions& options) {
  std::vector<TemplatePart> parts;
  const auto add = [&](std::string text, bool trainable) {
    if (!text.empty()) parts.push_back({std::move(text), trainable || options.train_on_inputs});
  };

  if (example.format == DataFormat::text || example.format == DataFormat::completion) {
    add(leading_bos(tokenizer), false);
    for (const Message& m : example.messages) add(m.content, m.role == Role::assistant);
    add(eos_text(tokenizer), true);
    return parts;
  }
  if (t == nullptr) throw InternalError("render: a chat template is needed for this example");

  std::vector<Message> messages = example.messages;
  if (t->trim_content)
    for (Message& m : messages) m.content = trimmed(m.content);
  std::string system;
  if (!messages.empty() && messages.front().role == Role::system) {
    system = messages.front().content;
    messages.erase(messages.begin());
  } else {
    const bool has_input = !messages.empty() && !messages.front().input.empty();
    system = has_input && !t->default_system_with_input.empty() ? t->default_system_with_input
                                                                 : t->default_system;
  }
  if (!example.tools.empty())
    system += fmt::format("{}You can call these tools:\n{}", system.empty() ? "" : "\n\n",
                          example.tools);

  add(t->begin, false);
  std::string pending_system;  // for templates that put it into the first user turn
  if (!system.empty()) {
    if (t->system_in_first_user.empty())
      add(t->system_prefix + system + t->system_suffix, false);
    else
      pending_system = system;
  }
  for (const Message& m : messages) {
    switch (m.role) {
      case Role::user:
      case Role::system: {  // a system message after the first is refused when read
        std::string content = m.input.empty() ? m.content : m.content + t->input_separator + m.input;
        if (!pending_system.empty()) {
          content = with_system(t->system_in_first_user, pending_system, content);
          pending_system.clear();
        }
        add(t->user_prefix + content + t->user_suffix, false);
        break;
      }
      case Role::tool:
        add(t->tool_prefix + m.content + t->tool_suffix, false);
        break;
      case Role::assistant:
        add(t->assistant_prefix, false);
        add(t->assistant_content_prefix + m.content, true);
        add(t->assistant_end, true);
        add(t->assistant_after, false);
        break;
    }
  }
  return parts;
}

}  // namespace ft::engine
