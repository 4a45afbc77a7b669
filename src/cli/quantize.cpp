// `rtml quantize MODEL --calibration DIR --out MODEL.int8.onnx`: static
// post-training quantization to a QDQ ONNX file (quantize/quantize.h) and its
// report, printed and written as JSON.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#include "data/test_data.h"
#include "import/tflite_import.h"
#include "quantize/quantize.h"

namespace rtml::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// MODEL's folder, if it holds test sets (a zoo model's test data).
std::string sets_beside(const std::string& model) {
  fs::path dir = fs::path(model).parent_path();
  if (dir.empty()) dir = ".";
  try {
    data::find_test_sets(dir.string());
    return dir.string();
  } catch (const Error&) {
    return "";
  }
}

// a/b/model.onnx -> a/b/model.int8.onnx; OUT.onnx -> OUT.quantize.json
std::string with_suffix(const std::string& path, const std::string& old_ext, const std::string& suffix) {
  if (path.size() > old_ext.size() && path.compare(path.size() - old_ext.size(), old_ext.size(), old_ext) == 0)
    return path.substr(0, path.size() - old_ext.size()) + suffix;
  return path + suffix;
}

std::string num(const json& v, const char* fmt) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v.get<double>());
  return buf;
}

void print_report(const json& r) {
  const auto& s = r["settings"];
  std::printf("model         %s\n", r["model"].get<std::string>().c_str());
  std::printf("wrote         %s\n", r["out"].get<std::string>().c_str());
  std::printf("weights       %s\n", s["weights"].get<std::string>().c_str());
  if (s["weights_only"].get<bool>()) std::printf("activations   float (--weights-only)\n");
  else
    std::printf("activations   %s asymmetric per tensor, %s over %d calibration set%s\n",
                s["activations"].get<std::string>().c_str(), s["method"].get<std::string>().c_str(),
                s["calibration"]["sets"].get<int>(), s["calibration"]["sets"].get<int>() == 1 ? "" : "s");
  std::printf("\n");
  std::vector<std::vector<std::string>> rows = {{"tensor", "kind", "type", "scale", "zero point"}};
  for (const auto& t : r["tensors"]) {
    std::string scale = t["scale"].is_array() ? std::to_string(t["scale"].size()) + " per channel (axis " +
                                                    std::to_string(t["axis"].get<int>()) + ")"
                                              : num(t["scale"], "%.6g");
    rows.push_back({t["name"], t["kind"], t["dtype"], scale, std::to_string(t["zero_point"].get<int>())});
  }
  std::fputs(format_table(rows, {false, false, false, true, true}).c_str(), stdout);
  std::printf("\n");
  rows = {{"layer", "op", "mode", "output", "SQNR dB"}};
  for (const auto& l : r["layers"])
    rows.push_back({l["node"], l["op_type"], l["mode"], l["output"].is_null() ? "-" : l["output"].get<std::string>(),
                    num(l["sqnr_db"], "%.1f")});
  std::fputs(format_table(rows, {false, false, false, false, true}).c_str(), stdout);
  const auto& w = r["weight_bytes"];
  std::printf("\nweight bytes  %s float32 -> %s int8 (+ %s of scales and zero points)\n",
              format_bytes(w["float32"].get<double>()).c_str(), format_bytes(w["int8"].get<double>()).c_str(),
              format_bytes(w["scales_and_zero_points"].get<double>()).c_str());
  std::printf("parameters    %s -> %s (every initializer)\n", format_bytes(r["parameter_bytes"]["before"].get<double>()).c_str(),
              format_bytes(r["parameter_bytes"]["after"].get<double>()).c_str());
  const auto& a = r["accuracy"];
  if (a.is_null()) {
    std::printf("accuracy      not measured (no test data: --test-data DIR)\n");
    return;
  }
  std::printf("test data     %s: %d sets\n", a["test_data"].get<std::string>().c_str(), a["sets"].get<int>());
  if (a["float_top1"].is_number())
    std::printf("top-1         float %.2f%%  int8 %.2f%%  (drop %.2f points, %d labelled sets)\n",
                100 * a["float_top1"].get<double>(), 100 * a["int8_top1"].get<double>(),
                a["top1_drop_points"].get<double>(), a["labelled_sets"].get<int>());
  for (const auto& o : a["outputs"])
    std::printf("output %-6s int8 vs float: max abs error %s, mean abs error %s\n", o["name"].get<std::string>().c_str(),
                num(o["max_abs_error"], "%.4g").c_str(), num(o["mean_abs_error"], "%.4g").c_str());
}

}  // namespace

