// resolve_inputs: the types and shapes of graph inputs (from the file, with
// PlanOptions::input_shapes filling or checking its dimensions) and of the
// constant initializers. Every later pass reads them from state.info.
#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

std::string input_list(const ir::Graph& g) {
  std::string names;
  for (ir::TensorId t : g.inputs)
    names += (names.empty() ? "" : ", ") + g.tensors[t].name + " (" + shape_str(g.tensors[t].shape) + ")";
  return names.empty() ? "none" : names;
}

// The input's shape: the declared one, checked against and completed by the user's.
Shape input_shape(const ir::Graph& g, const ir::Tensor& in, const PlanOptions& options, bool& given) {
  Shape shape = in.shape;
  auto it = options.input_shapes.find(in.name);
  given = it != options.input_shapes.end();
  if (given) {
    if (!in.shape.empty() && it->second.size() != in.shape.size())
      throw Error(g.source + ": input '" + in.name + "' has rank " + std::to_string(in.shape.size()) + " (" +
                  shape_str(in.shape) + "), but the given shape " + shape_str(it->second) + " has rank " +
                  std::to_string(it->second.size()));
    for (size_t i = 0; i < in.shape.size(); ++i)
      if (in.shape[i] >= 0 && in.shape[i] != it->second[i])
        throw Error(g.source + ": input '" + in.name + "' is declared " + shape_str(in.shape) + "; the given shape " +
                    shape_str(it->second) + " differs in dimension " + std::to_string(i));
    shape = it->second;
  }
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) {
      std::string dim = i < in.dim_names.size() && !in.dim_names[i].empty() ? " '" + in.dim_names[i] + "'" : "";
      Shape example = shape;
      for (int64_t& d : example) d = d < 0 ? 1 : d;
      throw Error(g.source + ": input '" + in.name + "' has a dynamic dimension" + dim + " (shape " +
                  shape_str(in.shape) + "); set it, e.g. --shape " + in.name + "=" + shape_str(example));
    }
  return shape;
}

}  // namespace

void resolve_inputs(PlanState& s, PassReport& report) {
  const ir::Graph& g = s.graph;
  const size_t nt = g.tensors.size();
  s.info.assign(nt, {});
  s.constant.assign(nt, nullptr);
  int64_t initializers = 0;
  for (size_t t = 0; t < nt; ++t)
    if (g.tensors[t].is_constant()) {
      s.info[t] = {g.tensors[t].dtype, g.tensors[t].shape, g.tensors[t].data->data()};
      s.constant[t] = g.tensors[t].data;
      ++initializers;
    }

  for (const auto& [name, shape] : s.options.input_shapes) {
    bool found = false;
    for (ir::TensorId t : g.inputs) found |= g.tensors[t].name == name;
    if (!found) throw Error(g.source + ": no graph input named '" + name + "'; inputs are: " + input_list(g));
  }
  std::vector<std::string> inputs;
  for (ir::TensorId t : g.inputs) {
    const ir::Tensor& in = g.tensors[t];
    if (dtype_size(in.dtype) == 0)
      throw Error(g.source + ": graph input '" + in.name + "' has type " + dtype_name(in.dtype) +
                  ", which rtml does not support");
    bool given = false;
    s.info[t].dtype = in.dtype;
    s.info[t].shape = input_shape(g, in, s.options, given);
    const std::string what = g.source + ": input '" + in.name + "' (" + shape_str(s.info[t].shape) + ")";
    check_memory(static_cast<uint64_t>(tensor_bytes(s.info[t].shape, in.dtype, what)), s.options.max_memory_bytes,
                 what);
    inputs.push_back(in.name + " " + shape_str(s.info[t].shape) + (given ? " (given)" : ""));
  }
  report.summary = plural(inputs.size(), "input") + (inputs.empty() ? "" : ": " + first_few(inputs)) + "; " +
                   plural(static_cast<size_t>(initializers), "initializer");
  report.numbers = {{"inputs", static_cast<int64_t>(inputs.size())}, {"initializers", initializers}};
}

}  // namespace rtml::plan
