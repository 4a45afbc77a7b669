// Elementwise ops: unary math and activations, binary arithmetic, comparison
// and logic with NumPy broadcasting, variadic Sum/Max/Min/Mean, Where, Cast,
// CastLike and Clip. Every prepare picks a kernel instantiation for the
// element type (kernels/elementwise.h) and precomputes the broadcast walk.
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kernels/broadcast.h"
#include "kernels/elementwise.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

namespace k = rtml::kernels;
using k::BinaryOp;
using k::UnaryOp;

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

// A static name for profiles such as "add_float" or "cast_float_to_int64".
// Names are interned once at prepare time (never on the run path).
const char* kernel_name(const std::string& name) {
  static std::mutex mu;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(name).first->c_str();
}
const char* kernel_name(const char* op, DType t) { return kernel_name(std::string(op) + "_" + dtype_name(t)); }

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

int run_unary(const void* p, void* const* o) {
  k::unary(*static_cast<const k::UnaryParams*>(p), o[0], o[1]);
  return 0;
}

void unary(OpContext& c, UnaryOp op, const char* kernel, float alpha = 0, float beta = 0, float gamma = 0) {
  c.expect_inputs(1, 1);
  const TensorInfo& x = c.input(0);
  k::UnaryFn fn = k::find_unary(op, x.dtype);
  if (!fn) fail_type(c, 0, x.dtype, type_list([&](DType t) { return k::find_unary(op, t) != nullptr; }));
  auto& p = make_params<k::UnaryParams>(c.step);
  p.fn = fn;
  p.count = x.numel();
  p.alpha = alpha;
  p.beta = beta;
  p.gamma = gamma;
  const bool to_bool = op == UnaryOp::IsNaN || op == UnaryOp::IsInf;
  c.set_output(0, to_bool ? DType::Bool : x.dtype, x.shape);
  c.step.run = run_unary;
  c.step.kernel = kernel_name(kernel, x.dtype);
  c.step.flops = static_cast<double>(p.count);
}

void Neg(OpContext& c) { unary(c, UnaryOp::Neg, "neg"); }
void Abs(OpContext& c) { unary(c, UnaryOp::Abs, "abs"); }
void Sign(OpContext& c) { unary(c, UnaryOp::Sign, "sign"); }
void Relu(OpContext& c) { unary(c, UnaryOp::Relu, "relu"); }
void Sqrt(OpContext& c) { unary(c, UnaryOp::Sqrt, "sqrt"); }
void Exp(OpContext& c) { unary(c, UnaryOp::Exp, "exp"); }
void Log(OpContext& c) { unary(c, UnaryOp::Log, "log"); }
void Sin(OpContext& c) { unary(c, UnaryOp::Sin, "sin"); }
void Cos(OpContext& c) { unary(c, UnaryOp::Cos, "cos"); }
void Tan(OpContext& c) { unary(c, UnaryOp::Tan, "tan"); }
void Asin(OpContext& c) { unary(c, UnaryOp::Asin, "asin"); }
void Acos(OpContext& c) { unary(c, UnaryOp::Acos, "acos"); }
void Atan(OpContext& c) { unary(c, UnaryOp::Atan, "atan"); }
void Sinh(OpContext& c) { unary(c, UnaryOp::Sinh, "sinh"); }
void Cosh(OpContext& c) { unary(c, UnaryOp::Cosh, "cosh"); }
void Asinh(OpContext& c) { unary(c, UnaryOp::Asinh, "asinh"); }
void Acosh(OpContext& c) { unary(c, UnaryOp::Acosh, "acosh"); }
void Atanh(OpContext& c) { unary(c, UnaryOp::Atanh, "atanh"); }
void Tanh(OpContext& c) { unary(c, UnaryOp::Tanh, "tanh"); }
void Erf(OpContext& c) { unary(c, UnaryOp::Erf, "erf"); }
void Sigmoid(OpContext& c) { unary(c, UnaryOp::Sigmoid, "sigmoid"); }
void Reciprocal(OpContext& c) { unary(c, UnaryOp::Reciprocal, "reciprocal"); }
void Floor(OpContext& c) { unary(c, UnaryOp::Floor, "floor"); }
void Ceil(OpContext& c) { unary(c, UnaryOp::Ceil, "ceil"); }
void Round(OpContext& c) { unary(c, UnaryOp::Round, "round_half_even"); }
void Softplus(OpContext& c) { unary(c, UnaryOp::Softplus, "softplus"); }
void Softsign(OpContext& c) { unary(c, UnaryOp::Softsign, "softsign"); }
void Mish(OpContext& c) { unary(c, UnaryOp::Mish, "mish"); }
void IsNaN(OpContext& c) { unary(c, UnaryOp::IsNaN, "isnan"); }
void Not(OpContext& c) { unary(c, UnaryOp::Not, "not"); }
void HardSwish(OpContext& c) { unary(c, UnaryOp::HardSwish, "hardswish"); }

