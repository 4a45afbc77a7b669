// The `native` backend: rtml's own engine. open() imports the ONNX file,
// prepare() plans it (constant folding, shapes, one arena) and creates the
// session; run() is Session::run(), which never allocates. For the
// profiler, steps() describes the plan's steps and run_observed() is
// Session::run_observed().
#include <optional>

#include "backends/backend.h"
#include "core/error.h"
#include "engine/session.h"
#include "engine/thread_pool.h"
#include "import/tflite_import.h"

namespace rtml::backends {

namespace {

class NativeBackend final : public Backend {
 public:
  void open(const std::string& onnx_path, const BackendOptions& options) override {
    path_ = onnx_path;
    plan_options_.kernels = kernels::parse_kernel_set(options.kernels);
    plan_options_.schedule = options.schedule;
    session_options_.threads = engine::resolve_threads(options.threads);
    graph_ = import::load_model(onnx_path);
  }

  void prepare() override {
    if (!graph_) throw Error("native: prepare() before open()");
    session_.emplace(plan::build_plan(*graph_, plan_options_), session_options_);
    inputs_.clear();
    outputs_.clear();
    for (int i = 0; i < session_->num_inputs(); ++i)
      inputs_.push_back({session_->input(i).name, session_->input(i).dtype, session_->input(i).shape});
    for (int i = 0; i < session_->num_outputs(); ++i)
      outputs_.push_back({session_->output(i).name, session_->output(i).dtype, session_->output(i).shape});
    graph_.reset();  // the plan holds what it needs
  }

  void run() override { check(session_->run()); }

  void run_observed(engine::StepObserver& observer) override {
    if (!session_) throw Error("native: run_observed() before prepare()");
    check(session_->run_observed(observer));
  }

  std::vector<StepInfo> steps() const override {
    std::vector<StepInfo> out;
    if (!session_) return out;
    const plan::Plan& p = session_->plan();
    for (const plan::PlanStep& st : p.steps) {
      StepInfo info{st.node_name, st.op_type, st.step.kernel, st.step.flops, std::nullopt};
      int64_t bytes = 0;
      for (uint32_t o = 0; o < st.num_outputs; ++o)
        if (int id = p.operands[st.first_operand + st.num_inputs + o]; id >= 0)
          bytes += static_cast<int64_t>(p.tensors[id].bytes);
      info.output_bytes = bytes;
      out.push_back(std::move(info));
    }
    return out;
  }

  void close() override {
    session_.reset();
    graph_.reset();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return session_->input_data(i); }
  const void* output_data(int i) const override { return session_->output_data(i); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {{"runtime", "rtml engine"},
                                                {"kernels", kernels::kernel_set_name(plan_options_.kernels)},
                                                {"threads", std::to_string(session_options_.threads)}};
    if (session_) {
      d["arena_bytes"] = std::to_string(session_->plan().arena_bytes);
      d["steps"] = std::to_string(session_->plan().steps.size());
      if (!plan_options_.schedule.empty()) d["scheduled_steps"] = std::to_string(plan_options_.schedule.size());
    }
    return d;
  }

 private:
  plan::PlanOptions plan_options_;
  engine::SessionOptions session_options_;
  void check(engine::RunStatus st) const {
    if (st.ok()) return;
    const auto& step = session_->plan().steps[st.step];
    throw Error(path_ + ": node '" + step.node_name + "' (" + step.op_type + ") failed at run time (code " +
                std::to_string(st.code) + ")");
  }

  std::string path_;
  std::optional<ir::Graph> graph_;
  std::optional<engine::Session> session_;
  std::vector<TensorInfo> inputs_, outputs_;
};

}  // namespace

std::unique_ptr<Backend> make_native() { return std::make_unique<NativeBackend>(); }

}  // namespace rtml::backends
