// profile/sampler: folding perf script text (a hand-written sample with
// hand-computed folded stacks), perf end to end on this machine, per-thread
// CPU time.
#include <gtest/gtest.h>

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "error_of.h"
#include "profile/sampler.h"

using namespace rtml::profile;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const std::string kDir = std::string(RTML_SOURCE_DIR) + "/tests/data/perf/";

const std::string kGemm = "void rtml::kernels::gemm<float>(int, int, int, float const*, float const*, float*)";
const std::string kMatmulStack = "__libc_start_call_main;main;rtml::engine::Session::run();"
                                 "rtml::ops::(anonymous namespace)::run_matmul(rtml::ops::StepParams const*, void**);" +
                                 kGemm;
const std::string kPrintTable =
    "rtml::cli::print_table(std::vector<std::__cxx11::basic_string<char, std::char_traits<char>, "
    "std::allocator<char> >, std::allocator<std::__cxx11::basic_string<char, std::char_traits<char>, "
    "std::allocator<char> > > > const&)";
const std::string kSleeper = "start_thread;[unknown] (libstdc++.so.6.0.30);"
                             "rtml::bench::MemorySampler::start()::{lambda()#1}::operator()() const;"
                             "clock_nanosleep@GLIBC_2.2.5";
const std::string kWorker =
    "std::_Function_handler<void (), rtml::bench::Runner::start()::{lambda()#2}>::_M_invoke(std::_Any_data const&);" +
    kGemm;

}  // namespace

TEST(ProfileFold, HandWrittenSampleMatchesHandFoldedStacks) {
  FoldedStacks f = fold_perf_script(read_file(kDir + "script_sample.txt"));
  EXPECT_EQ(f.samples, 11);
  EXPECT_EQ(f.skipped, 0);
  EXPECT_EQ(f.event, "cpu-clock");
  EXPECT_EQ(folded_text(f), read_file(kDir + "script_sample.folded"));
}

TEST(ProfileFold, CommFilter) {
  FoldOptions o;
  o.comm = "rtml";
  FoldedStacks f = fold_perf_script(read_file(kDir + "script_sample.txt"), o);
  EXPECT_EQ(f.samples, 11);
  EXPECT_EQ(f.skipped, 2);  // "rtml worker" (a comm with a space) and python3
  EXPECT_EQ(f.counts.size(), 7u);
  EXPECT_EQ(f.counts.count(kWorker), 0u);
  EXPECT_EQ(f.counts.count("[unknown];_PyEval_EvalFrameDefault"), 0u);
  EXPECT_EQ(f.counts[kMatmulStack], 3);

  o.comm = "rtml worker";
  f = fold_perf_script(read_file(kDir + "script_sample.txt"), o);
  EXPECT_EQ(f.skipped, 10);
  ASSERT_EQ(f.counts.size(), 1u);
  EXPECT_EQ(f.counts.begin()->first, kWorker);
}

TEST(ProfileFold, WithoutKernelFrames) {
  FoldOptions o;
  o.include_kernel = false;
  FoldedStacks f = fold_perf_script(read_file(kDir + "script_sample.txt"), o);
  EXPECT_EQ(f.samples, 11);
  EXPECT_EQ(f.skipped, 1);  // the exiting thread had kernel frames only
  const std::string expected = "[unknown] 1\n"
                               "[unknown];[unknown];[unknown] (rtml) 1\n"
                               "[unknown];_PyEval_EvalFrameDefault 1\n" +
                               kMatmulStack + " 3\n" + "main;" + kPrintTable + ";__GI___libc_write 1\n" +
                               "rtml::bench::now_us();clock_gettime@@GLIBC_2.17;__vdso_clock_gettime 1\n" + kSleeper +
                               " 1\n" + kWorker + " 1\n";
  EXPECT_EQ(folded_text(f), expected);
}

