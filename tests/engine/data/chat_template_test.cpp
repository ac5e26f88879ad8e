// Chat templates, token by token: with the byte tokenizer every character is one token, so
// the rendered text with its trained tokens in [[brackets]] (show_example) says exactly
// which tokens carry loss and where BOS, EOS and end-of-turn tokens go.
#include "engine/data/chat_template.hpp"

#include <gtest/gtest.h>

#include "engine/data/dataset.hpp"
#include "engine/data/sequences.hpp"
#include "tests/engine/data/data_test_util.hpp"

namespace ft::testing {
namespace {

using engine::ChatTemplate;
using engine::DataFormat;
using engine::Example;
using engine::Message;
using engine::Role;
using engine::Tokenizer;

class ChatTemplateTest : public DataTest {
 protected:
  // The byte tokenizer with the chat tokens of ChatML and Llama 3 added (ids from 258),
  // and tokenizer_config.json's chat_template as given.
  Tokenizer chat_tokenizer(const std::string& chat_template = "") const {
    const std::filesystem::path dir = dir_ / "chat-tokenizer";
    std::filesystem::create_directories(dir);
    nlohmann::json j = nlohmann::json::parse(engine::byte_tokenizer_json());
    int id = 258;
    for (const char* token :
         {"<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
      j["added_tokens"].push_back({{"id", id},
                                   {"content", token},
                                   {"single_word", false},
                                   {"lstrip", false},
                                   {"rstrip", false},
                                   {"normalized", false},
                                   {"special", true}});
      j["model"]["vocab"][token] = id++;
    }
    std::ofstream(dir / "tokenizer.json") << j.dump();
    nlohmann::json config = nlohmann::json::parse(engine::byte_tokenizer_config_json(2048));
    if (!chat_template.empty()) config["chat_template"] = chat_template;
    std::ofstream(dir / "tokenizer_config.json") << config.dump();
    return Tokenizer::from_directory(dir);
  }

  static Example chat(std::vector<Message> messages) {
    return Example{.format = DataFormat::chat, .messages = std::move(messages), .tools = "", .origin = "x:1"};
  }

  // The example as text with its trained tokens in [[...]].
  static std::string marked(const Example& e, const std::string& name, const Tokenizer& tok,
                            bool train_on_inputs = false) {
    const ChatTemplate t = engine::resolve_template(engine::builtin_template(name), tok);
    return marked_with(e, &t, tok, train_on_inputs);
  }
  static std::string marked_with(const Example& e, const ChatTemplate* t, const Tokenizer& tok,
                                 bool train_on_inputs = false) {
    const engine::TokenizedExample tokens =
        engine::tokenize(engine::render(e, t, tok, {.train_on_inputs = train_on_inputs}), tok,
                         e.origin);
    std::string text = engine::show_example(tokens, tok, /*colour=*/false);
    return text.substr(text.find('\n') + 1);  // without the "x:1:" line
  }
};

const std::vector<Message> kTurns = {{Role::system, "Be brief.", ""},
                                     {Role::user, "hi", ""},
                                     {Role::assistant, "Hello!", ""},
                                     {Role::user, "2+2?", ""},
                                     {Role::assistant, "4", ""}};

TEST_F(ChatTemplateTest, ChatmlTrainsTheRepliesAndTheirImEnd) {
  EXPECT_EQ(marked(chat(kTurns), "chatml", chat_tokenizer()),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n[[Hello!<|im_end|>]]\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n[[4<|im_end|>]]\n\n");
}

TEST_F(ChatTemplateTest, EndOfTurnIsOneTrainedToken) {
  const Tokenizer tok = chat_tokenizer();
  const ChatTemplate t = engine::resolve_template(engine::builtin_template("chatml"), tok);
  const engine::TokenizedExample e = engine::tokenize(
      engine::render(chat({{Role::user, "a", ""}, {Role::assistant, "b", ""}}), &t, tok, {}), tok,
      "x:1");
  const std::int32_t im_start = 258, im_end = 259;
  const std::vector<std::int32_t> expected = {
      im_start, byte_id('u'), byte_id('s'), byte_id('e'), byte_id('r'), 198 /* \n */,
      byte_id('a'), im_end, 198, im_start, byte_id('a'), byte_id('s'), byte_id('s'),
      byte_id('i'), byte_id('s'), byte_id('t'), byte_id('a'), byte_id('n'), byte_id('t'), 198,
      byte_id('b'), im_end, 198};
  EXPECT_EQ(e.tokens, expected);
  std::vector<std::uint8_t> trained(expected.size(), 0);
  trained[20] = trained[21] = 1;  // "b" and its <|im_end|>
  EXPECT_EQ(e.trained, trained);
}

TEST_F(ChatTemplateTest, Llama3HeadersAndEotId) {
  EXPECT_EQ(marked(chat(kTurns), "llama3", chat_tokenizer()),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n[[Hello!<|eot_id|>]]"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n[[4<|eot_id|>]]\n");
}

TEST_F(ChatTemplateTest, Llama2PutsTheSystemIntoTheFirstInstAndBosBeforeEachTurn) {
  EXPECT_EQ(marked(chat(kTurns), "llama2", byte_tokenizer()),
            "<|begin_of_text|>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST][[ Hello! "
            "<|end_of_text|>]]<|begin_of_text|>[INST] 2+2? [/INST][[ 4 <|end_of_text|>]]\n");
}

TEST_F(ChatTemplateTest, MistralHasOneBosAndEosAfterEachReply) {
  EXPECT_EQ(marked(chat(kTurns), "mistral", byte_tokenizer()),
            "<|begin_of_text|>[INST] Be brief.\n\nhi [/INST][[Hello!<|end_of_text|>]]"
            "[INST] 2+2? [/INST][[4<|end_of_text|>]]\n");
}

TEST_F(ChatTemplateTest, ZephyrEndsEveryTurnWithEos) {
  EXPECT_EQ(marked(chat(kTurns), "zephyr", byte_tokenizer()),
            "<|system|>\nBe brief.<|end_of_text|>\n<|user|>\nhi<|end_of_text|>\n<|assistant|>\n"
            "[[Hello!<|end_of_text|>]]\n<|user|>\n2+2?<|end_of_text|>\n<|assistant|>\n"
            "[[4<|end_of_text|>]]\n\n");
}

TEST_F(ChatTemplateTest, AlpacaUsesStanfordsPreambleAndInputSection) {
  const Tokenizer tok = byte_tokenizer();
  Example e{.format = DataFormat::alpaca,
            .messages = {{Role::user, "Add.", "2 and 2"}, {Role::assistant, "4", ""}},
            .tools = "",
            .origin = "x:1"};
  EXPECT_EQ(marked(e, "alpaca", tok),
            "<|begin_of_text|>Below is an instruction that describes a task, paired with an "
            "input that provides further context. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n2 and 2\n\n"
            "### Response:\n[[4<|end_of_text|>]]\n\n\n");
  e.messages[0].input.clear();
  EXPECT_EQ(marked(e, "alpaca", tok),
            "<|begin_of_text|>Below is an instruction that describes a task. Write a response "
            "that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n"
            "### Response:\n[[4<|end_of_text|>]]\n\n\n");
  // Under a chat template the input follows the instruction after a blank line.
  e.messages[0].input = "2 and 2";
  EXPECT_EQ(marked(e, "chatml", chat_tokenizer()),
            "<|im_start|>user\nAdd.\n\n2 and 2<|im_end|>\n<|im_start|>assistant\n"
            "[[4<|im_end|>]]\n\n");
}

TEST_F(ChatTemplateTest, ToolResultsAreNotTrainedAndToolCallsAre) {
  Example e = chat({{Role::user, "weather?", ""},
                    {Role::assistant, "{\"name\": \"w\"}", ""},
                    {Role::tool, "{\"t\": 20}", ""},
                    {Role::assistant, "20 C", ""}});
  e.tools = "[{\"name\": \"w\"}]";
  EXPECT_EQ(marked(e, "chatml", chat_tokenizer()),
            "<|im_start|>system\nYou can call these tools:\n[{\"name\": \"w\"}]<|im_end|>\n"
            "<|im_start|>user\nweather?<|im_end|>\n<|im_start|>assistant\n"
            "[[{\"name\": \"w\"}<|im_end|>]]\n<|im_start|>user\n<tool_response>\n{\"t\": 20}\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n[[20 C<|im_end|>]]\n\n");
}

TEST_F(ChatTemplateTest, TrainOnInputsTrainsEveryToken) {
  EXPECT_EQ(marked(chat({{Role::user, "hi", ""}, {Role::assistant, "yo", ""}}), "zephyr",
                   byte_tokenizer(), /*train_on_inputs=*/true),
            "[[<|user|>\nhi<|end_of_text|>\n<|assistant|>\nyo<|end_of_text|>\n]]\n");
}

TEST_F(ChatTemplateTest, TextAndCompletionNeedNoTemplate) {
  const Tokenizer tok = byte_tokenizer();
  const Example text{.format = DataFormat::text,
                     .messages = {{Role::assistant, "Once.", ""}},
                     .tools = "",
                     .origin = "x:1"};
  // BOS (add_bos_token) is never predicted; every text token and EOS are.
  EXPECT_EQ(marked_with(text, nullptr, tok), "<|begin_of_text|>[[Once.<|end_of_text|>]]\n");
  EXPECT_EQ(marked_with(text, nullptr, byte_tokenizer(/*add_bos=*/false)),
            "[[Once.<|end_of_text|>]]\n");
  const Example completion{.format = DataFormat::completion,
                           .messages = {{Role::user, "Q: 1+1?", ""}, {Role::assistant, " A: 2", ""}},
                           .tools = "",
                           .origin = "x:1"};
  EXPECT_EQ(marked_with(completion, nullptr, tok),
            "<|begin_of_text|>Q: 1+1?[[ A: 2<|end_of_text|>]]\n");
}

TEST_F(ChatTemplateTest, CustomTemplateFromTheJob) {
  const Tokenizer tok = byte_tokenizer();
  const ChatTemplate t = engine::resolve_template(
      engine::custom_template({{"begin", "{bos}"},
                               {"user_prefix", "Q: "},
                               {"user_suffix", "\n"},
                               {"assistant_prefix", "A: "},
                               {"assistant_after", "\n"}}),
      tok);
  EXPECT_EQ(marked_with(chat({{Role::user, "hi", ""}, {Role::assistant, "yo", ""}}), &t, tok),
            "<|begin_of_text|>Q: hi\nA: [[yo<|end_of_text|>]]\n\n");
  EXPECT_NE(error_of([] { engine::custom_template({{"user_prefx", "Q"}}); })
                .find("data.custom_template.user_prefx: unknown key; the keys are"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              engine::resolve_template(engine::custom_template({{"assistant_end", "END"}}), tok);
            }).find("does not end with a special token of this tokenizer"),
            std::string::npos);
}

TEST_F(ChatTemplateTest, ATemplateTokenMissingFromTheVocabularyIsAnError) {
  const std::string error = error_of(
      [&] { engine::resolve_template(engine::builtin_template("chatml"), byte_tokenizer()); });
  EXPECT_NE(error.find("chat template \"chatml\": \"<|im_start|>\" is not a single token of this "
                       "tokenizer (it encodes as 12 tokens)"),
            std::string::npos)
      << error;
  EXPECT_NE(error_of([] { engine::builtin_template("vicuna"); })
                .find("unknown chat template \"vicuna\"; built in: chatml, llama3, llama2, "
                      "mistral, zephyr, alpaca"),
            std::string::npos);
}

TEST_F(ChatTemplateTest, AutoReadsTheModelsTemplateThenItsVocabulary) {
  const auto pick = [&](const Tokenizer& tok, DataFormat format) {
    return engine::auto_template(tok, dir_ / "chat-tokenizer", format);
  };
  EXPECT_EQ(pick(chat_tokenizer("{{ '[INST] ' + message['content'] }}"), DataFormat::chat).name,
            "mistral");
  EXPECT_EQ(pick(chat_tokenizer("{% for m in messages %}<|start_header_id|>{% endfor %}"),
                 DataFormat::chat)
                .name,
            "llama3");
  const engine::TemplateChoice by_vocab = pick(chat_tokenizer(), DataFormat::chat);
  EXPECT_EQ(by_vocab.name, "chatml");
  EXPECT_EQ(by_vocab.reason, "the tokenizer has <|im_start|> and <|im_end|>");
  EXPECT_EQ(engine::auto_template(byte_tokenizer(), dir_, DataFormat::alpaca).name, "alpaca");
  EXPECT_EQ(engine::auto_template(byte_tokenizer(), dir_, DataFormat::chat).name, "zephyr");
}

}  // namespace
}  // namespace ft::testing
