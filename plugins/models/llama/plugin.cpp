// libftengine-model-llama.so: the Llama family (Llama, Mistral, Qwen2, Qwen3) as plugin "llama".
#include "ftengine/plugin.hpp"

#include "plugins/models/llama/llama_model.hpp"

FTENGINE_PLUGIN(model, "llama", "0.1.0",
                "Llama-family decoder (Llama 2/3, Mistral, Qwen2, Qwen3, SmolLM, TinyLlama)",
                ft::plugins::llama::LlamaModel)
