#include "backends/backend.h"
#include "core/error.h"

namespace rtml::backends {

std::unique_ptr<Backend> make_native();
std::unique_ptr<Backend> make_handwritten();
#ifdef RTML_WITH_TORCH
std::unique_ptr<Backend> make_torch();
#endif

const std::vector<Registration>& registered() {
  static const std::vector<Registration> table = {
      {"native", "rtml's own engine (planned arena, no allocation per run)", make_native},
#ifdef RTML_WITH_TORCH
      {"torch", "LibTorch running the TorchScript model.pt beside the .onnx", make_torch},
#endif
      {"handwritten",
       "plain C++ loops written by hand for the streaming models (dense, MLP, one LSTM/GRU step, MDN head): "
       "the reference the engine is held to; other models are not covered",
       make_handwritten},
  };
  return table;
}

std::unique_ptr<Backend> create(const std::string& name) {
  std::string known;
  for (const auto& r : registered()) {
    if (name == r.name) return r.make();
    known += (known.empty() ? "" : ", ") + std::string(r.name);
  }
  throw Error("no backend named '" + name + "' (this rtml has: " + known + ")");
}

}  // namespace rtml::backends
