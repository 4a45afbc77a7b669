// Broken backend plugins for the loader's error paths (plugin_test.cpp):
// built twice, with the entry point and a wrong ABI tag (RTML_FAKE_WRONG_ABI),
// and without the entry point at all.
#include "backends/plugin.h"

#ifdef RTML_FAKE_WRONG_ABI
extern "C" const rtml::backends::PluginInfo* rtml_backend_plugin_v1() {
  static const rtml::backends::PluginInfo info = {"rtml-backend-plugin/0 some other build", "onnxruntime", nullptr};
  return &info;
}
#else
extern "C" __attribute__((visibility("default"))) int rtml_fake_plugin_without_entry_point() { return 0; }
#endif
