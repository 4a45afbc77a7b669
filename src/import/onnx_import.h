// ONNX import: .onnx file -> ir::Graph.
//
// Parsing uses the protobuf classes generated from the onnx.proto that
// Debian's libonnx-dev ships. Everything a file can get wrong is reported as
// rtml::Error naming the file (and node and op type where there is one):
// not ONNX, truncated, too large, unsupported opset, dangling or cyclic
// references, bad initializers, external data outside the model's folder.
// Sizes are never trusted: dims are multiplied with overflow checks
// (core/size.h), the bytes a tensor's shape needs must be present in the
// file (raw_data, typed fields or external data) before anything is
// allocated, and the total is held to ImportOptions::max_memory_bytes.
#pragma once

#include <cstdint>
#include <string>

#include "core/size.h"
#include "ir/graph.h"

namespace rtml::import {

struct ImportOptions {
  // Refuse model files (and external data files) larger than this.
  uint64_t max_file_bytes = uint64_t(2) << 30;
  // Refuse a model whose initializers and constant attributes together need
  // more memory than this (checked before allocating each; `--max-memory`).
  uint64_t max_memory_bytes = default_memory_limit();
};

// The bytes of a model or data file; a missing file, a folder or a file over
// `max_bytes` is an error naming the path (`what`: "an .onnx model file").
std::string read_file(const std::string& path, uint64_t max_bytes, const char* what);

// Loads a model. External data files are read from the model's folder.
ir::Graph load_onnx(const std::string& path, const ImportOptions& options = {});

// Loads a serialized onnx.TensorProto (the `input_0.pb` files of the ONNX
// backend test layout). Its dims must match the data it holds; a tensor
// needing more than max_memory_bytes is refused before allocating.
ir::Tensor load_tensor_pb(const std::string& path, uint64_t max_memory_bytes = default_memory_limit());

}  // namespace rtml::import