void IsInf(OpContext& c) {
  unary(c, UnaryOp::IsInf, "isinf", c.attr_int("detect_negative", 1) != 0 ? 1.f : 0.f,
        c.attr_int("detect_positive", 1) != 0 ? 1.f : 0.f);
}
void LeakyRelu(OpContext& c) { unary(c, UnaryOp::LeakyRelu, "leaky_relu", c.attr_float("alpha", 0.01f)); }
void Elu(OpContext& c) { unary(c, UnaryOp::Elu, "elu", c.attr_float("alpha", 1.0f)); }
void Selu(OpContext& c) {
  unary(c, UnaryOp::Selu, "selu", c.attr_float("alpha", 1.67326319217681884765625f), 0,
        c.attr_float("gamma", 1.05070102519989013671875f));
}
void Celu(OpContext& c) {
  float alpha = c.attr_float("alpha", 1.0f);
  if (alpha == 0) c.fail("attribute alpha must be nonzero");
  unary(c, UnaryOp::Celu, "celu", alpha);
}
void ThresholdedRelu(OpContext& c) {
  unary(c, UnaryOp::ThresholdedRelu, "thresholded_relu", c.attr_float("alpha", 1.0f));
}
void HardSigmoid(OpContext& c) {
  unary(c, UnaryOp::HardSigmoid, "hard_sigmoid", c.attr_float("alpha", 0.2f), c.attr_float("beta", 0.5f));
}

// ---- binary --------------------------------------------------------------------

int run_binary(const void* p, void* const* o) {
  k::binary(*static_cast<const k::BinaryParams*>(p), o[0], o[1], o[2]);
  return 0;
}

bool binary_to_bool(BinaryOp op) { return op >= BinaryOp::Equal && op <= BinaryOp::Xor; }

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

void binary(OpContext& c, BinaryOp op, const char* kernel) {
  c.expect_inputs(2, 2);
  const TensorInfo& a = c.input(0);
  const TensorInfo& b = c.input(1);
  if (op != BinaryOp::Pow && a.dtype != b.dtype)
    c.fail(std::string("inputs have different types (") + dtype_name(a.dtype) + " and " + dtype_name(b.dtype) +
           "); they must match");
  k::BinaryFn fn = k::find_binary(op, a.dtype, b.dtype);
  if (!fn) {
    if (op == BinaryOp::Pow && k::find_binary(op, a.dtype, a.dtype))
      fail_type(c, 1, b.dtype, type_list([&](DType t) { return k::find_binary(op, a.dtype, t) != nullptr; }));
    fail_type(c, 0, a.dtype, type_list([&](DType t) { return k::find_binary(op, t, t) != nullptr; }));
  }
  const Shape bs = legacy_b_shape(c, a.shape, b.shape);
  const Shape out = broadcast_or_fail(c, {a.shape, bs});
  auto& p = make_params<k::BinaryParams>(c.step);
  p.fn = fn;
  p.bc = make_broadcast_or_fail(c, {a.shape, bs}, out);
  c.set_output(0, binary_to_bool(op) ? DType::Bool : a.dtype, out);
  c.step.run = run_binary;
  c.step.kernel = kernel_name(kernel, a.dtype);
  c.step.flops = static_cast<double>(p.bc.count);
}

void Add(OpContext& c) { binary(c, BinaryOp::Add, "add"); }
void Sub(OpContext& c) { binary(c, BinaryOp::Sub, "sub"); }
void Mul(OpContext& c) { binary(c, BinaryOp::Mul, "mul"); }
void Div(OpContext& c) { binary(c, BinaryOp::Div, "div"); }
void Pow(OpContext& c) { binary(c, BinaryOp::Pow, "pow"); }
void Equal(OpContext& c) { binary(c, BinaryOp::Equal, "equal"); }
void Less(OpContext& c) { binary(c, BinaryOp::Less, "less"); }
void Greater(OpContext& c) { binary(c, BinaryOp::Greater, "greater"); }
void LessOrEqual(OpContext& c) { binary(c, BinaryOp::LessOrEqual, "less_or_equal"); }
void GreaterOrEqual(OpContext& c) { binary(c, BinaryOp::GreaterOrEqual, "greater_or_equal"); }
void And(OpContext& c) { binary(c, BinaryOp::And, "and"); }
void Or(OpContext& c) { binary(c, BinaryOp::Or, "or"); }
void Xor(OpContext& c) { binary(c, BinaryOp::Xor, "xor"); }

