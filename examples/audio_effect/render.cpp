// Neural audio effect on Bela: a GRU (train.py) reproduces a drive + tone
// effect. Each render() runs the model once over the block's 16 samples of
// audio input 0; the GRU steps through them one by one, and its hidden state
// (output h_out) is copied by rtml into its input h after every run, so each
// block continues where the last one stopped. The result goes to both audio
// outputs.
//
// setup() loads model.onnx from the project folder and prepares the session
// (this may allocate and throw); render() only copies samples and calls
// Session::run(), which allocates nothing, takes no lock and makes no system
// call.
#include <Bela.h>

#include <memory>

#include <rtml/rtml.hpp>

namespace {
std::unique_ptr<rtml::Model> gModel;
std::unique_ptr<rtml::Session> gSession;
float gIn[64];
float gOut[64];
bool gFailed = false;
}  // namespace

bool setup(BelaContext* context, void* userData) {
  try {
    gModel = std::make_unique<rtml::Model>(rtml::Model::load("model.onnx"));
    gSession = std::make_unique<rtml::Session>(rtml::Session::prepare(*gModel));
    gSession->link_state("h_out", "h");
  } catch (const std::exception& e) {
    rt_printf("audio_effect: %s\n", e.what());
    return false;
  }
  int x = gSession->input_index("x"), y = gSession->output_index("y");
  if (x < 0 || y < 0) {
    rt_printf("audio_effect: model.onnx has no input x or no output y\n");
    return false;
  }
  size_t frames = gSession->input(x).bytes / sizeof(float);
  if (frames != context->audioFrames || frames > sizeof gIn / sizeof gIn[0]) {
    rt_printf("audio_effect: model.onnx takes %zu samples per run; the block has %u (re-export it with train.py's BLOCK)\n",
              frames, context->audioFrames);
    return false;
  }
  gSession->bind_input(x, gIn);
  gSession->bind_output(y, gOut);
  return true;
}

void render(BelaContext* context, void* userData) {
  for (unsigned n = 0; n < context->audioFrames; ++n) gIn[n] = audioRead(context, n, 0);
  if (gFailed || !gSession->run().ok()) {
    gFailed = true;  // silence rather than garbage; cleanup() reports it
    for (unsigned n = 0; n < context->audioFrames; ++n) gOut[n] = 0.f;
  }
  for (unsigned n = 0; n < context->audioFrames; ++n)
    for (unsigned ch = 0; ch < context->audioOutChannels; ++ch) audioWrite(context, n, ch, gOut[n]);
}

void cleanup(BelaContext* context, void* userData) {
  if (gFailed) rt_printf("audio_effect: a model run failed; the output was muted from then on\n");
  gSession.reset();
  gModel.reset();
}
