// place_levels: the arena over several memory levels (PlanOptions::
// memory_levels, `--memory NAME:BYTES,...`, docs/tiling.md), as DORY plans
// L1 and L2: the steps work in the first level; a tensor the first level
// cannot hold for its whole life is kept (spilled) in a later level, copied
// into the first level before each step that reads it and out of it after
// the step that writes it. Row-band copies (TileSlice, TileInsert) and these
// copies read and write any level directly.
//
//   1. Every arena tensor starts in level 0. While level 0's peak (the most
//      bytes live at one step, then the packed arena) is over its budget,
//      the largest tensor live at the peak step that this step does not
//      touch is spilled: in level 0 it then lives only at the steps that
//      touch it. No such tensor: the plan does not fit (LevelsReport::why).
//   2. Each spilled tensor goes to the first later level whose peak stays
//      within its budget.
//   3. The copies become steps (LevelCopy, the kernel table's byte copy); the
//      steps that touch a spilled tensor get their own level-0 copy of it.
//   4. Each level is packed on its own (memory_planner.h); a tensor's offset
//      is its level's base in the one host arena plus its place in the level.
// Deterministic: the same model and levels always give the same plan.
#include <algorithm>
#include <map>

#include "kernels/table.h"
#include "kernels/tensor_ops.h"
#include "plan/pass.h"

