// Elementwise ops: unary math and activations, binary arithmetic, comparison
// and logic with NumPy broadcasting, variadic Sum/Max/Min/Mean, Where, Cast,
// CastLike and Clip. Every prepare picks the kernel table entry for its
// element types (kernels/elementwise.h: rtml_<t>_<op>__ref; the table says
// which (op, type) pairs exist; with the simd kernel set the float32 ones of
// kernels/fast_elementwise.h where they exist) and precomputes the broadcast walk.
#include <string>
#include <vector>

#include "kernels/broadcast_plan.h"
#include "kernels/elementwise.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

namespace k = rtml::kernels;

constexpr DType kAllTypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8,  DType::I16, DType::I32,
                               DType::I64, DType::U8,  DType::U16, DType::U32,  DType::U64, DType::Bool};

// "float, double" — the types for which `supported(t)` holds.
template <class F>
std::string type_list(F&& supported) {
  std::string s;
  for (DType t : kAllTypes)
    if (supported(t)) s += std::string(s.empty() ? "" : ", ") + dtype_name(t);
  return s.empty() ? "none" : s;
}

[[noreturn]] void fail_type(const OpContext& c, int input, DType t, const std::string& supported) {
  c.fail("input " + std::to_string(input) + " has type " + dtype_name(t) + ", which " + c.node().op_type +
         " does not support (supported: " + supported + ")");
}

// "rtml_<t>_<op>__ref"; "" when t has no tag.
std::string symbol(DType t, const std::string& op) {
  return kernel_type_tag(t) ? kernel_symbol(t, op.c_str()) : std::string();
}
bool has_kernel(DType t, const std::string& op) { return k::find_kernel(symbol(t, op)) != nullptr; }

// Picks rtml_<t>_<op>__ref for the step, or with the simd kernel set its
// Highway version rtml_f32_<op>__hwy where there is one (kernels/fast_elementwise.h:
// same params and operands); fails naming the types `op` has entries for
// when t is not one of them.
template <class P>
P& use(OpContext& c, DType t, const std::string& op) {
  if (!has_kernel(t, op)) fail_type(c, 0, t, type_list([&](DType d) { return has_kernel(d, op); }));
  const std::string fast = "rtml_f32_" + op + "__hwy";
  if (c.simd() && t == DType::F32 && k::find_kernel(fast)) return c.use_kernel<P>(fast.c_str());
  return c.use_kernel<P>(symbol(t, op).c_str());
}

Shape broadcast_or_fail(const OpContext& c, const std::vector<Shape>& shapes) {
  Shape out;
  if (!k::broadcast_shape(shapes, out)) {
    std::string list;
    for (const Shape& s : shapes) list += std::string(list.empty() ? "" : ", ") + shape_str(s);
    c.fail("input shapes " + list + " cannot be broadcast together");
  }
  return out;
}

k::Broadcast make_broadcast_or_fail(const OpContext& c, const std::vector<Shape>& shapes, const Shape& out) {
  k::Broadcast b;
  if (!k::make_broadcast(shapes, out, b))
    c.fail("output " + shape_str(out) + " needs more than " + std::to_string(kMaxRank) +
           " dimensions after merging; not supported");
  return b;
}

// ---- unary ---------------------------------------------------------------------

void unary(OpContext& c, const char* op, float alpha = 0, float beta = 0, float gamma = 0) {
  c.expect_inputs(1, 1);
  const TensorInfo& x = c.input(0);
  auto& p = use<rtml_unary_params>(c, x.dtype, op);
  p.count = x.numel();
  p.alpha = alpha;
  p.beta = beta;
  p.gamma = gamma;
  const bool to_bool = std::string(op) == "isnan" || std::string(op) == "isinf";
  c.set_output(0, to_bool ? DType::Bool : x.dtype, x.shape);
  c.step.flops = static_cast<double>(p.count);
}

