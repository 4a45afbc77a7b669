#include "cli/options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace rtml::cli {

namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

bool looks_like_option(const std::string& a) { return a.size() > 1 && a[0] == '-'; }

// "  --name VALUE" and the help beside it from column 24, its further lines below.
std::string help_line(const std::string& left, const std::string& help) {
  constexpr size_t kColumn = 24;
  std::string out = "  " + left;
  size_t start = 0;
  do {
    size_t end = help.find('\n', start);
    if (end == std::string::npos) end = help.size();
    if (start > 0 || out.size() + 2 > kColumn) out += "\n" + std::string(kColumn, ' ');
    else out += std::string(kColumn - out.size(), ' ');
    out += help.substr(start, end - start);
    start = end + 1;
  } while (start <= help.size());
  return out + "\n";
}

}  // namespace

double parse_number(const std::string& option, const std::string& v, double min, double max, bool whole) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  const bool ok = !v.empty() && !*end && std::isfinite(d) && d >= min && d <= max && (!whole || d == std::floor(d));
  if (!ok) {
    // Limits near the type's own are not worth printing.
    std::string range = max < 2e9 ? "from " + number_text(min) + " to " + number_text(max) : ">= " + number_text(min);
    throw UsageError(option + " needs " + (whole ? "a whole number " : "a number ") + range + ", got '" + v + "'");
  }
  return d;
}

