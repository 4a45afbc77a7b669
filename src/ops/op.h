// The op layer: one ONNX operator = one `prepare` function that
//   1. validates the node (input count, attributes, types),
//   2. infers its outputs' types and shapes, and
//   3. chooses a kernel and fills its params struct (a Step).
// It runs once, before the first inference (TFLite Micro's "prepare"). The
// kernel it picks runs in Session::run ("eval") and must not allocate, lock,
// make system calls or throw.
//
// The same Step serves constant folding: when every input of a deterministic
// node is constant, plan/ runs the step once at prepare time and keeps the
// results as constants. So Shape -> Gather -> Concat chains fold without
// any op-specific folding code.
//
// Operand layout a kernel's RunFn receives, in this order:
//   inputs  (the slots the node lists; nullptr for one left empty ("") in the
//            middle; trailing optional inputs the node does not list have
//            no slot at all)
//   outputs (likewise: the slots the node lists, nullptr for an empty name)
//   constants (Step::constants: what prepare made for the step, e.g. packed
//            weights; the plan owns them, counts them and `rtml compile`
//            emits them with the model's other constants)
//   fused   (the other addend of an Add fused into the step; see Step::fuse)
//   scratch (only if scratch_bytes > 0; 64-byte aligned, uninitialized)
//   state   (only if state_bytes > 0; 64-byte aligned: the step's own memory,
//            shared with no other tensor, kept from one run to the next and
//            set by `reset` when the session is created and on each reset)
// So a kernel with optional trailing operands must learn in prepare how many
// slots the node has (ctx.node().inputs.size(), .outputs.size()) and keep
// that in its params.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/size.h"
#include "ir/graph.h"
#include "kernels/elementwise_chain.h"
#include "kernels/table.h"

