// quantize/qdq_writer: rewrites an onnx.ModelProto into the QDQ form that
// exporters write (quantize.h says which tensors and why). The caller decides
// the numbers (quantize/calibration.h); this file only edits the protobuf:
// quantized initializers, scale and zero-point initializers, QuantizeLinear
// and DequantizeLinear nodes, renamed producer outputs, node order kept
// topological (weight DequantizeLinear nodes first, each activation pair
// right after its producer).
#pragma once

#include <string>
#include <vector>

#include "core/dtype.h"
#include "quantize/calibration.h"

namespace onnx {
class ModelProto;
}

namespace rtml::quantize {

// An initializer replaced by int8 values (+ scale, int8 zero point 0) and a
// DequantizeLinear that writes the original name. axis < 0: per tensor.
struct WeightEdit {
  std::string name;
  QuantizedWeights q;
  int axis = -1;
};
// A bias initializer replaced by int32 values (+ scale, int32 zero point 0).
struct BiasEdit {
  std::string name;
  QuantizedBias q;
};
// An activation through QuantizeLinear -> DequantizeLinear.
struct ActivationEdit {
  std::string name;
  QuantParams params;
  DType type = DType::I8;
};

struct QdqEdits {
  std::vector<WeightEdit> weights;
  std::vector<BiasEdit> biases;
  std::vector<ActivationEdit> activations;
};

// Applies the edits. Returns, per activation edit in order, the name under
// which its dequantized value can be read in the new graph (the name itself,
// or NAME_dequantized for a graph input). Throws rtml::Error (naming `source`)
// if a name is not found.
std::vector<std::string> apply_qdq(onnx::ModelProto& model, const QdqEdits& edits, const std::string& source);

}  // namespace rtml::quantize
