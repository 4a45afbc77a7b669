// Quantized graphs built by hand in the unit tests: tensors added as
// constants (initializers) or as graph inputs whose bytes are kept to feed.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace rtml::testing {

struct QLinearGraph {
  ir::Graph g;
  std::vector<std::pair<ir::TensorId, std::vector<uint8_t>>> feeds;  // graph inputs in order, with their bytes
  ir::TensorId add(const char* name, DType dt, Shape shape, const void* data, size_t bytes, bool constant) {
    ir::Tensor t;
    t.name = name;
    t.dtype = dt;
    t.shape = std::move(shape);
    if (constant) {
      auto buf = std::make_shared<ir::Buffer>(bytes);
      std::memcpy(buf->data(), data, bytes);
      t.data = buf;
    }
    const ir::TensorId id = g.add_tensor(t);
    if (!constant) {
      g.inputs.push_back(id);
      const auto* b = static_cast<const uint8_t*>(data);
      feeds.emplace_back(id, std::vector<uint8_t>(b, b + bytes));
    }
    return id;
  }
};

}  // namespace rtml::testing
