// ftengine eval --model DIR --data FILE: mean next-token cross-entropy and perplexity.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/cli/model_options.hpp"
#include "engine/eval/evaluate.hpp"
#include "ftengine/error.hpp"

namespace ft::cli {

namespace {

int eval_command(const GlobalOptions& global, const po::variables_map& args);

}  // namespace

const CommandSpec kEvalCommand{
    .name = "eval",
    .synopsis = "--model DIR --data FILE",
    .summary = "mean cross-entropy and perplexity of a model on a text or JSONL file",
    .details =
        "A text file is one document; in a .jsonl file each record's \"text\" (--field) is one.\n"
        "Documents are tokenized as the model's tokenizer config says (BOS first when\n"
        "add_bos_token) and cut into windows of --seq-len tokens that do not overlap; every\n"
        "token but a document's first is predicted once. Prints the loss (nats per token),\n"
        "the perplexity exp(loss) and the count of predicted tokens.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          declare_model_options(options);
          options.add_options()                                                        //
              ("data", po::value<std::string>(), "text file, or JSONL with a text field")  //
              ("field", po::value<std::string>()->default_value("text"),
               "JSONL field holding each document's text")                             //
              ("seq-len", po::value<std::int64_t>()->default_value(512),
               "tokens per window")                                                    //
              ("batch-size", po::value<std::int64_t>()->default_value(4),
               "windows per forward pass")                                             //
              ("json", po::bool_switch(), "print {\"loss\", \"perplexity\", \"tokens\"} as JSON");
        },
    .run = eval_command,
};

namespace {

int eval_command(const GlobalOptions& global, const po::variables_map& args) {
  const std::string data = required_argument(args, "data", kEvalCommand);
  const engine::EvalOptions options{.seq_len = args["seq-len"].as<std::int64_t>(),
                                    .batch_size = args["batch-size"].as<std::int64_t>()};
  LoadedModel loaded = load_model(global, args, kEvalCommand);
  const std::vector<engine::Document> documents =
      engine::read_documents(data, loaded.tokenizer, args["field"].as<std::string>());

  const auto start = std::chrono::steady_clock::now();
  const engine::EvalResult result = engine::evaluate(*loaded.model, documents, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (args["json"].as<bool>()) {
    const nlohmann::json out = {
        {"loss", result.loss}, {"perplexity", result.perplexity}, {"tokens", result.tokens}};
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("loss {:.6f}  perplexity {:.4f}  tokens {}\n", result.loss, result.perplexity,
               result.tokens);
  }
  fmt::print(stderr, "ftengine: {} documents, {} windows of up to {} tokens, {:.2f} s ({:.0f} tokens/s)\n",
             result.documents, result.windows, options.seq_len, seconds,
             seconds > 0 ? static_cast<double>(result.tokens) / seconds : 0.0);
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
