#include "ops/op.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace rtml::ops {

std::shared_ptr<const ir::Buffer> buffer_of(const void* src, size_t bytes) {
  auto buf = std::make_shared<ir::Buffer>(bytes);
  if (bytes) std::memcpy(buf->data(), src, bytes);
  return buf;
}

OpContext::OpContext(const ir::Node& node, int64_t opset, std::vector<TensorInfo> inputs, size_t num_outputs,
                     const std::string& source)
    : node_(node), opset_(opset), inputs_(std::move(inputs)), outputs_(num_outputs), source_(source) {
  while (!inputs_.empty() && inputs_.back().dtype == DType::Undefined) inputs_.pop_back();
}

const TensorInfo& OpContext::input(int i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
  return inputs_[i];
}

std::vector<int64_t> OpContext::const_ints(int i) const {
  const TensorInfo& t = input(i);
  if (!t.data) {
    fail("input " + std::to_string(i) +
         " must be known before the first run (a constant or computed from static shapes); rtml does not "
         "support shapes that depend on run-time data");
  }
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::I64) std::copy_n(t.as<int64_t>(), v.size(), v.begin());
  else if (t.dtype == DType::I32) std::copy_n(t.as<int32_t>(), v.size(), v.begin());
  else fail("input " + std::to_string(i) + " must be int64 or int32, got " + dtype_name(t.dtype));
  return v;
}

std::vector<float> OpContext::const_floats(int i) const {
  const TensorInfo& t = input(i);
  if (!t.data) fail("input " + std::to_string(i) + " must be a constant");
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::F32) std::copy_n(t.as<float>(), v.size(), v.begin());
  else if (t.dtype == DType::F64) std::copy_n(t.as<double>(), v.size(), v.begin());
  else fail("input " + std::to_string(i) + " must be float, got " + dtype_name(t.dtype));
  return v;
}

bool OpContext::has_output(int i) const {
  return i < static_cast<int>(node_.outputs.size()) && node_.outputs[i] != ir::kNoTensor;
}

void OpContext::set_output(int i, DType dtype, Shape shape) {
  if (i >= num_outputs()) fail("has " + std::to_string(num_outputs()) + " outputs, op needs output " + std::to_string(i));
  for (int64_t d : shape)
    if (d < 0) fail("computed a negative output dimension for output " + std::to_string(i) + " (" + shape_str(shape) + ")");
  if (dtype_size(dtype) && has_output(i)) {
    auto bytes = checked_bytes(shape, dtype);
    if (!bytes)
      fail("output " + std::to_string(i) + " would have shape " + shape_str(shape) + " of " + dtype_name(dtype) +
           ", more than 2^62 bytes (its dimensions overflow)");
    try {
      check_memory(static_cast<uint64_t>(*bytes), max_memory_bytes,
                   "output " + std::to_string(i) + " (" + dtype_name(dtype) + " " + shape_str(shape) + ")");
    } catch (const Error& e) {
      fail(e.what());
    }
  }
  outputs_[i].dtype = dtype;
  outputs_[i].shape = std::move(shape);
}

const char* kernel_type_tag(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I8: return "s8";
    case DType::I16: return "s16";
    case DType::I32: return "s32";
    case DType::I64: return "s64";
    case DType::U8: return "u8";
    case DType::U16: return "u16";
    case DType::U32: return "u32";
    case DType::U64: return "u64";
    case DType::Bool: return "b8";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    default: return nullptr;
  }
}

std::string kernel_symbol(DType t, const char* op, const char* impl) {
  const char* tag = kernel_type_tag(t);
  return std::string("rtml_") + (tag ? tag : "?") + "_" + op + "__" + impl;
}

std::string kernel_symbol_x(size_t element_bytes, const char* op, const char* impl) {
  return "rtml_x" + std::to_string(element_bytes * 8) + "_" + op + "__" + impl;
}

void OpContext::set_kernel(const kernels::KernelInfo& k, size_t params_size) {
  const size_t expected = k.params ? k.params->size : 0;
  if (expected != params_size)
    fail(std::string("internal error: kernel ") + k.symbol + " takes " + std::to_string(expected) +
         " bytes of params, prepare filled " + std::to_string(params_size));
  step.run = k.fn;
  step.reset = k.reset;
  step.info = &k;
  step.kernel = k.symbol;
}

int OpContext::add_constant(const char* role, DType dtype, Shape shape, std::shared_ptr<const ir::Buffer> data) {
  const int slot = static_cast<int>(node_.inputs.size() + node_.outputs.size() + step.constants.size());
  step.constants.push_back({role, dtype, std::move(shape), std::move(data)});
  return slot;
}

bool OpContext::has_attr(const std::string& name) const { return node_.attrs.count(name) > 0; }

namespace {
const ir::Attribute* find_attr(const ir::Node& n, const std::string& name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}
}  // namespace

int64_t OpContext::attr_int(const std::string& name, int64_t fallback) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return fallback;
  if (a->kind != ir::Attribute::Kind::Int) fail("attribute '" + name + "' must be an int");
  return a->i;
}

