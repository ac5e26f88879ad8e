// ftengine generate --model DIR --prompt TEXT: continue a prompt, streaming the text.
#include <fmt/format.h>

#include <cstdio>

#include "engine/cli/model_options.hpp"
#include "engine/generate/generate.hpp"
#include "ftengine/error.hpp"

namespace ft::cli {

namespace {

int generate_command(const GlobalOptions& global, const po::variables_map& args);

}  // namespace

const CommandSpec kGenerateCommand{
    .name = "generate",
    .synopsis = "--model DIR --prompt TEXT",
    .summary = "continue a prompt with a model (streams the text to stdout)",
    .details =
        "Writes the prompt's continuation to stdout as it is generated, and a summary line\n"
        "(tokens, tokens/s, why it stopped) on stderr. --temperature 0 is greedy decoding;\n"
        "otherwise tokens are sampled after top-k and top-p filtering, repeatably per --seed.\n"
        "Generation stops at the model's end-of-sequence token, after --max-new-tokens, or\n"
        "when the model's context (max_position_embeddings) is full.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          declare_model_options(options);
          options.add_options()                                                         //
              ("prompt", po::value<std::string>(), "the text to continue")              //
              ("max-new-tokens", po::value<std::int64_t>()->default_value(128),
               "most tokens to generate")                                               //
              ("temperature", po::value<float>()->default_value(0.8f),
               "sampling temperature (0: greedy)")                                      //
              ("top-k", po::value<int>()->default_value(40), "keep the k likeliest tokens "
                                                              "(0: all)")               //
              ("top-p", po::value<float>()->default_value(0.95f),
               "keep the likeliest tokens whose probabilities reach p (1: all)")        //
              ("seed", po::value<std::uint64_t>()->default_value(0), "sampling seed")   //
              ("ignore-eos", po::bool_switch(), "keep going past end-of-sequence tokens");
        },
    .run = generate_command,
};

namespace {

int generate_command(const GlobalOptions& global, const po::variables_map& args) {
  const std::string prompt = required_argument(args, "prompt", kGenerateCommand);
  engine::GenerationOptions options;
  options.max_new_tokens = args["max-new-tokens"].as<std::int64_t>();
  options.sampling = {.temperature = args["temperature"].as<float>(),
                      .top_k = args["top-k"].as<int>(),
                      .top_p = args["top-p"].as<float>(),
                      .seed = args["seed"].as<std::uint64_t>()};
  options.stop_at_eos = !args["ignore-eos"].as<bool>();
  engine::Sampler check(options.sampling);  // bad sampling options fail before the model loads

  LoadedModel loaded = load_model(global, args, kGenerateCommand);
  const engine::GenerationResult result =
      engine::generate(*loaded.model, loaded.tokenizer, prompt, options, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      });
  std::fputc('\n', stdout);
  std::fflush(stdout);

  const std::size_t generated = result.new_tokens.size();
  const double rate =
      result.decode_seconds > 0 ? static_cast<double>(generated) / result.decode_seconds : 0.0;
  const double prompt_rate = result.prefill_seconds > 0
                                 ? static_cast<double>(result.prompt_tokens.size()) /
                                       result.prefill_seconds
                                 : 0.0;
  fmt::print(stderr,
             "ftengine: generated {} tokens in {:.2f} s ({:.1f} tokens/s), stopped at {}; "
             "prompt {} tokens in {:.2f} s ({:.1f} tokens/s)\n",
             generated, result.decode_seconds, rate, engine::to_string(result.stop),
             result.prompt_tokens.size(), result.prefill_seconds, prompt_rate);
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
