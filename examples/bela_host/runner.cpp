// The Bela host runner: runs an example's render.cpp as a Bela would, on a
// laptop or under qemu-arm, from files.
//
//   bela_host_NAME --project DIR [--audio-in IN.wav] [--analog-in SENSORS.csv --analog-in-rate HZ]
//                  [--seconds S] [--audio-out OUT.wav] [--analog-out OUT.wav]
//                  [--sync-aux] [--rt] [--pace] [--json REPORT.json]
//
// It changes into the project folder (a Bela runs a project there, so
// render.cpp opens "model.onnx"), builds a BelaContext (16 frames at 44.1 kHz,
// 2 audio channels, 8 analog channels at 22.05 kHz, non-interleaved), calls
// setup(), then render() once per block on its own thread, then cleanup().
//
// Inputs: a WAV file feeds the audio inputs (channel c from the file's channel
// c; a mono file feeds both); a CSV file feeds the analog inputs, column c to
// channel c, each row held for 1/HZ s (row = floor(frame * HZ / analog rate),
// exact integer arithmetic). The run lasts as long as the audio input, else
// the CSV rows, else --seconds. Outputs are 32-bit float WAV files: the audio
// outputs at 44.1 kHz, the analog outputs at 22.05 kHz, truncated to the
// input's length.
//
// Measured: each render() call's time, deadline misses (a call longer than the
// block period, 16 / 44100 s; with --pace, the blocks are started on an
// absolute clock as the audio hardware would and a miss is a block finished
// after its period ended), and heap allocations during render() and during the
// auxiliary tasks, counted by rtml's malloc/new interposer (bench/heap_counter:
// the one `rtml bench` and rtml_alloc_test use). --rt asks for SCHED_FIFO at
// Bela's audio priority and mlockall (rtml bench's apply_realtime); what is
// refused is printed and the run goes on at normal priority.
//
// Auxiliary tasks run on their own threads; with --sync-aux, each scheduled
// task runs on the audio thread right after the render() that scheduled it,
// outside render()'s timing, so a test's output never depends on the load.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <semaphore.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "Bela.h"
#include "bench/heap_counter.h"
#include "bench/runner.h"
#include "bench/stats.h"
#include "sound_files.h"

namespace {

constexpr uint32_t kAudioFrames = 16, kAudioChannels = 2, kAnalogChannels = 8;
constexpr float kAudioRate = 44100.f, kAnalogRate = 22050.f;
constexpr uint32_t kAnalogFrames = kAudioFrames / 2;

struct AuxTask {
  void (*callback)(void*) = nullptr;
  void* arg = nullptr;
  std::string name;
  int priority = 0;
  std::atomic<bool> pending{false};
  sem_t wake;
  std::thread thread;
};

struct Host {
  bool sync_aux = false;
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<AuxTask>> tasks;
  int64_t aux_allocations = 0;
  std::atomic<int64_t> aux_runs{0};
};
Host g_host;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void run_task(AuxTask& t) {
  t.callback(t.arg);
  ++g_host.aux_runs;
  t.pending.store(false, std::memory_order_release);
}

void aux_thread(AuxTask* t) {
  while (true) {
    sem_wait(&t->wake);
    if (g_host.stopping) return;
    run_task(*t);
  }
}

// Runs the tasks render() scheduled (--sync-aux), counting their allocations.
void run_pending_tasks() {
  for (auto& t : g_host.tasks)
    if (t->pending.load(std::memory_order_acquire)) {
      int64_t before = rtml::bench::heap_counts().allocations;
      rtml::bench::heap_counting(true);
      run_task(*t);
      rtml::bench::heap_counting(false);
      g_host.aux_allocations += rtml::bench::heap_counts().allocations - before;
    }
}

struct Options {
  std::string project = ".", audio_in, analog_in, audio_out, analog_out, json;
  double analog_in_rate = 0, seconds = 0;
  bool sync_aux = false, rt = false, pace = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bela_host: %s\nusage: bela_host --project DIR [--audio-in IN.wav] [--analog-in SENSORS.csv "
               "--analog-in-rate HZ] [--seconds S]\n                 [--audio-out OUT.wav] [--analog-out OUT.wav] "
               "[--sync-aux] [--rt] [--pace] [--json REPORT.json]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() {
      std::string v = value();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || !(d > 0)) usage(a + " needs a positive number, got '" + v + "'");
      return d;
    };
    if (a == "--project") o.project = value();
    else if (a == "--audio-in") o.audio_in = value();
    else if (a == "--analog-in") o.analog_in = value();
    else if (a == "--analog-in-rate") o.analog_in_rate = number();
    else if (a == "--seconds") o.seconds = number();
    else if (a == "--audio-out") o.audio_out = value();
    else if (a == "--analog-out") o.analog_out = value();
    else if (a == "--json") o.json = value();
    else if (a == "--sync-aux") o.sync_aux = true;
    else if (a == "--rt") o.rt = true;
    else if (a == "--pace") o.pace = true;
    else usage("unknown option '" + a + "'");
  }
  if (!o.analog_in.empty() && o.analog_in_rate <= 0) usage("--analog-in needs --analog-in-rate HZ (rows per second)");
  return o;
}

