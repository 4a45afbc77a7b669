// rtml::Error (defined in the public header): messages are written for the
// user and name the file, the node, its op type and what was expected.
#pragma once

#include "rtml/error.hpp"
