// libftengine-optimizer-adamw.so: decoupled AdamW as plugin "adamw".
#include "ftengine/plugin.hpp"

#include "plugins/optimizers/adamw/adamw.hpp"

FTENGINE_PLUGIN(optimizer, "adamw", "0.1.0",
                "Decoupled AdamW (torch.optim.AdamW), fused backend kernel, f32 state",
                ft::plugins::adamw::AdamW)