void Mod(OpContext& c) {
  const int64_t fmod = c.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) c.fail("attribute fmod must be 0 or 1, got " + std::to_string(fmod));
  binary(c, fmod ? BinaryOp::FMod : BinaryOp::Mod, fmod ? "fmod" : "mod");
}

void BitShift(OpContext& c) {
  const std::string dir = c.attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") c.fail("attribute direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
  binary(c, dir == "LEFT" ? BinaryOp::BitShiftLeft : BinaryOp::BitShiftRight,
         dir == "LEFT" ? "bitshift_left" : "bitshift_right");
}

// PRelu: slope broadcasts to X (unidirectionally). Older exporters also give
// a per-channel slope of shape [C] for X of shape [N, C, ...].
void PRelu(OpContext& c) {
  c.expect_inputs(2, 2);
  const TensorInfo& x = c.input(0);
  const TensorInfo& s = c.input(1);
  if (x.dtype != s.dtype)
    c.fail(std::string("slope has type ") + dtype_name(s.dtype) + ", X has " + dtype_name(x.dtype) + "; they must match");
  k::BinaryFn fn = k::find_binary(BinaryOp::PRelu, x.dtype, s.dtype);
  if (!fn) fail_type(c, 0, x.dtype, type_list([](DType t) { return k::find_binary(BinaryOp::PRelu, t, t) != nullptr; }));
  Shape slope = s.shape;
  Shape out;
  bool ok = k::broadcast_shape({x.shape, slope}, out) && out == x.shape;
  if (!ok && slope.size() == 1 && x.rank() >= 2 && slope[0] == x.shape[1]) {
    slope.resize(static_cast<size_t>(x.rank() - 1), 1);  // [C] -> [C, 1, ...]
    ok = k::broadcast_shape({x.shape, slope}, out) && out == x.shape;
  }
  if (!ok) c.fail("slope of shape " + shape_str(s.shape) + " does not broadcast to X of shape " + shape_str(x.shape));
  auto& p = make_params<k::BinaryParams>(c.step);
  p.fn = fn;
  p.bc = make_broadcast_or_fail(c, {x.shape, slope}, x.shape);
  c.set_output(0, x.dtype, x.shape);
  c.step.run = run_binary;
  c.step.kernel = kernel_name("prelu", x.dtype);
  c.step.flops = static_cast<double>(p.bc.count);
}

// ---- variadic ------------------------------------------------------------------

int run_variadic(const void* p, void* const* o) {
  const auto& q = *static_cast<const k::VariadicParams*>(p);
  k::variadic(q, o, o[q.n]);
  return 0;
}

void variadic(OpContext& c, BinaryOp op, bool mean, const char* kernel) {
  const int n = static_cast<int>(c.node().inputs.size());
  if (n < 1) c.fail("expects at least 1 input");
  if (n > k::kMaxVariadicInputs)
    c.fail("has " + std::to_string(n) + " inputs; at most " + std::to_string(k::kMaxVariadicInputs) + " are supported");
  const DType t = c.input(0).dtype;
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    const TensorInfo& in = c.input(i);
    if (in.dtype != t)
      c.fail("input " + std::to_string(i) + " has type " + dtype_name(in.dtype) + ", input 0 has " + dtype_name(t) +
             "; they must match");
    shapes.push_back(in.shape);
  }
  auto supported = [&](DType d) {
    return k::find_binary(op, d, d) != nullptr && (!mean || k::find_unary(UnaryOp::DivideBy, d) != nullptr);
  };
  if (!supported(t)) fail_type(c, 0, t, type_list(supported));
  const Shape out = broadcast_or_fail(c, shapes);
  auto& p = make_params<k::VariadicParams>(c.step);
  p.n = n;
  p.fn = k::find_binary(op, t, t);
  const int64_t count = shape_numel(out);
  if (n == 1) {
    p.copy.fn = k::find_unary(UnaryOp::Identity, t);
    p.copy.count = count;
  } else {
    p.bc[0] = make_broadcast_or_fail(c, {shapes[0], shapes[1]}, out);
    for (int i = 2; i < n; ++i) p.bc[i - 1] = make_broadcast_or_fail(c, {out, shapes[i]}, out);
  }
  if (mean) {
    p.post.fn = k::find_unary(UnaryOp::DivideBy, t);
    p.post.count = count;
    p.post.alpha = static_cast<float>(n);
  }
  c.set_output(0, t, out);
  c.step.run = run_variadic;
  c.step.kernel = kernel_name(kernel, t);
  c.step.flops = static_cast<double>(count) * (n > 1 ? n - 1 : 1) + (mean ? static_cast<double>(count) : 0);
}

