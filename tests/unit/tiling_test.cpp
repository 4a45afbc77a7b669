// Row-band tiling (plan/passes/tile_rows.cpp, PlanOptions::ram_bytes:
// docs/tiling.md): a tiled plan gives bit for bit the outputs of the
// layer-by-layer plan with the same kernel set (every output is the same sum
// in the same order), its bands and copies are the ones worked out by hand
// here (a residual block inside the region too), a budget the untiled arena misses is met by a tiling whose arena is
// within it, and a budget nothing fits is refused with the numbers.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/session.h"
#include "import/tflite_import.h"
#include "plan/pass.h"
#include "plan/plan.h"
#include "graph_builder.h"
#include "plan_outputs.h"
#include "random_floats.h"
#include "zoo_dir.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

ir::Attribute ints(std::vector<int64_t> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}

// x [1, 2, 9, 7] -> Conv 3x3 pad 1 (4 channels) -> Relu -> MaxPool 2x2 s2
// -> Conv 3x3 s2 pad 1 (3 channels, no bias) -> Sigmoid -> GlobalAveragePool.
ir::Graph chain_graph() {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 2, 9, 7});
  const ir::TensorId w1 = gb.constant("w1", {4, 2, 3, 3}, seeded_floats(72, 1));
  const ir::TensorId b1 = gb.constant("b1", {4}, seeded_floats(4, 2));
  const ir::TensorId c1 = gb.node("Conv", {x, w1, b1}, {{"pads", ints({1, 1, 1, 1})}});
  const ir::TensorId r1 = gb.node("Relu", {c1});
  const ir::TensorId p1 = gb.node("MaxPool", {r1}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  const ir::TensorId w2 = gb.constant("w2", {3, 4, 3, 3}, seeded_floats(108, 3));
  const ir::TensorId c2 = gb.node("Conv", {p1, w2}, {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}});
  const ir::TensorId s2 = gb.node("Sigmoid", {c2});
  gb.g.outputs.push_back(gb.node("GlobalAveragePool", {s2}));
  return gb.g;
}

const plan::PassReport& report_of(const plan::Plan& p, const std::string& name) {
  for (const plan::PassReport& r : p.passes)
    if (r.name == name) return r;
  throw Error("no pass " + name);
}

int64_t number(const plan::PassReport& r, const std::string& key) {
  for (const auto& [k, v] : r.numbers)
    if (k == key) return v;
  return -1;
}

}  // namespace

TEST(Tiling, BandsGiveTheUntiledOutputsBitForBitInEveryKernelSet) {
  const ir::Graph g = chain_graph();
  const std::vector<std::vector<uint8_t>> in = {bytes_of(seeded_floats(2 * 9 * 7, 7))};
  for (kernels::KernelSet set : {kernels::KernelSet::Reference, kernels::KernelSet::Simd, kernels::KernelSet::CortexM}) {
    plan::PlanOptions o;
    o.kernels = set;
    plan::PlanOptions counting = o;  // as build_plan's --ram search plans (PlanOptions::store_chains)
    counting.store_chains = false;
    const plan::Plan untiled = plan::build_plan(g, counting);
    // conv (+ relu, fused or not), pool, conv, sigmoid: everything before the global pool
    const int64_t tileable = number(report_of(untiled, "tile_rows"), "tileable_steps");
    EXPECT_EQ(tileable, static_cast<int64_t>(untiled.steps.size()) - 1);
    const auto want = plan_outputs(plan::build_plan(g, o), in);
    for (int steps = 1; steps <= tileable; ++steps)
      for (int bands : {2, 3, 5, 16}) {
        o.tile_steps = steps;
        o.tile_bands = bands;
        const auto got = plan_outputs(plan::build_plan(g, o), in);
        EXPECT_EQ(got, want) << kernels::kernel_set_name(set) << ": " << steps << " steps, " << bands << " bands";
      }
  }
}

