// Runs a plan once in a Session on the given input bytes and returns every
// output's bytes: for tests that compare two plans bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/session.h"
#include "plan/plan.h"

inline std::vector<std::vector<uint8_t>> plan_outputs(rtml::plan::Plan p,
                                                      const std::vector<std::vector<uint8_t>>& inputs) {
  rtml::engine::Session s(std::move(p));
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(s.input(static_cast<int>(i)).bytes, inputs[i].size());
    std::memcpy(s.input_data(static_cast<int>(i)), inputs[i].data(), inputs[i].size());
  }
  EXPECT_TRUE(s.run().ok());
  std::vector<std::vector<uint8_t>> out;
  for (int k = 0; k < s.num_outputs(); ++k) {
    const auto* y = static_cast<const uint8_t*>(s.output_data(k));
    out.emplace_back(y, y + s.output(k).bytes);
  }
  return out;
}

inline std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
