// libFuzzer target: a serialized onnx.TensorProto (the input_I.pb /
// output_I.pb / label.pb files of test data) through import::load_tensor_pb.
// rtml::Error is the expected outcome for bad input.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "import/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rtml::fuzz::write_input(data, size, "input_0.pb");
  try {
    rtml::ir::Tensor t = rtml::import::load_tensor_pb(path, rtml::fuzz::kMaxMemoryBytes);
    // What the reader promises: data of exactly the bytes dims and type need.
    if (t.data->size() != static_cast<size_t>(rtml::shape_numel(t.shape)) * rtml::dtype_size(t.dtype)) __builtin_trap();
  } catch (const rtml::Error&) {
  }
  return 0;
}
