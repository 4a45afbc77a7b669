// The part of Bela's API (Bela.h, https://bela.io) that rtml's examples use, for
// running their render.cpp on a laptop or under qemu-arm with the host runner
// (runner.cpp). On a Bela the real <Bela.h> is used instead and render.cpp
// builds unchanged.
//
// As on a Bela with its default settings: buffers are non-interleaved
// (channel after channel, `frames` values each), audio at 44.1 kHz in blocks
// of 16 frames, 8 analog inputs and outputs at 22.05 kHz (8 analog frames per
// block), values in [0, 1]. setup() runs once before the first block, render()
// once per block on the audio thread, cleanup() after the last block.
// Auxiliary tasks run on a lower-priority thread when scheduled from render();
// the runner's --sync-aux runs each one right after the render() that
// scheduled it instead (deterministic output for tests).
#pragma once

#include <cstdint>
#include <cstdio>

struct BelaContext {
  const float* audioIn;
  float* audioOut;
  const float* analogIn;
  float* analogOut;
  uint32_t audioFrames;
  uint32_t audioInChannels;
  uint32_t audioOutChannels;
  float audioSampleRate;
  uint32_t analogFrames;
  uint32_t analogInChannels;
  uint32_t analogOutChannels;
  float analogSampleRate;
  uint64_t audioFramesElapsed;
  uint32_t flags;  // 0: non-interleaved buffers (the runner never sets BELA_FLAG_INTERLEAVED)
};

#define BELA_FLAG_INTERLEAVED (1 << 0)
#define BELA_AUDIO_PRIORITY 95

bool setup(BelaContext* context, void* userData);
void render(BelaContext* context, void* userData);
void cleanup(BelaContext* context, void* userData);

inline float audioRead(BelaContext* context, int frame, int channel) {
  return context->audioIn[channel * context->audioFrames + frame];
}
inline void audioWrite(BelaContext* context, int frame, int channel, float value) {
  context->audioOut[channel * context->audioFrames + frame] = value;
}
inline float analogRead(BelaContext* context, int frame, int channel) {
  return context->analogIn[channel * context->analogFrames + frame];
}
// Bela's analogWrite holds the value for the rest of the block; analogWriteOnce
// writes one frame.
inline void analogWriteOnce(BelaContext* context, int frame, int channel, float value) {
  context->analogOut[channel * context->analogFrames + frame] = value;
}
inline void analogWrite(BelaContext* context, int frame, int channel, float value) {
  for (uint32_t f = static_cast<uint32_t>(frame); f < context->analogFrames; ++f)
    analogWriteOnce(context, static_cast<int>(f), channel, value);
}

typedef void* AuxiliaryTask;
AuxiliaryTask Bela_createAuxiliaryTask(void (*callback)(void*), int priority, const char* name, void* arg = nullptr);
int Bela_scheduleAuxiliaryTask(AuxiliaryTask task);

// Bela's rt_printf is safe on the audio thread; here it is printf, so the
// examples call it only from setup(), cleanup() and auxiliary tasks.
#define rt_printf std::printf