TEST(ProfileFold, WeightByPeriod) {
  FoldOptions o;
  o.weight_by_period = true;
  FoldedStacks f = fold_perf_script(read_file(kDir + "script_sample.txt"), o);
  EXPECT_EQ(f.counts[kMatmulStack], 500000 + 500000 + 250000);
  EXPECT_EQ(f.counts[kWorker], 250000);
  EXPECT_EQ(f.counts["[unknown];_PyEval_EvalFrameDefault"], 1000000);
  int64_t total = 0;
  for (const auto& [s, c] : f.counts) total += c;
  EXPECT_EQ(total, 8 * 500000 + 2 * 250000 + 1000000);  // 11 samples: 8 of 5e5, 2 of 2.5e5, 1 of 1e6
}

TEST(ProfileFold, HeaderVariants) {
  // perf's default fields: padded comm, a tid only, a [cpu] column; a
  // tracepoint event keeps its colon; a sample recorded without -g has its ip
  // on the header line; CRLF line ends.
  const std::string text =
      "            rtml  4242 [001] 100.000001:     250000 cycles:u: \n"
      "\t    55d0c1a2b3c4 leaf+0x10 (/bin/rtml)\n"
      "\t    55d0c1a20010 caller+0x4 (/bin/rtml)\n"
      "\n"
      "rtml 4242/4243 100.000002: 1 sched:sched_switch: \n"
      "\t    55d0c1a2b3c4 leaf+0x10 (/bin/rtml)\r\n"
      "\r\n"
      "rtml 4242/4243 100.000003: 7 cpu-clock:ppp:      55d0c1a2b3c4 leaf+0x11 (/bin/rtml)\n";
  FoldOptions o;
  o.comm = "rtml";
  FoldedStacks f = fold_perf_script(text, o);
  EXPECT_EQ(f.samples, 3);
  EXPECT_EQ(f.skipped, 0);
  EXPECT_EQ(f.event, "cycles,sched:sched_switch,cpu-clock");
  EXPECT_EQ(folded_text(f), "caller;leaf 1\nleaf 2\n");
  EXPECT_EQ(fold_perf_script("").samples, 0);
}

TEST(ProfileFold, MalformedInputNamesTheLine) {
  EXPECT_NE(error_of([] { fold_perf_script("rtml 1/1 1.5: 10 cpu-clock:\n\tnot-an-address foo (bar)\n"); })
                .find("line 2: expected a call-chain frame"),
            std::string::npos);
  EXPECT_NE(error_of([] { fold_perf_script("\n\n\t  55d0c1a2b3c4 leaf (/bin/rtml)\n"); })
                .find("line 3: a call-chain frame outside a sample"),
            std::string::npos);
  EXPECT_NE(error_of([] { fold_perf_script("rtml 1/1 1.5: 10 cpu-clock:\n\t1 a (b)\n\nHello, world\n"); })
                .find("line 4: expected a sample header"),
            std::string::npos);
  FoldOptions o;
  o.weight_by_period = true;
  EXPECT_NE(error_of([&] { fold_perf_script("x\n", o); }).find("line 1"), std::string::npos);
  EXPECT_NE(error_of([&] { fold_perf_script("rtml 1/1 1.5: cpu-clock:\n\t1 a (b)\n", o); })
                .find("line 1: the sample has no period"),
            std::string::npos);
}

// ---- perf end to end ---------------------------------------------------------

namespace {
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Burns `seconds` of this thread's CPU time (however loaded the machine is).
// Kept out of line, with a name perf must find in the stacks.
__attribute__((noinline)) double rtml_sampler_test_spin_here(double seconds) {
  volatile double x = 1.0;
  const double end = thread_cpu_seconds() + seconds;
  while (thread_cpu_seconds() < end)
    for (int i = 0; i < 20000; ++i) x = x * 1.0000001 + 1e-9;
  return x;
}

bool perf_on_path() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string d;
  while (std::getline(dirs, d, ':'))
    if (!d.empty() && ::access((d + "/perf").c_str(), X_OK) == 0) return true;
  return false;
}
}  // namespace

TEST(ProfileSampler, PerfSamplesABusyFunction) {
  SampleResult r = sample_with_perf([] { rtml_sampler_test_spin_here(0.5); });
  if (!perf_on_path()) {
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("linux-perf"), std::string::npos) << r.error;
    std::printf("[ info ] perf is not installed: checked the error only (%s)\n", r.error.c_str());
    return;
  }
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.event == "cycles" || r.event == "cpu-clock") << r.event;
  EXPECT_EQ(r.call_graph, "fp");
  EXPECT_EQ(r.tool.rfind("perf ", 0), 0u) << r.tool;
  EXPECT_GE(r.seconds, 0.5);
  EXPECT_LT(r.seconds, 60.0);
  EXPECT_GT(r.folded.samples, 500) << "2000 Hz for 0.5 s of CPU time: about 1000";
