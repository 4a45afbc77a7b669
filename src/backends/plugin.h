// Backend plugins: runtimes other than the engine live in shared objects
// (rtml-backend-torch.so, rtml-backend-onnxruntime.so, ...) that the `rtml`
// command loads with dlopen only when --backend names them, so that `rtml info`
// and the engine's own bench rows carry no other runtime's libraries.
//
// A plugin is one MODULE library built from the backend's folder. It exports
// one C symbol, rtml_backend_plugin_v1, returning a PluginInfo: the ABI tag it
// was built with, its name, a description and a factory. The host checks the
// tag (the same rtml version, compiler and C++ library: the Backend interface
// is C++, so host and plugin must agree on its layout) and refuses a mismatch
// with a message, never a crash.
//
// Plugins never parse model files: the host imports the ONNX file (its
// importer, its protobuf classes, registered once per process) and hands the
// graph over in BackendOptions::graph. A plugin compiles in only the small,
// stateless helpers it needs (core/dtype.cpp) and links its runtime. The one
// exception is a runtime that runs a format through its own parser (armnn:
// .tflite files): its KnownPlugin says reads_model_file, and the host then
// imports nothing and hands no graph over.
//
// Where plugins are looked for, in order (plugin_dirs()):
//   $RTML_PLUGIN_PATH (colon-separated folders), the folder of the running
//   executable, and <that folder>/../lib/rtml (an installed prefix).
// A loaded plugin stays loaded until the process ends (runtimes such as
// LibTorch do not survive being unloaded).
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"

#define RTML_PLUGIN_STR2(x) #x
#define RTML_PLUGIN_STR(x) RTML_PLUGIN_STR2(x)
// Host and plugin must be built from the same sources by the same compiler and
// C++ library; this string says so, and the host compares it byte for byte.
#define RTML_PLUGIN_ABI                                                                              \
  "rtml-backend-plugin/2 rtml " RTML_VERSION " gcc " __VERSION__ " libstdc++ " RTML_PLUGIN_STR(      \
      _GLIBCXX_RELEASE) " " RTML_PLUGIN_STR(__SIZEOF_POINTER__)

namespace rtml::backends {

// (The description users read is the host's, in known_plugins().)
struct PluginInfo {
  const char* abi;  // RTML_PLUGIN_ABI as the plugin was compiled
  const char* name;
  Backend* (*make)();  // a new backend, owned by the caller (delete through Backend's virtual destructor)
};

// The plugins rtml knows by name, whether or not they are installed: name,
// file name, description, and how to get it when it is missing.
struct KnownPlugin {
  const char* name;
  const char* file;  // "rtml-backend-torch.so"
  const char* description;
  const char* install_hint;
  // The runtime parses the model file itself (BackendOptions::graph is null).
  bool reads_model_file = false;
};
const std::vector<KnownPlugin>& known_plugins();

// The folders searched for plugins, in order.
std::vector<std::string> plugin_dirs();
// The path of a known plugin's file where it was found, or "" when it is in
// none of plugin_dirs().
std::string find_plugin(const KnownPlugin& plugin);
// Loads the plugin (once per process) and makes a backend that imports the
// ONNX file on open() and hands the graph to the plugin's backend (unless the
// plugin reads_model_file). Throws
// rtml::Error saying what is missing and how to install it.
std::unique_ptr<Backend> create_plugin_backend(const KnownPlugin& plugin);

}  // namespace rtml::backends

// Defined by each plugin (built with hidden visibility: this is its one
// exported symbol), with RTML_BACKEND_PLUGIN below.
extern "C" __attribute__((visibility("default"))) const rtml::backends::PluginInfo* rtml_backend_plugin_v1();

// The entry point of a plugin whose backend is class CLASS, known as NAME.
#define RTML_BACKEND_PLUGIN(NAME, CLASS)                                                          \
  extern "C" const rtml::backends::PluginInfo* rtml_backend_plugin_v1() {                         \
    static const rtml::backends::PluginInfo info = {                                              \
        RTML_PLUGIN_ABI, NAME, []() -> rtml::backends::Backend* { return new CLASS(); }};         \
    return &info;                                                                                 \
  }
