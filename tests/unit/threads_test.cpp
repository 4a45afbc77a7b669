// Threads (`--threads N`): engine/thread_pool.h and kernels/parallel.h.
//
// The pool: every task of every job runs exactly once, over thousands of
// jobs; a second thread really takes tasks (a task that waits for another
// to start cannot finish on one thread), also after the workers have parked;
// thread counts and their errors. The kernels that split (fast GEMM, the fast
// 1-D conv, the conv tiles over im2col) called directly with a pool, on random
// odd shapes, against the same call on one thread: bit for bit (the oracle is
// the one-thread kernel, itself tested against the reference kernels in
// fast_gemm_test / fast_conv_test). Through Sessions: 2-D and strided Convs
// and zoo models with threads 1, 2 and 3, run repeatedly, bit-identical;
// steps below kParallelMinFlops do not split; two sessions with pools running
// at once; sessions destroyed idle, with and without a run.
#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/session.h"
#include "error_of.h"
#include "import/tflite_import.h"
#include "kernels/fast_conv.h"
#include "kernels/fast_gemm.h"
#include "kernels/parallel.h"
#include "plan/plan.h"
#include "attributes.h"
#include "random_floats.h"
#include "simd_targets.h"
#include "zoo_dir.h"

using namespace rtml;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs `f` with `runner` as this thread's task runner (nullptr: one thread).
template <class F>
void with_runner(kernels::TaskRunner* runner, F&& f) {
  kernels::set_task_runner(runner);
  f();
  kernels::set_task_runner(nullptr);
}

// ---- the pool ----------------------------------------------------------------

TEST(ThreadPool, RunsEveryTaskOnceOverManyJobs) {
  for (int threads : {2, 3}) {
    engine::ThreadPool pool(threads);
    std::vector<int> hits(101);
    for (int job = 0; job < 3000; ++job) {
      const int64_t tasks = 1 + job % 101;
      std::fill(hits.begin(), hits.end(), 0);
      auto task = [&](int64_t t) { hits[static_cast<size_t>(t)] += 1; };  // each index by one task only
      pool.run(tasks, [](void* f, int64_t t) { (*static_cast<decltype(task)*>(f))(t); }, &task);
      for (int64_t t = 0; t < 101; ++t)
        ASSERT_EQ(hits[static_cast<size_t>(t)], t < tasks ? 1 : 0) << "job " << job << ", task " << t;
    }
    EXPECT_EQ(pool.jobs(), 3000u);
  }
}

// Two tasks, the first waiting until the second has started: the thread that
// takes the first cannot take the second, so another thread must. A hang
// guard (30 s) instead of a timing assertion.
void expect_second_thread_takes_a_task(engine::ThreadPool& pool) {
  std::atomic<bool> second_started{false}, gave_up{false};
  std::thread::id ids[2];
  auto task = [&](int64_t t) {
    ids[t] = std::this_thread::get_id();
    if (t == 1) {
      second_started = true;
      return;
    }
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!second_started)
      if (std::chrono::steady_clock::now() > limit) {
        gave_up = true;
        return;
      }
  };
  pool.run(2, [](void* f, int64_t t) { (*static_cast<decltype(task)*>(f))(t); }, &task);
  ASSERT_FALSE(gave_up) << "no second thread took a task in 30 s";
  EXPECT_NE(ids[0], ids[1]);
}

