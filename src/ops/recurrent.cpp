// RNN, GRU and LSTM (ONNX opsets 7..22; layout from opset 14), float32.
//
// Inputs:  X, W, R, B?, sequence_lens?, initial_h?, (LSTM) initial_c?, P?
// Outputs: Y?, Y_h?, (LSTM) Y_c?
// A streaming model runs with seq_length = 1 and carries its state through
// initial_h/initial_c and Y_h/Y_c (see Session::link_state).
#include <algorithm>
#include <cctype>

#include "kernels/fast_recurrent.h"
#include "kernels/recurrent.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::RecurrentParams;
using kernels::RnnActivation;
using kernels::RnnActivationSpec;
using kernels::RnnCell;

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Parses an activation name; alpha/beta come from the attribute lists in
// order, consumed only by functions that take them (as onnxruntime does),
// with the usual defaults when the lists run out.
RnnActivationSpec parse_activation(OpContext& ctx, const std::string& name, const std::vector<float>& alphas,
                                   const std::vector<float>& betas, size_t& ai, size_t& bi) {
  struct Entry {
    const char* name;
    RnnActivation kind;
    bool uses_alpha, uses_beta;
    float alpha, beta;
  };
  static const Entry table[] = {
      {"relu", RnnActivation::Relu, false, false, 0, 0},
      {"tanh", RnnActivation::Tanh, false, false, 0, 0},
      {"sigmoid", RnnActivation::Sigmoid, false, false, 0, 0},
      {"affine", RnnActivation::Affine, true, true, 1.0f, 0.0f},
      {"leakyrelu", RnnActivation::LeakyRelu, true, false, 0.01f, 0},
      {"thresholdedrelu", RnnActivation::ThresholdedRelu, true, false, 1.0f, 0},
      {"scaledtanh", RnnActivation::ScaledTanh, true, true, 1.0f, 1.0f},
      {"hardsigmoid", RnnActivation::HardSigmoid, true, true, 0.2f, 0.5f},
      {"elu", RnnActivation::Elu, true, false, 1.0f, 0},
      {"softsign", RnnActivation::Softsign, false, false, 0, 0},
      {"softplus", RnnActivation::Softplus, false, false, 0, 0},
  };
  const std::string key = lower(name);
  for (const Entry& e : table) {
    if (key != e.name) continue;
    RnnActivationSpec a{};
    a.kind = e.kind;
    a.alpha = e.alpha;
    a.beta = e.beta;
    if (e.uses_alpha && ai < alphas.size()) a.alpha = alphas[ai++];
    if (e.uses_beta && bi < betas.size()) a.beta = betas[bi++];
    return a;
  }
  ctx.fail("unsupported activation '" + name +
           "'; supported: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, "
           "Softsign, Softplus");
}

void expect_shape(OpContext& ctx, int i, const char* what, const Shape& want) {
  if (!ctx.has_input(i)) return;
  if (ctx.input(i).shape != want)
    ctx.fail(std::string("input ") + std::to_string(i) + " (" + what + ") has shape " + shape_str(ctx.input(i).shape) +
             ", expected " + shape_str(want));
}

