// RandomNormal, RandomNormalLike, RandomUniform, RandomUniformLike.
//
// Non-deterministic ops (never constant-folded). The generator is the
// portable PCG32 of kernels/random.h: with a `seed` attribute the sequence is
// fixed by it; without one a fixed default seed (kRandomDefaultSeed) is used,
// so runs are reproducible too. Every run draws the next numbers of the
// sequence; Session::reset() replays it from the start.
#include "kernels/random.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::RandomDist;
using kernels::RandomParams;

struct RandomStep {
  RandomParams k;
  int out_operand = 0;
};

int run_random(const void* params, void* const* ops) {
  // The generator state is the one mutable part of a step's params.
  auto& p = *const_cast<RandomStep*>(static_cast<const RandomStep*>(params));
  kernels::random_fill(p.k, ops[p.out_operand]);
  return 0;
}

void reset_random(void* params) { kernels::random_reset(static_cast<RandomStep*>(params)->k); }

DType checked_dtype(OpContext& ctx, int64_t code) {
  const DType t = static_cast<DType>(code);
  if (t == DType::F32 || t == DType::F64) return t;
  const char* name = code >= 0 && code <= 16 ? dtype_name(t) : "unknown";
  ctx.fail("output dtype " + std::to_string(code) + " (" + name + ") is not supported; rtml supports float and double");
}

void prepare_random(OpContext& ctx, RandomDist dist, bool like) {
  auto& sp = make_params<RandomStep>(ctx.step);
  RandomParams& p = sp.k;
  p.dist = dist;
  Shape shape;
  if (like) {
    ctx.expect_inputs(1, 1);
    const TensorInfo& in = ctx.input(0);
    shape = in.shape;
    p.dtype = ctx.has_attr("dtype") ? checked_dtype(ctx, ctx.attr_int("dtype", 1))
                                    : checked_dtype(ctx, static_cast<int64_t>(in.dtype));
    sp.out_operand = static_cast<int>(ctx.node().inputs.size());
  } else {
    ctx.expect_inputs(0, 0);
    if (!ctx.has_attr("shape")) ctx.fail("attribute shape is required");
    shape = ctx.attr_ints("shape");
    for (int64_t d : shape)
      if (d < 0) ctx.fail("attribute shape has a negative dimension (" + shape_str(shape) + ")");
    p.dtype = checked_dtype(ctx, ctx.attr_int("dtype", 1));
    sp.out_operand = 0;
  }
  if (ctx.num_outputs() != 1) ctx.fail("expects 1 output, got " + std::to_string(ctx.num_outputs()));
  if (dist == RandomDist::Normal) {
    p.a = ctx.attr_float("mean", 0.0f);
    p.b = ctx.attr_float("scale", 1.0f);
  } else {
    p.a = ctx.attr_float("low", 0.0f);
    p.b = ctx.attr_float("high", 1.0f);
    if (p.b < p.a) ctx.fail("attribute high (" + std::to_string(p.b) + ") is below low (" + std::to_string(p.a) + ")");
  }
  p.count = shape_numel(shape);
  const uint64_t seed = ctx.has_attr("seed") ? kernels::random_seed_from_float(ctx.attr_float("seed", 0))
                                             : kernels::kRandomDefaultSeed;
  kernels::random_init(p, seed);
  ctx.set_output(0, p.dtype, shape);

  ctx.step.run = run_random;
  ctx.step.reset = reset_random;
  const bool f64 = p.dtype == DType::F64;
  ctx.step.kernel = dist == RandomDist::Normal ? (f64 ? "random_normal_f64" : "random_normal_f32")
                                               : (f64 ? "random_uniform_f64" : "random_uniform_f32");
  ctx.step.flops = static_cast<double>(p.count) * (dist == RandomDist::Normal ? 20.0 : 4.0);
}

void prepare_RandomNormal(OpContext& ctx) { prepare_random(ctx, RandomDist::Normal, false); }
void prepare_RandomNormalLike(OpContext& ctx) { prepare_random(ctx, RandomDist::Normal, true); }
void prepare_RandomUniform(OpContext& ctx) { prepare_random(ctx, RandomDist::Uniform, false); }
void prepare_RandomUniformLike(OpContext& ctx) { prepare_random(ctx, RandomDist::Uniform, true); }

}  // namespace

void register_random(Registry& r) {
  r.add({"RandomNormal", prepare_RandomNormal, false});
  r.add({"RandomNormalLike", prepare_RandomNormalLike, false});
  r.add({"RandomUniform", prepare_RandomUniform, false});
  r.add({"RandomUniformLike", prepare_RandomUniformLike, false});
}

}  // namespace rtml::ops
