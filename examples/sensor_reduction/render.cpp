// Sensor dimensionality reduction on Bela: 8 force-sensing resistors on analog
// inputs 0-7 go through an autoencoder's encoder (train.py) once per block, on
// the block's first analog frame. Its 2-D latent, in (0, 1)^2, drives the
// synth (z0: pitch, 110 Hz to 880 Hz; z1: brightness, the cutoff of a low-pass
// filter from 200 Hz to 6 kHz, and loudness) and is written to analog outputs
// 0 and 1 as control voltages. The encoder is tiny (8 -> 16 -> 2), so it runs in
// render() itself: Session::run allocates nothing and makes no system call.
#include <Bela.h>

#include <cmath>
#include <memory>

#include <rtml/rtml.hpp>

namespace {
constexpr int kSensors = 8, kLatent = 2;
std::unique_ptr<rtml::Model> gModel;
std::unique_ptr<rtml::Session> gSession;
float gSensors[kSensors];
float gLatent[kLatent];
bool gFailed = false;
float gPhase = 0.f, gLowpass1 = 0.f, gLowpass2 = 0.f, gFreq = 220.f, gCutoff = 1000.f, gAmp = 0.f;
}  // namespace

bool setup(BelaContext* context, void* userData) {
  if (context->analogInChannels < kSensors || context->analogOutChannels < kLatent) {
    rt_printf("sensor_reduction: needs %d analog inputs and %d analog outputs\n", kSensors, kLatent);
    return false;
  }
  try {
    gModel = std::make_unique<rtml::Model>(rtml::Model::load("model.onnx"));
    gSession = std::make_unique<rtml::Session>(rtml::Session::prepare(*gModel));
  } catch (const std::exception& e) {
    rt_printf("sensor_reduction: %s\n", e.what());
    return false;
  }
  if (gSession->input(0).bytes != sizeof gSensors || gSession->output(0).bytes != sizeof gLatent) {
    rt_printf("sensor_reduction: model.onnx is not an encoder [1, %d] -> [1, %d]\n", kSensors, kLatent);
    return false;
  }
  gSession->bind_input(0, gSensors);
  gSession->bind_output(0, gLatent);
  return true;
}

void render(BelaContext* context, void* userData) {
  for (int c = 0; c < kSensors; ++c) gSensors[c] = analogRead(context, 0, c);
  if (gFailed || !gSession->run().ok()) {
    gFailed = true;  // hold the last latent; cleanup() reports it
  }
  for (int k = 0; k < kLatent; ++k) analogWrite(context, 0, k, gLatent[k]);

  const float rate = context->audioSampleRate;
  const float freq = 110.f * std::exp2(3.f * gLatent[0]);        // three octaves
  const float cutoff = 200.f * std::exp2(4.9f * gLatent[1]);     // 200 Hz .. 6 kHz
  const float amp = 0.3f * gLatent[1];
  for (unsigned n = 0; n < context->audioFrames; ++n) {
    gFreq += 0.002f * (freq - gFreq);   // smooth the control rate (one value per block) into audio
    gCutoff += 0.002f * (cutoff - gCutoff);
    gAmp += 0.002f * (amp - gAmp);
    gPhase += gFreq / rate;
    if (gPhase >= 1.f) gPhase -= 1.f;
    const float a = 1.f - std::exp(-2.f * 3.14159265f * gCutoff / rate);
    gLowpass1 += a * ((2.f * gPhase - 1.f) - gLowpass1);
    gLowpass2 += a * (gLowpass1 - gLowpass2);
    for (unsigned ch = 0; ch < context->audioOutChannels; ++ch) audioWrite(context, n, ch, gAmp * gLowpass2);
  }
}

void cleanup(BelaContext* context, void* userData) {
  if (gFailed) rt_printf("sensor_reduction: a model run failed; the latent was held from then on\n");
  gSession.reset();
  gModel.reset();
}