TEST(ThreadPool, WorkersTakeTasksAlsoAfterParking) {
  engine::ThreadPool pool(2);
  expect_second_thread_takes_a_task(pool);
  for (int i = 0; i < 5; ++i) {
    // Far longer than the workers spin: they park in FUTEX_WAIT and the job wakes them.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    expect_second_thread_takes_a_task(pool);
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  engine::ThreadPool pool(2);
  std::vector<int> inner(4 * 8, 0);
  with_runner(&pool, [&] {
    kernels::parallel_tasks(4, [&](int64_t t) {
      // One level of tasks: this runs on the task's own thread, in order.
      EXPECT_EQ(kernels::parallel_threads(), 1);
      kernels::parallel_tasks(8, [&](int64_t u) { inner[static_cast<size_t>(t * 8 + u)] += 1; });
    });
  });
  for (int v : inner) EXPECT_EQ(v, 1);
  EXPECT_EQ(pool.jobs(), 1u);
}

TEST(ThreadPool, ThreadCountsAndErrors) {
  EXPECT_GE(engine::available_cores(), 1);
  EXPECT_EQ(engine::resolve_threads(0), std::min(engine::available_cores(), engine::kMaxThreads));
  EXPECT_EQ(engine::resolve_threads(1), 1);
  EXPECT_EQ(engine::resolve_threads(64), 64);
  for (int bad : {-1, 65, 100000}) {
    const std::string e = error_of([&] { engine::resolve_threads(bad); });
    EXPECT_NE(e.find(std::to_string(bad) + " is not a thread count: give 1 to 64, or 0 for every core"),
              std::string::npos)
        << e;
  }
}

// ---- kernels split over a pool, against one thread ------------------------------

TEST(ThreadsKernels, FastGemmBitIdentical) {
  engine::ThreadPool two(2), three(3);
  const auto cases = rtml::testing::check_every_dispatched_target(kernels::fast_gemm_target, [&] {
    std::mt19937 rng(19);
    for (int64_t M : {1, 2, 3, 5, 7, 13, 33, 64})
      for (int64_t N : {1, 15, 16, 17, 100, 257})
        for (int64_t K : {1, 7, 64}) {
          const bool bias = (M + N) % 2 == 1, relu = (M + K) % 3 == 0;
          const int64_t lda = K + 1, ldc = N + 3;
          const std::vector<float> a = random_floats(static_cast<size_t>(M * lda), rng);
          const std::vector<float> b = random_floats(static_cast<size_t>(K * N), rng);
          const std::vector<float> bv = random_floats(static_cast<size_t>(N), rng);
          std::vector<float> packed(static_cast<size_t>(kernels::packed_constant_floats(K, N, bias)));
          kernels::pack_constant(K, N, b.data(), N, false, 1.0f, bias ? bv.data() : nullptr, packed.data());
          const float* pb = bias ? packed.data() + kernels::packed_b_floats(K, N) : nullptr;
          auto product = [&](kernels::TaskRunner* runner) {
            std::vector<float> c(static_cast<size_t>(M * ldc), -7.0f);  // the gaps between rows stay -7
            with_runner(runner, [&] { kernels::fast_gemm_packed(M, a.data(), lda, K, N, packed.data(), pb, c.data(), ldc, relu); });
            return c;
          };
          const std::vector<float> one = product(nullptr);
          EXPECT_TRUE(same_bits(one, product(&two))) << M << "x" << K << "x" << N << " on 2 threads";
          EXPECT_TRUE(same_bits(one, product(&three))) << M << "x" << K << "x" << N << " on 3 threads";
        }
  });
  EXPECT_FALSE(cases.empty());
}

TEST(ThreadsKernels, FastConv1dBitIdentical) {
  engine::ThreadPool two(2), three(3);
  struct G { int64_t batch, c, m, group, len, taps, dilation, pad_begin, pad_end; };
  const G geometries[] = {{1, 32, 32, 1, 128, 3, 1, 1, 1},  {2, 5, 7, 1, 33, 3, 2, 2, 2},  {1, 16, 24, 4, 100, 5, 1, 4, 0},
                          {1, 32, 32, 32, 64, 3, 4, 8, 0},  {1, 3, 13, 1, 1, 1, 1, 0, 0},   {1, 8, 9, 1, 257, 7, 3, 9, 9},
                          {3, 6, 6, 3, 31, 2, 1, 1, 0}};
  rtml::testing::check_every_dispatched_target(kernels::fast_conv_target, [&] {
    std::mt19937 rng(23);
    for (const G& g : geometries)
      for (int epilogue = 0; epilogue < 4; ++epilogue) {
        const bool residual = epilogue & 1, relu = epilogue & 2;
        kernels::FastConv1dParams p{};
        p.batch = g.batch;
        p.in_channels = g.c;
        p.out_channels = g.m;
        p.group = g.group;
        p.in_len = g.len;
        p.out_len = g.len + g.pad_begin + g.pad_end - (g.taps - 1) * g.dilation;
        p.taps = g.taps;
        p.dilation = g.dilation;
        p.pad_begin = g.pad_begin;
        const int64_t scratch = kernels::fast_conv1d_prepare(p);
        const std::vector<float> x = random_floats(static_cast<size_t>(g.batch * g.c * g.len), rng);
        const std::vector<float> w = random_floats(static_cast<size_t>(g.m * (g.c / g.group) * g.taps), rng);
        const std::vector<float> bias = random_floats(static_cast<size_t>(g.m), rng);
        const size_t ny = static_cast<size_t>(g.batch * g.m * p.out_len);
        const std::vector<float> res = random_floats(ny, rng);
        auto conv = [&](kernels::TaskRunner* runner) {
          std::vector<float> y(ny), s(static_cast<size_t>(scratch));
          with_runner(runner, [&] {
            kernels::fast_conv1d_f32(p, x.data(), w.data(), bias.data(), residual ? res.data() : nullptr, relu,
                                     y.data(), s.data());
          });
          return y;
        };
        const std::vector<float> one = conv(nullptr);
        EXPECT_TRUE(same_bits(one, conv(&two))) << "C " << g.c << " M " << g.m << " len " << g.len << " epilogue " << epilogue;
        EXPECT_TRUE(same_bits(one, conv(&three))) << "C " << g.c << " M " << g.m << " len " << g.len;
      }
  });
}

TEST(ThreadsKernels, ConvTilesOverIm2colBitIdentical) {
  engine::ThreadPool two(2), three(3);
  rtml::testing::check_every_dispatched_target(kernels::fast_conv_target, [&] {
    std::mt19937 rng(29);
    for (int64_t M : {1, 5, 16, 37})
      for (int64_t N : {1, 31, 32, 33, 200})
        for (int64_t K : {1, 9, 72}) {
          const int64_t ldb = kernels::fast_conv_gemm_ldb(N);
          const std::vector<float> w = random_floats(static_cast<size_t>(M * K), rng);
          const std::vector<float> b = random_floats(static_cast<size_t>(K * ldb), rng);
          const std::vector<float> bias = random_floats(static_cast<size_t>(M), rng);
          const std::vector<float> res = random_floats(static_cast<size_t>(M * N), rng);
          auto gemm = [&](kernels::TaskRunner* runner) {
            std::vector<float> y(static_cast<size_t>(M * N));
            with_runner(runner, [&] {
              kernels::fast_conv_gemm_f32(M, K, N, w.data(), b.data(), ldb, bias.data(), res.data(), true, y.data());
            });
            return y;
          };
          const std::vector<float> one = gemm(nullptr);
          EXPECT_TRUE(same_bits(one, gemm(&two))) << M << "x" << K << "x" << N;
          EXPECT_TRUE(same_bits(one, gemm(&three))) << M << "x" << K << "x" << N;
        }
  });
}

// ---- sessions -------------------------------------------------------------------

// A Conv with constant weights as a one-node graph.
plan::Plan conv_plan(const Shape& x, const Shape& w, std::map<std::string, ir::Attribute> attrs, uint32_t seed) {
  std::mt19937 rng(seed);
  ir::Graph g;
  g.opset = 13;
  g.source = "threads_test";
  ir::Tensor tx;
  tx.name = "x";
  tx.dtype = DType::F32;
  tx.shape = x;
  const ir::TensorId xid = g.add_tensor(tx);
  g.inputs.push_back(xid);
  ir::Tensor tw;
  tw.name = "w";
  tw.dtype = DType::F32;
  tw.shape = w;
  const std::vector<float> wv = random_floats(static_cast<size_t>(shape_numel(w)), rng);
  auto buf = std::make_shared<ir::Buffer>(wv.size() * sizeof(float));
  std::memcpy(buf->data(), wv.data(), wv.size() * sizeof(float));
  tw.data = buf;
  const ir::TensorId wid = g.add_tensor(tw);
  ir::Tensor ty;
  ty.name = "y";
  const ir::TensorId yid = g.add_tensor(ty);
  g.outputs.push_back(yid);
  ir::Node n;
  n.name = "conv";
  n.op_type = "Conv";
  n.inputs = {xid, wid};
  n.outputs = {yid};
  n.attrs = std::move(attrs);
  g.nodes.push_back(n);
  return plan::build_plan(g, {});
}

// Every output of `runs` runs of the plan on `threads` threads, the inputs
// filled from a fixed seed; each run's outputs must equal the first's.
std::vector<std::vector<uint8_t>> run_session(const plan::Plan& plan, int threads, int runs = 5) {
  engine::Session s(plan, {threads});
  EXPECT_EQ(s.threads(), threads);
  std::mt19937 rng(41);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (int i = 0; i < s.num_inputs(); ++i)
    if (s.input(i).dtype == DType::F32) {
      float* p = static_cast<float*>(s.input_data(i));
      for (size_t k = 0; k < s.input(i).bytes / sizeof(float); ++k) p[k] = noise(rng);
    }
  std::vector<std::vector<uint8_t>> first;
  for (int r = 0; r < runs; ++r) {
    EXPECT_TRUE(s.run().ok());
    std::vector<std::vector<uint8_t>> out;
    for (int o = 0; o < s.num_outputs(); ++o) {
      const auto* y = static_cast<const uint8_t*>(s.output_data(o));
      out.emplace_back(y, y + s.output(o).bytes);
    }
    if (r == 0) first = out;
    else EXPECT_EQ(out, first) << "run " << r << " on " << threads << " threads differs from the first";
  }
  return first;
}

// Steps of `plan` that split, and whether the session with threads used its pool.
int split_steps(const plan::Plan& plan) {
  int n = 0;
  for (const plan::PlanStep& st : plan.steps) n += engine::step_splits(st);
  return n;
}

TEST(ThreadsSession, ConvsBitIdenticalOn1To3Threads) {
  struct Case {
    Shape x, w;
    std::map<std::string, ir::Attribute> attrs;
    const char* kernel;
  };
  const Case cases[] = {
      // 2-D stride 1: conv2d__fast_hwy (planes and im2col rows split by channels, then the tiles)
      {{1, 8, 21, 19}, {16, 8, 3, 3}, {{"pads", attr_ints({1, 1, 1, 1})}}, "rtml_f32_conv2d__fast_hwy"},
      {{2, 6, 17, 17}, {12, 3, 3, 3}, {{"group", attr_int(2)}}, "rtml_f32_conv2d__fast_hwy"},
      // strided: conv__im2row_hwy (output positions split)
      {{1, 8, 33, 31}, {24, 8, 3, 3}, {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}},
       "rtml_f32_conv__im2row_hwy"},
      // 1-D stride 1: conv1d__fast_hwy
      {{1, 32, 130}, {32, 32, 5}, {{"pads", attr_ints({2, 2})}, {"dilations", attr_ints({1})}}, "rtml_f32_conv1d__fast_hwy"},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    const plan::Plan plan = conv_plan(c.x, c.w, c.attrs, seed++);
    ASSERT_EQ(plan.steps.size(), 1u);
    EXPECT_EQ(plan.steps[0].step.kernel, c.kernel);
    EXPECT_EQ(split_steps(plan), 1) << c.kernel << ": " << plan.steps[0].step.flops << " FLOPs";
    const auto one = run_session(plan, 1);
    EXPECT_EQ(one, run_session(plan, 2)) << c.kernel;
    EXPECT_EQ(one, run_session(plan, 3)) << c.kernel;
  }
}