void Neg(OpContext& c) { unary(c, "neg"); }
void Abs(OpContext& c) { unary(c, "abs"); }
void Sign(OpContext& c) { unary(c, "sign"); }
void Relu(OpContext& c) { unary(c, "relu"); }
void Sqrt(OpContext& c) { unary(c, "sqrt"); }
void Exp(OpContext& c) { unary(c, "exp"); }
void Log(OpContext& c) { unary(c, "log"); }
void Sin(OpContext& c) { unary(c, "sin"); }
void Cos(OpContext& c) { unary(c, "cos"); }
void Tan(OpContext& c) { unary(c, "tan"); }
void Asin(OpContext& c) { unary(c, "asin"); }
void Acos(OpContext& c) { unary(c, "acos"); }
void Atan(OpContext& c) { unary(c, "atan"); }
void Sinh(OpContext& c) { unary(c, "sinh"); }
void Cosh(OpContext& c) { unary(c, "cosh"); }
void Asinh(OpContext& c) { unary(c, "asinh"); }
void Acosh(OpContext& c) { unary(c, "acosh"); }
void Atanh(OpContext& c) { unary(c, "atanh"); }
void Tanh(OpContext& c) { unary(c, "tanh"); }
void Erf(OpContext& c) { unary(c, "erf"); }
void Sigmoid(OpContext& c) { unary(c, "sigmoid"); }
void Reciprocal(OpContext& c) { unary(c, "reciprocal"); }
void Floor(OpContext& c) { unary(c, "floor"); }
void Ceil(OpContext& c) { unary(c, "ceil"); }
void Round(OpContext& c) { unary(c, "round"); }
void Softplus(OpContext& c) { unary(c, "softplus"); }
void Softsign(OpContext& c) { unary(c, "softsign"); }
void Mish(OpContext& c) { unary(c, "mish"); }
void IsNaN(OpContext& c) { unary(c, "isnan"); }
void Not(OpContext& c) { unary(c, "logical_not"); }
void HardSwish(OpContext& c) { unary(c, "hard_swish"); }

void IsInf(OpContext& c) {
  unary(c, "isinf", c.attr_int("detect_negative", 1) != 0 ? 1.f : 0.f,
        c.attr_int("detect_positive", 1) != 0 ? 1.f : 0.f);
}
void LeakyRelu(OpContext& c) { unary(c, "leaky_relu", c.attr_float("alpha", 0.01f)); }
void Elu(OpContext& c) { unary(c, "elu", c.attr_float("alpha", 1.0f)); }
void Selu(OpContext& c) {
  unary(c, "selu", c.attr_float("alpha", 1.67326319217681884765625f), 0,
        c.attr_float("gamma", 1.05070102519989013671875f));
}
void Celu(OpContext& c) {
  float alpha = c.attr_float("alpha", 1.0f);
  if (alpha == 0) c.fail("attribute alpha must be nonzero");
  unary(c, "celu", alpha);
}
void ThresholdedRelu(OpContext& c) {
  unary(c, "thresholded_relu", c.attr_float("alpha", 1.0f));
}
// Gelu (opset 20): approximate "none" (erf) or "tanh".
void Gelu(OpContext& c) {
  const std::string approximate = c.attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    c.fail("attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  unary(c, approximate == "tanh" ? "gelu_tanh" : "gelu");
}
void HardSigmoid(OpContext& c) {
  unary(c, "hard_sigmoid", c.attr_float("alpha", 0.2f), c.attr_float("beta", 0.5f));
}

// ---- binary --------------------------------------------------------------------

// Opset < 7 binary ops broadcast only with broadcast=1, aligning B at `axis`
// of A (default: trailing). Returns B's shape padded for NumPy rules.
Shape legacy_b_shape(const OpContext& c, const Shape& a, const Shape& b) {
  if (c.opset() >= 7 || c.attr_int("broadcast", 0) == 0 || !c.has_attr("axis")) return b;
  const int ra = static_cast<int>(a.size()), rb = static_cast<int>(b.size());
  int axis = c.axis(c.attr_int("axis", 0), ra);
  if (axis + rb > ra) c.fail("input 1 of shape " + shape_str(b) + " does not fit into input 0 at axis " + std::to_string(axis));
  Shape s = b;
  s.resize(static_cast<size_t>(ra - axis), 1);
  return s;
}

// `to_bool`: compare and logical ops, whose output is bool.
void binary(OpContext& c, const char* op, bool to_bool = false) {
  c.expect_inputs(2, 2);
  const TensorInfo& a = c.input(0);
  const TensorInfo& b = c.input(1);
  const bool pow = std::string(op) == "pow";
  if (!pow && a.dtype != b.dtype)
    c.fail(std::string("inputs have different types (") + dtype_name(a.dtype) + " and " + dtype_name(b.dtype) +
           "); they must match");
  // Pow's entries name the exponent's type too: rtml_<base>_pow_<exponent>__ref.
  auto pow_with = [](DType e) { return std::string("pow_") + (kernel_type_tag(e) ? kernel_type_tag(e) : "?"); };
  if (pow && !has_kernel(a.dtype, pow_with(b.dtype)) && has_kernel(a.dtype, pow_with(a.dtype)))
    fail_type(c, 1, b.dtype, type_list([&](DType t) { return has_kernel(a.dtype, pow_with(t)); }));
  const std::string entry = pow ? pow_with(b.dtype) : op;
  if (pow && !has_kernel(a.dtype, entry))
    fail_type(c, 0, a.dtype, type_list([&](DType t) { return has_kernel(t, pow_with(t)); }));
  const Shape bs = legacy_b_shape(c, a.shape, b.shape);
  const Shape out = broadcast_or_fail(c, {a.shape, bs});
  auto& p = use<rtml_broadcast_params>(c, a.dtype, entry);
  p.bc = make_broadcast_or_fail(c, {a.shape, bs}, out);
  c.set_output(0, to_bool ? DType::Bool : a.dtype, out);
  c.step.flops = static_cast<double>(p.bc.count);
}

void Add(OpContext& c) { binary(c, "add"); }
void Sub(OpContext& c) { binary(c, "sub"); }
void Mul(OpContext& c) { binary(c, "mul"); }
void Div(OpContext& c) { binary(c, "div"); }
void Pow(OpContext& c) { binary(c, "pow"); }
void Equal(OpContext& c) { binary(c, "equal", true); }
void Less(OpContext& c) { binary(c, "less", true); }
void Greater(OpContext& c) { binary(c, "greater", true); }
void LessOrEqual(OpContext& c) { binary(c, "less_or_equal", true); }
void GreaterOrEqual(OpContext& c) { binary(c, "greater_or_equal", true); }
void And(OpContext& c) { binary(c, "logical_and", true); }
void Or(OpContext& c) { binary(c, "logical_or", true); }
void Xor(OpContext& c) { binary(c, "logical_xor", true); }

void Mod(OpContext& c) {
  const int64_t fmod = c.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) c.fail("attribute fmod must be 0 or 1, got " + std::to_string(fmod));
  binary(c, fmod ? "fmod" : "mod");
}

