// Finding and loading backend plugins (backends/plugin.h).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "backends/plugin.h"
#include "core/error.h"
#include "import/tflite_import.h"
#include "ir/graph.h"
#include "util/plugin_dirs.h"

namespace fs = std::filesystem;

namespace rtml::backends {

std::vector<std::string> plugin_dirs() { return util::plugin_dirs(); }

std::string find_plugin(const KnownPlugin& plugin) { return util::find_plugin_file(plugin.file); }

namespace {

// dlopen once per plugin file and process; never dlclose.
const PluginInfo& load(const KnownPlugin& plugin) {
  static std::mutex mutex;
  static std::map<std::string, const PluginInfo*> loaded;  // by path
  std::lock_guard<std::mutex> lock(mutex);
  const std::string path = find_plugin(plugin);
  if (auto it = loaded.find(path); it != loaded.end()) return *it->second;
  if (path.empty()) {
    std::string where;
    for (const std::string& d : plugin_dirs()) where += (where.empty() ? "" : ", ") + d;
    throw Error("the " + std::string(plugin.name) + " backend is a plugin (" + plugin.file +
                ") that is not installed here (looked in " + where + "): " + plugin.install_hint);
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw Error(path + ": cannot load the " + plugin.name + " backend: " + (why ? why : "dlopen failed") +
                " (a library it needs is missing: " + plugin.install_hint + ")");
  }
  auto entry = reinterpret_cast<const PluginInfo* (*)()>(dlsym(handle, "rtml_backend_plugin_v1"));
  if (!entry) throw Error(path + ": not an rtml backend plugin (it has no rtml_backend_plugin_v1)");
  const PluginInfo* info = entry();
  if (!info || !info->abi || std::strcmp(info->abi, RTML_PLUGIN_ABI) != 0)
    throw Error(path + ": this plugin was built for another rtml (" + (info && info->abi ? info->abi : "no ABI tag") +
                "; this rtml is " + RTML_PLUGIN_ABI + "): rebuild it with this rtml");
  if (!info->name || std::strcmp(info->name, plugin.name) != 0 || !info->make)
    throw Error(path + ": the plugin says it is backend '" + (info->name ? info->name : "") + "', expected '" +
                plugin.name + "'");
  loaded[path] = info;
  return *info;
}

// The host side of a plugin backend: imports the ONNX file with the host's
// importer and hands the graph to the plugin's open() (a plugin that reads the
// file itself gets none); everything else is the plugin's.
class PluginBackend final : public Backend {
 public:
  PluginBackend(std::unique_ptr<Backend> inner, bool import_model)
      : inner_(std::move(inner)), import_model_(import_model) {}
  ~PluginBackend() override { close(); }

  void open(const std::string& onnx_path, const BackendOptions& options) override {
    close();
    BackendOptions with_graph = options;
    with_graph.graph = nullptr;
    if (import_model_) {
      graph_.emplace(import::load_model(onnx_path));
      with_graph.graph = &*graph_;
    }
    inner_->open(onnx_path, with_graph);
  }
  void prepare() override { inner_->prepare(); }
  void run() override { inner_->run(); }
  void close() override {
    inner_->close();
    graph_.reset();
  }
  const std::vector<TensorInfo>& inputs() const override { return inner_->inputs(); }
  const std::vector<TensorInfo>& outputs() const override { return inner_->outputs(); }
  void* input_data(int i) override { return inner_->input_data(i); }
  const void* output_data(int i) const override { return inner_->output_data(i); }
  std::map<std::string, std::string> describe() const override { return inner_->describe(); }
  std::vector<OpCost> profile_ops(int runs) override { return inner_->profile_ops(runs); }
  OpProfile profile_op_timeline(int runs, int trace_runs) override {
    return inner_->profile_op_timeline(runs, trace_runs);
  }
  std::vector<StepInfo> steps() const override { return inner_->steps(); }
  void run_observed(engine::StepObserver& observer) override { inner_->run_observed(observer); }

 private:
  std::unique_ptr<Backend> inner_;
  const bool import_model_;
  std::optional<ir::Graph> graph_;
};

}  // namespace

std::unique_ptr<Backend> create_plugin_backend(const KnownPlugin& plugin) {
  const PluginInfo& info = load(plugin);
  std::unique_ptr<Backend> inner(info.make());
  if (!inner) throw Error(std::string("the ") + plugin.name + " plugin could not create a backend");
  return std::make_unique<PluginBackend>(std::move(inner), !plugin.reads_model_file);
}

}  // namespace rtml::backends