TEST(ThreadsSession, SmallStepsStayOnOneThread) {
  const plan::Plan plan = conv_plan({1, 4, 9, 9}, {4, 4, 3, 3}, {}, 3);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_LT(plan.steps[0].step.flops, kernels::kParallelMinFlops);
  EXPECT_EQ(split_steps(plan), 0);
  engine::Session s(plan, {2});
  ASSERT_TRUE(s.run().ok());
  ASSERT_NE(s.thread_pool(), nullptr);
  EXPECT_EQ(s.thread_pool()->jobs(), 0u);  // the pool exists but no step handed it work
  EXPECT_EQ(run_session(plan, 1), run_session(plan, 2));
}

// The zoo's larger models (and the exported-pattern set's, when the test zoo
// has it): bit-identical on 1, 2 and 3 threads, over repeated runs.
TEST(ThreadsSession, ZooModelsBitIdenticalOn1To3Threads) {
  REQUIRE_ZOO();
  const char* models[] = {"resnet1d_c32_l64",       "tcn_c32_l64_dw",        "tcn_c32_l64_g4",
                          "transformer_d64_h4_s16", "digits_cnn",            "gesture_cnn",
                          "gru_block_h64_s128",     "mlp_gelu_d4_w256",      "pattern_resnet1d_leaky_c32_l128",
                          "pattern_block_d64_h4_s32", "pattern_tcn_tanh_c32_l128", "pattern_pad_conv_c32_l128"};
  int split_models = 0;
  for (const char* m : models) {
    if (!std::filesystem::exists(rtml::testing::onnx_of(m))) continue;
    SCOPED_TRACE(m);
    const ir::Graph g = import::load_model(rtml::testing::onnx_of(m));
    const plan::Plan plan = plan::build_plan(g, {});
    const auto one = run_session(plan, 1, 3);
    EXPECT_EQ(one, run_session(plan, 2, 20));
    EXPECT_EQ(one, run_session(plan, 3, 20));
    if (split_steps(plan) > 0) {
      ++split_models;
      engine::Session s(plan, {2});
      ASSERT_TRUE(s.run().ok());
      EXPECT_GT(s.thread_pool()->jobs(), 0u) << "steps split, but the pool ran no job";
    }
  }
  EXPECT_GE(split_models, 4) << "the larger zoo models should have steps that split";
}