void BitShift(OpContext& c) {
  const std::string dir = c.attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") c.fail("attribute direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
  binary(c, dir == "LEFT" ? "bitshift_left" : "bitshift_right");
}

// PRelu: slope broadcasts to X (unidirectionally). Older exporters also give
// a per-channel slope of shape [C] for X of shape [N, C, ...].
void PRelu(OpContext& c) {
  c.expect_inputs(2, 2);
  const TensorInfo& x = c.input(0);
  const TensorInfo& s = c.input(1);
  if (x.dtype != s.dtype)
    c.fail(std::string("slope has type ") + dtype_name(s.dtype) + ", X has " + dtype_name(x.dtype) + "; they must match");
  Shape slope = s.shape;
  Shape out;
  bool ok = k::broadcast_shape({x.shape, slope}, out) && out == x.shape;
  if (!ok && slope.size() == 1 && x.rank() >= 2 && slope[0] == x.shape[1]) {
    slope.resize(static_cast<size_t>(x.rank() - 1), 1);  // [C] -> [C, 1, ...]
    ok = k::broadcast_shape({x.shape, slope}, out) && out == x.shape;
  }
  if (!ok) c.fail("slope of shape " + shape_str(s.shape) + " does not broadcast to X of shape " + shape_str(x.shape));
  auto& p = use<rtml_broadcast_params>(c, x.dtype, "prelu");
  p.bc = make_broadcast_or_fail(c, {x.shape, slope}, x.shape);
  c.set_output(0, x.dtype, x.shape);
  c.step.flops = static_cast<double>(p.bc.count);
}

// ---- variadic ------------------------------------------------------------------