// A residual block inside the region: x -> conv -> relu -> conv -> add(relu)
// -> relu -> maxpool -> global pool. The relu's band holds the second conv's
// halo; the add reads only its own rows of it (a band slice).
TEST(Tiling, ResidualBlockInsideTheRegionIsBitExact) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 3, 10, 6});
  const ir::TensorId c1 = gb.node("Conv", {x, gb.constant("w1", {4, 3, 3, 3}, seeded_floats(108, 4)),
                                           gb.constant("b1", {4}, seeded_floats(4, 5))},
                                  {{"pads", ints({1, 1, 1, 1})}});
  const ir::TensorId r1 = gb.node("Relu", {c1});
  const ir::TensorId c2 = gb.node("Conv", {r1, gb.constant("w2", {4, 4, 3, 3}, seeded_floats(144, 6))},
                                  {{"pads", ints({1, 1, 1, 1})}});
  const ir::TensorId r2 = gb.node("Relu", {gb.node("Add", {c2, r1})});
  const ir::TensorId p = gb.node("MaxPool", {r2}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  gb.g.outputs.push_back(gb.node("GlobalAveragePool", {p}));
  const std::vector<std::vector<uint8_t>> in = {bytes_of(seeded_floats(3 * 10 * 6, 8))};
  plan::PlanOptions o;
  o.kernels = kernels::KernelSet::Reference;
  o.fuse = false;  // the Add its own step (a fused addend stops the region)
  const plan::Plan untiled = plan::build_plan(gb.g, o);
  EXPECT_EQ(number(report_of(untiled, "tile_rows"), "tileable_steps"), 6);  // conv relu conv add relu pool
  const auto want = plan_outputs(plan::build_plan(gb.g, o), in);
  for (int steps : {1, 2, 4, 5, 6})
    for (int bands : {2, 3, 5}) {
      o.tile_steps = steps;
      o.tile_bands = bands;
      plan::Plan tiled = plan::build_plan(gb.g, o);
      EXPECT_EQ(plan_outputs(std::move(tiled), in), want) << steps << " steps, " << bands << " bands";
    }
  // Ending at the second conv would leave the relu's whole tensor needed by the add after it.
  o.tile_steps = 3;
  EXPECT_THROW(plan::build_plan(gb.g, o), Error);
}

TEST(Tiling, BandRowsHalosAndCopiesAreTheHandWorkedOnes) {
  // The first Conv alone in 3 bands of its 9 output rows: rows 0-2,
  // 3-5, 6-8 read input rows 0-3, 2-6 and 5-8 (one row of halo each side,
  // padding at the image's top and bottom). Copies: the input bands, 2
  // channels x 7 columns x (4 + 5 + 4) rows of float, and the output bands,
  // 4 channels x 7 columns x 9 rows: 728 + 1008 = 1736 bytes.
  plan::PlanOptions o;
  o.kernels = kernels::KernelSet::Reference;
  o.tile_steps = 1;
  o.tile_bands = 3;
  const plan::Plan p = plan::build_plan(chain_graph(), o);
  std::vector<std::string> names;
  for (const plan::PlanStep& s : p.steps) names.push_back(s.node_name + " (" + s.op_type + ")");
  const std::vector<std::string> want_first = {
      "n0 input@rows 0-2 (TileSlice)", "n0@rows 0-2 (Conv)", "n0 output@rows 0-2 (TileInsert)",
      "n0 input@rows 3-5 (TileSlice)", "n0@rows 3-5 (Conv)", "n0 output@rows 3-5 (TileInsert)",
      "n0 input@rows 6-8 (TileSlice)", "n0@rows 6-8 (Conv)", "n0 output@rows 6-8 (TileInsert)"};
  ASSERT_GE(names.size(), want_first.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 9), want_first);
  std::vector<int64_t> input_rows;
  for (const plan::TensorPlan& t : p.tensors)
    if (t.name.rfind("x@rows", 0) == 0) input_rows.push_back(t.shape[2]);
  EXPECT_EQ(input_rows, (std::vector<int64_t>{4, 5, 4}));
  const plan::PassReport& r = report_of(p, "tile_rows");
  EXPECT_EQ(number(r, "copy_bytes"), 1736);
  EXPECT_EQ(number(r, "bands"), 3);
  // With the simd set's packed weights, the bands share one copy of them.
  o.kernels = kernels::KernelSet::Simd;
  const plan::Plan packed = plan::build_plan(chain_graph(), o);
  o.tile_steps = 0;
  EXPECT_EQ(packed.step_constant_bytes, plan::build_plan(chain_graph(), o).step_constant_bytes);
}

