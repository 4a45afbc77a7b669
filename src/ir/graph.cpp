#include "ir/graph.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace rtml::ir {

Buffer::Buffer(size_t bytes) : size_(bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  data_ = std::aligned_alloc(64, rounded);
  if (!data_) throw std::bad_alloc();
  std::memset(data_, 0, rounded);
}

Buffer::~Buffer() { std::free(data_); }

TensorId Graph::find(const std::string& name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return static_cast<TensorId>(i);
  return kNoTensor;
}

TensorId Graph::add_tensor(Tensor t) {
  tensors.push_back(std::move(t));
  return static_cast<TensorId>(tensors.size() - 1);
}

std::vector<int> topological_order(const Graph& g) {
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (TensorId t : g.nodes[n].outputs)
      if (t != kNoTensor) {
        if (producer[t] != -1)
          throw Error(g.source + ": tensor '" + g.tensors[t].name + "' is produced by two nodes ('" +
                      g.nodes[producer[t]].name + "' and '" + g.nodes[n].name + "')");
        producer[t] = static_cast<int>(n);
      }
  std::vector<bool> available(g.tensors.size(), false);
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (g.tensors[t].is_constant()) available[t] = true;
  for (TensorId t : g.inputs) available[t] = true;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (TensorId t : g.nodes[n].inputs)
      if (t != kNoTensor && !available[t] && producer[t] == -1)
        throw Error(g.source + ": node '" + g.nodes[n].name + "' (" + g.nodes[n].op_type +
                    ") reads tensor '" + g.tensors[t].name +
                    "', which is not a graph input, an initializer or any node's output");

  // Kahn's algorithm, stable: among ready nodes the earliest in file order first.
  std::vector<int> pending(g.nodes.size(), 0);
  std::vector<std::vector<int>> consumers(g.tensors.size());
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (TensorId t : g.nodes[n].inputs)
      if (t != kNoTensor && !available[t]) {
        ++pending[n];
        consumers[t].push_back(static_cast<int>(n));
      }
  std::vector<int> order, ready;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (pending[n] == 0) ready.push_back(static_cast<int>(n));
  size_t head = 0;
  while (head < ready.size()) {
    int n = ready[head++];
    order.push_back(n);
    for (TensorId t : g.nodes[n].outputs) {
      if (t == kNoTensor) continue;
      for (int c : consumers[t])
        if (--pending[c] == 0) ready.push_back(c);
    }
  }
  if (order.size() != g.nodes.size()) {
    for (size_t n = 0; n < g.nodes.size(); ++n)
      if (pending[n] > 0)
        throw Error(g.source + ": the graph has a cycle through node '" + g.nodes[n].name + "' (" +
                    g.nodes[n].op_type + ")");
  }
  return order;
}

}  // namespace rtml::ir