namespace rtml::ops {

// Returns 0 on success, or a nonzero code (e.g. an index out of range) that
// Session::run reports with the failing node. The kernel library's calling
// convention (kernels/rtml_kernel.h).
using RunFn = rtml_kernel_fn;
// Returns a stateful step's state operand to its start (the seeded RNG):
// called when a session is created and by Session::reset(). The kernel
// table entry's reset (kernels/rtml_kernel.h).
using ResetFn = rtml_kernel_reset_fn;

// A constant prepare made for its step (packed weights, an effective bias):
// owned by the plan, counted with the model's constants (Plan::constant_bytes).
struct StepConstant {
  std::string role;  // "packed_b": the plan names the tensor "<node>:<role>"
  DType dtype = DType::F32;
  Shape shape;
  std::shared_ptr<const ir::Buffer> data;
};

// What prepare decided for one node.
struct Step {
  RunFn run = nullptr;
  ResetFn reset = nullptr;
  std::shared_ptr<void> params;  // owned params struct handed to run()
  // The kernel table entry `run` comes from (OpContext::use_kernel);
  // nullptr for a kernel not in the table yet, which `rtml compile` refuses.
  const kernels::KernelInfo* info = nullptr;
  // Name for profiles and `rtml info`: the kernel's symbol, plus "+add" /
  // "+relu" for a fused epilogue ("rtml_f32_gemm__packed_hwy+relu").
  std::string kernel;
  std::vector<StepConstant> constants;  // operands after the outputs (see above)
  size_t scratch_bytes = 0;
  // Bytes of the step's persistent state (the last operand; see above).
  // Params stay read-only: what a kernel carries between runs lives here.
  // Such a step needs `reset` and is never constant-folded.
  size_t state_bytes = 0;
  // The output 0 holds exactly the bytes of input 0 (Reshape, Squeeze,
  // Flatten, Identity...). The planner may then share storage and skip the
  // step; `run` must still be a correct copy for when it cannot.
  bool output_aliases_input = false;
  double flops = 0;  // estimate per run, for `rtml info` and profiles
  // Epilogue fusion (plan/ asks; PlanOptions::fuse): when this step's output
  // 0 feeds only a Relu, or an Add with a tensor of the same shape and type,
  // plan/ calls fuse(*this, what). It returns true when the kernel now
  // applies that node to its output itself (fuse updates `kernel`); for Add
  // the other addend becomes one more operand, right after the outputs and
  // before the scratch. nullptr: the kernel fuses nothing.
  enum class Epilogue { Relu, Add };
  bool (*fuse)(Step& step, Epilogue what) = nullptr;
  // Chain fusion (plan/passes/fuse_elementwise_chains.cpp): an elementwise
  // chain after this step's output 0 runs in the kernel's store. It swaps in
  // the kernel's "_chain" entry (params: these, then `epi`; chain_into) and
  // returns true; the chain's other inputs become operands from epi.in_slot.
  // nullptr: the kernel takes no chain.
  bool (*fuse_chain)(Step& step, const rtml_ew_epilogue& epi) = nullptr;
};

// Step::fuse_chain's body for a kernel with params P whose chain entry
// `symbol` takes C = {P, rtml_ew_epilogue epi}: the params become a C, the
// kernel the chain entry ("rtml_f32_conv1d_chain__fast_hwy+relu" keeps the
// epilogues fused before), and nothing more fuses into the step.
template <class P, class C>
bool chain_into(Step& step, const rtml_ew_epilogue& epi, const char* symbol) {
  static_assert(offsetof(C, epi) >= sizeof(P), "C is P then epi");
  const kernels::KernelInfo& k = kernels::kernel(symbol);
  auto c = std::make_shared<C>();
  std::memcpy(static_cast<void*>(c.get()), step.params.get(), sizeof(P));
  c->epi = epi;
  const std::string fused = step.info ? step.kernel.substr(std::string(step.info->symbol).size()) : "";
  step.params = std::move(c);
  step.run = k.fn;
  step.info = &k;
  step.kernel = std::string(symbol) + fused;
  step.fuse = nullptr;
  step.fuse_chain = nullptr;
  return true;
}

// Type and shape of an operand at prepare time, plus its bytes when constant.
struct TensorInfo {
  DType dtype = DType::Undefined;
  Shape shape;
  const void* data = nullptr;  // non-null when the value is known now
  int64_t numel() const { return shape_numel(shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int rank() const { return static_cast<int>(shape.size()); }
  template <class T>
  const T* as() const { return static_cast<const T*>(data); }
};

// A kernel table symbol: kernel_symbol(DType::F32, "softmax") is
// "rtml_f32_softmax__ref" (rtml_kernel.h's type names: f32 f64 s8 s16 s32
// s64 u8 u16 u32 u64 b8 f16 bf16); kernel_symbol_x(4, "transpose") is
// "rtml_x32_transpose__ref" for kernels that only move elements.
// kernel_type_tag(t) is t's name there, or nullptr for a type with none.
const char* kernel_type_tag(DType t);
std::string kernel_symbol(DType t, const char* op, const char* impl = "ref");
std::string kernel_symbol_x(size_t element_bytes, const char* op, const char* impl = "ref");

// Makes a params struct owned by a Step.
template <class P>
P& make_params(Step& step) {
  auto p = std::make_shared<P>();
  P& ref = *p;
  step.params = std::move(p);
  return ref;
}

class OpContext {
 public:
  OpContext(const ir::Node& node, int64_t opset, std::vector<TensorInfo> inputs, size_t num_outputs,
            const std::string& source);

  const ir::Node& node() const { return node_; }
  int64_t opset() const { return opset_; }

  // Inputs. `num_inputs()` counts trailing omitted inputs out.
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  bool has_input(int i) const { return i < num_inputs() && inputs_[i].dtype != DType::Undefined; }
  const TensorInfo& input(int i) const;
  bool is_constant(int i) const { return has_input(i) && inputs_[i].data != nullptr; }
  // The input's values as int64 (from int32 or int64 data); fails with a clear
  // message if the input is not known at prepare time.
  std::vector<int64_t> const_ints(int i) const;
  std::vector<float> const_floats(int i) const;

  // Outputs.
  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  bool has_output(int i) const;  // false for omitted optional outputs
  // Fails (naming the output, its shape and the numbers) if a dimension is
  // negative, the dims overflow, or the tensor needs more than
  // max_memory_bytes: so every shape downstream is safe to multiply.
  void set_output(int i, DType dtype, Shape shape);
  uint64_t max_memory_bytes = default_memory_limit();  // plan::PlanOptions::max_memory_bytes
  kernels::KernelSet kernel_set = kernels::KernelSet::Simd;  // plan::PlanOptions::kernels
  // True when the plan's kernel set takes the Highway kernels where they apply.
  bool simd() const { return kernel_set == kernels::KernelSet::Simd; }
  // This node's schedule choices (plan::PlanOptions::schedule, `--tuning`):
  // knob -> value. The planner has already turned "impl" into kernel_set;
  // an op reads its own knobs with choice() ("" = the default). nullptr: none.
  const std::map<std::string, std::string>* choices = nullptr;
  std::string choice(const std::string& knob) const {
    if (!choices) return {};
    auto it = choices->find(knob);
    return it == choices->end() ? std::string() : it->second;
  }
  const TensorInfo& output(int i) const { return outputs_.at(i); }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }

  // Attributes.
  bool has_attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> fallback = {}) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  const ir::Tensor* attr_tensor(const std::string& name) const;  // nullptr if absent

