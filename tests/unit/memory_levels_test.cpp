// Several memory levels (PlanOptions::memory_levels, `--memory`,
// plan/passes/place_levels.cpp, docs/tiling.md): the steps work in the first
// level; a tensor idle at the first level's peak is kept in a later one and
// copied out after the step that writes it and in before the step that reads
// it. Checked here: the plan of a small graph worked out by hand (which
// tensor moves, where the copies go, each level's bytes), that no two
// tensors live at once share bytes in any level and every step but the
// copies works in the first level, that the outputs are the one-arena
// plan's bit for bit (zoo models too, tiled ones included), and the refusals.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "import/tflite_import.h"
#include "plan/plan.h"
#include "error_of.h"
#include "graph_builder.h"
#include "plan_outputs.h"
#include "random_floats.h"
#include "zoo_dir.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

// x [1, 256] -> a = Relu(x), b = Neg(x), c = Sigmoid(b), d = Tanh(c), y = a + d.
// One step per node (fuse off), 1 KiB per tensor: `a` is made first and read
// last, so it is idle while b, c and d are live (3 KiB at the Sigmoid and
// the Tanh).
ir::Graph idle_graph() {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 256});
  const ir::TensorId a = gb.node("Relu", {x});
  const ir::TensorId b = gb.node("Neg", {x});
  const ir::TensorId c = gb.node("Sigmoid", {b});
  const ir::TensorId d = gb.node("Tanh", {c});
  gb.g.outputs.push_back(gb.node("Add", {a, d}));
  return gb.g;
}

plan::PlanOptions unfused(std::vector<plan::MemoryLevel> levels = {}) {
  plan::PlanOptions o;
  o.fuse = false;
  o.kernels = kernels::KernelSet::Reference;
  o.memory_levels = std::move(levels);
  return o;
}

bool is_copy(const plan::PlanStep& st) {
  return st.op_type == "LevelCopy" || st.op_type == "TileSlice" || st.op_type == "TileInsert";
}

// What every --memory plan must hold: each arena tensor inside its level's
// bytes, each level within its budget, no two tensors of a level that are
// live at one step sharing a byte, and every step but the copies working in
// level 0. Returns the first violation, or "".
std::string check_levels(const plan::Plan& p) {
  const auto& levels = p.memory.levels;
  std::vector<int> first(p.tensors.size(), -1), last(p.tensors.size(), -1);
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const plan::PlanStep& st = p.steps[i];
    for (uint32_t o = 0; o < st.num_operands; ++o) {
      const int id = p.operands[st.first_operand + o];
      if (id < 0 || p.tensors[id].storage != plan::Storage::Arena) continue;
      if (first[id] < 0) first[id] = static_cast<int>(i);
      last[id] = static_cast<int>(i);
      if (!is_copy(st) && p.tensors[id].level != 0)
        return "step " + st.node_name + " works on " + p.tensors[id].name + " in level " +
               std::to_string(p.tensors[id].level);
    }
  }
  for (const plan::LevelPlan& l : levels)
    if (l.bytes > l.budget_bytes) return "level " + l.name + " over its budget";
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const plan::TensorPlan& a = p.tensors[t];
    if (first[t] < 0) continue;
    const plan::LevelPlan& l = levels.at(a.level);
    if (a.offset < l.base || a.offset + a.bytes > l.base + l.bytes) return a.name + " outside its level";
    for (size_t u = t + 1; u < p.tensors.size(); ++u) {
      const plan::TensorPlan& b = p.tensors[u];
      if (first[u] < 0 || b.level != a.level || last[u] < first[t] || last[t] < first[u]) continue;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) return a.name + " overlaps " + b.name;
    }
  }
  return "";
}

}  // namespace

