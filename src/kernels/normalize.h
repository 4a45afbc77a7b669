// Normalization and reduction kernels: Softmax / LogSoftmax / Hardmax,
// LayerNormalization, InstanceNormalization, LpNormalization, the Reduce*
// family and ArgMax / ArgMin.
//
// Most of these work on a tensor viewed as [outer, n, inner]: `n` is the
// length of the axis being normalized/reduced and `inner` the product of the
// dims after it (the stride between consecutive elements along the axis).
// The op layer computes that view at prepare time.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/broadcast.h"

namespace rtml::kernels {

// --- Softmax family -----------------------------------------------------------
struct AxisParams {
  int64_t outer = 1, n = 1, inner = 1;
};

// Numerically stable: exp(x - max) / sum(exp(x - max)) along the axis.
template <class T>
void softmax(const AxisParams& p, const T* x, T* y);
// x - max - log(sum(exp(x - max))).
template <class T>
void log_softmax(const AxisParams& p, const T* x, T* y);
// 1 at the first maximum along the axis, 0 elsewhere.
template <class T>
void hardmax(const AxisParams& p, const T* x, T* y);

// --- LayerNormalization ----------------------------------------------------------
// Each of `outer` rows of `n` elements is normalized with its own mean and
// variance (two passes: mean, then mean squared deviation), then scaled and
// shifted. `affine` walks one row: its input 0 is Scale, input 1 is B (when
// has_bias), both broadcast to the normalized shape.
struct LayerNormParams {
  int64_t outer = 1, n = 1;
  double epsilon = 1e-5;
  bool has_bias = false;
  Broadcast affine;
};

// mean / inv_std_dev may be nullptr; otherwise they receive one value per row.
template <class T>
void layer_norm(const LayerNormParams& p, const T* x, const T* scale, const T* bias, T* y, T* mean, T* inv_std_dev);

// --- InstanceNormalization --------------------------------------------------------
// X is [N, C, spatial...]: every (n, c) plane of `spatial` elements is
// normalized on its own, then scaled by scale[c] and shifted by bias[c].
struct InstanceNormParams {
  int64_t batch = 1, channels = 1, spatial = 1;
  double epsilon = 1e-5;
};

template <class T>
void instance_norm(const InstanceNormParams& p, const T* x, const T* scale, const T* bias, T* y);

// --- LpNormalization ----------------------------------------------------------------
// x / ||x||_p along the axis (p is 1 or 2); a zero norm gives 0.
struct LpNormParams {
  AxisParams axis;
  int p = 2;
};

template <class T>
void lp_norm(const LpNormParams& p, const T* x, T* y);

// --- Reductions ----------------------------------------------------------------------
enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

// The input's dims split into kept and reduced groups (adjacent dims of the
// same group merged). For each output element (row-major over the kept
// dims), the kernel visits every reduced element through the reduced strides.
// Floating inputs accumulate in double, integers in int64. LogSumExp first
// finds the maximum so exp never overflows.
struct ReduceParams {
  ReduceKind kind = ReduceKind::Sum;
  int kept_rank = 0, red_rank = 0;
  int64_t kept_shape[kMaxRank] = {}, kept_stride[kMaxRank] = {};
  int64_t red_shape[kMaxRank] = {}, red_stride[kMaxRank] = {};
  int64_t out_count = 1, red_count = 1;
};

// Prepare-time helper: fills the kept/reduced layout of `p` for an input of
// `shape` where reduced[d] marks the reduced dims. Returns false if a group
// needs more than kMaxRank dims (cannot happen for rank <= kMaxRank).
bool make_reduce(const Shape& shape, const std::vector<bool>& reduced, ReduceParams& p);

template <class T>
void reduce(const ReduceParams& p, const T* x, T* y);

// --- ArgMax / ArgMin -------------------------------------------------------------------
struct ArgParams {
  AxisParams axis;
  bool is_max = true;
  bool select_last_index = false;
};

// Writes outer*inner indices (int64). Ties pick the first (or, with
// select_last_index, the last) position. The axis must not be empty.
template <class T>
void arg_reduce(const ArgParams& p, const T* x, int64_t* y);

}  // namespace rtml::kernels
