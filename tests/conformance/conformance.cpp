// Runs the ONNX backend test cases that Debian's libonnx-testdata ships
// (node, pytorch-converted, pytorch-operator, simple) through the engine and
// compares every output with the expected one.
//
// A case is skipped only when its model uses an op the engine does not claim
// (not in ops::supported_ops()). A case of a claimed op must pass, or be
// listed with its reason in tests/conformance/expected_failures/*.txt
// ("case_name  reason..." per line). A listed case that passes is reported
// so the list stays honest.
//
// Usage: rtml_conformance [--data DIR] [--expected-failures DIR]
//                         [--filter SUBSTRING]... (any of them) [--verbose] [--list-failures]
// Prints "conformance: N passed, N failed, N skipped" last; exits 1 if any
// case failed that is not an expected failure.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "data/test_data.h"
#include "engine/session.h"
#include "import/onnx_import.h"
#include "plan/plan.h"

namespace fs = std::filesystem;
using namespace rtml;

namespace {

// ONNX's backend tests compare with numpy.testing.assert_allclose(rtol=1e-3, atol=1e-7).
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

// Returns "" when equal within tolerance, else what differs.
std::string compare(const ir::Tensor& expected, DType got_type, const Shape& got_shape, const void* got) {
  if (expected.dtype != got_type)
    return std::string("type ") + dtype_name(got_type) + ", expected " + dtype_name(expected.dtype);
  if (expected.shape != got_shape) return "shape " + shape_str(got_shape) + ", expected " + shape_str(expected.shape);
  if (dtype_size(got_type) == 0) return std::string("cannot compare type ") + dtype_name(got_type);
  const bool exact = !dtype_is_float(got_type);
  for (int64_t i = 0, n = shape_numel(got_shape); i < n; ++i) {
    double e = data::element_as_double(expected.data->data(), got_type, i), g = data::element_as_double(got, got_type, i);
    if (std::isnan(e) && std::isnan(g)) continue;
    if (std::isinf(e) && e == g) continue;
    bool ok = exact ? e == g : std::fabs(g - e) <= kAtol + kRtol * std::fabs(e);
    if (!ok) {
      std::ostringstream os;
      os << "element " << i << " is " << g << ", expected " << e;
      return os.str();
    }
  }
  return "";
}

std::vector<std::string> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > 3 && name.substr(name.size() - 3) == ".pb")
      found.emplace_back(std::stoi(name.substr(prefix.size())), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

enum class Outcome { Pass, Fail, Skip };

Outcome run_case(const fs::path& dir, std::string& why) {
  ir::Graph g = import::load_onnx((dir / "model.onnx").string());
  std::set<std::string> missing;
  for (const auto& n : g.nodes)
    if (!n.domain.empty() || !ops::find_op(n.op_type)) missing.insert(n.domain.empty() ? n.op_type : n.domain + "." + n.op_type);
  if (!missing.empty()) {
    for (const auto& m : missing) why += (why.empty() ? "unclaimed op " : ", ") + m;
    return Outcome::Skip;
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  for (const auto& set : sets) {
    auto in_files = sorted_files(set, "input_");
    auto out_files = sorted_files(set, "output_");
    std::vector<ir::Tensor> inputs, outputs;
    for (auto& f : in_files) inputs.push_back(import::load_tensor_pb(f));
    for (auto& f : out_files) outputs.push_back(import::load_tensor_pb(f));
    if (inputs.size() != g.inputs.size()) {
      why = "test set has " + std::to_string(inputs.size()) + " inputs, model " + std::to_string(g.inputs.size());
      return Outcome::Fail;
    }
    plan::PlanOptions po;
    for (size_t i = 0; i < inputs.size(); ++i) po.input_shapes[g.tensors[g.inputs[i]].name] = inputs[i].shape;
    engine::Session session(plan::build_plan(g, po));
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype != session.input(static_cast<int>(i)).dtype) {
        why = "input " + std::to_string(i) + " type mismatch";
        return Outcome::Fail;
      }
      std::memcpy(session.input_data(static_cast<int>(i)), inputs[i].data->data(), session.input(static_cast<int>(i)).bytes);
    }
    auto st = session.run();
    if (!st.ok()) {
      why = "run failed with code " + std::to_string(st.code) + " at step " + std::to_string(st.step);
      return Outcome::Fail;
    }
    for (size_t o = 0; o < outputs.size() && o < static_cast<size_t>(session.num_outputs()); ++o) {
      const auto& out = session.output(static_cast<int>(o));
      std::string d = compare(outputs[o], out.dtype, out.shape, session.output_data(static_cast<int>(o)));
      if (!d.empty()) {
        why = set.filename().string() + " output '" + out.name + "': " + d;
        return Outcome::Fail;
      }
    }
  }
  return Outcome::Pass;
}