// Absolute paths for the outputs and inputs, since the runner changes into the project folder.
std::string absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

struct Stats {
  std::vector<double> render_us;
  int64_t deadline_misses = 0;
  int64_t render_allocations = 0;
  std::string scheduler = "SCHED_OTHER (not requested)";
  std::string mlockall = "not requested";
};

}  // namespace

AuxiliaryTask Bela_createAuxiliaryTask(void (*callback)(void*), int priority, const char* name, void* arg) {
  auto t = std::make_unique<AuxTask>();
  t->callback = callback;
  t->arg = arg;
  t->name = name ? name : "";
  t->priority = priority;
  sem_init(&t->wake, 0, 0);
  if (!g_host.sync_aux) {
    t->thread = std::thread(aux_thread, t.get());
    if (priority > 0) {  // below the audio thread, as on a Bela; refused without privileges (then normal)
      sched_param p{};
      p.sched_priority = std::min(priority, BELA_AUDIO_PRIORITY - 1);
      pthread_setschedparam(t->thread.native_handle(), SCHED_FIFO, &p);
    }
  }
  g_host.tasks.push_back(std::move(t));
  return g_host.tasks.back().get();
}

// Real-time safe: an atomic flag and, for threaded tasks, one sem_post. A task
// still pending or running is not scheduled twice (returns 1).
int Bela_scheduleAuxiliaryTask(AuxiliaryTask task) {
  auto* t = static_cast<AuxTask*>(task);
  if (t->pending.exchange(true, std::memory_order_acq_rel)) return 1;
  if (!g_host.sync_aux) sem_post(&t->wake);
  return 0;
}

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  g_host.sync_aux = opt.sync_aux;
  bela_host::Sound audio_in;
  bela_host::Table analog_in;
  try {
    if (!opt.audio_in.empty()) audio_in = bela_host::read_wav(opt.audio_in);
    if (!opt.analog_in.empty()) analog_in = bela_host::read_csv(opt.analog_in);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bela_host: %s\n", e.what());
    return 1;
  }
  if (audio_in.channels && audio_in.rate != static_cast<uint32_t>(kAudioRate))
    std::fprintf(stderr, "bela_host: %s is at %u Hz; it is played at %.0f Hz\n", opt.audio_in.c_str(), audio_in.rate,
                 kAudioRate);
  if (analog_in.columns > kAnalogChannels) {
    std::fprintf(stderr, "bela_host: %s has %u columns; there are %u analog inputs\n", opt.analog_in.c_str(),
                 analog_in.columns, kAnalogChannels);
    return 1;
  }
  size_t frames = 0;
  if (audio_in.channels) frames = audio_in.frames();
  else if (analog_in.columns) frames = static_cast<size_t>(std::ceil(analog_in.rows() / opt.analog_in_rate * kAudioRate));
  else if (opt.seconds > 0) frames = static_cast<size_t>(opt.seconds * kAudioRate);
  else usage("give --audio-in, --analog-in or --seconds");
  size_t blocks = (frames + kAudioFrames - 1) / kAudioFrames;
  std::string audio_out_path = absolute(opt.audio_out), analog_out_path = absolute(opt.analog_out);
  std::string json_path = absolute(opt.json);
  if (chdir(opt.project.c_str()) != 0) {
    std::fprintf(stderr, "bela_host: cannot change into the project folder %s: %s\n", opt.project.c_str(),
                 std::strerror(errno));
    return 1;
  }

  // The context's buffers, one block each, non-interleaved; the runner copies
  // the inputs in and the outputs out around each render().
  std::vector<float> ain(kAudioFrames * kAudioChannels), aout(ain.size());
  std::vector<float> gin(kAnalogFrames * kAnalogChannels), gout(gin.size());
  BelaContext ctx{ain.data(), aout.data(), gin.data(), gout.data(), kAudioFrames, kAudioChannels, kAudioChannels,
                  kAudioRate, kAnalogFrames, kAnalogChannels, kAnalogChannels, kAnalogRate, 0, 0};
  bela_host::Sound audio_out{std::vector<float>(blocks * kAudioFrames * kAudioChannels), kAudioChannels,
                             static_cast<uint32_t>(kAudioRate)};
  bela_host::Sound analog_out{std::vector<float>(blocks * kAnalogFrames * kAnalogChannels), kAnalogChannels,
                              static_cast<uint32_t>(kAnalogRate)};

  if (!setup(&ctx, nullptr)) {
    std::fprintf(stderr, "bela_host: setup() failed\n");
    return 1;
  }

  Stats stats;
  stats.render_us.reserve(blocks);
  const int64_t period_ns = static_cast<int64_t>(1e9 * kAudioFrames / kAudioRate);
  auto audio_thread = [&] {
    if (opt.rt) {
      rtml::bench::RealtimeSetup rts = rtml::bench::apply_realtime(true, BELA_AUDIO_PRIORITY, std::nullopt);
      stats.scheduler = rts.scheduler;
      stats.mlockall = rts.mlockall;
    }
    const int64_t start = now_ns();
    for (size_t b = 0; b < blocks; ++b) {
      for (uint32_t c = 0; c < kAudioChannels; ++c)
        for (uint32_t f = 0; f < kAudioFrames; ++f) {
          size_t frame = b * kAudioFrames + f;
          uint32_t src = audio_in.channels ? std::min(c, audio_in.channels - 1) : 0;
          ain[c * kAudioFrames + f] = audio_in.channels && frame < frames ? audio_in.samples[frame * audio_in.channels + src] : 0.f;
        }
      for (uint32_t f = 0; f < kAnalogFrames; ++f) {
        uint64_t frame = b * kAnalogFrames + f;
        size_t row = static_cast<size_t>(frame * static_cast<uint64_t>(std::llround(opt.analog_in_rate)) / static_cast<uint64_t>(kAnalogRate));
        for (uint32_t c = 0; c < kAnalogChannels; ++c)
          gin[c * kAnalogFrames + f] = c < analog_in.columns && row < analog_in.rows() ? analog_in.values[row * analog_in.columns + c] : 0.f;
      }
      ctx.audioFramesElapsed = b * kAudioFrames;
      const int64_t due = start + static_cast<int64_t>(b) * period_ns;
      if (opt.pace) {
        timespec ts{static_cast<time_t>(due / 1000000000), static_cast<long>(due % 1000000000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      }
      int64_t allocs = rtml::bench::heap_counts().allocations;
      rtml::bench::heap_counting(true);
      int64_t t0 = now_ns();
      render(&ctx, nullptr);
      int64_t t1 = now_ns();
      rtml::bench::heap_counting(false);
      stats.render_allocations += rtml::bench::heap_counts().allocations - allocs;
      stats.render_us.push_back((t1 - t0) / 1e3);
      if (opt.pace ? t1 > due + period_ns : t1 - t0 > period_ns) ++stats.deadline_misses;
      if (opt.sync_aux) run_pending_tasks();
      for (uint32_t c = 0; c < kAudioChannels; ++c)
        for (uint32_t f = 0; f < kAudioFrames; ++f)
          audio_out.samples[(b * kAudioFrames + f) * kAudioChannels + c] = aout[c * kAudioFrames + f];
      for (uint32_t c = 0; c < kAnalogChannels; ++c)
        for (uint32_t f = 0; f < kAnalogFrames; ++f)
          analog_out.samples[(b * kAnalogFrames + f) * kAnalogChannels + c] = gout[c * kAnalogFrames + f];
    }
  };
  std::thread(audio_thread).join();

  // Threaded tasks: let the last one finish, then stop them.
  g_host.stopping = true;
  for (auto& t : g_host.tasks)
    if (t->thread.joinable()) {
      sem_post(&t->wake);
      t->thread.join();
    }
  cleanup(&ctx, nullptr);

  audio_out.samples.resize(frames * kAudioChannels);
  analog_out.samples.resize(std::min(analog_out.samples.size(),
                                     static_cast<size_t>(std::ceil(frames * kAnalogRate / kAudioRate)) * kAnalogChannels));
  try {
    if (!audio_out_path.empty()) bela_host::write_wav(audio_out_path, audio_out);
    if (!analog_out_path.empty()) bela_host::write_wav(analog_out_path, analog_out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bela_host: %s\n", e.what());
    return 1;
  }

  rtml::bench::LatencyStats s = rtml::bench::summarize(stats.render_us);
  double period_us = period_ns / 1e3;
  bool counted = rtml::bench::heap_counting_available() && rtml::bench::heap_counter_sees_malloc();
  std::printf("bela_host: %zu blocks of %u frames (%.3f s), scheduler %s, mlockall %s%s\n", blocks, kAudioFrames,
              frames / kAudioRate, stats.scheduler.c_str(), stats.mlockall.c_str(),
              opt.sync_aux ? ", auxiliary tasks synchronous" : "");
  std::printf("render: median %.1f us, p99 %.1f us, max %.1f us of a %.1f us period (%.1f%% at p99); "
              "deadline misses %lld\n",
              s.median, s.p99, s.max, period_us, 100 * s.p99 / period_us, static_cast<long long>(stats.deadline_misses));
  if (counted)
    std::printf("heap allocations: %lld in render(), %lld in %lld auxiliary task runs%s\n",
                static_cast<long long>(stats.render_allocations), static_cast<long long>(g_host.aux_allocations),
                static_cast<long long>(g_host.aux_runs.load()), opt.sync_aux ? "" : " (threaded tasks: counted with render)");
  else
    std::printf("heap allocations: not measured (a sanitizer build, or the malloc interposer is not linked in)\n");
  if (!json_path.empty()) {
    nlohmann::json j = {{"blocks", blocks},
                        {"block_frames", kAudioFrames},
                        {"period_us", period_us},
                        {"render_us", {{"median", s.median}, {"p99", s.p99}, {"max", s.max}}},
                        {"deadline_misses", stats.deadline_misses},
                        {"heap_counted", counted},
                        {"render_heap_allocations", stats.render_allocations},
                        {"aux_heap_allocations", g_host.aux_allocations},
                        {"aux_task_runs", g_host.aux_runs.load()},
                        {"scheduler", stats.scheduler},
                        {"mlockall", stats.mlockall}};
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "bela_host: cannot write %s\n", json_path.c_str());
      return 1;
    }
    std::fprintf(f, "%s\n", j.dump(2).c_str());
    std::fclose(f);
  }
  return 0;
}
