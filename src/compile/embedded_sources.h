// The files `rtml compile` writes besides the generated model: the kernel
// library (src/kernels) and the board support files (src/compile/targets),
// embedded in the rtml binary at build time by cmake/embed_sources.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace rtml::compile {

struct EmbeddedSource {
  std::string_view path;  // relative to src/: "kernels/linear.cpp"
  std::string_view text;
};

const std::vector<EmbeddedSource>& embedded_sources();

// The file at `path`, or nullptr.
const EmbeddedSource* find_embedded(std::string_view path);

}  // namespace rtml::compile
