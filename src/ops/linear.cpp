// MatMul and Gemm. Both end in kernels::gemm (see kernels/linear.h).
#include "kernels/linear.h"

#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::GemmParams;
using kernels::MatMulParams;

template <class T>
int run_matmul(const void* params, void* const* ops) {
  kernels::matmul<T>(*static_cast<const MatMulParams*>(params), static_cast<const T*>(ops[0]),
                     static_cast<const T*>(ops[1]), static_cast<T*>(ops[2]));
  return 0;
}

struct GemmOpParams {
  GemmParams gemm;
  int num_inputs = 3;
};

template <class T>
int run_gemm(const void* params, void* const* ops) {
  // The output follows the inputs the node actually lists (2 when C is absent).
  const auto& p = *static_cast<const GemmOpParams*>(params);
  kernels::gemm_op<T>(p.gemm, static_cast<const T*>(ops[0]), static_cast<const T*>(ops[1]),
                      p.num_inputs > 2 ? static_cast<const T*>(ops[2]) : nullptr, static_cast<T*>(ops[p.num_inputs]));
  return 0;
}

// MatMul: numpy.matmul. A 1-D first operand is a row vector whose M dim is
// dropped from the result; a 1-D second operand is a column vector whose N
// dim is dropped. Leading (batch) dims broadcast.
void MatMul(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U32, DType::U64});
  const DType dt = ctx.input(0).dtype;
  if (ctx.input(1).dtype != dt)
    ctx.fail(std::string("inputs must have the same type, got ") + dtype_name(dt) + " and " +
             dtype_name(ctx.input(1).dtype));
  Shape a = ctx.input(0).shape, b = ctx.input(1).shape;
  if (a.empty() || b.empty()) ctx.fail("MatMul inputs must have rank >= 1 (got a scalar)");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  if (b[b.size() - 2] != K)
    ctx.fail("inner dimensions differ: A is " + shape_str(ctx.input(0).shape) + ", B is " +
             shape_str(ctx.input(1).shape));
  const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const size_t rank = std::max(a_batch.size(), b_batch.size());
  if (rank > static_cast<size_t>(kMaxRank)) ctx.fail("more than " + std::to_string(kMaxRank) + " batch dims");

  auto& p = make_params<MatMulParams>(ctx.step);
  p.M = M;
  p.N = N;
  p.K = K;
  p.batch_rank = static_cast<int>(rank);
  Shape out;
  // Walk batch dims from the innermost so the element strides accumulate.
  int64_t a_step = M * K, b_step = K * N;
  Shape out_batch(rank);
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = rank - 1 - i;
    const int64_t da = i < a_batch.size() ? a_batch[a_batch.size() - 1 - i] : 1;
    const int64_t db = i < b_batch.size() ? b_batch[b_batch.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("batch dimensions do not broadcast: A is " + shape_str(ctx.input(0).shape) + ", B is " +
               shape_str(ctx.input(1).shape));
    const int64_t dout = da == 1 ? db : da;
    out_batch[d] = dout;
    p.batch_shape[d] = dout;
    p.a_stride[d] = da == 1 ? 0 : a_step;
    p.b_stride[d] = db == 1 ? 0 : b_step;
    a_step *= da;
    b_step *= db;
  }
  p.batch_count = shape_numel(out_batch);
  out = out_batch;
  if (!a_vec) out.push_back(M);
  if (!b_vec) out.push_back(N);
  ctx.set_output(0, dt, out);

  ctx.step.flops = 2.0 * static_cast<double>(p.batch_count) * M * N * K;
  switch (dt) {
    case DType::F32: ctx.step.run = run_matmul<float>; ctx.step.kernel = "matmul_f32"; break;
    case DType::F64: ctx.step.run = run_matmul<double>; ctx.step.kernel = "matmul_f64"; break;
    case DType::I32: ctx.step.run = run_matmul<int32_t>; ctx.step.kernel = "matmul_i32"; break;
    case DType::I64: ctx.step.run = run_matmul<int64_t>; ctx.step.kernel = "matmul_i64"; break;
    case DType::U32: ctx.step.run = run_matmul<uint32_t>; ctx.step.kernel = "matmul_u32"; break;
    default: ctx.step.run = run_matmul<uint64_t>; ctx.step.kernel = "matmul_u64"; break;
  }
}

