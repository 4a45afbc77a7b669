// Kernel table entries of kernels/linear.h (MatMul, Gemm).
#include "kernels/linear.h"
#include "kernels/table.h"

namespace rtml::kernels {

void add_linear_kernels(std::vector<KernelInfo>& t) {
  static const ParamsLayout matmul = layout<rtml_matmul_params>("rtml_matmul_params")
                                         .field("M", &rtml_matmul_params::M)
                                         .field("N", &rtml_matmul_params::N)
                                         .field("K", &rtml_matmul_params::K)
                                         .field("batch_rank", &rtml_matmul_params::batch_rank)
                                         .field("batch_shape", &rtml_matmul_params::batch_shape)
                                         .field("a_stride", &rtml_matmul_params::a_stride)
                                         .field("b_stride", &rtml_matmul_params::b_stride)
                                         .field("batch_count", &rtml_matmul_params::batch_count)
                                         .field("trans_b", &rtml_matmul_params::trans_b)
                                         .build();
  static const ParamsLayout gemm = layout<rtml_gemm_params>("rtml_gemm_params")
                                       .field("M", &rtml_gemm_params::M)
                                       .field("N", &rtml_gemm_params::N)
                                       .field("K", &rtml_gemm_params::K)
                                       .field("trans_a", &rtml_gemm_params::trans_a)
                                       .field("trans_b", &rtml_gemm_params::trans_b)
                                       .field("lda", &rtml_gemm_params::lda)
                                       .field("ldb", &rtml_gemm_params::ldb)
                                       .field("alpha", &rtml_gemm_params::alpha)
                                       .field("beta", &rtml_gemm_params::beta)
                                       .field("c_row_stride", &rtml_gemm_params::c_row_stride)
                                       .field("c_col_stride", &rtml_gemm_params::c_col_stride)
                                       .field("num_inputs", &rtml_gemm_params::num_inputs)
                                       .build();
  static const ParamsLayout packed = layout<rtml_packed_gemm_params>("rtml_packed_gemm_params")
                                         .field("rows", &rtml_packed_gemm_params::rows)
                                         .field("K", &rtml_packed_gemm_params::K)
                                         .field("N", &rtml_packed_gemm_params::N)
                                         .field("out_slot", &rtml_packed_gemm_params::out_slot)
                                         .field("packed_slot", &rtml_packed_gemm_params::packed_slot)
                                         .field("has_bias", &rtml_packed_gemm_params::has_bias)
                                         .field("relu", &rtml_packed_gemm_params::relu)
                                         .build();
  static const ParamsLayout sparse = layout<rtml_sparse_gemm_params>("rtml_sparse_gemm_params")
                                         .field("rows", &rtml_sparse_gemm_params::rows)
                                         .field("K", &rtml_sparse_gemm_params::K)
                                         .field("N", &rtml_sparse_gemm_params::N)
                                         .field("ldb", &rtml_sparse_gemm_params::ldb)
                                         .field("lanes", &rtml_sparse_gemm_params::lanes)
                                         .field("scale", &rtml_sparse_gemm_params::scale)
                                         .field("trans_b", &rtml_sparse_gemm_params::trans_b)
                                         .field("relu", &rtml_sparse_gemm_params::relu)
                                         .field("out_slot", &rtml_sparse_gemm_params::out_slot)
                                         .field("packed_slot", &rtml_sparse_gemm_params::packed_slot)
                                         .field("group_entry", &rtml_sparse_gemm_params::group_entry)
                                         .field("entry_block", &rtml_sparse_gemm_params::entry_block)
                                         .field("entry_steps", &rtml_sparse_gemm_params::entry_steps)
                                         .field("index", &rtml_sparse_gemm_params::index)
                                         .field("value", &rtml_sparse_gemm_params::value)
                                         .field("bias", &rtml_sparse_gemm_params::bias)
                                         .build();
#define RTML_LINEAR_ENTRIES(ty, T)                                                                            \
  t.push_back({"rtml_" #ty "_matmul__ref", rtml_##ty##_matmul__ref, &matmul, "A, B, Y", "kernels/linear.cpp", true}); \
  t.push_back({"rtml_" #ty "_gemm__ref", rtml_##ty##_gemm__ref, &gemm, "A, B, C?, Y", "kernels/linear.cpp", true});
  RTML_LINEAR_TYPES(RTML_LINEAR_ENTRIES)
#undef RTML_LINEAR_ENTRIES
  t.push_back({"rtml_f32_matmul__pack_at_run_hwy", rtml_f32_matmul__pack_at_run_hwy, &matmul, "A, B, Y, scratch",
               "kernels/fast_gemm.cpp", false, "kernels/linear.h"});
  t.push_back({"rtml_f32_gemm__packed_hwy", rtml_f32_gemm__packed_hwy, &packed, "A, (B, C?,) Y, packed",
               "kernels/fast_gemm.cpp", false, "kernels/linear.h"});
  t.back().parallel = true;
  t.push_back({"rtml_f32_gemm__sparse_hwy", rtml_f32_gemm__sparse_hwy, &sparse, "A, B, (C?,) Y, packed",
               "kernels/fast_sparse.cpp", false, "kernels/linear.h"});  // With an elementwise chain in the store (kernels/elementwise_chain.h).
  static const ParamsLayout matmul_chain =
      chain_params_layout("rtml_matmul_chain_params", "mm", &rtml_matmul_chain_params::mm, matmul);
  static const ParamsLayout gemm_chain =
      chain_params_layout("rtml_gemm_chain_params", "gemm", &rtml_gemm_chain_params::gemm, gemm);
  static const ParamsLayout packed_chain =
      chain_params_layout("rtml_packed_gemm_chain_params", "gemm", &rtml_packed_gemm_chain_params::gemm, packed);
  t.push_back({"rtml_f32_matmul_chain__ref", rtml_f32_matmul_chain__ref, &matmul_chain, "A, B, Y, chain inputs...",
               "kernels/linear.cpp", true});
  t.push_back({"rtml_f32_gemm_chain__ref", rtml_f32_gemm_chain__ref, &gemm_chain, "A, B, C?, Y, chain inputs...",
               "kernels/linear.cpp", true});
  t.push_back({"rtml_f32_matmul_chain__pack_at_run_hwy", rtml_f32_matmul_chain__pack_at_run_hwy, &matmul_chain,
               "A, B, Y, chain inputs..., scratch", "kernels/fast_gemm.cpp", false, "kernels/linear.h"});
  t.push_back({"rtml_f32_gemm_chain__packed_hwy", rtml_f32_gemm_chain__packed_hwy, &packed_chain,
               "A, (B, C?,) Y, packed, chain inputs...", "kernels/fast_gemm.cpp", false, "kernels/linear.h"});
  t.back().parallel = true;
}

}  // namespace rtml::kernels