int parse_int(const std::string& option, const std::string& v, int min, int max) {
  return static_cast<int>(parse_number(option, v, min, max, true));
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

OptionTable::OptionTable(std::string command, std::string usage, std::string about)
    : command_(std::move(command)), usage_(std::move(usage)), about_(std::move(about)) {}

OptionTable& OptionTable::add(Option o) {
  options_.push_back(std::move(o));
  return *this;
}

OptionTable& OptionTable::flag(const std::string& name, bool& target, const std::string& help, bool set_to) {
  return add({name, "", help, Kind::Flag, [&target, set_to](const std::string&) { target = set_to; }, section_});
}

OptionTable& OptionTable::value(const std::string& name, const std::string& value_name, std::string& target,
                                const std::string& help) {
  return add({name, value_name, help, Kind::Value, [&target](const std::string& v) { target = v; }, section_});
}

OptionTable& OptionTable::choice(const std::string& name, std::string& target, const std::vector<std::string>& choices,
                                 const std::string& help) {
  std::string names;
  for (const auto& c : choices) names += (names.empty() ? "" : "|") + c;
  return add({name, names, help, Kind::Choice,
              [&target, choices, name, names](const std::string& v) {
                if (std::find(choices.begin(), choices.end(), v) == choices.end())
                  throw UsageError(name + " must be one of " + names + ", got '" + v + "'");
                target = v;
              },
              section_});
}

OptionTable& OptionTable::repeatable(const std::string& name, const std::string& value_name,
                                     std::vector<std::string>& target, const std::string& help) {
  return add({name, value_name, help, Kind::Repeatable, [&target](const std::string& v) { target.push_back(v); },
              section_});
}

OptionTable& OptionTable::multi(const std::string& name, const std::string& value_name,
                                std::vector<std::string>& target, const std::string& help) {
  return add({name, value_name, help, Kind::Multi, [&target](const std::string& v) { target.push_back(v); }, section_});
}

OptionTable& OptionTable::custom(const std::string& name, const std::string& value_name, const std::string& help,
                                 std::function<void(const std::string&)> set) {
  return add({name, value_name, help, Kind::Custom, std::move(set), section_});
}

OptionTable& OptionTable::section(const std::string& title) {
  section_ = title;
  return *this;
}

OptionTable& OptionTable::positional(const std::string& name, std::string& target,
                                     std::function<std::string(const std::string&)> resolve) {
  positionals_.push_back({name, &target, nullptr, std::move(resolve)});
  return *this;
}

OptionTable& OptionTable::positionals(const std::string& name, std::vector<std::string>& target) {
  positionals_.push_back({name, nullptr, &target});
  return *this;
}

OptionTable& OptionTable::rest(std::vector<std::string>& target) {
  rest_ = &target;
  return *this;
}

OptionTable& OptionTable::notes(const std::string& text) {
  notes_ = text;
  return *this;
}

const OptionTable::Option* OptionTable::find(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

void OptionTable::fail(const std::string& message) const {
  throw UsageError(message + " (see rtml " + command_ + " --help)");
}

std::string OptionTable::suggestion(const std::string& unknown) const {
  std::string best;
  size_t best_distance = 3;  // at most two edits away
  for (const auto& o : options_) {
    size_t d = edit_distance(unknown, o.name);
    if (d < best_distance) {
      best_distance = d;
      best = o.name;
    }
  }
  if (best.empty() && unknown.size() >= 5)  // "--thr" for "--threshold": the one option starting so
    for (const auto& o : options_)
      if (o.name.compare(0, unknown.size(), unknown) == 0) {
        if (!best.empty()) return "";
        best = o.name;
      }
  return best;
}

bool OptionTable::parse(const Args& args) {
  size_t next_positional = 0;
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_ended || !looks_like_option(a)) {
      if (next_positional >= positionals_.size()) fail("unexpected argument '" + a + "'");
      Positional& p = positionals_[next_positional];
      if (p.one) {
        *p.one = p.resolve ? p.resolve(a) : a;
        ++next_positional;
      } else {
        p.many->push_back(a);
      }
      if (rest_ && next_positional == positionals_.size()) {
        rest_->assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      continue;
    }
    if (a == "--") {
      options_ended = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    size_t eq = a.find('=');
    const bool inline_value = a.compare(0, 2, "--") == 0 && eq != std::string::npos;
    const std::string name = inline_value ? a.substr(0, eq) : a;
    const Option* o = find(name);
    if (!o) {
      std::string near = suggestion(name);
      fail("unknown option '" + name + "'" + (near.empty() ? "" : ": did you mean " + near + "?"));
    }
    // The values: inline, the next argument, or (multi) every argument up to the next option.
    std::vector<std::string> values;
    if (o->kind == Kind::Flag) {
      if (inline_value) fail(name + " takes no value, got '" + a + "'");
      values.push_back("");
    } else if (inline_value) {
      values.push_back(a.substr(eq + 1));
    } else if (o->kind == Kind::Multi) {
      while (i + 1 < args.size() && !looks_like_option(args[i + 1])) values.push_back(args[++i]);
    } else if (i + 1 < args.size() && args[i + 1].compare(0, 2, "--") != 0) {
      values.push_back(args[++i]);
    }
    if (values.empty()) fail(name + " needs a value: " + name + " " + o->value_name);
    for (const auto& v : values) try {
        o->set(v);
      } catch (const UsageError& e) {
        fail(e.what());
      } catch (const Error& e) {
        fail(name + ": " + e.what());
      }
  }
  for (size_t k = next_positional; k < positionals_.size(); ++k)
    if (positionals_[k].one || positionals_[k].many->empty())
      throw UsageError("no " + positionals_[k].name + " given (usage: rtml " + command_ + " " +
                       usage_.substr(0, usage_.find('\n')) + "; see rtml " + command_ + " --help)");
  return true;
}

std::string OptionTable::options_help() const {
  std::string out, section = "\x01";
  for (const auto& o : options_) {
    if (o.section != section) {
      section = o.section;
      if (!section.empty()) out += section + "\n";
    }
    std::string left = o.name;
    if (!o.value_name.empty()) left += " " + o.value_name;
    if (o.kind == Kind::Repeatable || o.kind == Kind::Multi) left += "...";
    out += help_line(left, o.help);
  }
  return out;
}

std::string OptionTable::help() const {
  std::string out = "usage: rtml " + command_ + (usage_.empty() ? "" : " ");
  for (char c : usage_) out += c == '\n' ? "\n       rtml " + command_ + " " : std::string(1, c);
  out += "\n" + about_ + "\n\n" + options_help() + help_line("-h, --help", "this help");
  if (!notes_.empty()) out += "\n" + notes_ + "\n";
  return out;
}

}  // namespace rtml::cli