void prepare_recurrent(OpContext& ctx, RnnCell cell) {
  const bool lstm = cell == RnnCell::Lstm;
  const int G = kernels::recurrent_gates(cell);
  const int max_inputs = lstm ? 8 : 6;
  const int max_outputs = lstm ? 3 : 2;
  // The planner's weight-only int8 form (kFusedDomain, plan/passes/fuse_qdq.cpp):
  // every slot listed, W and R int8, then W_scale and R_scale, a float per row.
  const bool w8 = ctx.node().domain == kFusedDomain;
  ctx.expect_inputs(3, w8 ? max_inputs + 2 : max_inputs);
  if (w8 && static_cast<int>(ctx.node().inputs.size()) != max_inputs + 2)
    ctx.fail("(weight-only int8) expects " + std::to_string(max_inputs + 2) + " input slots: every one listed, then W_scale, R_scale");
  if (static_cast<int>(ctx.node().outputs.size()) > max_outputs)
    ctx.fail("has " + std::to_string(ctx.node().outputs.size()) + " outputs; at most " + std::to_string(max_outputs) +
             " expected");
  for (int i : {0, 1, 2, 3, 5, 6, 7})
    if (i < max_inputs && ctx.has_input(i)) ctx.expect_dtype(i, {w8 && (i == 1 || i == 2) ? DType::I8 : DType::F32});
  if (ctx.has_input(4)) ctx.expect_dtype(4, {DType::I32, DType::I64});

  RecurrentParams p{};
  p.cell = cell;
  p.num_inputs = static_cast<int32_t>(ctx.node().inputs.size());
  p.num_outputs = static_cast<int32_t>(ctx.node().outputs.size());

  const std::string direction = ctx.attr_string("direction", "forward");
  if (direction == "forward" || direction == "reverse") p.num_directions = 1;
  else if (direction == "bidirectional") p.num_directions = 2;
  else ctx.fail("attribute direction is '" + direction + "'; expected forward, reverse or bidirectional");
  p.reverse = direction == "reverse";
  const int D = p.num_directions;

  p.layout = static_cast<int32_t>(ctx.attr_int("layout", 0));
  if (p.layout != 0 && p.layout != 1) ctx.fail("attribute layout must be 0 or 1, got " + std::to_string(p.layout));

  const TensorInfo& X = ctx.input(0);
  const TensorInfo& W = ctx.input(1);
  const TensorInfo& R = ctx.input(2);
  if (X.rank() != 3) ctx.fail("input X must have rank 3, got shape " + shape_str(X.shape));
  if (W.rank() != 3) ctx.fail("input W must have rank 3 [num_directions, " + std::to_string(G) + "*hidden_size, input_size], got " + shape_str(W.shape));
  if (R.rank() != 3) ctx.fail("input R must have rank 3 [num_directions, " + std::to_string(G) + "*hidden_size, hidden_size], got " + shape_str(R.shape));
  p.seq_length = p.layout == 0 ? X.shape[0] : X.shape[1];
  p.batch = p.layout == 0 ? X.shape[1] : X.shape[0];
  p.input_size = X.shape[2];
  p.hidden = ctx.has_attr("hidden_size") ? ctx.attr_int("hidden_size", 0) : R.shape[2];
  if (p.hidden <= 0) ctx.fail("hidden_size must be positive, got " + std::to_string(p.hidden));
  const int64_t H = p.hidden;
  expect_shape(ctx, 1, "W", {D, G * H, p.input_size});
  expect_shape(ctx, 2, "R", {D, G * H, H});
  expect_shape(ctx, 3, "B", {D, 2 * G * H});
  expect_shape(ctx, 4, "sequence_lens", {p.batch});
  if (w8)
    for (int i : {max_inputs, max_inputs + 1}) {
      ctx.expect_dtype(i, {DType::F32});
      expect_shape(ctx, i, i == max_inputs ? "W_scale" : "R_scale", {D * G * H});
    }
  const Shape state = p.layout == 0 ? Shape{D, p.batch, H} : Shape{p.batch, D, H};
  expect_shape(ctx, 5, "initial_h", state);
  if (lstm) {
    expect_shape(ctx, 6, "initial_c", state);
    expect_shape(ctx, 7, "P", {D, 3 * H});
  }
  p.seq_lens_i64 = ctx.has_input(4) && ctx.input(4).dtype == DType::I64;
  if (ctx.is_constant(4))
    for (int64_t len : ctx.const_ints(4))
      if (len < 0 || len > p.seq_length)
        ctx.fail("sequence_lens holds " + std::to_string(len) + ", outside [0, " + std::to_string(p.seq_length) + "]");

  // Activations: per direction f (RNN), f,g (GRU), f,g,h (LSTM).
  const int per_dir = lstm ? 3 : cell == RnnCell::Gru ? 2 : 1;
  std::vector<std::string> names = ctx.attr_strings("activations");
  if (names.empty()) {
    if (cell == RnnCell::Rnn) names = {"Tanh"};
    else if (cell == RnnCell::Gru) names = {"Sigmoid", "Tanh"};
    else names = {"Sigmoid", "Tanh", "Tanh"};
  }
  if (static_cast<int>(names.size()) == per_dir && D == 2) {
    std::vector<std::string> both = names;
    both.insert(both.end(), names.begin(), names.end());
    names = both;
  }
  if (static_cast<int>(names.size()) != per_dir * D)
    ctx.fail("attribute activations has " + std::to_string(names.size()) + " entries; expected " +
             std::to_string(per_dir * D) + " (" + std::to_string(per_dir) + " per direction)");
  const std::vector<float> alphas = ctx.attr_floats("activation_alpha");
  const std::vector<float> betas = ctx.attr_floats("activation_beta");
  size_t ai = 0, bi = 0;
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < per_dir; ++k) p.act[d][k] = parse_activation(ctx, names[d * per_dir + k], alphas, betas, ai, bi);

  if (ctx.has_attr("clip")) {
    p.clip = ctx.attr_float("clip", 0);
    if (!(p.clip > 0)) ctx.fail("attribute clip must be positive, got " + std::to_string(p.clip));
  }
  if (cell == RnnCell::Gru) p.linear_before_reset = ctx.attr_int("linear_before_reset", 0) != 0;
  if (lstm) p.input_forget = ctx.attr_int("input_forget", 0) != 0;

  const Shape y = p.layout == 0 ? Shape{p.seq_length, D, p.batch, H} : Shape{p.batch, p.seq_length, D, H};
  if (ctx.has_output(0)) ctx.set_output(0, DType::F32, y);
  if (ctx.has_output(1)) ctx.set_output(1, DType::F32, state);
  if (lstm && ctx.has_output(2)) ctx.set_output(2, DType::F32, state);

  ctx.step.flops = static_cast<double>(D) * static_cast<double>(p.seq_length) * static_cast<double>(p.batch) *
                   (2.0 * G * H * static_cast<double>(p.input_size + H) + 8.0 * H);

  const char* name = cell == RnnCell::Rnn ? "rnn" : cell == RnnCell::Gru ? "gru" : "lstm";
  if (w8) {  // the int8 weights read in place (no packed copy): the plan holds them once
    const bool simd = ctx.simd();
    ctx.use_kernel<RecurrentParams>((std::string("rtml_f32_") + name + (simd ? "_w8__hwy" : "_w8__ref")).c_str()) = p;
    const bool peepholes = lstm && ctx.has_input(7);
    ctx.step.scratch_bytes =
        simd ? kernels::fast_recurrent_w8_scratch_bytes(p, peepholes) : kernels::recurrent_scratch_bytes(p);
    return;
  }
  // Constant weights (the usual case: initializers) take the packed SIMD
  // kernel in the simd kernel set (small hidden sizes its specialisation,
  // kernels::small_recurrent_hidden); weights fed at run time, and the
  // reference and cortex-m sets, take the reference.
  const bool weights_known = ctx.is_constant(1) && ctx.is_constant(2) && (!ctx.has_input(3) || ctx.is_constant(3)) &&
                             (!lstm || !ctx.has_input(7) || ctx.is_constant(7));
  if (ctx.simd() && weights_known && p.input_size > 0) {
    const kernels::FastRecurrent f =
        kernels::prepare_fast_recurrent(p, ctx.input(1).as<float>(), ctx.input(2).as<float>(),
                                        ctx.has_input(3) ? ctx.input(3).as<float>() : nullptr,
                                        lstm && ctx.has_input(7) ? ctx.input(7).as<float>() : nullptr);
    auto packed = std::make_shared<ir::Buffer>(f.packed.size() * sizeof(float));
    std::copy(f.packed.begin(), f.packed.end(), static_cast<float*>(packed->data()));
    auto& fp = ctx.use_kernel<kernels::PackedRecurrentParams>(kernels::fast_recurrent_kernel(f.p).c_str());
    fp = f.p;
    fp.packed_slot = ctx.add_constant("packed_weights", DType::F32, {static_cast<int64_t>(f.packed.size())},
                                      std::move(packed));
    ctx.step.scratch_bytes = kernels::fast_recurrent_scratch_bytes(fp);
    return;
  }
  ctx.use_kernel<RecurrentParams>((std::string("rtml_f32_") + name + "__ref").c_str()) = p;
  ctx.step.scratch_bytes = kernels::recurrent_scratch_bytes(p);
}

void prepare_RNN(OpContext& ctx) { prepare_recurrent(ctx, RnnCell::Rnn); }
void prepare_GRU(OpContext& ctx) { prepare_recurrent(ctx, RnnCell::Gru); }
void prepare_LSTM(OpContext& ctx) { prepare_recurrent(ctx, RnnCell::Lstm); }

}  // namespace

void register_recurrent(Registry& r) {
  r.add({"RNN", prepare_RNN});
  r.add({"GRU", prepare_GRU});
  r.add({"LSTM", prepare_LSTM});
}

// The same prepares; the domain selects the weight-only int8 form.
void register_recurrent_fused(Registry& r) { register_recurrent(r); }

}  // namespace rtml::ops