TEST(ThreadsSession, TwoSessionsWithPoolsAtOnce) {
  const plan::Plan a = conv_plan({1, 8, 21, 19}, {16, 8, 3, 3}, {}, 7);
  const plan::Plan b = conv_plan({1, 32, 130}, {32, 32, 5}, {}, 8);
  const auto want_a = run_session(a, 1), want_b = run_session(b, 1);
  auto worker = [](const plan::Plan& p, const std::vector<std::vector<uint8_t>>& want, int threads, bool* ok) {
    // run_session compares every run with the first; the first with one thread's.
    *ok = run_session(p, threads, 300) == want;
  };
  bool ok_a = false, ok_b = false;
  std::thread ta(worker, std::cref(a), std::cref(want_a), 2, &ok_a);
  std::thread tb(worker, std::cref(b), std::cref(want_b), 3, &ok_b);
  ta.join();
  tb.join();
  EXPECT_TRUE(ok_a);
  EXPECT_TRUE(ok_b);
}

TEST(ThreadsSession, DestroyedIdle) {
  const plan::Plan plan = conv_plan({1, 8, 21, 19}, {16, 8, 3, 3}, {}, 9);
  for (int i = 0; i < 20; ++i) {
    engine::Session never_run(plan, {3});  // workers started, never given a job
  }
  for (int i = 0; i < 20; ++i) {
    engine::Session s(plan, {2});
    ASSERT_TRUE(s.run().ok());
    if (i % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers parked, then stopped
  }
  const std::string e = error_of([&] { engine::Session s(plan, {-3}); });
  EXPECT_NE(e.find("-3 is not a thread count"), std::string::npos) << e;
}

}  // namespace