int cmd_quantize(const Args& args) {
  ModelOptions opt;
  std::string out, calibration, test_data, report, method = "minmax", activations = "int8";
  std::optional<double> percentile;
  int calibration_sets = 0;
  bool per_tensor = false, weights_only = false, no_accuracy = false;
  OptionTable table(
      "quantize", "MODEL [--calibration DIR] [--out FILE.onnx] [--method minmax|percentile|mse] [options]",
      "Static post-training quantization: writes a QDQ ONNX file (opset >= 13) that rtml and other\n"
      "runtimes run. Conv, Gemm and MatMul weights become int8 (symmetric, per output channel),\n"
      "their biases int32 (scale = input scale x weight scale), their activation inputs and outputs\n"
      "int8 asymmetric per tensor through QuantizeLinear -> DequantizeLinear pairs (a Relu or Clip\n"
      "after a layer stays inside the pair, so does a causal Slice before it); an Add of two such\n"
      "activations gets an int8 output too (TFLite's integer Add); LSTM, GRU and RNN weights int8\n"
      "(weight-only).\n"
      "\n"
      "The activation ranges come from running the float model on the calibration data (the layouts\n"
      "of rtml run --test-data). The report (printed, and written as JSON) lists every scale and\n"
      "zero point, the SQNR of each layer's output, weight bytes before and after, and float vs int8\n"
      "accuracy on the test data: top-1 where the sets have labels, max and mean absolute error of\n"
      "every output.");
  add_model_options(table, opt);
  table
      .value("--out", "FILE", out, "the quantized model (default: MODEL with .onnx replaced by .int8.onnx)")
      .value("--calibration", "DIR", calibration,
             "calibration data: test_data_set_N folders or .npy sets (default: the test\n"
             "data beside MODEL, as a zoo model has)")
      .number("--calibration-sets", "N", calibration_sets, 1, "calibrate on the first N sets only (default: all)")
      .choice("--method", method, {"minmax", "percentile", "mse"},
              "how an activation's range is chosen: minmax (default: smallest and largest value\n"
              "seen), percentile (the central --percentile % of the values), mse (the clipping\n"
              "range with the least quantization error over a histogram)")
      .number("--percentile", "P", percentile, 50, "with --method percentile: the central part kept, in % (default 99.99)", 100.0)
      .choice("--activations", activations, {"int8", "uint8"}, "the activations' type (default int8)")
      .flag("--per-tensor", per_tensor, "one scale per weight tensor instead of one per output channel")
      .flag("--weights-only", weights_only, "quantize the weights only; activations stay float (no calibration)")
      .value("--test-data", "DIR", test_data,
             "measure float vs int8 on these test sets (default: the test data beside MODEL)")
      .flag("--no-accuracy", no_accuracy, "do not measure accuracy or SQNR")
      .value("--report", "FILE.json", report, "where the JSON report goes (default: beside --out, as .quantize.json)")
      .notes("Exit status: 0 when the model was written, 1 on errors (no quantizable layer, calibration data\n"
             "missing or not matching the model, --out not writable), 2 on usage errors.");
  if (!table.parse(args)) return 0;
  if (percentile && method != "percentile") throw UsageError("--percentile only applies with --method percentile");

  quantize::QuantizeOptions q;
  q.plan = opt.plan;
  q.method = method == "percentile" ? quantize::Method::Percentile
             : method == "mse"      ? quantize::Method::Mse
                                    : quantize::Method::MinMax;
  q.percentile = percentile.value_or(99.99);
  q.activations = activations == "uint8" ? DType::U8 : DType::I8;
  q.per_tensor = per_tensor;
  q.weights_only = weights_only;
  q.max_calibration_sets = calibration_sets;
  if (out.empty()) out = with_suffix(opt.model, ".onnx", ".int8.onnx");
  if (report.empty()) report = with_suffix(out, ".onnx", ".quantize.json");
  if (!fs::is_regular_file(opt.model)) throw Error(opt.model + ": no such model file");
  if (import::is_tflite_file(opt.model))
    throw Error(opt.model + ": a .tflite file; rtml quantize reads ONNX models only (float ONNX in, QDQ ONNX out). "
                "An int8 .tflite file is quantized already: rtml info, run, bench and profile take it as it is. To "
                "quantize a float network with rtml, export it to ONNX (torch.onnx.export, or tf2onnx for a "
                "TensorFlow model) and quantize that file");
  q.calibration_dir = calibration.empty() ? sets_beside(opt.model) : calibration;
  if (q.calibration_dir.empty() && !weights_only)
    throw UsageError("no calibration data: " + opt.model + "'s folder holds no test_data_set_N; give --calibration DIR");
  if (!no_accuracy) q.test_data_dir = test_data.empty() ? sets_beside(opt.model) : test_data;

  const bool tty = ::isatty(STDERR_FILENO);
  std::string shown;
  q.progress = [&](const std::string& phase, int done, int total) {
    if (tty) std::fprintf(stderr, "\r%s: %d of %d samples", phase.c_str(), done, total);
    if (done == total) std::fprintf(stderr, "%s%s: %d of %d samples\n", tty ? "\r" : "", phase.c_str(), done, total);
  };
  json r = quantize::quantize_model(opt.model, out, q);
  write_text_file(report, r.dump(1) + "\n");
  print_report(r);
  std::printf("report        %s\n", report.c_str());
  return 0;
}

}  // namespace rtml::cli
