// Chat templates: how an Example's messages become the text a model is trained on, in
// parts that each say whether their tokens carry loss.
//
//   const ChatTemplate t = resolve_template(builtin_template("chatml"), tokenizer);
//   std::vector<TemplatePart> parts = render(example, &t, {.train_on_inputs = false});
//   // "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"   no loss
//   // "Hello!"  "<|im_end|>"                                         loss
//   // "\n"                                                           no loss
//
// Built in (as the models' own Hugging Face chat templates render them):
//   chatml   Qwen2/2.5, many fine-tunes   <|im_start|>role\n ... <|im_end|>\n
//   llama3   Llama 3.x Instruct           <|start_header_id|>role<|end_header_id|>\n\n ... <|eot_id|>
//   llama2   Llama 2 Chat                 <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
//   mistral  Mistral Instruct             <s>[INST] ... [/INST]...</s>
//   zephyr   Zephyr, TinyLlama Chat       <|user|>\n...</s>\n<|assistant|>\n...</s>\n
//   alpaca   Stanford Alpaca              ### Instruction:\n...\n\n### Response:\n...</s>
// and `custom`, from per-role prefix and suffix strings in the job.
//
// In template strings "{bos}" and "{eos}" stand for the tokenizer's BOS and EOS tokens.
// The assistant's turn ends with `assistant_end` (the end-of-turn or EOS token), which is
// trained: it is how the model learns to stop. Every special token a template uses must
// be one token of the tokenizer (resolve_template checks), else the model could never
// emit it and would never stop.
//
// Plain text and completion examples use no template: BOS (when the tokenizer adds one),
// the text, EOS.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/data/examples.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace ft::engine {

struct TemplatePart {
  std::string text;
  bool trainable = false;
};

struct ChatTemplate {
  std::string name;
  std::string begin;  // once, at the start of each example
  std::string system_prefix, system_suffix;
  std::string user_prefix, user_suffix;
  std::string assistant_prefix;          // not trained
  std::string assistant_content_prefix;  // trained, in front of the content (Llama 2's " ")
  std::string assistant_end;     // trained, after the content: the end-of-turn token
  std::string assistant_after;   // not trained, after assistant_end ("\n")
  std::string tool_prefix, tool_suffix;
  // Between a user turn's content and Alpaca's `input`.
  std::string input_separator = "\n\n";
  // Non-empty: the system message is not a turn of its own but goes into the first user
  // message, as this format says ("{system}" and "{content}" are replaced).
  std::string system_in_first_user;
  // Used when an example has no system message ("" for none). Alpaca's differs when the
  // first user turn has an input: default_system_with_input.
  std::string default_system, default_system_with_input;
  bool trim_content = false;  // strip whitespace around contents (Llama 2 and 3 do)
  // Tokens the template relies on; each must be one token of the tokenizer.
  std::vector<std::string> special_tokens;
};

inline const std::vector<std::string> kBuiltinTemplates = {"chatml", "llama3", "llama2",
                                                           "mistral", "zephyr", "alpaca"};

// ft::Error naming the built-in ones for an unknown name.
ChatTemplate builtin_template(const std::string& name);

// From [data.custom_template]: begin, system_prefix, system_suffix, user_prefix,
// user_suffix, assistant_prefix, assistant_end (default "{eos}"), assistant_after,
// tool_prefix, tool_suffix (default: the user's), default_system. ft::Error for an unknown
// key.
ChatTemplate custom_template(const std::map<std::string, std::string>& keys);

// "{bos}"/"{eos}" replaced by the tokenizer's tokens, and every special token checked: an
// ft::Error names the template and the token that is not a single token of the tokenizer.
ChatTemplate resolve_template(ChatTemplate t, const Tokenizer& tokenizer);

// The template `template = "auto"` picks, and why: from tokenizer_config.json's
// chat_template (in model_dir, when it has one), else the vocabulary's chat tokens, else by
// the data format (alpaca for Alpaca data, zephyr, which needs only EOS, otherwise).
struct TemplateChoice {
  std::string name;
  std::string reason;
};
TemplateChoice auto_template(const Tokenizer& tokenizer, const std::filesystem::path& model_dir,
                             DataFormat format);

struct RenderOptions {
  bool train_on_inputs = false;  // every part trainable
};

// The example's parts: through the template for alpaca and chat examples (`t` must be
// resolved), BOS + text + EOS for text and completion (the prompt untrained). `tokenizer`
// gives BOS/EOS for the latter.
std::vector<TemplatePart> render(const Example& example, const ChatTemplate* t,
                                 const Tokenizer& tokenizer, const RenderOptions& options);

}  // namespace ft::engine
