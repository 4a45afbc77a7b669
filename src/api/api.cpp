// rtml::Model and rtml::Session: the public C++ API over import/, plan/ and
// engine/.
#include "rtml/rtml.hpp"

#include "engine/session.h"
#include "import/tflite_import.h"
#include "plan/plan.h"

namespace rtml {

struct Model::Impl {
  ir::Graph graph;
};

struct Session::Impl {
  Impl(plan::Plan p, const engine::SessionOptions& o) : session(std::move(p), o) {}
  engine::Session session;
};

namespace {
TensorDesc describe(const std::string& name, DType dtype, const Shape& shape) {
  TensorDesc d;
  d.name = name;
  d.element_type = static_cast<int32_t>(dtype);
  d.shape = shape;
  d.bytes = shape_is_static(shape) ? static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype) : 0;
  return d;
}
}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->graph = import::load_model(path);
  return Model(std::move(impl));
}

std::vector<TensorDesc> Model::inputs() const {
  std::vector<TensorDesc> out;
  for (ir::TensorId t : impl_->graph.inputs) {
    const auto& x = impl_->graph.tensors[t];
    out.push_back(describe(x.name, x.dtype, x.shape));
  }
  return out;
}

std::vector<TensorDesc> Model::outputs() const {
  std::vector<TensorDesc> out;
  for (ir::TensorId t : impl_->graph.outputs) {
    const auto& x = impl_->graph.tensors[t];
    out.push_back(describe(x.name, x.dtype, x.shape));
  }
  return out;
}

const std::string& Model::path() const { return impl_->graph.source; }

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Session Session::prepare(const Model& model, const ShapeMap& shapes, const SessionOptions& options) {
  plan::PlanOptions plan_options;
  for (const auto& [name, dims] : shapes) plan_options.input_shapes[name] = dims;
  engine::SessionOptions session_options;
  session_options.threads = options.threads;
  return Session(std::make_unique<Impl>(plan::build_plan(model.impl().graph, plan_options), session_options));
}

size_t Session::num_inputs() const { return static_cast<size_t>(impl_->session.num_inputs()); }
size_t Session::num_outputs() const { return static_cast<size_t>(impl_->session.num_outputs()); }

TensorDesc Session::input(size_t i) const {
  const auto& t = impl_->session.input(static_cast<int>(i));
  return describe(t.name, t.dtype, t.shape);
}

TensorDesc Session::output(size_t i) const {
  const auto& t = impl_->session.output(static_cast<int>(i));
  return describe(t.name, t.dtype, t.shape);
}

int Session::input_index(const std::string& name) const { return impl_->session.input_index(name); }
int Session::output_index(const std::string& name) const { return impl_->session.output_index(name); }
void* Session::input_data(size_t i) { return impl_->session.input_data(static_cast<int>(i)); }
void* Session::output_data(size_t i) { return impl_->session.output_data(static_cast<int>(i)); }

void Session::bind_input(size_t i, void* data) {
  if (i >= num_inputs()) throw Error("bind_input: no input " + std::to_string(i));
  impl_->session.bind_input(static_cast<int>(i), data);
}

void Session::bind_output(size_t i, void* data) {
  if (i >= num_outputs()) throw Error("bind_output: no output " + std::to_string(i));
  impl_->session.bind_output(static_cast<int>(i), data);
}

void Session::link_state(const std::string& output_name, const std::string& input_name) {
  impl_->session.link_state(output_name, input_name);
}

void Session::reset() noexcept { impl_->session.reset(); }

RunResult Session::run() noexcept {
  engine::RunStatus st = impl_->session.run();
  return {st.code, st.step};
}

size_t Session::arena_bytes() const { return impl_->session.plan().arena_bytes; }
int Session::threads() const { return impl_->session.threads(); }

}  // namespace rtml
