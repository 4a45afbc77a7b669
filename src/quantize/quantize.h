// quantize/: `rtml quantize` — static post-training quantization of a float
// ONNX model into a standard QDQ ONNX file (opset >= 13) and a report.
//
// What is quantized (docs/quantization.md, "Making an int8 model"):
//   - Conv, Gemm and MatMul whose weight is an initializer: the weight as
//     symmetric int8 per output channel (Conv: axis 0; Gemm: axis 0 with
//     transB = 1, else 1; MatMul: the last axis) behind a DequantizeLinear;
//     the bias (Conv input 2, Gemm input C with alpha = beta = 1) as int32
//     with scale input scale x weight scale, zero point 0, behind a
//     DequantizeLinear; the activation input and the layer's output as int8
//     (or uint8) asymmetric per tensor through a QuantizeLinear ->
//     DequantizeLinear pair. A Relu or Clip that is the output's only
//     consumer stays inside the pattern: the pair goes after it; for a Conv
//     also through a causal Slice (spatial axes, step 1) between them.
//   - Add of two quantized activations (a residual connection): its output
//     (after a Relu or Clip, as above) is quantized too, so that it runs as
//     TFLite's integer Add.
//   - LSTM, GRU and RNN: weight-only (W and R int8 per channel, axis 1,
//     dequantized; bias, state and gates stay float).
// Every tensor keeps its name where it is read: a quantized activation T is
// written by its producer as T_float, and DequantizeLinear writes T; a graph
// input T becomes T -> Q -> DQ -> T_dequantized. Graph inputs and outputs
// keep their names and float32 type.
//
// How (one call, quantize_model):
//   1. find the layers above in the ir::Graph (the ONNX file is also parsed as
//      onnx.ModelProto, which is what gets rewritten);
//   2. calibrate: run the float model on the calibration sets with the
//      activations to quantize kept as extra graph outputs (a copy of the
//      graph with more outputs, planned without fusion: the engine itself is
//      unchanged); minmax needs one pass, percentile and mse a second one to
//      fill a histogram over each tensor's [min, max] (quantize/calibration.h);
//   3. rewrite the ModelProto and write it atomically;
//   4. evaluate: the float model and the written file (through rtml's importer),
//      both with their layer outputs as extra outputs (the quantized one planned
//      with fusion, its QDQ groups as the integer steps `rtml run` runs), on
//      the test sets: top-1 of the first output where the sets have labels,
//      max and mean absolute error of every output, SQNR of every layer output.
// Nothing here prints; progress goes through a callback.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "plan/plan.h"

namespace rtml::quantize {

enum class Method { MinMax, Percentile, Mse };

struct QuantizeOptions {
  std::string calibration_dir;    // test_data_set_N folders (or .npy sets), data/test_data.h
  int max_calibration_sets = 0;   // the first N sets; 0: all
  std::string test_data_dir;      // for accuracy and SQNR; empty: none
  Method method = Method::MinMax;
  double percentile = 99.99;      // Method::Percentile: the central part kept, in %
  DType activations = DType::I8;  // or U8
  bool per_tensor = false;        // weights per tensor instead of per output channel
  bool weights_only = false;      // no activation or bias quantization
  plan::PlanOptions plan;         // kernel set, memory limit, input shapes
  // Called as the calibration and evaluation go: ("calibrating", 3, 100).
  std::function<void(const std::string& phase, int done, int total)> progress;
};

// Writes the QDQ model to `out` and returns the report (schema
// "rtml.quantize/1", docs/quantization.md). Throws rtml::Error with a message
// naming the file for: a model without a quantizable layer, an opset below
// 13, external data, calibration data that is missing or does not fit the
// model, an unwritable `out`.
nlohmann::json quantize_model(const std::string& model, const std::string& out, const QuantizeOptions& options);

const char* method_name(Method m);

}  // namespace rtml::quantize