void variadic(OpContext& c, const char* op) {
  const int n = static_cast<int>(c.node().inputs.size());
  if (n < 1) c.fail("expects at least 1 input");
  if (n > RTML_MAX_VARIADIC_INPUTS)
    c.fail("has " + std::to_string(n) + " inputs; at most " + std::to_string(RTML_MAX_VARIADIC_INPUTS) +
           " are supported");
  const DType t = c.input(0).dtype;
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    const TensorInfo& in = c.input(i);
    if (in.dtype != t)
      c.fail("input " + std::to_string(i) + " has type " + dtype_name(in.dtype) + ", input 0 has " + dtype_name(t) +
             "; they must match");
    shapes.push_back(in.shape);
  }
  const Shape out = broadcast_or_fail(c, shapes);
  auto& p = use<rtml_variadic_params>(c, t, op);
  p.n = n;
  p.count = shape_numel(out);
  if (n > 1) {
    p.bc[0] = make_broadcast_or_fail(c, {shapes[0], shapes[1]}, out);
    for (int i = 2; i < n; ++i) p.bc[i - 1] = make_broadcast_or_fail(c, {out, shapes[i]}, out);
  }
  const bool mean = std::string(op) == "mean";
  c.set_output(0, t, out);
  c.step.flops = static_cast<double>(p.count) * (n > 1 ? n - 1 : 1) + (mean ? static_cast<double>(p.count) : 0);
}

void Sum(OpContext& c) { variadic(c, "sum"); }
void Mean(OpContext& c) { variadic(c, "mean"); }
void Max(OpContext& c) { variadic(c, "max"); }
void Min(OpContext& c) { variadic(c, "min"); }

// ---- Where ---------------------------------------------------------------------

void Where(OpContext& c) {
  c.expect_inputs(3, 3);
  c.expect_dtype(0, {DType::Bool});
  const TensorInfo& x = c.input(1);
  const TensorInfo& y = c.input(2);
  if (x.dtype != y.dtype)
    c.fail(std::string("X has type ") + dtype_name(x.dtype) + " and Y has " + dtype_name(y.dtype) + "; they must match");
  const size_t size = dtype_size(x.dtype);
  if (size != 1 && size != 2 && size != 4 && size != 8) fail_type(c, 1, x.dtype, "any numeric type or bool");
  const std::vector<Shape> shapes = {c.input(0).shape, x.shape, y.shape};
  const Shape out = broadcast_or_fail(c, shapes);
  const std::string where = "rtml_x" + std::to_string(size * 8) + "_where__";
  auto& p = c.use_kernel<rtml_broadcast_params>((where + (c.simd() && size == 4 ? "hwy" : "ref")).c_str());
  p.bc = make_broadcast_or_fail(c, shapes, out);
  c.set_output(0, x.dtype, out);
  c.step.flops = static_cast<double>(p.bc.count);
}

// ---- Cast ----------------------------------------------------------------------

void cast_to(OpContext& c, DType to, bool like) {
  const TensorInfo& x = c.input(0);
  // rtml_<from>_cast_<to>__ref
  const std::string op = std::string("cast_") + (kernel_type_tag(to) ? kernel_type_tag(to) : "?");
  if (!has_kernel(x.dtype, op))
    c.fail(std::string("cannot cast ") + dtype_name(x.dtype) + " to " + dtype_name(to) +
           " (supported: numeric types, bool, float16, bfloat16)");
  auto& p = c.use_kernel<rtml_cast_params>(symbol(x.dtype, op).c_str());
  p.count = x.numel();
  p.out_slot = like ? 2 : 1;
  c.set_output(0, to, x.shape);
  c.step.flops = static_cast<double>(p.count);
  c.step.output_aliases_input = !like && x.dtype == to;
}

void Cast(OpContext& c) {
  c.expect_inputs(1, 1);
  if (!c.has_attr("to")) c.fail("attribute 'to' is required");
  const int64_t to = c.attr_int("to", 0);
  const DType t = static_cast<DType>(to);
  if (to <= 0 || to > 64 || dtype_size(t) == 0)
    c.fail("attribute 'to' = " + std::to_string(to) + " (" + dtype_name(t) + ") is not a type rtml supports");
  cast_to(c, t, false);
}

void CastLike(OpContext& c) {
  c.expect_inputs(2, 2);
  cast_to(c, c.input(1).dtype, true);
}

