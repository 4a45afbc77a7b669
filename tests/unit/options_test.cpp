// The command line's option table (src/cli/options.h): each kind of option,
// positional arguments, and the usage errors every `rtml` command shares.
#include "cli/options.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace rtml::cli {
namespace {

// The message of the UsageError that parsing `args` throws ("" if none).
std::string usage_error(OptionTable& t, const Args& args) {
  try {
    t.parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Options, FlagSetsItsValueAndTakesNone) {
  bool json = false, samples = true;
  OptionTable t("test", "[options]", "about");
  t.flag("--json", json, "JSON").flag("--no-samples", samples, "no samples", false);
  EXPECT_TRUE(t.parse({"--json", "--no-samples"}));
  EXPECT_TRUE(json);
  EXPECT_FALSE(samples);
  std::string err = usage_error(t, {"--json=yes"});
  EXPECT_TRUE(contains(err, "--json takes no value")) << err;
}

TEST(Options, ValueBothSpellingsAndMissingValue) {
  std::string out, db;
  OptionTable t("test", "[options]", "about");
  t.value("--out", "DIR", out, "where").value("--db", "PATH", db, "database");
  EXPECT_TRUE(t.parse({"--out", "a b", "--db=x=y.db"}));
  EXPECT_EQ(out, "a b");
  EXPECT_EQ(db, "x=y.db");  // split at the first '=' only
  EXPECT_TRUE(t.parse({"--out=", "--db", "-"}));  // an empty inline value; "-" is a value, not an option
  EXPECT_EQ(out, "");
  EXPECT_EQ(db, "-");

  std::string err = usage_error(t, {"--out"});
  EXPECT_TRUE(contains(err, "--out needs a value") && contains(err, "(see rtml test --help)")) << err;
  err = usage_error(t, {"--out", "--db", "x"});  // the next option is not the value
  EXPECT_TRUE(contains(err, "--out needs a value")) << err;
}

TEST(Options, RepeatableAppendsEachUse) {
  std::vector<std::string> only;
  OptionTable t("test", "[options]", "about");
  t.repeatable("--only", "NAME", only, "models");
  EXPECT_TRUE(t.parse({"--only", "a", "--only=b", "--only", "c"}));
  EXPECT_EQ(only, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Options, MultiTakesArgumentsUpToTheNextOption) {
  std::vector<std::string> add;
  bool json = false;
  OptionTable t("test", "[options]", "about");
  t.multi("--add", "FILE", add, "reports").flag("--json", json, "JSON");
  EXPECT_TRUE(t.parse({"--add", "a.json", "b.json", "--json"}));
  EXPECT_EQ(add, (std::vector<std::string>{"a.json", "b.json"}));
  EXPECT_TRUE(json);
  std::string err = usage_error(t, {"--add", "--json"});
  EXPECT_TRUE(contains(err, "--add needs a value")) << err;
}

TEST(Options, NumberChecksRangeAndWholeness) {
  int runs = 0;
  std::optional<int> cpu;
  std::optional<double> seconds;
  unsigned seed = 1;
  double tolerance = 1e-4;
  OptionTable t("test", "[options]", "about");
  t.number("--runs", "N", runs, 1, "runs")
      .number("--cpu", "N", cpu, 0, "cpu", 64)
      .number("--seconds", "S", seconds, 0.001, "seconds")
      .number("--seed", "N", seed, 0, "seed")
      .number("--tolerance", "T", tolerance, 0, "tolerance");
  EXPECT_FALSE(seconds.has_value());
  EXPECT_TRUE(t.parse({"--runs", "5", "--cpu=0", "--seconds", "0.5", "--seed", "4000000000", "--tolerance", "1e-3"}));
  EXPECT_EQ(runs, 5);
  EXPECT_EQ(cpu, 0);
  EXPECT_EQ(seconds, 0.5);
  EXPECT_EQ(seed, 4000000000u);  // beyond int: unsigned's own range
  EXPECT_EQ(tolerance, 1e-3);

  struct Bad {
    Args args;
    std::string want;
  };
  for (const Bad& b : std::vector<Bad>{{{"--runs", "0"}, "--runs needs a whole number >= 1, got '0'"},
                                       {{"--runs", "2.5"}, "--runs needs a whole number >= 1, got '2.5'"},
                                       {{"--runs", "x"}, "--runs needs a whole number >= 1, got 'x'"},
                                       {{"--runs", ""}, "--runs needs a whole number >= 1, got ''"},
                                       {{"--runs", "5000000000"}, "--runs needs a whole number >= 1"},
                                       {{"--cpu", "65"}, "--cpu needs a whole number from 0 to 64, got '65'"},
                                       {{"--cpu", "-1"}, "--cpu needs a whole number from 0 to 64, got '-1'"},
                                       {{"--seconds", "0"}, "--seconds needs a number >= 0.001, got '0'"},
                                       {{"--seconds", "inf"}, "--seconds needs a number >= 0.001, got 'inf'"},
                                       {{"--tolerance", "1e-3x"}, "--tolerance needs a number >= 0"},
                                       {{"--seed", "-1"}, "--seed needs a whole number >= 0"}}) {
    std::string err = usage_error(t, b.args);
    EXPECT_TRUE(contains(err, b.want) && contains(err, "(see rtml test --help)")) << b.args[0] << ": " << err;
  }
}

TEST(Options, ChoiceAcceptsOnlyItsValues) {
  std::string set = "default";
  OptionTable t("test", "[options]", "about");
  t.choice("--set", set, {"default", "sweep", "all"}, "models");
  EXPECT_TRUE(t.parse({"--set", "sweep"}));
  EXPECT_EQ(set, "sweep");
  std::string err = usage_error(t, {"--set", "everything"});
  EXPECT_TRUE(contains(err, "--set must be one of default|sweep|all, got 'everything'")) << err;
  EXPECT_TRUE(contains(t.help(), "--set default|sweep|all"));
}

TEST(Options, CustomErrorsBecomeUsageErrorsNamingTheOption) {
  std::vector<std::string> seen;
  OptionTable t("test", "[options]", "about");
  t.custom("--shape", "NAME=DIMS", "a shape", [&](const std::string& v) {
    if (v.find('=') == std::string::npos) throw Error("not NAME=DIMS: '" + v + "'");
    seen.push_back(v);
  });
  EXPECT_TRUE(t.parse({"--shape", "x=1x2", "--shape=y=3"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"x=1x2", "y=3"}));
  std::string err = usage_error(t, {"--shape", "x"});
  EXPECT_TRUE(contains(err, "--shape: not NAME=DIMS: 'x'") && contains(err, "(see rtml test --help)")) << err;
}

TEST(Options, UnknownOptionSuggestsTheNearestKnownOne) {
  bool b = false;
  std::string s;
  OptionTable t("bench", "[options]", "about");
  t.flag("--markdown", b, "md").value("--threshold", "PCT", s, "t").value("--tolerance", "T", s, "t");
  std::string err = usage_error(t, {"--markdwn"});  // one edit
  EXPECT_TRUE(contains(err, "unknown option '--markdwn': did you mean --markdown? (see rtml bench --help)")) << err;
  err = usage_error(t, {"-markdown"});  // one dash short
  EXPECT_TRUE(contains(err, "did you mean --markdown?")) << err;
  err = usage_error(t, {"--toleranec=3"});  // two edits; the inline value is not part of the name
  EXPECT_TRUE(contains(err, "unknown option '--toleranec': did you mean --tolerance?")) << err;
  err = usage_error(t, {"--thresh"});  // the one option starting so
  EXPECT_TRUE(contains(err, "did you mean --threshold?")) << err;
  err = usage_error(t, {"--frobnicate"});  // nothing close
  EXPECT_TRUE(contains(err, "unknown option '--frobnicate' (see rtml bench --help)")) << err;
  EXPECT_FALSE(contains(err, "did you mean")) << err;
}

TEST(Options, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // the textbook example
  EXPECT_EQ(edit_distance("--runs", "--rnus"), 2u);    // a swap is two substitutions
  EXPECT_EQ(edit_distance("--json", "--jsonl"), 1u);
}

TEST(Options, PositionalsMissingAndExtra) {
  std::string a, b;
  OptionTable t("compare", "A.json B.json [options]", "about");
  t.positional("A.json", a).positional("B.json", b);
  EXPECT_TRUE(t.parse({"x.json", "y.json"}));
  EXPECT_EQ(a, "x.json");
  EXPECT_EQ(b, "y.json");
  std::string err = usage_error(t, {"x.json"});
  EXPECT_TRUE(contains(err, "no B.json given (usage: rtml compare A.json B.json [options]; see rtml compare --help)")) << err;
  err = usage_error(t, {"x", "y", "z"});
  EXPECT_TRUE(contains(err, "unexpected argument 'z' (see rtml compare --help)")) << err;
}

TEST(Options, OneOrMorePositionalsAndDoubleDash) {
  std::vector<std::string> paths;
  bool md = false;
  OptionTable t("bench", "MODEL... [options]", "about");
  t.positionals("MODEL", paths).flag("--markdown", md, "md");
  EXPECT_TRUE(t.parse({"a.onnx", "--markdown", "b", "--", "--odd-name.onnx"}));
  EXPECT_EQ(paths, (std::vector<std::string>{"a.onnx", "b", "--odd-name.onnx"}));
  paths.clear();
  std::string err = usage_error(t, {"--markdown"});
  EXPECT_TRUE(contains(err, "no MODEL given")) << err;
}

TEST(Options, RestLeavesEverythingAfterThePositionalsUnparsed) {
  std::string where, command, token;
  std::vector<std::string> rest;
  OptionTable t("remote", "HOST:PORT COMMAND ...", "about");
  t.positional("HOST:PORT", where).positional("COMMAND", command).rest(rest).value("--token-file", "FILE", token, "t");
  EXPECT_TRUE(t.parse({"h:1", "--token-file", "tok", "bench", "m.onnx", "--runs", "5", "--help"}));
  EXPECT_EQ(where, "h:1");
  EXPECT_EQ(token, "tok");
  EXPECT_EQ(command, "bench");
  EXPECT_EQ(rest, (Args{"m.onnx", "--runs", "5", "--help"}));
}

TEST(Options, HelpIsGeneratedFromTheTable) {
  bool md = false;
  int runs = 0;
  std::vector<std::string> filter;
  OptionTable t("bench", "MODEL... [options]\nOTHER FORM", "What it does.");
  t.number("--runs", "N", runs, 1, "timed runs\nsecond line")
      .repeatable("--filter", "SUBSTR", filter, "only these")
      .section("output:")
      .flag("--markdown", md, "print Markdown")
      .notes("Exit status: 0.");
  testing::internal::CaptureStdout();
  EXPECT_FALSE(t.parse({"-h"}));
  std::string help = testing::internal::GetCapturedStdout();
  EXPECT_EQ(help,
            "usage: rtml bench MODEL... [options]\n"
            "       rtml bench OTHER FORM\n"
            "What it does.\n"
            "\n"
            "  --runs N              timed runs\n"
            "                        second line\n"
            "  --filter SUBSTR...    only these\n"
            "output:\n"
            "  --markdown            print Markdown\n"
            "  -h, --help            this help\n"
            "\n"
            "Exit status: 0.\n");
}

}  // namespace
}  // namespace rtml::cli