float OpContext::attr_float(const std::string& name, float fallback) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return fallback;
  if (a->kind == ir::Attribute::Kind::Int) return static_cast<float>(a->i);
  if (a->kind != ir::Attribute::Kind::Float) fail("attribute '" + name + "' must be a float");
  return a->f;
}

std::string OpContext::attr_string(const std::string& name, const std::string& fallback) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return fallback;
  if (a->kind != ir::Attribute::Kind::String) fail("attribute '" + name + "' must be a string");
  return a->s;
}

std::vector<int64_t> OpContext::attr_ints(const std::string& name, std::vector<int64_t> fallback) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return fallback;
  if (a->kind == ir::Attribute::Kind::Int) return {a->i};
  if (a->kind != ir::Attribute::Kind::Ints && a->kind != ir::Attribute::Kind::Other)
    fail("attribute '" + name + "' must be a list of ints");
  return a->ints;
}

std::vector<float> OpContext::attr_floats(const std::string& name, std::vector<float> fallback) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return fallback;
  if (a->kind == ir::Attribute::Kind::Float) return {a->f};
  if (a->kind != ir::Attribute::Kind::Floats && a->kind != ir::Attribute::Kind::Other)
    fail("attribute '" + name + "' must be a list of floats");
  return a->floats;
}

std::vector<std::string> OpContext::attr_strings(const std::string& name) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return {};
  if (a->kind != ir::Attribute::Kind::Strings) fail("attribute '" + name + "' must be a list of strings");
  return a->strings;
}

const ir::Tensor* OpContext::attr_tensor(const std::string& name) const {
  const ir::Attribute* a = find_attr(node_, name);
  if (!a) return nullptr;
  if (a->kind != ir::Attribute::Kind::Tensor || !a->tensor) fail("attribute '" + name + "' must be a tensor");
  return a->tensor.get();
}

void OpContext::fail(const std::string& message) const {
  throw Error(source_ + ": node '" + node_.name + "' (" + node_.op_type + "): " + message);
}

int64_t OpContext::add(int64_t a, int64_t b, const char* what) const {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r) || r > kMaxSize || r < -kMaxSize)
    fail(std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) + " is out of range");
  return r;
}

int64_t OpContext::mul(int64_t a, int64_t b, const char* what) const {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxSize || r < -kMaxSize)
    fail(std::string(what) + ": " + std::to_string(a) + " * " + std::to_string(b) + " is out of range");
  return r;
}

void OpContext::expect_inputs(int min, int max) const {
  int n = static_cast<int>(node_.inputs.size());
  if (n < min || n > max) {
    std::string want = min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    fail("expects " + want + " inputs, got " + std::to_string(n));
  }
  for (int i = 0; i < min; ++i)
    if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
}

void OpContext::expect_dtype(int i, std::initializer_list<DType> allowed) const {
  DType t = input(i).dtype;
  for (DType a : allowed)
    if (a == t) return;
  std::string names;
  for (DType a : allowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(a);
  fail("input " + std::to_string(i) + " has type " + dtype_name(t) + "; supported: " + names);
}

int OpContext::axis(int64_t axis, int rank, const char* what) const {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max(rank, 1) || (rank == 0 && a != 0))
    fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(a);
}

void prepare(const OpDef& def, OpContext& ctx) {
  try {
    def.prepare(ctx);
  } catch (const Error& e) {
    const std::string where = ctx.node().name + "' (" + ctx.node().op_type + ")";
    if (std::string(e.what()).find(where) != std::string::npos) throw;
    ctx.fail(e.what());
  }
  for (int i = 0; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i) && ctx.output(i).dtype == DType::Undefined)
      ctx.fail("the node lists " + std::to_string(ctx.node().outputs.size()) + " outputs, but output " +
               std::to_string(i) + " is not one this op produces");
}

void Registry::add(OpDef def) { defs.push_back(def); }

namespace {
const std::map<std::string, OpDef>& registry() {
  static const std::map<std::string, OpDef> table = [] {
    Registry r;
    register_elementwise(r);
    register_tensor_ops(r);
    register_linear(r);
    register_conv(r);
    register_normalize(r);
    register_recurrent(r);
    register_random(r);
    register_quant(r);
    std::map<std::string, OpDef> m;
    for (const OpDef& d : r.defs) m.emplace(d.name, d);
    return m;
  }();
  return table;
}
}  // namespace

const OpDef* find_op(const std::string& op_type) {
  const auto& t = registry();
  auto it = t.find(op_type);
  return it == t.end() ? nullptr : &it->second;
}

const OpDef* find_fused_op(const std::string& op_type) {
  static const std::map<std::string, OpDef> table = [] {
    Registry r;
    register_quant_fused(r);
    register_pool_fused(r);
    register_linear_fused(r);
    register_recurrent_fused(r);
    std::map<std::string, OpDef> m;
    for (const OpDef& d : r.defs) m.emplace(d.name, d);
    return m;
  }();
  auto it = table.find(op_type);
  return it == table.end() ? nullptr : &it->second;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> names;
  for (const auto& [name, def] : registry()) names.push_back(name);
  return names;
}

}  // namespace rtml::ops
