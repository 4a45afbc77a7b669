#include "backends/op_profile.h"

#include <algorithm>

namespace rtml::backends {

void finish_op_profile(OpProfile& out, std::vector<std::vector<double>>& calls_us) {
  for (size_t r = 0; r < out.ops.size() && r < calls_us.size(); ++r) {
    std::vector<double>& v = calls_us[r];
    if (v.empty()) continue;
    size_t mid = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
    double hi = v[mid];
    if (v.size() % 2) {
      out.ops[r].median_us = hi;
    } else {
      double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
      out.ops[r].median_us = (lo + hi) / 2;
    }
  }
  // Rows by total time; events follow their rows to the new order.
  std::vector<size_t> order(out.ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return out.ops[a].total_us > out.ops[b].total_us; });
  std::vector<int> new_row(order.size());
  std::vector<OpCost> sorted;
  for (size_t k = 0; k < order.size(); ++k) {
    new_row[order[k]] = static_cast<int>(k);
    sorted.push_back(std::move(out.ops[order[k]]));
  }
  out.ops = std::move(sorted);
  for (OpEvent& e : out.events) e.row = new_row[e.row];
  std::sort(out.events.begin(), out.events.end(), [](const OpEvent& a, const OpEvent& b) {
    if (a.run != b.run) return a.run < b.run;
    if (a.start_us != b.start_us) return a.start_us < b.start_us;
    return a.depth < b.depth;
  });
}

}  // namespace rtml::backends
