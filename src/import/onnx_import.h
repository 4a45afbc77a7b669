// ONNX import: .onnx file -> ir::Graph.
//
// Parsing uses the protobuf classes generated from the onnx.proto that
// Debian's libonnx-dev ships. Everything a file can get wrong is reported as
// rtml::Error naming the file (and node and op type where there is one):
// not ONNX, truncated, too large, unsupported opset, dangling or cyclic
// references, bad initializers, external data outside the model's folder.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace rtml::import {

struct ImportOptions {
  // Refuse model files (and external data files) larger than this.
  uint64_t max_file_bytes = uint64_t(2) << 30;
};

// Loads a model. External data files are read from the model's folder.
ir::Graph load_onnx(const std::string& path, const ImportOptions& options = {});

// Loads a serialized onnx.TensorProto (the `input_0.pb` files of the ONNX
// backend test layout).
ir::Tensor load_tensor_pb(const std::string& path);

}  // namespace rtml::import