#ifdef RTML_TESTS_UNDER_EMULATOR
  // Cross builds run their tests under qemu-user: perf samples the emulator,
  // whose frames are qemu's own (JIT code and qemu-arm-static), never the
  // guest's functions. Samples and the event are checked above; names cannot be.
  std::printf("[ info ] under an emulator: %lld samples of qemu's own frames; function names not checked\n",
              static_cast<long long>(r.folded.samples));
  return;
#endif
  int64_t in_spin = 0, total = 0;
  for (const auto& [stack, n] : r.folded.counts) {
    total += n;
    if (stack.find("rtml_sampler_test_spin_here") != std::string::npos) in_spin += n;
  }
  EXPECT_GT(in_spin, total / 2) << folded_text(r.folded);
  for (const auto& n : r.notes) std::printf("[ info ] note: %s\n", n.c_str());
  std::printf("[ info ] %s, event %s: %lld samples, %lld in the spin function\n", r.tool.c_str(), r.event.c_str(),
              static_cast<long long>(r.folded.samples), static_cast<long long>(in_spin));
}

TEST(ProfileSampler, RemovesItsTempFolderAndKeepsAWorkdir) {
  if (!perf_on_path()) GTEST_SKIP() << "perf is not installed (PerfSamplesABusyFunction checks the error)";
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("rtml-sampler-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "tmp");
  // The temporary folder goes under $TMPDIR and is gone afterwards.
  const char* old_tmpdir = std::getenv("TMPDIR");
  std::string saved = old_tmpdir ? old_tmpdir : "";
  ::setenv("TMPDIR", (dir / "tmp").c_str(), 1);
  SampleOptions o;
  o.frequency_hz = 500;
  SampleResult r = sample_with_perf([] { rtml_sampler_test_spin_here(0.1); }, o);
  if (old_tmpdir)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
  // A workdir keeps perf.data.
  o.workdir = (dir / "work").string();
  r = sample_with_perf([] { rtml_sampler_test_spin_here(0.1); }, o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(fs::file_size(dir / "work" / "perf.data"), 0u);
  fs::remove_all(dir);
}

TEST(ProfileSampler, MissingPerfIsAnErrorNotAThrow) {
  SampleOptions o;
  o.perf = "/nonexistent/perf";
  bool ran = false;
  SampleResult r = sample_with_perf([&] { ran = true; }, o);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(ran);
  EXPECT_NE(r.error.find("/nonexistent/perf"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("apt-get install linux-perf"), std::string::npos) << r.error;

  o.perf = "rtml-no-such-perf-tool";
  r = sample_with_perf([] {}, o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("perf not found"), std::string::npos) << r.error;

  // perf that runs but refuses: /bin/false stands in for it.
  o.perf = "/bin/false";
  r = sample_with_perf([] {}, o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("--version failed"), std::string::npos) << r.error;
}

TEST(ProfileSampler, RefusedRecordingIsExplained) {
  // A stand-in perf: answers --version, and refuses to record the way perf
  // does under perf_event_paranoid=3.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("rtml-fake-perf-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path fake = dir / "perf";
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\n"
         "if [ \"$1\" = --version ]; then echo 'perf version 9.9.9'; exit 0; fi\n"
         "echo 'Error:' >&2\n"
         "echo 'Access to performance monitoring and observability operations is limited.' >&2\n"
         "echo 'perf_event_paranoid setting is 3:' >&2\n"
         "exit 255\n";
  }
  fs::permissions(fake, fs::perms::owner_all);
  SampleOptions o;
  o.perf = fake.string();
  bool ran = false;
  SampleResult r = sample_with_perf([&] { ran = true; }, o);
  fs::remove_all(dir);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(ran) << "work does not run when perf cannot record";
  EXPECT_EQ(r.tool, "perf 9.9.9");
  EXPECT_NE(r.error.find("perf_event_paranoid="), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("refuses sampling"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("Access to performance monitoring"), std::string::npos) << r.error;
}

// ---- per-thread CPU time -------------------------------------------------------

TEST(ProfileThreads, HandMadeSnapshots) {
  std::vector<ThreadTimes> before = {{10, "rtml", 1000}, {11, "worker", 500}, {12, "gone", 100}};
  std::vector<ThreadTimes> after = {{10, "rtml", 1800}, {11, "worker", 500}, {13, "new", 250}};
  std::vector<ThreadUse> u = thread_use(before, after, 1000);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].tid, 10);
  EXPECT_EQ(u[0].name, "rtml");
  EXPECT_DOUBLE_EQ(u[0].cpu_us, 800);
  EXPECT_DOUBLE_EQ(u[0].utilisation, 0.8);
  EXPECT_DOUBLE_EQ(u[1].cpu_us, 0);
  EXPECT_DOUBLE_EQ(u[1].utilisation, 0);
  EXPECT_EQ(u[2].tid, 13);  // appeared in between: counts from 0
  EXPECT_DOUBLE_EQ(u[2].cpu_us, 250);
  EXPECT_DOUBLE_EQ(u[2].utilisation, 0.25);
}

TEST(ProfileThreads, BusyThreadAndSleepingMainThread) {
  std::vector<ThreadTimes> before = thread_times();
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(before[0].tid, ::getpid()) << "sorted by tid: the main thread first";
  std::string comm = read_file("/proc/self/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  EXPECT_EQ(before[0].name, comm);

  // The worker burns 200 ms of CPU, then blocks (no wake-ups, so no CPU time
  // however late the second snapshot comes on a loaded machine) until it.
  std::atomic<long> busy_tid{0};
  std::atomic<bool> burned{false};
  std::mutex release_mu;
  std::condition_variable release_cv;
  bool release = false;
  double worker_wall_us = 0, worker_cpu_us = 0;  // as the worker itself saw them
  auto t0 = std::chrono::steady_clock::now();
  std::thread worker([&] {
    busy_tid = static_cast<long>(::gettid());
    auto w0 = std::chrono::steady_clock::now();
    double c0 = thread_cpu_seconds();
    rtml_sampler_test_spin_here(0.2);
    worker_cpu_us = (thread_cpu_seconds() - c0) * 1e6;
    worker_wall_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0).count();
    burned = true;
    std::unique_lock<std::mutex> lock(release_mu);
    release_cv.wait(lock, [&] { return release; });
  });
  while (!burned) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::vector<ThreadTimes> after = thread_times();
  const double wall_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  {
    std::lock_guard<std::mutex> lock(release_mu);
    release = true;
  }
  release_cv.notify_one();
  worker.join();

  std::vector<ThreadUse> use = thread_use(before, after, wall_us);
  const ThreadUse* main_use = nullptr;
  const ThreadUse* worker_use = nullptr;
  for (const auto& u : use) {
    if (u.tid == ::getpid()) main_use = &u;
    if (u.tid == busy_tid) worker_use = &u;
  }
  ASSERT_TRUE(main_use && worker_use);
  EXPECT_EQ(worker_use->name, comm) << "threads inherit the process name";
  // Its CPU time is what it measured itself (plus thread start-up and
  // blocking).
  EXPECT_GE(worker_use->cpu_us, worker_cpu_us);
  EXPECT_LT(worker_use->cpu_us, worker_cpu_us + 5000);
  EXPECT_DOUBLE_EQ(worker_use->utilisation, worker_use->cpu_us / wall_us);
  const double share = worker_cpu_us / worker_wall_us;  // what the machine gave the worker
  if (share > 0.6)
    EXPECT_GT(worker_use->utilisation, 0.5) << worker_use->cpu_us << " us of " << wall_us;
  else
    std::printf("[ info ] the machine is busy: the spinning thread got %.0f%% of a CPU; utilisation %.2f\n",
                100 * share, worker_use->utilisation);
  EXPECT_LT(main_use->utilisation, 0.2) << main_use->cpu_us << " us of " << wall_us;
}
