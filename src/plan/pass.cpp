#include "plan/pass.h"

#include <algorithm>
#include <map>
#include <utility>

namespace rtml::plan {

PlanState::PlanState(const ir::Graph& source_graph, PlanOptions plan_options)
    : graph(source_graph), options(std::move(plan_options)) {
  plan.source = source_graph.source;
  plan.kernels = options.kernels;
  for (const ir::Node& n : source_graph.nodes) ++plan.graph_op_counts[n.op_type];
}

void run_pass(PlanState& state, const Pass& pass) {
  PassReport report;
  report.name = pass.name;
  pass.run(state, report);
  state.plan.passes.push_back(std::move(report));
}

std::string count_by_kind(const std::vector<std::string>& kinds, size_t max) {
  std::map<std::string, int> count;
  for (const std::string& k : kinds) ++count[k];
  std::vector<std::pair<std::string, int>> sorted(count.begin(), count.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < max; ++i)
    out += (i ? ", " : "") + sorted[i].first + (sorted[i].second > 1 ? " x" + std::to_string(sorted[i].second) : "");
  if (sorted.size() > max) out += ", ...";
  return out;
}

std::string first_few(const std::vector<std::string>& items, size_t max) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > max) out += ", ... (+" + std::to_string(items.size() - max) + " more)";
  return out;
}

std::string plural(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string with_commas(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace rtml::plan
