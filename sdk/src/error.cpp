#include "ftengine/error.hpp"

namespace ft {

// Out-of-line destructors pin the vtables and type_info to libftengine_sdk.so, so an
// ft::Error thrown inside a plugin is caught as ft::Error in the engine.
Error::~Error() = default;
InternalError::~InternalError() = default;

}  // namespace ft