TEST(Tiling, RamBudgetIsMetOrRefusedWithTheNumbers) {
  const ir::Graph g = chain_graph();
  plan::PlanOptions o;
  o.kernels = kernels::KernelSet::CortexM;
  o.store_chains = false;  // as build_plan's --ram search plans
  const plan::Plan counting = plan::build_plan(g, o);
  o.store_chains = true;
  const plan::Plan untiled = plan::build_plan(g, o);
  EXPECT_LT(untiled.arena_bytes, counting.arena_bytes);  // the Sigmoid in the second conv's store: one tensor less
  // A budget the default plan meets (not the search's, whose chains are steps): nothing changes.
  o.ram_bytes = untiled.arena_bytes;
  plan::Plan fits = plan::build_plan(g, o);
  EXPECT_EQ(fits.arena_bytes, untiled.arena_bytes);
  EXPECT_EQ(fits.steps.size(), untiled.steps.size());
  EXPECT_EQ(fits.tiling.bands, 0);
  EXPECT_NE(fits.tiling.summary.find("fits untiled"), std::string::npos) << fits.tiling.summary;
  // Half the search's untiled arena (0.84x the default's): a tiling within it, the same outputs.
  o.ram_bytes = counting.arena_bytes / 2;
  plan::Plan tiled = plan::build_plan(g, o);
  EXPECT_LE(tiled.arena_bytes, o.ram_bytes);
  EXPECT_GT(tiled.tiling.bands, 1);
  EXPECT_EQ(tiled.tiling.untiled_arena_bytes, untiled.arena_bytes);
  EXPECT_NE(tiled.tiling.summary.find("tiled: arena"), std::string::npos) << tiled.tiling.summary;
  const std::vector<std::vector<uint8_t>> in = {bytes_of(seeded_floats(2 * 9 * 7, 9))};
  plan::PlanOptions plain;
  plain.kernels = kernels::KernelSet::CortexM;
  EXPECT_EQ(plan_outputs(std::move(tiled), in), plan_outputs(plan::build_plan(g, plain), in));
  // 64 bytes: no tiling fits; the message says what the untiled and the smallest tiled plan need.
  o.ram_bytes = 64;
  try {
    plan::build_plan(g, o);
    FAIL() << "a 64-byte budget was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("do not fit in --ram 64 B"), std::string::npos) << m;
    EXPECT_NE(m.find("layer-by-layer arena needs " + plan::with_commas(untiled.arena_bytes)), std::string::npos) << m;
    EXPECT_NE(m.find("row-band tilings needs"), std::string::npos) << m;
  }
}

// The zoo's 2-D conv models, float and int8, with the cortex-m kernels: half
// the untiled arena fits, and the outputs are the untiled plan's, bit for bit.
TEST(Tiling, ZooConvModelsFitInHalfTheArenaBitExact) {
  REQUIRE_ZOO();
  for (const char* name : {"digits_cnn", "digits_cnn_int8"}) {
    if (!std::filesystem::exists(rtml::testing::onnx_of(name))) {
      // The tests' zoo (zoo_all) has no int8 models: `rtml zoo` makes them.
      std::printf("%s is not in %s: not checked\n", name, rtml::testing::kZoo.c_str());
      continue;
    }
    const ir::Graph g = import::load_model(rtml::testing::onnx_of(name));
    plan::PlanOptions o;
    o.kernels = kernels::KernelSet::CortexM;
    const plan::Plan untiled = plan::build_plan(g, o);
    o.ram_bytes = untiled.arena_bytes / 2;
    plan::Plan tiled = plan::build_plan(g, o);
    EXPECT_LE(tiled.arena_bytes, untiled.arena_bytes / 2) << name << ": " << tiled.tiling.summary;
    const size_t n = untiled.tensors[untiled.inputs[0]].bytes / sizeof(float);
    const std::vector<std::vector<uint8_t>> in = {bytes_of(seeded_floats(n, 11, 0, 1))};
    plan::PlanOptions plain;
    plain.kernels = kernels::KernelSet::CortexM;
    EXPECT_EQ(plan_outputs(std::move(tiled), in), plan_outputs(plan::build_plan(g, plain), in)) << name;
  }
}
