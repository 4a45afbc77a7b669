// RandomNormal, RandomNormalLike, RandomUniform, RandomUniformLike.
//
// Non-deterministic ops (never constant-folded). The generator is the
// portable PCG32 of kernels/random.h: with a `seed` attribute the sequence is
// fixed by it; without one a fixed default seed (kRandomDefaultSeed) is used,
// so runs are reproducible too. Every run draws the next numbers of the
// sequence (the generator is the step's state operand); Session::reset()
// replays it from the start (the entry's reset function).
#include "kernels/random.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

enum class Dist { Uniform, Normal };

DType checked_dtype(OpContext& ctx, int64_t code) {
  const DType t = static_cast<DType>(code);
  if (t == DType::F32 || t == DType::F64) return t;
  const char* name = code >= 0 && code <= 16 ? dtype_name(t) : "unknown";
  ctx.fail("output dtype " + std::to_string(code) + " (" + name + ") is not supported; rtml supports float and double");
}

void prepare_random(OpContext& ctx, Dist dist, bool like) {
  Shape shape;
  DType dtype;
  if (like) {
    ctx.expect_inputs(1, 1);
    const TensorInfo& in = ctx.input(0);
    shape = in.shape;
    dtype = ctx.has_attr("dtype") ? checked_dtype(ctx, ctx.attr_int("dtype", 1))
                                  : checked_dtype(ctx, static_cast<int64_t>(in.dtype));
  } else {
    ctx.expect_inputs(0, 0);
    if (!ctx.has_attr("shape")) ctx.fail("attribute shape is required");
    shape = ctx.attr_ints("shape");
    for (int64_t d : shape)
      if (d < 0) ctx.fail("attribute shape has a negative dimension (" + shape_str(shape) + ")");
    dtype = checked_dtype(ctx, ctx.attr_int("dtype", 1));
  }
  if (ctx.num_outputs() != 1) ctx.fail("expects 1 output, got " + std::to_string(ctx.num_outputs()));
  double a, b;
  if (dist == Dist::Normal) {
    a = ctx.attr_float("mean", 0.0f);
    b = ctx.attr_float("scale", 1.0f);
  } else {
    a = ctx.attr_float("low", 0.0f);
    b = ctx.attr_float("high", 1.0f);
    if (b < a) ctx.fail("attribute high (" + std::to_string(b) + ") is below low (" + std::to_string(a) + ")");
  }
  ctx.set_output(0, dtype, shape);

  const bool f64 = dtype == DType::F64;
  const char* symbol = dist == Dist::Normal ? (f64 ? "rtml_f64_random_normal__ref" : "rtml_f32_random_normal__ref")
                                            : (f64 ? "rtml_f64_random_uniform__ref" : "rtml_f32_random_uniform__ref");
  auto& p = ctx.use_kernel<rtml_random_params>(symbol);
  p.count = shape_numel(shape);
  p.a = a;
  p.b = b;
  const uint64_t seed = ctx.has_attr("seed") ? kernels::random_seed_from_float(ctx.attr_float("seed", 0))
                                             : kernels::kRandomDefaultSeed;
  p.seed_lo = static_cast<uint32_t>(seed);
  p.seed_hi = static_cast<uint32_t>(seed >> 32);
  p.out_slot = static_cast<int32_t>(ctx.node().inputs.size());
  p.state_slot = p.out_slot + 1;  // after the output: random steps have no constants, addend or scratch
  ctx.step.state_bytes = sizeof(rtml_random_state);
  ctx.step.flops = static_cast<double>(p.count) * (dist == Dist::Normal ? 20.0 : 4.0);
}

void prepare_RandomNormal(OpContext& ctx) { prepare_random(ctx, Dist::Normal, false); }
void prepare_RandomNormalLike(OpContext& ctx) { prepare_random(ctx, Dist::Normal, true); }
void prepare_RandomUniform(OpContext& ctx) { prepare_random(ctx, Dist::Uniform, false); }
void prepare_RandomUniformLike(OpContext& ctx) { prepare_random(ctx, Dist::Uniform, true); }

}  // namespace

void register_random(Registry& r) {
  r.add({"RandomNormal", prepare_RandomNormal, false});
  r.add({"RandomNormalLike", prepare_RandomNormalLike, false});
  r.add({"RandomUniform", prepare_RandomUniform, false});
  r.add({"RandomUniformLike", prepare_RandomUniformLike, false});
}

}  // namespace rtml::ops
