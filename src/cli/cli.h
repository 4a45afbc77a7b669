// The `rtml` command: one file per subcommand, each a function taking its
// arguments (after the subcommand name) and returning the exit code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "plan/plan.h"

namespace rtml::cli {

using Args = std::vector<std::string>;

int cmd_info(const Args& args);
int cmd_run(const Args& args);
int cmd_ops(const Args& args);
int cmd_zoo(const Args& args);
int cmd_bench(const Args& args);    // cli/bench.cpp
int cmd_compare(const Args& args);  // cli/compare.cpp
int cmd_runs(const Args& args);     // cli/runs.cpp
int cmd_remote(const Args& args);   // cli/remote.cpp
int cmd_agent(const Args& args);    // cli/agent.cpp
int cmd_profile(const Args& args);  // cli/profile.cpp
int cmd_ui(const Args& args);       // cli/ui.cpp
int cmd_limits(const Args& args);   // cli/limits.cpp

// A wrong command line: main() prints it and exits with status 2 (other
// errors exit 1).
struct UsageError : Error {
  using Error::Error;
};

// Option values: "a,b,c" -> {a, b, c}; a number >= min; a whole number >=
// min. Throw UsageError naming the option.
std::vector<std::string> split_commas(const std::string& s);
double parse_number(const std::string& option, const std::string& value, double min);
int parse_int(const std::string& option, const std::string& value, int min);

// Shared option helpers. Throw rtml::Error with a usage hint on bad input.
struct ModelOptions {
  std::string model;
  plan::PlanOptions plan;
};
// Consumes `--shape NAME=DIMS` (repeatable) at args[i]; true if it did.
bool parse_shape_option(const Args& args, size_t& i, ModelOptions& out);
std::string format_bytes(double bytes);
std::string format_count(double n);

// JSON by hand: a quoted, escaped string; a number (null if not finite).
std::string json_string(const std::string& s);
std::string json_number(double v);
// Writes `text` to `path` atomically (temporary file + rename).
void write_text_file(const std::string& path, const std::string& text);
// Text columns padded to their widest cell (UTF-8 aware), two spaces apart;
// right[c] aligns column c to the right. rows[0] is usually the header. (cli/table.cpp)
std::string format_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right);

}  // namespace rtml::cli
