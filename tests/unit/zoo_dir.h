// The generated zoo the unit tests read (build target zoo_all, written into
// RTML_ZOO_TEST_DIR): its folder, a model's .onnx path, and a skip when the
// zoo is not there (cross builds have none).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace rtml::testing {

#ifdef RTML_ZOO_TEST_DIR
inline const std::filesystem::path kZoo = RTML_ZOO_TEST_DIR;
#else
inline const std::filesystem::path kZoo;  // cross builds: no zoo
#endif

inline std::string onnx_of(const std::string& model) { return (kZoo / model / "model.onnx").string(); }

}  // namespace rtml::testing

#define REQUIRE_ZOO()                                                                                 \
  do {                                                                                                \
    if (rtml::testing::kZoo.empty() || !std::filesystem::exists(rtml::testing::kZoo / "manifest.json")) \
      GTEST_SKIP() << "no generated zoo (build the zoo_all target): " << rtml::testing::kZoo;         \
  } while (0)