// Runs one case in a child process so that a crash fails that case only.
bool g_fork = true;

Outcome run_isolated(const fs::path& dir, std::string& why) {
  if (!g_fork) {
    try {
      return run_case(dir, why);
    } catch (const std::exception& e) {
      why = e.what();
      return Outcome::Fail;
    }
  }
  int fds[2];
  if (pipe(fds) != 0) return run_case(dir, why);
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return run_case(dir, why);
  }
  if (pid == 0) {
    close(fds[0]);
    std::string msg;
    Outcome o;
    try {
      o = run_case(dir, msg);
    } catch (const std::exception& e) {
      o = Outcome::Fail;
      msg = e.what();
    }
    char code = static_cast<char>(o);
    (void)!write(fds[1], &code, 1);
    (void)!write(fds[1], msg.data(), msg.size());
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string buf;
  char chunk[4096];
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof chunk)) > 0) buf.append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (buf.empty()) {
    why = WIFSIGNALED(status) ? "crashed with signal " + std::to_string(WTERMSIG(status)) : "child exited without a result";
    return Outcome::Fail;
  }
  why = buf.substr(1);
  return static_cast<Outcome>(buf[0]);
}

std::map<std::string, std::string> read_expected_failures(const fs::path& dir) {
  std::map<std::string, std::string> xf;
  if (!fs::is_directory(dir)) return xf;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name, reason;
      ls >> name;
      std::getline(ls, reason);
      xf[name] = reason;
    }
  }
  return xf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "/usr/share/libonnx-testdata/data";
  std::string xf_dir = RTML_SOURCE_DIR "/tests/conformance/expected_failures";
  std::vector<std::string> filters;
  bool verbose = false, list_failures = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) { std::cerr << a << " needs a value\n"; std::exit(2); }
      return argv[++i];
    };
    if (a == "--data") data = value();
    else if (a == "--expected-failures") xf_dir = value();
    else if (a == "--filter") filters.push_back(value());
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--list-failures") list_failures = true;
    else if (a == "--no-fork") g_fork = false;  // e.g. to debug a case in one process
    else { std::cerr << "unknown option " << a << "\n"; return 2; }
  }
  if (!fs::is_directory(data)) {
    std::cerr << "no ONNX test data at " << data << " (install libonnx-testdata)\n";
    return 2;
  }
  auto xfail = read_expected_failures(xf_dir);
  int passed = 0, failed = 0, skipped = 0, expected = 0, unexpected_pass = 0;
  std::map<std::string, int> node_passed;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    fs::path root = fs::path(data) / suite;
    if (!fs::is_directory(root)) continue;
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(root))
      if (fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    for (const auto& c : cases) {
      std::string name = c.filename().string();
      bool selected = filters.empty();
      for (const auto& f : filters) selected = selected || name.find(f) != std::string::npos;
      if (!selected) continue;
      std::string why;
      Outcome o = run_isolated(c, why);
      bool listed = xfail.count(name) > 0;
      if (o == Outcome::Skip) {
        ++skipped;
        if (verbose) std::cout << "SKIP  " << suite << "/" << name << ": " << why << "\n";
      } else if (o == Outcome::Pass) {
        ++passed;
        if (std::string(suite) == "node") ++node_passed["node"];
        if (listed) {
          ++unexpected_pass;
          std::cout << "XPASS " << suite << "/" << name << " passes but is listed as an expected failure\n";
        } else if (verbose) {
          std::cout << "PASS  " << suite << "/" << name << "\n";
        }
      } else if (listed) {
        ++expected;
        if (verbose) std::cout << "XFAIL " << suite << "/" << name << ":" << xfail[name] << "\n";
      } else {
        ++failed;
        std::cout << "FAIL  " << suite << "/" << name << ": " << why << "\n";
        if (list_failures) std::cerr << name << "  " << why << "\n";
      }
    }
  }
  std::cout << "node cases passed: " << node_passed["node"] << "; expected failures: " << expected
            << "; listed but passing: " << unexpected_pass << "\n";
  std::cout << "conformance: " << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed ? 1 : 0;
}
