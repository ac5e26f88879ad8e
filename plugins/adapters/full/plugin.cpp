// libftengine-adapter-full.so: full fine-tuning as plugin "full".
#include "ftengine/plugin.hpp"

#include "plugins/adapters/full/full_adapter.hpp"

FTENGINE_PLUGIN(adapter, "full", "0.1.0",
                "Full fine-tuning: every weight trains (f32), saved as a Hugging Face model",
                ft::plugins::full::FullAdapter)