// ---- Clip ----------------------------------------------------------------------

void Clip(OpContext& c) {
  const bool attrs = c.opset() < 11;
  c.expect_inputs(1, attrs ? 1 : 3);
  const TensorInfo& x = c.input(0);
  auto& p = use<rtml_clip_params>(c, x.dtype, "clip");
  for (int i = 1; i <= 2; ++i) {
    if (!c.has_input(i)) continue;
    const TensorInfo& b = c.input(i);
    const char* what = i == 1 ? "min" : "max";
    if (b.dtype != x.dtype)
      c.fail(std::string(what) + " has type " + dtype_name(b.dtype) + ", input has " + dtype_name(x.dtype) +
             "; they must match");
    if (b.numel() != 1) c.fail(std::string(what) + " must be a scalar, got shape " + shape_str(b.shape));
  }
  p.count = x.numel();
  p.num_inputs = static_cast<int32_t>(c.node().inputs.size());
  if (attrs) {
    p.has_min = c.has_attr("min");
    p.has_max = c.has_attr("max");
    p.min = c.attr_float("min", 0);
    p.max = c.attr_float("max", 0);
  }
  c.set_output(0, x.dtype, x.shape);
  c.step.flops = static_cast<double>(p.count);
}

}  // namespace

void register_elementwise(Registry& r) {
  // unary math
  for (OpDef d : {OpDef{"Neg", Neg}, OpDef{"Abs", Abs}, OpDef{"Sign", Sign}, OpDef{"Sqrt", Sqrt}, OpDef{"Exp", Exp},
                  OpDef{"Log", Log}, OpDef{"Sin", Sin}, OpDef{"Cos", Cos}, OpDef{"Tan", Tan}, OpDef{"Asin", Asin},
                  OpDef{"Acos", Acos}, OpDef{"Atan", Atan}, OpDef{"Sinh", Sinh}, OpDef{"Cosh", Cosh},
                  OpDef{"Asinh", Asinh}, OpDef{"Acosh", Acosh}, OpDef{"Atanh", Atanh}, OpDef{"Tanh", Tanh},
                  OpDef{"Erf", Erf}, OpDef{"Sigmoid", Sigmoid}, OpDef{"Reciprocal", Reciprocal},
                  OpDef{"Floor", Floor}, OpDef{"Ceil", Ceil}, OpDef{"Round", Round}, OpDef{"IsNaN", IsNaN},
                  OpDef{"IsInf", IsInf}, OpDef{"Not", Not}})
    r.add(d);
  // activations
  for (OpDef d : {OpDef{"Relu", Relu}, OpDef{"LeakyRelu", LeakyRelu}, OpDef{"Elu", Elu}, OpDef{"Selu", Selu},
                  OpDef{"Celu", Celu}, OpDef{"PRelu", PRelu}, OpDef{"ThresholdedRelu", ThresholdedRelu},
                  OpDef{"HardSigmoid", HardSigmoid}, OpDef{"HardSwish", HardSwish}, OpDef{"Softplus", Softplus},
                  OpDef{"Softsign", Softsign}, OpDef{"Mish", Mish}, OpDef{"Gelu", Gelu}})
    r.add(d);
  // binary and variadic
  for (OpDef d : {OpDef{"Add", Add}, OpDef{"Sub", Sub}, OpDef{"Mul", Mul}, OpDef{"Div", Div}, OpDef{"Pow", Pow},
                  OpDef{"Mod", Mod}, OpDef{"BitShift", BitShift}, OpDef{"Equal", Equal}, OpDef{"Less", Less},
                  OpDef{"Greater", Greater}, OpDef{"LessOrEqual", LessOrEqual},
                  OpDef{"GreaterOrEqual", GreaterOrEqual}, OpDef{"And", And}, OpDef{"Or", Or}, OpDef{"Xor", Xor},
                  OpDef{"Sum", Sum}, OpDef{"Mean", Mean}, OpDef{"Max", Max}, OpDef{"Min", Min}})
    r.add(d);
  // selection and conversion
  for (OpDef d : {OpDef{"Where", Where}, OpDef{"Cast", Cast}, OpDef{"CastLike", CastLike}, OpDef{"Clip", Clip}})
    r.add(d);
}

}  // namespace rtml::ops
