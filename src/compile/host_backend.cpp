// The `compiled` backend (`rtml bench --backend native,compiled`): the model's
// generated C (rtml compile --target host), built by its project's Makefile as
// a shared library (`make libNAME.so`: the same compiler flags as the test
// main's build) and loaded into rtml, so that the bench times it with the same
// loop, clock, warm-up, statistics, pinning and heap counter as the engine, in
// one report. prepare() plans the model with the kernel set asked for, writes
// and builds the project in a temporary folder (init_us counts the build) and
// calls NAME_reset; run() is NAME_run on buffers the backend owns. The
// library's kernels are its own copies (linked -Bsymbolic): a call never lands
// in the engine's.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "backends/backend.h"
#include "backends/io_buffer.h"
#include "compile/codegen.h"
#include "core/error.h"
#include "import/tflite_import.h"
#include "util/subprocess.h"

namespace rtml::compile {

namespace {

namespace fs = std::filesystem;
using backends::IoBuffer;
using backends::TensorInfo;

class CompiledHostBackend final : public backends::Backend {
 public:
  ~CompiledHostBackend() override { close(); }

  void open(const std::string& onnx_path, const backends::BackendOptions& options) override {
    close();
    path_ = onnx_path;
    plan_options_.kernels = kernels::parse_kernel_set(options.kernels);
    if (plan_options_.kernels == kernels::KernelSet::CmsisNn)
      throw Error("compiled: --kernels cmsis-nn needs --cmsis-nn DIR; use rtml bench --target host for it");
    if (options.threads != 1)
      throw Error("compiled: the generated C runs on one thread; leave out --threads (or --threads 1)");
    for (const char* tool : {"cc", "c++", "make"})
      if (util::find_in_path(tool).empty())
        throw Error(std::string("compiled: ") + tool +
                    " is not installed: this backend builds the generated C with it (Debian packages gcc, g++ and make)");
    graph_ = import::load_model(onnx_path);
  }

  void prepare() override {
    if (!graph_) throw Error("compiled: prepare() before open()");
    const plan::Plan plan = plan::build_plan(*graph_, plan_options_);
    graph_.reset();
    std::string tmpl = (fs::temp_directory_path() / "rtml-compiled-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw Error("compiled: cannot create a temporary folder in " + fs::temp_directory_path().string());
    dir_ = tmpl;
    CompileOptions co;
    co.name = "rtml_model";
    co.target = "host";
    co.out_dir = dir_;
    co.project = true;
    co.model_path = path_;
    const CompileResult cr = generate_c(plan, co);
    const std::string lib = "lib" + co.name + ".so";
    const util::ProcessResult b = util::run_process({"make", "-s", "-j2", lib}, dir_, 900);
    if (b.exit_status != 0 || b.timed_out)
      throw Error(path_ + ": building the generated C failed" + (b.timed_out ? " (time limit)" : "") + ":\n" + b.output);
    handle_ = ::dlopen((fs::path(dir_) / lib).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = ::dlerror();
      throw Error(path_ + ": cannot load the generated library: " + (why ? why : "dlopen failed"));
    }
    run_ = reinterpret_cast<RunFn>(::dlsym(handle_, (co.name + "_run").c_str()));
    reset_ = reinterpret_cast<ResetFn>(::dlsym(handle_, (co.name + "_reset").c_str()));
    if (!run_ || !reset_) throw Error(path_ + ": the generated library lacks " + co.name + "_run or _reset");
    std::error_code ec;
    fs::remove_all(dir_, ec);  // the library stays mapped
    dir_.clear();

    arena_ = backends::zeroed_io_buffer(cr.arena_bytes, 0, "compiled");
    arena_bytes_ = cr.arena_bytes;
    steps_ = plan.steps.size();
    auto buffers = [&](const std::vector<int>& ids, std::vector<TensorInfo>& info, std::vector<IoBuffer>& bufs) {
      for (int id : ids) {
        const plan::TensorPlan& t = plan.tensors[id];
        info.push_back({t.name, t.dtype, t.shape});
        bufs.push_back(backends::zeroed_io_buffer(t.bytes, 0, "compiled"));
      }
    };
    buffers(plan.inputs, inputs_, in_buf_);
    buffers(plan.outputs, outputs_, out_buf_);
    for (const IoBuffer& b : in_buf_) in_ptr_.push_back(b.get());
    for (const IoBuffer& b : out_buf_) out_ptr_.push_back(b.get());
    reset_(arena_.get());
  }

  void run() override {
    if (const int rc = run_(arena_.get(), in_ptr_.data(), out_ptr_.data()))
      throw Error(path_ + ": the generated code failed " +
                  (rc < 0 ? std::string("(misaligned arena)") : "at step " + std::to_string(rc - 1)));
  }

  void close() override {
    run_ = nullptr;
    reset_ = nullptr;
    in_ptr_.clear();
    out_ptr_.clear();
    in_buf_.clear();
    out_buf_.clear();
    inputs_.clear();
    outputs_.clear();
    arena_.reset();
    if (handle_) ::dlclose(handle_);
    handle_ = nullptr;
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
      dir_.clear();
    }
    graph_.reset();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return in_buf_.at(static_cast<size_t>(i)).get(); }
  const void* output_data(int i) const override { return out_buf_.at(static_cast<size_t>(i)).get(); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", "generated C (rtml compile --target host) built with cc as a shared library, loaded in-process"},
        {"kernels", kernels::kernel_set_name(plan_options_.kernels)},
        {"threads", "1"}};
    if (handle_) {
      d["arena_bytes"] = std::to_string(arena_bytes_);
      d["steps"] = std::to_string(steps_);
    }
    return d;
  }

 private:
  using RunFn = int (*)(void*, const void* const*, void* const*);
  using ResetFn = void (*)(void*);

  std::string path_;
  plan::PlanOptions plan_options_;
  std::optional<ir::Graph> graph_;
  std::string dir_;
  void* handle_ = nullptr;
  RunFn run_ = nullptr;
  ResetFn reset_ = nullptr;
  IoBuffer arena_;
  size_t arena_bytes_ = 0, steps_ = 0;
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<IoBuffer> in_buf_, out_buf_;
  std::vector<const void*> in_ptr_;
  std::vector<void*> out_ptr_;
};

}  // namespace

}  // namespace rtml::compile

namespace rtml::backends {
std::unique_ptr<Backend> make_compiled() { return std::make_unique<compile::CompiledHostBackend>(); }
}  // namespace rtml::backends
