// libftengine-adapter-lora.so: LoRA as plugin "lora".
#include "ftengine/plugin.hpp"

#include "plugins/adapters/lora/lora_adapter.hpp"

FTENGINE_PLUGIN(adapter, "lora", "0.1.0",
                "LoRA on linear layers, PEFT-compatible adapter_config.json + safetensors",
                ft::plugins::lora::LoraAdapter)
