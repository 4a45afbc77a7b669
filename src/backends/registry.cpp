#include "backends/backend.h"
#include "backends/plugin.h"
#include "core/error.h"

namespace rtml::backends {

std::unique_ptr<Backend> make_native();
std::unique_ptr<Backend> make_handwritten();
std::unique_ptr<Backend> make_compiled();  // compile/host_backend.cpp

const std::vector<Registration>& registered() {
  static const std::vector<Registration> table = {
      {"native", "rtml's own engine (planned arena, no allocation per run)", make_native},
      {"handwritten",
       "plain C++ loops written by hand for the streaming models (dense, MLP, one LSTM/GRU step, MDN head): "
       "the reference the engine is held to; other models are not covered",
       make_handwritten},
      {"compiled",
       "the model's generated C (rtml compile --target host) built with cc as a shared library and run in-process: "
       "the engine without its per-step dispatch, timed by the same loop",
       make_compiled},
  };
  return table;
}

const std::vector<KnownPlugin>& known_plugins() {
  static const std::vector<KnownPlugin> table = {
      {"torch", "rtml-backend-torch.so", "LibTorch running the TorchScript model.pt beside the .onnx",
       "it is built with rtml when LibTorch is found: install Debian's libtorch-dev (scripts/install-deps.sh "
       "does) and rebuild rtml"},
      {"onnxruntime", "rtml-backend-onnxruntime.so",
       "ONNX Runtime's CPU execution provider through its C API (graph optimisations on, one thread by default)",
       "it is built with rtml when ONNX Runtime is found: configure with -DRTML_ONNXRUNTIME_ROOT=DIR (the "
       "include/ and lib/ folders of an ONNX Runtime release; on Debian x86-64 scripts/install-deps.sh sets one "
       "up from npm's onnxruntime-node) and rebuild rtml"},
      {"xnnpack", "rtml-backend-xnnpack.so",
       "an XNNPACK subgraph built from the ONNX graph (float32, one thread; models with ops XNNPACK lacks are "
       "error rows)",
       "it is built with rtml when XNNPACK is found: install Debian's libxnnpack-dev and libpthreadpool-dev (scripts/install-deps.sh "
       "does) and rebuild rtml"},
      {"armnn", "rtml-backend-armnn.so",
       "Arm NN 20.08 running a .tflite file through its TfLite parser (CpuAcc where the build has NEON, else "
       "CpuRef; other formats are not covered, layers Arm NN lacks are error rows)",
       "it is built with rtml when Arm NN is found: install Debian's libarmnn-dev, libarmnntfliteparser-dev and "
       "libarmnn-cpuref-backend22 (scripts/install-deps.sh does) and rebuild rtml",
       true},
  };
  return table;
}

std::vector<std::string> available() {
  std::vector<std::string> names;
  for (const auto& r : registered()) names.push_back(r.name);
  for (const auto& p : known_plugins())
    if (!find_plugin(p).empty()) names.push_back(p.name);
  return names;
}

std::unique_ptr<Backend> create(const std::string& name) {
  for (const auto& r : registered())
    if (name == r.name) return r.make();
  for (const auto& p : known_plugins())
    if (name == p.name) return create_plugin_backend(p);
  std::string known;
  for (const auto& r : registered()) known += (known.empty() ? "" : ", ") + std::string(r.name);
  for (const auto& p : known_plugins())
    known += ", " + std::string(p.name) + (find_plugin(p).empty() ? " (plugin, not installed)" : " (plugin)");
  throw Error("no backend named '" + name + "' (rtml knows: " + known + ")");
}

}  // namespace rtml::backends
