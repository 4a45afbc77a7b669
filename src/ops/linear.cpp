// MatMul and Gemm. Both end in kernels::gemm (see kernels/linear.h), or, for
// float32 with a constant B, in kernels::fast_gemm against B packed here at
// prepare time (kernels/fast_gemm.h).
#include "kernels/fast_gemm.h"
#include "kernels/fast_sparse.h"
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

// Fast path: Y[rows x N] = A[rows x K] * packed (+ bias) for a constant float32 B.
struct PackedGemmParams {
  int64_t rows = 0, K = 0;
  kernels::PackedB b;
  int out_slot = 2;  // operand index of Y
  bool relu = false;  // a fused Relu (Step::fuse)
};

int run_packed_gemm(const void* params, void* const* ops) {
  const auto& p = *static_cast<const PackedGemmParams*>(params);
  kernels::fast_gemm(p.rows, static_cast<const float*>(ops[0]), p.K, p.b, static_cast<float*>(ops[p.out_slot]), p.b.N,
                     p.relu);
  return 0;
}

// Mostly-zero constant B (kernels/fast_sparse.h): its nonzeros packed at
// prepare; B itself (the step's constant operand 1) serves rows of A that
// hold an infinity or a NaN.
struct SparseGemmParams {
  int64_t rows = 0, K = 0, ldb = 0;
  bool trans_b = false;
  kernels::SparseB b;
  int out_slot = 2;
  bool relu = false;
};

int run_sparse_gemm(const void* params, void* const* ops) {
  const auto& p = *static_cast<const SparseGemmParams*>(params);
  kernels::fast_sparse_gemm(p.rows, static_cast<const float*>(ops[0]), p.K, p.b, static_cast<const float*>(ops[1]),
                            p.ldb, p.trans_b, static_cast<float*>(ops[p.out_slot]), p.b.N, p.relu);
  return 0;
}

// Whether B (constant, K x N as op(B)) is sparse enough for the sparse kernel at `rows` rows of A.
bool use_sparse(int64_t rows, int64_t K, int64_t N, const float* b, int64_t ldb, bool trans_b) {
  return rows <= kernels::kSparseMaxRows &&
         kernels::zero_fraction(K, N, b, ldb, trans_b) >= kernels::kSparseMinZeroFraction;
}

// Step::fuse of the packed and sparse GEMMs: a following Relu runs in their store.
template <class P, const char* kFusedName>
bool fuse_packed_gemm(Step& step, Step::Epilogue what) {
  auto& p = *static_cast<P*>(step.params.get());
  if (what != Step::Epilogue::Relu || p.relu) return false;
  p.relu = true;
  step.kernel = kFusedName;
  return true;
}
constexpr char kMatMulPackedRelu[] = "matmul_packed_f32+relu";
constexpr char kGemmPackedRelu[] = "gemm_packed_f32+relu";
constexpr char kMatMulSparseRelu[] = "matmul_sparse_f32+relu";
constexpr char kGemmSparseRelu[] = "gemm_sparse_f32+relu";