  // Checks and failure. All messages name the file, node and op type.
  [[noreturn]] void fail(const std::string& message) const;
  // a + b and a * b for values a file decides (pads, repeats, blocksizes,
  // shape entries): fail naming `what` when the result overflows int64 or
  // its magnitude passes kMaxSize.
  int64_t add(int64_t a, int64_t b, const char* what) const;
  int64_t mul(int64_t a, int64_t b, const char* what) const;
  void expect_inputs(int min, int max) const;   // counts present-or-omitted slots
  void expect_dtype(int input, std::initializer_list<DType> allowed) const;
  // Normalizes a possibly negative axis against `rank`; fails if out of range.
  int axis(int64_t axis, int rank, const char* what = "axis") const;

  // Picks the table entry `symbol` for this step and returns its params,
  // value-initialised (all zero). P must be the entry's params struct.
  template <class P>
  P& use_kernel(const char* symbol) {
    set_kernel(kernels::kernel(symbol), sizeof(P));
    return make_params<P>(step);
  }
  // Appends a constant to step.constants; returns its operand slot.
  int add_constant(const char* role, DType dtype, Shape shape, std::shared_ptr<const ir::Buffer> data);

  Step step;

 private:
  void set_kernel(const kernels::KernelInfo& k, size_t params_size);
  const ir::Node& node_;
  int64_t opset_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  const std::string& source_;
};

// A buffer holding `bytes` bytes copied from `src` (a step constant's data).
std::shared_ptr<const ir::Buffer> buffer_of(const void* src, size_t bytes);

// A Concat of the listed inputs along the node's attribute axis (default 1):
// the output shape, outer (the product of the dims before the axis) and each
// input's block in bytes (its axis dim times the dims after it, times the
// element size). Fails (with the node's context) when types or shapes
// outside the axis differ. Concat and the planner's fused QLinearConcat.
struct ConcatLayout {
  Shape shape;
  int64_t outer = 1;
  std::vector<int64_t> blocks;
};
ConcatLayout concat_layout(OpContext& ctx, const std::vector<int>& inputs);

using PrepareFn = void (*)(OpContext&);

// Runs def.prepare(ctx), then checks that every output the node lists got a
// type (a node listing more outputs than the op has fails here). An
// rtml::Error thrown without the node's context (an overflowing shape caught
// by shape_numel) is rethrown with it.
void prepare(const struct OpDef& def, OpContext& ctx);

struct OpDef {
  const char* name;     // ONNX op_type
  PrepareFn prepare;
  bool deterministic = true;  // false: never constant-folded (RandomNormal...)
  // true: the outputs depend only on the inputs' types and shapes (Shape,
  // Size), so the node is folded even when its inputs are not constant; its
  // run must not read the input data (it gets nullptr when folding).
  bool shape_only = false;
};

// Registry of every op the engine claims (default ONNX domain). Lookup is by
// op_type; nullptr when unsupported.
const OpDef* find_op(const std::string& op_type);
std::vector<std::string> supported_ops();

// Ops that only the planner's rewrites make, in their own domain: e.g.
// plan/passes/fuse_qdq.cpp turns DequantizeLinear -> Conv -> Relu ->
// QuantizeLinear into one rtml.fused QLinearConv whose output clamp is in
// the attributes act_min / act_max. They share their prepare code with the
// ONNX op of the same name; `rtml ops` does not list them. nullptr when
// there is none.
inline constexpr const char* kFusedDomain = "rtml.fused";
const OpDef* find_fused_op(const std::string& op_type);

// Each family file defines one of these; registry.cpp calls them all.
struct Registry {
  void add(OpDef def);
  std::vector<OpDef> defs;
};
void register_elementwise(Registry& r);  // unary, binary, compare, logical, Where, Cast, Clip, activations
void register_tensor_ops(Registry& r);   // shape, reshape, transpose, concat, split, slice, gather, pad, tile, ...
void register_linear(Registry& r);       // MatMul, Gemm
void register_conv(Registry& r);         // Conv, ConvTranspose, pools, BatchNormalization
void register_normalize(Registry& r);    // Softmax, LogSoftmax, LayerNormalization, reductions
void register_recurrent(Registry& r);    // RNN, GRU, LSTM
void register_random(Registry& r);       // RandomNormal, RandomNormalLike, RandomUniform(Like)
void register_quant(Registry& r);        // (De)QuantizeLinear, DynamicQuantizeLinear, QLinear*, *Integer
void register_pool_fused(Registry& r);
void register_linear_fused(Registry& r);  // kFusedDomain: MatMul with transB (a Transpose folded in)   // kFusedDomain: AveragePool on int8 / uint8
void register_quant_fused(Registry& r);  // kFusedDomain: QLinearConv, QLinearMatMul (bias, clamp), QLinearAdd, QLinearMul
void register_recurrent_fused(Registry& r);  // kFusedDomain: RNN, GRU, LSTM with int8 weights (weight-only)

}  // namespace rtml::ops
