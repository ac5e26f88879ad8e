// libftengine-optimizer-sgd.so: SGD with optional (Nesterov) momentum as plugin "sgd".
#include "ftengine/plugin.hpp"

#include "plugins/optimizers/sgd/sgd.hpp"

FTENGINE_PLUGIN(optimizer, "sgd", "0.1.0",
                "SGD with momentum and Nesterov (torch.optim.SGD), fused backend kernel",
                ft::plugins::sgd::Sgd)