// Two float32 activations: each batch's B is packed into the step's scratch
// at run time (once per distinct B matrix) and multiplied with the fast kernel.
int run_matmul_pack_at_run(const void* params, void* const* ops) {
  const auto& p = *static_cast<const MatMulParams*>(params);
  const float* A = static_cast<const float*>(ops[0]);
  const float* B = static_cast<const float*>(ops[1]);
  float* Y = static_cast<float*>(ops[2]);
  float* packed = static_cast<float*>(ops[3]);
  int64_t packed_off = -1;
  kernels::for_each_batch(p, [&](int64_t n, int64_t a_off, int64_t b_off) {
    if (b_off != packed_off) {  // a broadcast B is packed once
      kernels::pack_b_into(p.K, p.N, B + b_off, p.N, false, packed);
      packed_off = b_off;
    }
    kernels::fast_gemm_packed(p.M, A + a_off, p.K, p.K, p.N, packed, nullptr, Y + n * p.M * p.N, p.N);
  });
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
  // A constant float32 B without batch dims: every output batch multiplies the
  // same B, and A's batches are contiguous, so the whole product is one
  // (batch_count * M) x K by K x N GEMM against B packed once.
  if (dt == DType::F32 && ctx.is_constant(1) && b_batch.empty() && K > 0 && N > 0) {
    const MatMulParams mp = p;
    const float* b = ctx.input(1).as<float>();
    if (use_sparse(mp.batch_count * M, K, N, b, N, false)) {
      auto& f = make_params<SparseGemmParams>(ctx.step);
      f.rows = mp.batch_count * M;
      f.K = K;
      f.ldb = N;
      f.b = kernels::pack_sparse_b(K, N, b, N, false);
      ctx.step.run = run_sparse_gemm;
      ctx.step.kernel = "matmul_sparse_f32";
      ctx.step.fuse = fuse_packed_gemm<SparseGemmParams, kMatMulSparseRelu>;
      return;
    }
    auto& f = make_params<PackedGemmParams>(ctx.step);
    f.rows = mp.batch_count * M;
    f.K = K;
    f.b = kernels::pack_b(K, N, ctx.input(1).as<float>(), N, false);
    f.out_slot = 2;
    ctx.step.run = run_packed_gemm;
    ctx.step.kernel = "matmul_packed_f32";
    ctx.step.fuse = fuse_packed_gemm<PackedGemmParams, kMatMulPackedRelu>;
    return;
  }
  // Both operands at run time (attention's Q*K^T, weights*V): packing B costs
  // about K*N copies, repaid when several rows of A share it.
  if (dt == DType::F32 && M >= 4 && K > 0 && N > 0) {
    (void)kernels::fast_gemm_target();  // resolve the SIMD dispatch now, not in the first run
    ctx.step.scratch_bytes = static_cast<size_t>(kernels::packed_b_floats(K, N)) * sizeof(float);
    ctx.step.run = run_matmul_pack_at_run;
    ctx.step.kernel = "matmul_pack_at_run_f32";
    return;
  }
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
  // Fast path: float32, constant B, A not transposed, and C absent or a
  // constant that is one value per column ([N], [1,N], scalar): alpha is
  // folded into the packed B and beta into the bias.
  const bool c_per_column = !ctx.has_input(2) || (ctx.is_constant(2) && p.c_row_stride == 0);
  if (dt == DType::F32 && ctx.is_constant(1) && !p.trans_a && c_per_column && p.K > 0 && p.N > 0) {
    std::vector<float> bias;
    if (ctx.has_input(2)) {
      const float* c = ctx.input(2).as<float>();
      bias.resize(static_cast<size_t>(p.N));
      for (int64_t j = 0; j < p.N; ++j) bias[static_cast<size_t>(j)] = static_cast<float>(p.beta) * c[j * p.c_col_stride];
    }
    const GemmParams gp = p;
    const int slots = op.num_inputs;
    const float* b = ctx.input(1).as<float>();
    if (use_sparse(gp.M, gp.K, gp.N, b, gp.ldb, gp.trans_b)) {
      auto& f = make_params<SparseGemmParams>(ctx.step);
      f.rows = gp.M;
      f.K = gp.K;
      f.ldb = gp.ldb;
      f.trans_b = gp.trans_b;
      f.b = kernels::pack_sparse_b(gp.K, gp.N, b, gp.ldb, gp.trans_b, static_cast<float>(gp.alpha),
                                   bias.empty() ? nullptr : bias.data());
      f.out_slot = slots;
      ctx.step.run = run_sparse_gemm;
      ctx.step.kernel = "gemm_sparse_f32";
      ctx.step.fuse = fuse_packed_gemm<SparseGemmParams, kGemmSparseRelu>;
      return;
    }
    auto& f = make_params<PackedGemmParams>(ctx.step);
    f.rows = gp.M;
    f.K = gp.K;
    f.b = kernels::pack_b(gp.K, gp.N, ctx.input(1).as<float>(), gp.ldb, gp.trans_b, static_cast<float>(gp.alpha),
                          bias.empty() ? nullptr : bias.data());
    f.out_slot = slots;
    ctx.step.run = run_packed_gemm;
    ctx.step.kernel = "gemm_packed_f32";
    ctx.step.fuse = fuse_packed_gemm<PackedGemmParams, kGemmPackedRelu>;
    return;
  }
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