namespace rtml::plan {
namespace {

size_t aligned(size_t bytes) { return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Steps that may read and write any level: the copies.
bool copies_between_levels(const PlanStep& st) {
  return st.op_type == "TileSlice" || st.op_type == "TileInsert" || st.op_type == "LevelCopy";
}

struct Use {
  int step = 0;
  bool write = false;
};

// The most bytes live in level 0 at one step, and that step.
std::pair<size_t, int> level0_peak(const std::vector<BufferRequest>& req, const std::vector<std::vector<Use>>& uses,
                                   const std::vector<bool>& spilled, const std::vector<bool>& copy_step, int steps) {
  std::vector<int64_t> delta(static_cast<size_t>(steps) + 1, 0);
  auto live = [&](int a, int b, size_t bytes) {
    delta[a] += static_cast<int64_t>(bytes);
    delta[b + 1] -= static_cast<int64_t>(bytes);
  };
  for (size_t r = 0; r < req.size(); ++r) {
    if (!spilled[r]) {
      live(req[r].first_step, req[r].last_step, aligned(req[r].bytes));
      continue;
    }
    for (const Use& u : uses[r])
      if (!copy_step[u.step]) live(u.step, u.step, aligned(req[r].bytes));
  }
  std::pair<size_t, int> peak{0, 0};
  int64_t now = 0;
  for (int i = 0; i < steps; ++i) {
    now += delta[i];
    if (static_cast<size_t>(now) > peak.first) peak = {static_cast<size_t>(now), i};
  }
  return peak;
}

// The most bytes live at one step among `members` (their requests' lifetimes).
size_t peak_of(const std::vector<BufferRequest>& req, const std::vector<int>& members, int steps) {
  std::vector<int64_t> delta(static_cast<size_t>(steps) + 1, 0);
  for (int r : members) {
    delta[req[r].first_step] += static_cast<int64_t>(aligned(req[r].bytes));
    delta[req[r].last_step + 1] -= static_cast<int64_t>(aligned(req[r].bytes));
  }
  size_t peak = 0;
  int64_t now = 0;
  for (int i = 0; i < steps; ++i) peak = std::max(peak, static_cast<size_t>(now += delta[i]));
  return peak;
}

std::string bytes_text(uint64_t n) { return with_commas(static_cast<size_t>(n)) + " B"; }

ops::Step copy_kernel_step(size_t bytes) {
  const kernels::KernelInfo& k = kernels::kernel("rtml_x8_copy__ref");
  auto params = std::make_shared<rtml_copy_params>();
  params->bytes = static_cast<int64_t>(bytes);
  params->in_slot = 0;
  params->out_slot = 1;
  ops::Step step;
  step.run = k.fn;
  step.info = &k;
  step.kernel = k.symbol;
  step.params = params;
  return step;
}

}  // namespace

void place_levels(PlanState& s, PassReport& report) {
  Plan& plan = s.plan;
  const std::vector<MemoryLevel>& levels = s.options.memory_levels;
  LevelsReport& out = plan.memory;
  const int steps = static_cast<int>(plan.steps.size());
  const std::vector<BufferRequest>& req = s.requests;
  const size_t R = req.size();

  // Who touches each arena tensor, and which steps are copies.
  std::vector<int> request_of(plan.tensors.size(), -1);
  for (size_t r = 0; r < R; ++r) request_of[s.request_tensor[r]] = static_cast<int>(r);
  std::vector<std::vector<Use>> uses(R);
  std::vector<bool> copy_step(static_cast<size_t>(steps), false);
  for (int i = 0; i < steps; ++i) {
    const PlanStep& st = plan.steps[i];
    copy_step[i] = copies_between_levels(st);
    for (uint32_t o = 0; o < st.num_operands; ++o) {
      const int id = plan.operands[st.first_operand + o];
      const int r = id < 0 ? -1 : request_of[id];
      if (r < 0) continue;
      const bool write = o >= st.num_inputs && o < st.num_inputs + st.num_outputs;
      if (!uses[r].empty() && uses[r].back().step == i) uses[r].back().write |= write;
      else uses[r].push_back({i, write});
    }
  }

  // 1. Spill from level 0 until it fits.
  std::vector<bool> spilled(R, false);
  std::vector<int> order;  // spilled requests, in the order chosen
  // The generated code keeps the steps' state (random generators) in level 0 after its tensors.
  const uint64_t state = aligned(plan.state_bytes);
  const uint64_t budget0 = levels[0].bytes > state ? levels[0].bytes - state : 0;
  size_t packed0 = 0;
  for (;;) {
    const std::pair<size_t, int> peak_at = level0_peak(req, uses, spilled, copy_step, steps);
    const size_t peak = peak_at.first;
    const int at = peak_at.second;  // not a structured binding: the lambda below reads it (C++17)
    if (peak <= budget0) {
      // The packing can stay above the lower bound: pack level 0 as it would be.
      std::vector<BufferRequest> l0;
      for (size_t r = 0; r < R; ++r)
        if (!spilled[r]) l0.push_back(req[r]);
        else
          for (const Use& u : uses[r])
            if (!copy_step[u.step]) l0.push_back({req[r].bytes, u.step, u.step});
      packed0 = plan_memory(l0).arena_bytes;
      if (packed0 <= budget0) break;
    }
    int pick = -1;
    for (size_t r = 0; r < R; ++r) {
      if (spilled[r] || req[r].first_step > at || req[r].last_step < at) continue;
      const bool touched = std::any_of(uses[r].begin(), uses[r].end(),
                                       [&](const Use& u) { return u.step == at && !copy_step[at]; });
      if (touched) continue;
      if (pick < 0 || aligned(req[r].bytes) > aligned(req[pick].bytes) ||
          (aligned(req[r].bytes) == aligned(req[pick].bytes) &&
           req[r].last_step - req[r].first_step > req[pick].last_step - req[pick].first_step))
        pick = static_cast<int>(r);
    }
    if (pick < 0) {
      const PlanStep& st = plan.steps[at];
      out.fits = false;
      out.why = levels[0].name + " (" + bytes_text(levels[0].bytes) +
                (state ? ", of which " + bytes_text(state) + " hold the steps' state" : std::string()) +
                ") is too small: " +
                (peak <= budget0 ? "what must stay there packs into " + bytes_text(packed0) + " (lower bound " +
                                       bytes_text(peak) + ")"
                                 : "step '" + st.node_name + "' (" + st.op_type + ") needs " + bytes_text(peak) +
                                       " there (its operands and what cannot be moved out)");
      break;
    }
    spilled[pick] = true;
    order.push_back(pick);
  }

  // 2. A later level for each spilled tensor.
  std::vector<int> level_of(R, 0);
  std::vector<std::vector<int>> members(levels.size());  // level k > 0: its spilled requests
  for (int r : order) {
    if (!out.fits) break;
    size_t k = 1;
    for (; k < levels.size(); ++k) {
      members[k].push_back(r);
      if (peak_of(req, members[k], steps) <= levels[k].bytes) break;
      members[k].pop_back();
    }
    if (k == levels.size()) {
      out.fits = false;
      out.why = "the tensors moved out of " + levels[0].name + " do not fit in " +
                (levels.size() == 1 ? std::string("it (one level: name a second, e.g. --memory ") + levels[0].name +
                                          ":" + std::to_string(levels[0].bytes) + ",sram:256k)"
                                    : "the later levels: '" + plan.tensors[s.request_tensor[r]].name + "' (" +
                                          bytes_text(req[r].bytes) + ") has no room");
      break;
    }
    level_of[r] = static_cast<int>(k);
  }

  // 3. The copies, as steps; the touching steps get a level-0 copy each.
  std::vector<PlanStep> new_steps;
  std::vector<int32_t> new_operands;
  auto add_tensor = [&](int from, int level, const std::string& suffix) {
    TensorPlan t = plan.tensors[from];
    t.name += suffix;
    t.level = level;
    plan.tensors.push_back(t);
    return static_cast<int>(plan.tensors.size() - 1);
  };
  auto add_copy = [&](int from, int to, const std::string& name) {
    PlanStep ps;
    ps.node_name = name;
    ps.key = name;
    ps.op_type = "LevelCopy";
    ps.step = copy_kernel_step(plan.tensors[from].bytes);
    ps.first_operand = static_cast<uint32_t>(new_operands.size());
    ps.num_inputs = ps.num_outputs = 1;
    ps.num_operands = 2;
    new_operands.push_back(from);
    new_operands.push_back(to);
    new_steps.push_back(std::move(ps));
    ++out.copy_steps;
    out.copy_bytes += static_cast<int64_t>(plan.tensors[from].bytes);
  };
  for (size_t r = 0; r < R; ++r) plan.tensors[s.request_tensor[r]].level = out.fits ? level_of[r] : 0;
  for (int i = 0; i < steps; ++i) {
    PlanStep st = std::move(plan.steps[i]);
    std::vector<int32_t> ops(plan.operands.begin() + st.first_operand,
                             plan.operands.begin() + st.first_operand + st.num_operands);
    std::vector<std::pair<int, int>> writes;  // (staged, home)
    if (out.fits && !copy_step[i]) {
      std::map<int, int> staged;  // home tensor -> its level-0 copy for this step
      for (uint32_t o = 0; o < st.num_operands; ++o) {
        const int id = ops[o];
        const int r = id < 0 ? -1 : request_of[id];
        if (r < 0 || !spilled[r]) continue;
        auto it = staged.find(id);
        if (it == staged.end()) {
          const Use& u = *std::find_if(uses[r].begin(), uses[r].end(), [&](const Use& x) { return x.step == i; });
          const std::string& home = levels[level_of[r]].name;
          const int copy = add_tensor(id, 0, " (" + levels[0].name + " copy)");
          it = staged.emplace(id, copy).first;
          if (u.write) writes.push_back({copy, id});
          else add_copy(id, copy, plan.tensors[id].name + ": " + home + " -> " + levels[0].name);
        }
        ops[o] = it->second;
      }
    }
    st.first_operand = static_cast<uint32_t>(new_operands.size());
    new_operands.insert(new_operands.end(), ops.begin(), ops.end());
    new_steps.push_back(std::move(st));
    for (const auto& [copy, home] : writes)
      add_copy(copy, home, plan.tensors[home].name + ": " + levels[0].name + " -> " +
                               levels[plan.tensors[home].level].name);
  }
  plan.steps = std::move(new_steps);
  plan.operands = std::move(new_operands);
  out.spilled = static_cast<int>(order.size());

  // 4. Lifetimes in the new step order, each level packed on its own.
  std::vector<std::vector<BufferRequest>> lreq(levels.size());
  std::vector<std::vector<int>> ltensor(levels.size());
  std::vector<int> slot(plan.tensors.size(), -1);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& st = plan.steps[i];
    for (uint32_t o = 0; o < st.num_operands; ++o) {
      const int id = plan.operands[st.first_operand + o];
      if (id < 0 || plan.tensors[id].storage != Storage::Arena) continue;
      const int k = plan.tensors[id].level;
      if (slot[id] < 0) {
        slot[id] = static_cast<int>(lreq[k].size());
        lreq[k].push_back({plan.tensors[id].bytes, static_cast<int>(i), static_cast<int>(i)});
        ltensor[k].push_back(id);
      }
      lreq[k][slot[id]].last_step = static_cast<int>(i);
    }
  }
  uint64_t io_bytes = plan.state_bytes;
  for (int id : plan.inputs) io_bytes += plan.tensors[id].bytes;
  for (int id : plan.outputs) io_bytes += plan.tensors[id].bytes;
  size_t base = 0;
  plan.arena_lower_bound_bytes = plan.arena_no_reuse_bytes = 0;
  for (size_t k = 0; k < levels.size(); ++k) {
    const MemoryPlan mp = plan_memory_within(lreq[k], io_bytes, s.options.max_memory_bytes, plan.source);
    for (size_t j = 0; j < ltensor[k].size(); ++j) plan.tensors[ltensor[k][j]].offset = base + mp.offsets[j];
    LevelPlan lp{levels[k].name, levels[k].bytes, base, mp.arena_bytes, mp.lower_bound_bytes};
    if (out.fits && mp.arena_bytes > (k ? levels[k].bytes : budget0)) {
      out.fits = false;
      out.why = levels[k].name + " needs " + bytes_text(mp.arena_bytes + (k ? 0 : state)) + " packed (lower bound " +
                bytes_text(mp.lower_bound_bytes) + (k || !state ? "" : ", and the steps' state") + "), over its " +
                bytes_text(levels[k].bytes);
    }
    out.levels.push_back(lp);
    plan.arena_lower_bound_bytes += mp.lower_bound_bytes;
    plan.arena_no_reuse_bytes += mp.no_reuse_bytes;
    plan.arena_bytes = base + mp.arena_bytes;
    base = aligned(base + mp.arena_bytes);
  }

  std::string per_level;
  for (const LevelPlan& lp : out.levels)
    per_level += (per_level.empty() ? "" : ", ") + lp.name + " " + bytes_text(lp.bytes) + " of " +
                 bytes_text(lp.budget_bytes);
  report.summary = plural(levels.size(), "level") + ": " + per_level;
  if (out.spilled)
    report.summary += "; " + plural(out.spilled, "tensor") + " kept out of " + levels[0].name + ", " +
                      (out.copy_steps == 1 ? std::string("1 copy") : std::to_string(out.copy_steps) + " copies") + " (" + bytes_text(out.copy_bytes) + " per inference)";
  if (!out.fits) report.summary += "; does not fit: " + out.why;
  report.numbers = {{"levels", static_cast<int64_t>(levels.size())},
                    {"level0_bytes", static_cast<int64_t>(out.levels[0].bytes)},
                    {"spilled_tensors", out.spilled},
                    {"copy_steps", out.copy_steps},
                    {"copy_bytes", out.copy_bytes},
                    {"fits", out.fits ? 1 : 0}};
}

}  // namespace rtml::plan
