// TFLite import: .tflite file -> ir::Graph, the same graph the ONNX importer
// builds, so plan/, engine/ and kernels/ run it unchanged.
//
// Reading: flatbuffer_reader.h, bounds-checked against the wire format (no
// generated schema code). Every offset, vector length, buffer, tensor and
// opcode index is checked before use; a bad file throws rtml::Error naming the
// file, the subgraph/operator/tensor and what is wrong.
//
// Layout: TFLite is NHWC, the engine's Conv and pools are NCHW (ONNX). The
// importer converts once: every 4-D activation inside the graph is held
// NCHW; convolution weights are transposed to OIHW at import (a depthwise
// convolution becomes a grouped Conv, group = C, weights [C*mult, 1, kh, kw]);
// layout-sensitive ops (RESHAPE/SQUEEZE, CONCATENATION, MEAN, PAD, TRANSPOSE,
// SOFTMAX, constant operands of ADD/MUL) get their axes translated. The
// graph's inputs and outputs keep the file's NHWC shapes: one Transpose at a
// 4-D input (a Reshape, which is free, when C == 1 or H*W == 1) and likewise
// at a 4-D output.
//
// Quantization: an int8/uint8 tensor stays integer in the graph; an op reading
// it reads DequantizeLinear(x, scale, zero point) and an op writing one ends
// in QuantizeLinear: the ONNX QDQ form that plan/passes/fuse_qdq.cpp turns
// into single integer steps (Conv/Gemm + the fused activation as Relu/Clip,
// Add, Mul, pools, Sigmoid/Tanh, Mean). Weights are DequantizeLinear'd per
// channel (axis 0 after the OIHW transpose), an int32 bias is a
// DequantizeLinear with the file's scale (in_scale * w_scale) and zero point
// 0. Data movement (RESHAPE, SQUEEZE, TRANSPOSE, PAD, CONCATENATION with equal
// quantization) runs on the integers directly. int8 SOFTMAX is DQ -> Softmax
// -> Q, which fuse_qdq runs as TFLite's integer softmax (output scale 1/256,
// zero point -128, beta 1, last axis; docs/tflite.md). A float op with int8
// weights (a "float" file with quantized weights) reads them through a
// DequantizeLinear the planner folds once; a DEQUANTIZE of a constant is
// folded here, at import.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "import/onnx_import.h"
#include "ir/graph.h"

namespace rtml::import {

// The TFLite schema version rtml reads (Model.version; every current converter writes it).
constexpr uint32_t kTfliteSchemaVersion = 3;

// True when `bytes` starts like a .tflite file (file identifier "TFL3" at 4..8).
bool looks_like_tflite(const uint8_t* bytes, size_t size);
// True when the file at `path` is read as a .tflite file by load_model: its identifier, or (for
// a file too short or unreadable, so that the error is the TFLite importer's) a .tflite extension.
bool is_tflite_file(const std::string& path);

ir::Graph load_tflite(const std::string& path, const ImportOptions& options = {});
// The same from bytes in memory; `source` names them in messages.
ir::Graph load_tflite_bytes(const uint8_t* data, size_t size, const std::string& source,
                            const ImportOptions& options = {});

// Any model file rtml reads: .tflite (by its identifier) or ONNX.
ir::Graph load_model(const std::string& path, const ImportOptions& options = {});
// A model's name for reports and generated files: its folder's name for a zoo model
// (NAME/model.onnx, NAME/model.tflite), else the file name without its extension.
std::string model_name(const std::string& path);

}  // namespace rtml::import
