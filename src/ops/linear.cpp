// MatMul and Gemm. Both end in the reference kernels of kernels/linear.h,
// or, in the simd kernel set, for float32 with a constant B, in the packed
// (kernels/fast_gemm.h) or sparse (kernels/fast_sparse.h) GEMM against B
// packed here at prepare time into a constant of the step.
#include "kernels/fast_gemm.h"
#include "kernels/fast_sparse.h"
#include "kernels/linear.h"

#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::GemmParams;
using kernels::MatMulParams;

// Whether B (constant, K x N as op(B)) is sparse enough for the sparse kernel at `rows` rows of A.
bool use_sparse(int64_t rows, int64_t K, int64_t N, const float* b, int64_t ldb, bool trans_b) {
  return rows <= kernels::kSparseMaxRows &&
         kernels::zero_fraction(K, N, b, ldb, trans_b) >= kernels::kSparseMinZeroFraction;
}

// Step::fuse of the packed and sparse GEMMs: a following Relu runs in their store.
template <class P>
bool fuse_relu(Step& step, Step::Epilogue what) {
  auto& p = *static_cast<P*>(step.params.get());
  if (what != Step::Epilogue::Relu || p.relu) return false;
  p.relu = true;
  step.kernel += "+relu";
  return true;
}

// A constant float32 B (K x N as op(B)) times `rows` rows of A, scaled by
// alpha, plus `bias` (N values or empty): the sparse kernel when B is mostly
// zeros (unless the schedule's knob "gemm" says "dense"), else the packed
// one; the packing is a constant of the step.
void use_packed_gemm(OpContext& ctx, int64_t rows, int64_t K, int64_t N, const float* b, int64_t ldb, bool trans_b,
                     float alpha, const std::vector<float>& bias) {
  const int out_slot = static_cast<int>(ctx.node().inputs.size());
  const float* bias_ptr = bias.empty() ? nullptr : bias.data();
  if (ctx.choice("gemm") != "dense" && use_sparse(rows, K, N, b, ldb, trans_b)) {
    const kernels::SparseB sb = kernels::pack_sparse_b(K, N, b, ldb, trans_b, alpha, bias_ptr);
    const kernels::SparseFlat flat = kernels::sparse_flat_layout(sb);
    auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(flat.bytes));
    kernels::sparse_flatten(sb, flat, buf->data());
    auto& p = ctx.use_kernel<rtml_sparse_gemm_params>("rtml_f32_gemm__sparse_hwy");
    p.rows = rows;
    p.K = K;
    p.N = N;
    p.ldb = ldb;
    p.lanes = sb.lanes;
    p.scale = alpha;
    p.trans_b = trans_b;
    p.out_slot = out_slot;
    p.group_entry = flat.group_entry;
    p.entry_block = flat.entry_block;
    p.entry_steps = flat.entry_steps;
    p.index = flat.index;
    p.value = flat.value;
    p.bias = flat.bias;
    p.packed_slot = ctx.add_constant("sparse_b", DType::U8, {flat.bytes}, std::move(buf));
    ctx.step.fuse = fuse_relu<rtml_sparse_gemm_params>;
    return;
  }
  const int64_t floats = kernels::packed_constant_floats(K, N, bias_ptr != nullptr);
  auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(floats) * sizeof(float));
  kernels::pack_constant(K, N, b, ldb, trans_b, alpha, bias_ptr, static_cast<float*>(buf->data()));
  auto& p = ctx.use_kernel<rtml_packed_gemm_params>("rtml_f32_gemm__packed_hwy");
  p.rows = rows;
  p.K = K;
  p.N = N;
  p.out_slot = out_slot;
  p.has_bias = bias_ptr != nullptr;
  p.packed_slot = ctx.add_constant("packed_b", DType::F32, {floats}, std::move(buf));
  ctx.step.fuse = fuse_relu<rtml_packed_gemm_params>;
  ctx.step.fuse_chain = [](Step& step, const rtml_ew_epilogue& epi) {
    return chain_into<rtml_packed_gemm_params, rtml_packed_gemm_chain_params>(step, epi,
                                                                              "rtml_f32_gemm_chain__packed_hwy");
  };
}

