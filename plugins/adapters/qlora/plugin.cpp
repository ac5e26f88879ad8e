// libftengine-adapter-qlora.so: QLoRA as plugin "qlora": LoRA (plugins/adapters/lora, the
// same sources) on base weights quantised to 4-bit NF4 or FP4 when the adapter attaches.
#include "ftengine/plugin.hpp"

#include "plugins/adapters/lora/lora_adapter.hpp"

FTENGINE_PLUGIN(adapter, "qlora", "0.1.0",
                "LoRA on a 4-bit NF4/FP4 base (double-quantised scales), PEFT-compatible adapter",
                ft::plugins::lora::QloraAdapter)