TEST(MemoryLevels, TheIdleTensorMovesOutWithOneCopyEachWay) {
  const ir::Graph g = idle_graph();
  const plan::Plan one = plan::build_plan(g, unfused());
  EXPECT_EQ(one.arena_bytes, 3072u);  // a, b, c live at the Sigmoid; a, c, d at the Tanh

  const plan::Plan p = plan::build_plan(g, unfused({{"dtcm", 2048}, {"sram", 4096}}));
  ASSERT_TRUE(p.memory.fits) << p.memory.why;
  EXPECT_EQ(check_levels(p), "");
  // By hand: `a` goes to sram after the Relu and back before the Add.
  std::vector<std::string> ops;
  for (const plan::PlanStep& st : p.steps) ops.push_back(st.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Relu", "LevelCopy", "Neg", "Sigmoid", "Tanh", "LevelCopy", "Add"}));
  EXPECT_EQ(p.memory.spilled, 1);
  EXPECT_EQ(p.memory.copy_steps, 2);
  EXPECT_EQ(p.memory.copy_bytes, 2048);
  ASSERT_EQ(p.memory.levels.size(), 2u);
  EXPECT_EQ(p.memory.levels[0].bytes, 2048u);  // two tensors at any step
  EXPECT_EQ(p.memory.levels[1].bytes, 1024u);  // a alone
  const plan::TensorPlan& home = p.tensors[p.operands[p.steps[1].first_operand + 1]];
  EXPECT_EQ(home.level, 1);
  EXPECT_EQ(p.operands[p.steps[5].first_operand], p.operands[p.steps[1].first_operand + 1]);  // the same sram copy
  EXPECT_NE(p.steps[1].node_name.find("dtcm -> sram"), std::string::npos) << p.steps[1].node_name;
  EXPECT_NE(p.steps[5].node_name.find("sram -> dtcm"), std::string::npos) << p.steps[5].node_name;

  const std::vector<std::vector<uint8_t>> x = {bytes_of(seeded_floats(256, 5, -3, 3))};
  EXPECT_EQ(plan_outputs(plan::build_plan(g, unfused({{"dtcm", 2048}, {"sram", 4096}})), x), plan_outputs(one, x));
  // A first level the one-arena plan fits: nothing moves.
  const plan::Plan roomy = plan::build_plan(g, unfused({{"dtcm", 3072}, {"sram", 4096}}));
  EXPECT_EQ(roomy.memory.spilled, 0);
  EXPECT_EQ(roomy.steps.size(), one.steps.size());
}

TEST(MemoryLevels, RefusesWhatCannotFitWithTheNumbers) {
  const ir::Graph g = idle_graph();
  // The Sigmoid's own operands need 2 KiB: nothing can move out then.
  std::string m = error_of([&] { plan::build_plan(g, unfused({{"dtcm", 1024}, {"sram", 65536}})); });
  EXPECT_NE(m.find("dtcm (1,024 B) is too small"), std::string::npos) << m;
  EXPECT_NE(m.find("needs 2,048 B"), std::string::npos) << m;
  m = error_of([&] { plan::build_plan(g, unfused({{"dtcm", 2048}})); });
  EXPECT_NE(m.find("one level"), std::string::npos) << m;
  m = error_of([&] { plan::build_plan(g, unfused({{"dtcm", 2048}, {"sram", 512}})); });
  EXPECT_NE(m.find("has no room"), std::string::npos) << m;
  m = error_of([&] { plan::build_plan(g, unfused({{"d-tcm", 2048}, {"sram", 4096}})); });
  EXPECT_NE(m.find("C identifier"), std::string::npos) << m;
  m = error_of([&] { plan::build_plan(g, unfused({{"dtcm", 2048}, {"dtcm", 4096}})); });
  EXPECT_NE(m.find("named twice"), std::string::npos) << m;
  plan::PlanOptions both = unfused({{"dtcm", 2048}, {"sram", 4096}});
  both.ram_bytes = 4096;
  EXPECT_NE(error_of([&] { plan::build_plan(g, both); }).find("exclusive"), std::string::npos);
}

// Zoo models with the first level at 0.7x their arena and a second of 4x:
// MDN heads move a branch out as they are; gesture_cnn and digits_cnn are also
// cut into row bands, whose inserts write the whole conv output straight into
// the second level. Outputs bit for bit those of the one-arena plan.
TEST(MemoryLevels, ZooModelsGiveTheOneArenaOutputsBitForBit) {
  REQUIRE_ZOO();
  for (const char* name : {"mdn_k8_d4", "mdn_k32_d16", "gesture_cnn", "digits_cnn"}) {
    const ir::Graph g = import::load_model(rtml::testing::onnx_of(name));
    plan::PlanOptions o;
    o.kernels = kernels::KernelSet::CortexM;
    const plan::Plan one = plan::build_plan(g, o);
    o.memory_levels = {{"dtcm", one.arena_bytes * 7 / 10}, {"sram", one.arena_bytes * 4}};
    const plan::Plan p = plan::build_plan(g, o);
    EXPECT_EQ(check_levels(p), "") << name;
    EXPECT_GE(p.memory.spilled, 1) << name << ": " << p.tiling.summary;
    EXPECT_LE(p.memory.levels[0].bytes, one.arena_bytes * 7 / 10) << name;
    if (std::string(name).find("cnn") != std::string::npos) {
      bool insert_into_sram = false;
      for (const plan::PlanStep& st : p.steps)
        if (st.op_type == "TileInsert") insert_into_sram |= p.tensors[p.operands[st.first_operand + 1]].level == 1;
      EXPECT_TRUE(insert_into_sram) << name << ": " << p.tiling.summary;
    }
    const size_t n = one.tensors[one.inputs[0]].bytes / sizeof(float);
    const std::vector<std::vector<uint8_t>> x = {bytes_of(seeded_floats(n, 13, 0, 1))};
    plan::PlanOptions plain;
    plain.kernels = kernels::KernelSet::CortexM;
    EXPECT_EQ(plan_outputs(plan::build_plan(g, o), x), plan_outputs(plan::build_plan(g, plain), x))
        << name;
  }
}