// Gemm: Y = alpha * op(A) * op(B) + beta * C. C broadcasts unidirectionally
// to M x N (opset < 7 gated this with a `broadcast` attribute; we always
// allow it, which accepts a superset of valid models).
void Gemm(OpContext& ctx) {
  ctx.expect_inputs(2, 3);
  if (ctx.opset() < 11 && !ctx.has_input(2)) ctx.fail("input C is required before opset 11");
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U32, DType::U64});
  const DType dt = ctx.input(0).dtype;
  for (int i = 1; i < 3; ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != dt)
      ctx.fail("input " + std::to_string(i) + " has type " + dtype_name(ctx.input(i).dtype) + ", expected " +
               dtype_name(dt) + " like A");
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  if (a.size() != 2 || b.size() != 2)
    ctx.fail("A and B must be 2-D, got " + shape_str(a) + " and " + shape_str(b));
  auto& op = make_params<GemmOpParams>(ctx.step);
  op.num_inputs = static_cast<int>(ctx.node().inputs.size());
  GemmParams& p = op.gemm;
  p.trans_a = ctx.attr_int("transA", 0) != 0;
  p.trans_b = ctx.attr_int("transB", 0) != 0;
  p.alpha = ctx.attr_float("alpha", 1.0f);
  p.beta = ctx.attr_float("beta", 1.0f);
  p.M = p.trans_a ? a[1] : a[0];
  p.K = p.trans_a ? a[0] : a[1];
  const int64_t kb = p.trans_b ? b[1] : b[0];
  p.N = p.trans_b ? b[0] : b[1];
  if (kb != p.K)
    ctx.fail("inner dimensions differ: op(A) is " + std::to_string(p.M) + "x" + std::to_string(p.K) + ", op(B) is " +
             std::to_string(kb) + "x" + std::to_string(p.N));
  p.lda = a[1];
  p.ldb = b[1];
  if (ctx.has_input(2)) {
    const Shape& c = ctx.input(2).shape;
    if (c.size() > 2) ctx.fail("C must have rank <= 2, got " + shape_str(c));
    const int64_t cm = c.size() == 2 ? c[0] : 1;
    const int64_t cn = c.empty() ? 1 : c.back();
    if ((cm != 1 && cm != p.M) || (cn != 1 && cn != p.N))
      ctx.fail("C of shape " + shape_str(c) + " does not broadcast to " + std::to_string(p.M) + "x" +
               std::to_string(p.N));
    p.c_row_stride = cm == 1 ? 0 : cn;
    p.c_col_stride = cn == 1 ? 0 : 1;
  }
  ctx.set_output(0, dt, {p.M, p.N});
  ctx.step.flops = 2.0 * p.M * p.N * p.K;
  switch (dt) {
    case DType::F32: ctx.step.run = run_gemm<float>; ctx.step.kernel = "gemm_f32"; break;
    case DType::F64: ctx.step.run = run_gemm<double>; ctx.step.kernel = "gemm_f64"; break;
    case DType::I32: ctx.step.run = run_gemm<int32_t>; ctx.step.kernel = "gemm_i32"; break;
    case DType::I64: ctx.step.run = run_gemm<int64_t>; ctx.step.kernel = "gemm_i64"; break;
    case DType::U32: ctx.step.run = run_gemm<uint32_t>; ctx.step.kernel = "gemm_u32"; break;
    default: ctx.step.run = run_gemm<uint64_t>; ctx.step.kernel = "gemm_u64"; break;
  }
}

}  // namespace

void register_linear(Registry& r) {
  r.add({"MatMul", MatMul});
  r.add({"Gemm", Gemm});
}

}  // namespace rtml::ops