// MatMul: numpy.matmul. A 1-D first operand is a row vector whose M dim is
// dropped from the result; a 1-D second operand is a column vector whose N
// dim is dropped. Leading (batch) dims broadcast. The planner's fused form
// (kFusedDomain, plan/passes/fold_transpose_matmul.cpp) may say transB = 1:
// B's last two dims are stored swapped (N x K), the Transpose it replaced.
void MatMul(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U32, DType::U64});
  const DType dt = ctx.input(0).dtype;
  if (ctx.input(1).dtype != dt)
    ctx.fail(std::string("inputs must have the same type, got ") + dtype_name(dt) + " and " +
             dtype_name(ctx.input(1).dtype));
  Shape a = ctx.input(0).shape, b = ctx.input(1).shape;
  if (a.empty() || b.empty()) ctx.fail("MatMul inputs must have rank >= 1 (got a scalar)");
  const bool trans_b = ctx.node().domain == kFusedDomain && ctx.attr_int("transB", 0) != 0;
  if (trans_b && static_cast<int64_t>(b.size()) != ctx.attr_int("b_rank", 2))
    ctx.fail("the Transpose folded into B (transB) swaps the last two of " + std::to_string(ctx.attr_int("b_rank", 2)) +
             " dims, but B has shape " + shape_str(b));
  if (trans_b) std::swap(b[b.size() - 1], b[b.size() - 2]);
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

  MatMulParams p{};
  p.M = M;
  p.N = N;
  p.K = K;
  p.batch_rank = static_cast<int>(rank);
  p.trans_b = trans_b;
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
  // A constant float32 B without batch dims: every output batch multiplies the
  // same B, and A's batches are contiguous, so the whole product is one
  // (batch_count * M) x K by K x N GEMM against B packed once.
  if (ctx.simd() && dt == DType::F32 && ctx.is_constant(1) && b_batch.empty() && K > 0 && N > 0) {
    use_packed_gemm(ctx, p.batch_count * M, K, N, ctx.input(1).as<float>(), trans_b ? K : N, trans_b, 1.0f, {});
    return;
  }
  // Both operands at run time (attention's Q*K^T, weights*V): packing B costs
  // about K*N copies, repaid when several rows of A share it.
  if (ctx.simd() && dt == DType::F32 && M >= 4 && K > 0 && N > 0) {
    (void)kernels::fast_gemm_target();  // resolve the SIMD dispatch now, not in the first run
    ctx.use_kernel<MatMulParams>("rtml_f32_matmul__pack_at_run_hwy") = p;
    ctx.step.scratch_bytes = static_cast<size_t>(kernels::packed_b_floats(K, N)) * sizeof(float);
    ctx.step.fuse_chain = [](Step& step, const rtml_ew_epilogue& epi) {
      return chain_into<MatMulParams, rtml_matmul_chain_params>(step, epi, "rtml_f32_matmul_chain__pack_at_run_hwy");
    };
    return;
  }
  ctx.use_kernel<MatMulParams>(kernel_symbol(dt, "matmul").c_str()) = p;
  // A chain in the reference kernel's store runs the reference chain: with the
  // simd set a chain step of its own keeps the vector chain's results.
  if (dt == DType::F32 && !ctx.simd())
    ctx.step.fuse_chain = [](Step& step, const rtml_ew_epilogue& epi) {
      return chain_into<MatMulParams, rtml_matmul_chain_params>(step, epi, "rtml_f32_matmul_chain__ref");
    };
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
  GemmParams p{};
  p.num_inputs = static_cast<int32_t>(ctx.node().inputs.size());
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
  // Fast path: float32, constant B, A not transposed, and C absent or a
  // constant that is one value per column ([N], [1,N], scalar): alpha is
  // folded into the packed B and beta into the bias.
  const bool c_per_column = !ctx.has_input(2) || (ctx.is_constant(2) && p.c_row_stride == 0);
  if (ctx.simd() && dt == DType::F32 && ctx.is_constant(1) && !p.trans_a && c_per_column && p.K > 0 && p.N > 0) {
    std::vector<float> bias;
    if (ctx.has_input(2)) {
      const float* c = ctx.input(2).as<float>();
      bias.resize(static_cast<size_t>(p.N));
      for (int64_t j = 0; j < p.N; ++j) bias[static_cast<size_t>(j)] = static_cast<float>(p.beta) * c[j * p.c_col_stride];
    }
    use_packed_gemm(ctx, p.M, p.K, p.N, ctx.input(1).as<float>(), p.ldb, p.trans_b, static_cast<float>(p.alpha), bias);
    return;
  }
  ctx.use_kernel<GemmParams>(kernel_symbol(dt, "gemm").c_str()) = p;
  if (dt == DType::F32 && !ctx.simd())
    ctx.step.fuse_chain = [](Step& step, const rtml_ew_epilogue& epi) {
      return chain_into<GemmParams, rtml_gemm_chain_params>(step, epi, "rtml_f32_gemm_chain__ref");
    };
}

}  // namespace

void register_linear(Registry& r) {
  r.add({"MatMul", MatMul});
  r.add({"Gemm", Gemm});
}

void register_linear_fused(Registry& r) { r.add({"MatMul", MatMul}); }

}  // namespace rtml::ops
