// Gesture recognition and mapping on Bela: a 6-axis IMU on analog inputs 0-5
// (accelerometer x, y, z in g, gyroscope x, y, z in pi rad/s: scale a real
// sensor's voltages into these units in imuRead below) is decimated to 100 Hz
// into a one-second ring buffer. Every 10 IMU samples (every 27 or 28 blocks),
// render() copies the window into the model's input and schedules an
// auxiliary task that runs the classifier (train.py: idle, shake, tap, circle,
// tilt, flick) at a lower priority, so the inference never blocks the audio
// callback. When the task has finished, render() takes its class
// probabilities: they go to analog outputs 0-5 (LEDs, or control voltages),
// and a gesture recognised with probability > 0.6 selects the synth's note
// and filter (idle fades it out). If a task is still running when the next
// window is due, that window is skipped and counted.
//
// The synth: a naive sawtooth through a one-pole low-pass whose cutoff the
// gesture sets, gliding to the gesture's note.
#include <Bela.h>

#include <atomic>
#include <cmath>
#include <memory>

#include <rtml/rtml.hpp>

namespace {
constexpr int kChannels = 6, kWindow = 100, kHop = 10, kImuRate = 100, kClasses = 6;
// idle, shake, tap, circle, tilt, flick: a note (Hz, 0 = silence) and a filter cutoff (Hz) each
constexpr float kNoteHz[kClasses] = {0.f, 220.f, 329.63f, 440.f, 554.37f, 659.26f};
constexpr float kCutoffHz[kClasses] = {500.f, 900.f, 3000.f, 1500.f, 2200.f, 5000.f};

std::unique_ptr<rtml::Model> gModel;
std::unique_ptr<rtml::Session> gSession;
AuxiliaryTask gTask;

float gRing[kChannels][kWindow];   // the last kWindow IMU samples, the oldest at gRingPos
int gRingPos = 0;
uint64_t gImuSamples = 0;
uint64_t gAnalogFrame = 0;
int gAnalogRate = 0;

// Shared with the task: render() writes gInput and sets gBusy before scheduling;
// the task writes gProbs, then sets gReady. render() reads gProbs after gReady.
float gInput[kChannels * kWindow];
float gLogits[kClasses];
float gProbs[kClasses];
std::atomic<bool> gReady{false};
bool gBusy = false;
int gSkipped = 0, gFailedRuns = 0;

int gGesture = 0;
float gFreq = 220.f, gPhase = 0.f, gAmp = 0.f, gLowpass = 0.f, gCutoff = 500.f;

float imuRead(BelaContext* context, int frame, int channel) { return analogRead(context, frame, channel); }

void classify(void*) {
  if (!gSession->run().ok()) ++gFailedRuns;
  float top = gLogits[0], sum = 0.f;
  for (int k = 1; k < kClasses; ++k) top = std::fmax(top, gLogits[k]);
  for (int k = 0; k < kClasses; ++k) sum += gProbs[k] = std::exp(gLogits[k] - top);
  for (int k = 0; k < kClasses; ++k) gProbs[k] /= sum;
  gReady.store(true, std::memory_order_release);
}

void takeResult(BelaContext* context) {
  int best = 0;
  for (int k = 0; k < kClasses; ++k) {
    analogWrite(context, 0, k, gProbs[k]);
    if (gProbs[k] > gProbs[best]) best = k;
  }
  if (gProbs[best] > 0.6f) gGesture = best;
}

void startWindow() {
  for (int c = 0; c < kChannels; ++c)
    for (int t = 0; t < kWindow; ++t) gInput[c * kWindow + t] = gRing[c][(gRingPos + t) % kWindow];
  gBusy = true;
  Bela_scheduleAuxiliaryTask(gTask);
}
}  // namespace

bool setup(BelaContext* context, void* userData) {
  if (context->analogInChannels < kChannels || context->analogOutChannels < kClasses) {
    rt_printf("gesture: needs %d analog inputs and %d analog outputs\n", kChannels, kClasses);
    return false;
  }
  try {
    gModel = std::make_unique<rtml::Model>(rtml::Model::load("model.onnx"));
    gSession = std::make_unique<rtml::Session>(rtml::Session::prepare(*gModel));
    if (gSession->input(0).bytes != sizeof gInput || gSession->output(0).bytes != sizeof gLogits) {
      rt_printf("gesture: model.onnx is not a [1, %d, %d] -> [1, %d] classifier\n", kChannels, kWindow, kClasses);
      return false;
    }
    gSession->bind_input(0, gInput);
    gSession->bind_output(0, gLogits);
  } catch (const std::exception& e) {
    rt_printf("gesture: %s\n", e.what());
    return false;
  }
  gAnalogRate = static_cast<int>(context->analogSampleRate);
  gTask = Bela_createAuxiliaryTask(classify, BELA_AUDIO_PRIORITY - 10, "gesture-classify");
  return gTask != nullptr;
}

void render(BelaContext* context, void* userData) {
  if (gReady.load(std::memory_order_acquire)) {
    takeResult(context);
    gReady.store(false, std::memory_order_relaxed);
    gBusy = false;
  }
  // 100 Hz from the analog rate: frame j starts IMU sample floor(j * 100 / rate).
  for (unsigned n = 0; n < context->analogFrames; ++n, ++gAnalogFrame) {
    if ((gAnalogFrame * kImuRate) % gAnalogRate >= static_cast<uint64_t>(kImuRate)) continue;
    for (int c = 0; c < kChannels; ++c) gRing[c][gRingPos] = imuRead(context, n, c);
    gRingPos = (gRingPos + 1) % kWindow;
    ++gImuSamples;
    if (gImuSamples >= kWindow && (gImuSamples - kWindow) % kHop == 0) {
      if (gBusy) ++gSkipped;
      else startWindow();
    }
  }

  const float rate = context->audioSampleRate;
  const float target = kNoteHz[gGesture] > 0.f ? 0.25f : 0.f;
  if (kNoteHz[gGesture] > 0.f) gFreq += 0.05f * (kNoteHz[gGesture] - gFreq);
  gCutoff += 0.05f * (kCutoffHz[gGesture] - gCutoff);
  const float a = 1.f - std::exp(-2.f * 3.14159265f * gCutoff / rate);
  for (unsigned n = 0; n < context->audioFrames; ++n) {
    gAmp += 0.001f * (target - gAmp);
    gPhase += gFreq / rate;
    if (gPhase >= 1.f) gPhase -= 1.f;
    gLowpass += a * ((2.f * gPhase - 1.f) - gLowpass);
    for (unsigned ch = 0; ch < context->audioOutChannels; ++ch) audioWrite(context, n, ch, gAmp * gLowpass);
  }
}

void cleanup(BelaContext* context, void* userData) {
  if (gSkipped) rt_printf("gesture: %d windows skipped (the previous inference was still running)\n", gSkipped);
  if (gFailedRuns) rt_printf("gesture: %d model runs failed\n", gFailedRuns);
  gSession.reset();
  gModel.reset();
}
