// Node attributes for graphs built by hand in the unit tests.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ir/graph.h"

inline rtml::ir::Attribute attr_int(int64_t v) {
  rtml::ir::Attribute a;
  a.kind = rtml::ir::Attribute::Kind::Int;
  a.i = v;
  return a;
}
inline rtml::ir::Attribute attr_float(float v) {
  rtml::ir::Attribute a;
  a.kind = rtml::ir::Attribute::Kind::Float;
  a.f = v;
  return a;
}
inline rtml::ir::Attribute attr_ints(std::vector<int64_t> v) {
  rtml::ir::Attribute a;
  a.kind = rtml::ir::Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