void Sum(OpContext& c) { variadic(c, BinaryOp::Add, false, "sum"); }
void Mean(OpContext& c) { variadic(c, BinaryOp::Add, true, "mean"); }
void Max(OpContext& c) { variadic(c, BinaryOp::Max, false, "max"); }
void Min(OpContext& c) { variadic(c, BinaryOp::Min, false, "min"); }

// ---- Where ---------------------------------------------------------------------

int run_where(const void* p, void* const* o) {
  k::where(*static_cast<const k::WhereParams*>(p), o[0], o[1], o[2], o[3]);
  return 0;
}

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
  auto& p = make_params<k::WhereParams>(c.step);
  p.elem_size = static_cast<int>(size);
  p.bc = make_broadcast_or_fail(c, shapes, out);
  c.set_output(0, x.dtype, out);
  c.step.run = run_where;
  c.step.kernel = kernel_name("where", x.dtype);
  c.step.flops = static_cast<double>(p.bc.count);
}

// ---- Cast ----------------------------------------------------------------------

int run_cast(const void* p, void* const* o) {
  k::cast(*static_cast<const k::CastParams*>(p), o[0], o[1]);
  return 0;
}
int run_castlike(const void* p, void* const* o) {
  k::cast(*static_cast<const k::CastParams*>(p), o[0], o[2]);
  return 0;
}

void cast_to(OpContext& c, DType to, bool like) {
  const TensorInfo& x = c.input(0);
  k::CastFn fn = k::find_cast(x.dtype, to);
  if (!fn)
    c.fail(std::string("cannot cast ") + dtype_name(x.dtype) + " to " + dtype_name(to) +
           " (supported: numeric types, bool, float16, bfloat16)");
  auto& p = make_params<k::CastParams>(c.step);
  p.fn = fn;
  p.count = x.numel();
  c.set_output(0, to, x.shape);
  c.step.run = like ? run_castlike : run_cast;
  c.step.kernel = kernel_name(std::string("cast_") + dtype_name(x.dtype) + "_to_" + dtype_name(to));
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

struct ClipStep {
  k::ClipParams k;
  int num_inputs = 1;  // node input slots: the output operand follows them
};

int run_clip(const void* p, void* const* o) {
  const auto& q = *static_cast<const ClipStep*>(p);
  k::clip(q.k, o[0], q.num_inputs > 1 ? o[1] : nullptr, q.num_inputs > 2 ? o[2] : nullptr, o[q.num_inputs]);
  return 0;
}

void Clip(OpContext& c) {
  const bool attrs = c.opset() < 11;
  c.expect_inputs(1, attrs ? 1 : 3);
  const TensorInfo& x = c.input(0);
  k::ClipFn fn = k::find_clip(x.dtype);
  if (!fn) fail_type(c, 0, x.dtype, type_list([](DType t) { return k::find_clip(t) != nullptr; }));
  for (int i = 1; i <= 2; ++i) {
    if (!c.has_input(i)) continue;
    const TensorInfo& b = c.input(i);
    const char* what = i == 1 ? "min" : "max";
    if (b.dtype != x.dtype)
      c.fail(std::string(what) + " has type " + dtype_name(b.dtype) + ", input has " + dtype_name(x.dtype) +
             "; they must match");
    if (b.numel() != 1) c.fail(std::string(what) + " must be a scalar, got shape " + shape_str(b.shape));
  }
  auto& p = make_params<ClipStep>(c.step);
  p.k.fn = fn;
  p.k.count = x.numel();
  p.num_inputs = static_cast<int>(c.node().inputs.size());
  if (attrs) {
    p.k.has_min_attr = c.has_attr("min");
    p.k.has_max_attr = c.has_attr("max");
    p.k.min_attr = c.attr_float("min", 0);
    p.k.max_attr = c.attr_float("max", 0);
  }
  c.set_output(0, x.dtype, x.shape);
  c.step.run = run_clip;
  c.step.kernel = kernel_name("clip", x.dtype);
  c.step.flops = static_cast<double>(p.k.count);
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
                  OpDef{"Softsign", Softsign}, OpDef{"Mish", Mish}})
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
