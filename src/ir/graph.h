// The in-memory model: tensors, nodes and attributes, independent of any
// file format. import/ builds it; plan/ reads it.
//
// Tensors live in one vector and are referred to by index (TensorId). A
// tensor with `data` set is a constant (an initializer or a folded result);
// constants are immutable and shared, never copied per run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace rtml::ir {

using TensorId = int32_t;
constexpr TensorId kNoTensor = -1;  // an omitted optional input

// Read-only bytes, 64-byte aligned so kernels may use aligned vector loads.
class Buffer {
 public:
  explicit Buffer(size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

struct Tensor {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;                         // -1 marks an unknown dimension
  std::vector<std::string> dim_names;  // symbolic names ("batch") where given
  std::shared_ptr<const Buffer> data;  // set for constants
  bool is_constant() const { return data != nullptr; }
  template <class T>
  const T* as() const { return static_cast<const T*>(data->data()); }
};

struct Attribute {
  enum class Kind { Float, Int, String, Tensor, Floats, Ints, Strings, Graph, Other };
  Kind kind = Kind::Other;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::shared_ptr<Tensor> tensor;  // for Kind::Tensor
};

struct Node {
  std::string name;    // may be empty in the file; import gives it "<op>_<index>"
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  std::vector<TensorId> inputs;   // kNoTensor for omitted optional inputs
  std::vector<TensorId> outputs;  // kNoTensor for omitted optional outputs
  std::map<std::string, Attribute> attrs;
};

struct Graph {
  std::string name;
  std::string source;  // file path, for messages
  int64_t opset = 0;   // default-domain opset version
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;
  std::vector<TensorId> inputs;   // graph inputs that are not initializers
  std::vector<TensorId> outputs;

  TensorId find(const std::string& name) const;  // kNoTensor if absent
  TensorId add_tensor(Tensor t);
};

// Orders nodes so that every node comes after the producers of its inputs.
// Throws rtml::Error naming a node on the cycle, or a tensor that nothing
// produces.
std::vector<int> topological_order(const Graph& g);

}  // namespace rtml::ir
