// One option parser for every `rtml` subcommand. A command declares its
// options once, as a table (name, value name, help text, kind, target
// variable); the table parses the arguments, prints `rtml CMD --help` from
// the same entries, and turns every mistake into a UsageError (main() exits
// 2) that names the option and ends "(see rtml CMD --help)":
//   - an unknown option, with "did you mean --xyz?" when a known one is at
//     most two edits away (or starts with what was typed);
//   - a missing value, a bad number (not a number, below its minimum, above
//     its maximum, not whole where a whole number is needed), a value not
//     among a choice's;
//   - a missing positional argument, or one too many.
// `--opt value` and `--opt=value` are the same; a value never starts with
// "--" (`--out --json` is --out without its value; `--json -` is fine); `--`
// ends the options. -h or --help anywhere (before a rest()) prints the help.
//
// Kinds: flag (no value: sets a bool), value (a string), choice (one of a
// list), number (int, unsigned or double, plain or std::optional, with a
// minimum and maximum), repeatable (each use appends), multi (takes every
// following argument up to the next option: `--add A.json B.json`) and
// custom (the value goes to a function, which may throw rtml::Error; it
// becomes a usage error naming the option).
#pragma once

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cli/cli.h"

namespace rtml::cli {

// A number from the command line: finite, >= min, <= max, and whole if
// `whole`. Throws UsageError naming `option`.
double parse_number(const std::string& option, const std::string& value, double min,
                    double max = std::numeric_limits<double>::infinity(), bool whole = false);
int parse_int(const std::string& option, const std::string& value, int min,
              int max = std::numeric_limits<int>::max());

// Edit distance (insertions, deletions, substitutions) between two strings.
size_t edit_distance(const std::string& a, const std::string& b);

class OptionTable {
 public:
  enum class Kind { Flag, Value, Choice, Number, Repeatable, Multi, Custom };
  struct Option {
    std::string name;        // "--runs"
    std::string value_name;  // "N"; empty for a flag
    std::string help;        // lines separated by '\n'
    Kind kind;
    std::function<void(const std::string&)> set;  // gets the value ("" for a flag)
    std::string section;     // heading in --help ("" for the first group)
  };

  // `command`: "info" or "remote bench"; `usage`: what follows "rtml
  // COMMAND" ("MODEL [options]"; more lines for more forms); `about`: what
  // the command does, printed under the usage.
  OptionTable(std::string command, std::string usage, std::string about);

  OptionTable& flag(const std::string& name, bool& target, const std::string& help, bool set_to = true);
  OptionTable& value(const std::string& name, const std::string& value_name, std::string& target,
                     const std::string& help);
  OptionTable& choice(const std::string& name, std::string& target, const std::vector<std::string>& choices,
                      const std::string& help);
  OptionTable& repeatable(const std::string& name, const std::string& value_name, std::vector<std::string>& target,
                          const std::string& help);
  OptionTable& multi(const std::string& name, const std::string& value_name, std::vector<std::string>& target,
                     const std::string& help);
  OptionTable& custom(const std::string& name, const std::string& value_name, const std::string& help,
                      std::function<void(const std::string&)> set);
  // T: int, unsigned, int64_t, double or std::optional of one of them.
  template <class T>
  OptionTable& number(const std::string& name, const std::string& value_name, T& target, double min,
                      const std::string& help, std::optional<double> max = std::nullopt);

  // Later options are listed under `title` in --help ("real-time mode:").
  OptionTable& section(const std::string& title);
  // Positional arguments, in order: one required argument; or (last) one or
  // more; then, optionally, `rest`: every argument after the last positional
  // is left unparsed in `target` (rtml remote HOST:PORT bench ...).
  // `resolve`, if given, rewrites the argument once it is read (a zoo model
  // folder to its model file).
  OptionTable& positional(const std::string& name, std::string& target,
                          std::function<std::string(const std::string&)> resolve = {});
  OptionTable& positionals(const std::string& name, std::vector<std::string>& target);
  OptionTable& rest(std::vector<std::string>& target);
  // Text printed at the end of --help (exit status, environment).
  OptionTable& notes(const std::string& text);

  // Parses `args` into the targets. Returns false if -h or --help was given
  // (the help is then printed on stdout). Throws UsageError.
  bool parse(const Args& args);

  std::string help() const;          // usage, about, options, notes
  std::string options_help() const;  // the option lines alone, by section
  const std::vector<Option>& options() const { return options_; }

 private:
  OptionTable& add(Option o);
  const Option* find(const std::string& name) const;
  [[noreturn]] void fail(const std::string& message) const;
  std::string suggestion(const std::string& unknown) const;

  std::string command_, usage_, about_, notes_, section_;
  std::vector<Option> options_;
  struct Positional {
    std::string name;
    std::string* one = nullptr;
    std::vector<std::string>* many = nullptr;
    std::function<std::string(const std::string&)> resolve;
  };
  std::vector<Positional> positionals_;
  std::vector<std::string>* rest_ = nullptr;
};

namespace detail {
template <class T> struct Unwrap { using type = T; };
template <class T> struct Unwrap<std::optional<T>> { using type = T; };
}  // namespace detail

template <class T>
OptionTable& OptionTable::number(const std::string& name, const std::string& value_name, T& target, double min,
                                 const std::string& help, std::optional<double> max) {
  using V = typename detail::Unwrap<T>::type;
  static_assert(std::is_arithmetic_v<V>, "number() needs a numeric target");
  const double top = max.value_or(static_cast<double>(std::numeric_limits<V>::max()));
  return add({name, value_name, help, Kind::Number,
              [&target, name, min, top](const std::string& v) {
                target = static_cast<V>(parse_number(name, v, min, top, std::is_integral_v<V>));
              },
              section_});
}

}  // namespace rtml::cli
