// bench/compare: reading reports back and judging changes (rtml compare).
// Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/compare.h"
#include "core/error.h"
#include "error_of.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rtml::bench;

namespace {

// A run whose median and p99 and their spreads are given; the rest is filler
// consistent with them.
json run(const std::string& model, double median, double p90, double p99, double p999,
         const std::string& backend = "native") {
  return {{"model", model},
          {"backend", backend},
          {"status", "ok"},
          {"latency_us",
           {{"min", median * 0.9},
            {"mean", median},
            {"median", median},
            {"p90", p90},
            {"p99", p99},
            {"p999", p999},
            {"max", p999 * 1.2},
            {"stddev", 1},
            {"jitter", p99 - median}}}};
}

json failed(const std::string& model, const std::string& message) {
  return {{"model", model}, {"backend", "native"}, {"status", "error"}, {"error", message}, {"latency_us", nullptr}};
}

json report(json runs, const std::string& hostname = "box") {
  return {
      {"schema", "rtml.bench/1"},
      {"created", "2024-05-01T12:00:00Z"},
      {"host",
       {{"hostname", hostname},
        {"target", nullptr},
        {"arch", "x86_64"},
        {"os", "Linux"},
        {"cpu_model", "cpu"},
        {"cores", 2},
        {"memory_bytes", 1 << 30},
        {"rtml_version", "0.1.0"}}},
      {"options", {{"warmup", 10}, {"runs", 100}, {"threads", 1}, {"tolerance", 1e-4}, {"memory_interval_us", 1000}}},
      {"runs", std::move(runs)}};
}

const CompareRow& row_of(const CompareResult& r, const std::string& model) {
  for (const auto& row : r.rows)
    if (row.model == model) return row;
  throw std::runtime_error("no row for " + model);
}

TEST(Compare, TheFourCasesOfTheRule) {
  CompareOptions opt;  // threshold 5 %
  // 100 -> 120, p90 - median = 2 in both: 20 > 5 (threshold) and 20 > 2 (noise).
  MetricChange m = judge_change(100, 120, 2, 2, std::nullopt, opt);
  EXPECT_EQ(m.verdict, Verdict::Slower);
  EXPECT_DOUBLE_EQ(m.change_pct, 20);
  EXPECT_DOUBLE_EQ(m.threshold_us, 5);
  EXPECT_DOUBLE_EQ(m.noise_us, 2);
  // 100 -> 103: 3 <= 5, under the threshold.
  m = judge_change(100, 103, 2, 2, std::nullopt, opt);
  EXPECT_EQ(m.verdict, Verdict::Same);
  EXPECT_EQ(m.reason, SameReason::BelowThreshold);
  EXPECT_STREQ(verdict_name(m.verdict), "same (within noise)");
  // 100 -> 110 with p90 - median = 15: 10 > 5 but 10 <= 15, inside the spread.
  m = judge_change(100, 110, 15, 2, std::nullopt, opt);
  EXPECT_EQ(m.verdict, Verdict::Same);
  EXPECT_EQ(m.reason, SameReason::WithinNoise);
  EXPECT_DOUBLE_EQ(m.noise_us, 15);
  m = judge_change(100, 110, 2, 15, std::nullopt, opt);  // the after run's spread counts too
  EXPECT_EQ(m.reason, SameReason::WithinNoise);
  // 100 -> 80: -20, |-20| > 5 and > 2.
  m = judge_change(100, 80, 2, 2, std::nullopt, opt);
  EXPECT_EQ(m.verdict, Verdict::Faster);
  EXPECT_DOUBLE_EQ(m.change_pct, -20);
}

TEST(Compare, EdgesOfTheRule) {
  CompareOptions opt;
  // Exactly the threshold (5 of 100) is not beyond it; exactly the noise band neither.
  EXPECT_EQ(judge_change(100, 105, 0, 0, std::nullopt, opt).verdict, Verdict::Same);
  EXPECT_EQ(judge_change(100, 108, 8, 0, std::nullopt, opt).verdict, Verdict::Same);
  EXPECT_EQ(judge_change(100, 108.5, 8, 0, std::nullopt, opt).verdict, Verdict::Slower);
  // A negative spread (inconsistent numbers) counts as no spread.
  EXPECT_DOUBLE_EQ(judge_change(100, 120, -30, -1, std::nullopt, opt).noise_us, 0);
  // The threshold is a percentage of before: 10 % of 200 is 20.
  opt.threshold_pct = 10;
  EXPECT_EQ(judge_change(200, 219, 0, 0, std::nullopt, opt).verdict, Verdict::Same);
  EXPECT_EQ(judge_change(200, 221, 0, 0, std::nullopt, opt).verdict, Verdict::Slower);
  // The p-value gates a change that passes both bands: p must be < 0.01.
  opt.threshold_pct = 5;
  MetricChange m = judge_change(100, 120, 2, 2, 0.05, opt);
  EXPECT_EQ(m.verdict, Verdict::Same);
  EXPECT_EQ(m.reason, SameReason::NotSignificant);
  EXPECT_EQ(judge_change(100, 120, 2, 2, 0.01, opt).verdict, Verdict::Same);
  EXPECT_EQ(judge_change(100, 120, 2, 2, 0.009, opt).verdict, Verdict::Slower);
  // From 0: an infinite change, still judged by the bands.
  m = judge_change(0, 3, 0, 0, std::nullopt, opt);
  EXPECT_TRUE(std::isinf(m.change_pct) && m.change_pct > 0);
  EXPECT_EQ(m.verdict, Verdict::Slower);
}

TEST(Compare, MannWhitneyWithoutOverlap) {
  // a = 1..5, b = 6..10: a holds ranks 1..5, R1 = 15, U1 = R1 - n1(n1+1)/2 = 15 - 15 = 0,
  // U = min(0, 25 - 0) = 0. No ties: sigma^2 = n1 n2 (n + 1) / 12 = 25 * 11 / 12 = 22.916667,
  // sigma = 4.7871355. z = (n1 n2 / 2 - U - 0.5) / sigma = (12.5 - 0.5) / 4.7871355 = 2.5067182.
  // p = 2 (1 - Phi(2.5067182)) = 2 * 0.0060929 = 0.0121858. (SciPy's mannwhitneyu with
  // method='asymptotic', use_continuity=True gives 0.012185780.)
  MannWhitney r = mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  EXPECT_DOUBLE_EQ(r.u, 0);
  EXPECT_DOUBLE_EQ(r.u1, 0);
  EXPECT_NEAR(r.z, 2.5067182, 1e-6);
  EXPECT_NEAR(r.p, 0.0121858, 1e-6);
  // The same the other way round: U1 = 25, U = 0.
  MannWhitney s = mann_whitney_u({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(s.u1, 25);
  EXPECT_NEAR(s.p, r.p, 1e-12);
  // Order within a sample does not matter.
  EXPECT_NEAR(mann_whitney_u({5, 3, 1, 4, 2}, {10, 6, 8, 7, 9}).p, r.p, 1e-12);
}

TEST(Compare, MannWhitneyWithTies) {
  // a = {1, 2, 2, 3}, b = {2, 3, 4, 5}. Sorted: 1a 2a 2a 2b 3a 3b 4b 5b.
  // Ranks: 1 -> 1; the three 2s share ranks 2,3,4 -> 3; the two 3s share 5,6 -> 5.5; 4 -> 7; 5 -> 8.
  // R1 = 1 + 3 + 3 + 5.5 = 12.5; U1 = 12.5 - 4*5/2 = 2.5; U = min(2.5, 16 - 2.5) = 2.5.
  // Ties: (3^3 - 3) + (2^3 - 2) = 24 + 6 = 30.
  // sigma^2 = 16/12 * ((8 + 1) - 30 / (8 * 7)) = 1.3333333 * 8.4642857 = 11.285714; sigma = 3.3594217.
  // z = (8 - 2.5 - 0.5) / 3.3594217 = 1.4883514; p = 2 (1 - Phi(1.4883514)) = 0.1366582.
  // (SciPy, asymptotic with continuity: 0.136658248.)
  MannWhitney r = mann_whitney_u({1, 2, 2, 3}, {2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(r.u1, 2.5);
  EXPECT_DOUBLE_EQ(r.u, 2.5);
  EXPECT_NEAR(r.z, 1.4883514, 1e-6);
  EXPECT_NEAR(r.p, 0.1366582, 1e-6);
}

TEST(Compare, MannWhitneyDegenerate) {
  EXPECT_EQ(mann_whitney_u({3, 3, 3}, {3, 3}).p, 1.0);  // every value equal
  EXPECT_EQ(mann_whitney_u({}, {1, 2}).p, 1.0);
  // Identical samples: U1 = n1 n2 / 2, z clamps at 0 (continuity), p = 1.
  MannWhitney r = mann_whitney_u({1, 2, 3, 4}, {1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(r.u1, 8);
  EXPECT_EQ(r.p, 1.0);
}

TEST(Compare, ReportsPairedByModelAndBackend) {
  json a = report({run("slower", 100, 102, 110, 112), run("same_small", 100, 102, 110, 112),
                   run("same_noisy", 100, 115, 130, 140), run("faster", 100, 102, 110, 112),
                   run("gone", 10, 11, 12, 13), run("breaks", 10, 11, 12, 13), failed("mends", "old failure"),
                   run("slower", 100, 102, 110, 112, "torch")});
  json b =
      report({run("faster", 80, 82, 90, 92), run("slower", 120, 122, 130, 132), run("same_small", 103, 105, 110, 112),
              run("same_noisy", 110, 125, 130, 140), run("new", 10, 11, 12, 13), failed("breaks", "kernel failed"),
              run("mends", 10, 11, 12, 13), run("slower", 100, 102, 110, 112, "torch")});
  CompareResult res = compare_reports(a, b);
  ASSERT_EQ(res.rows.size(), 9u);
  EXPECT_EQ(row_of(res, "slower").median->verdict, Verdict::Slower);
  EXPECT_EQ(row_of(res, "slower").backend, "native");
  EXPECT_EQ(res.rows[7].model, "slower");  // the torch run of 'slower': unchanged
  EXPECT_EQ(res.rows[7].backend, "torch");
  EXPECT_EQ(res.rows[7].median->verdict, Verdict::Same);
  EXPECT_EQ(row_of(res, "same_small").median->reason, SameReason::BelowThreshold);
  EXPECT_EQ(row_of(res, "same_noisy").median->reason, SameReason::WithinNoise);
  EXPECT_EQ(row_of(res, "faster").median->verdict, Verdict::Faster);
  EXPECT_EQ(row_of(res, "gone").kind, RowKind::Removed);
  EXPECT_EQ(row_of(res, "new").kind, RowKind::Added);
  EXPECT_EQ(res.rows.back().model, "new");  // B-only rows come last
  const CompareRow& breaks = row_of(res, "breaks");
  EXPECT_EQ(breaks.kind, RowKind::Error);
  EXPECT_TRUE(breaks.broke);
  EXPECT_EQ(breaks.error_a, "");
  EXPECT_EQ(breaks.error_b, "kernel failed");
  const CompareRow& mends = row_of(res, "mends");
  EXPECT_EQ(mends.kind, RowKind::Error);
  EXPECT_FALSE(mends.broke);
  EXPECT_EQ(mends.error_a, "old failure");
  EXPECT_FALSE(mends.median);

  // p99: 110 -> 130 with p999 - p99 = 2: slower; same_noisy's p99 130 -> 130: same.
  EXPECT_EQ(row_of(res, "slower").p99->verdict, Verdict::Slower);
  EXPECT_DOUBLE_EQ(row_of(res, "slower").p99->noise_us, 2);
  EXPECT_EQ(row_of(res, "same_noisy").p99->verdict, Verdict::Same);

  EXPECT_EQ(res.count(Verdict::Slower), 1u);
  EXPECT_EQ(res.count(Verdict::Faster), 1u);
  EXPECT_EQ(res.count(Verdict::Same), 3u);
  EXPECT_EQ(res.count(RowKind::Error), 2u);
  EXPECT_TRUE(res.regression());
  EXPECT_TRUE(res.notes.empty());
}

TEST(Compare, RegressionOnlyForSlowerMediansOrNewFailures) {
  // p99 slower but the median the same: no regression (exit 0).
  json a = report({run("m", 100, 102, 110, 112)});
  json b = report({run("m", 100, 102, 150, 152)});
  CompareResult res = compare_reports(a, b);
  EXPECT_EQ(res.rows[0].p99->verdict, Verdict::Slower);
  EXPECT_FALSE(res.regression());
  // Faster, added, removed, failing in both: no regression either.
  b = report({run("m", 80, 82, 90, 92), run("extra", 1, 2, 3, 4)});
  EXPECT_FALSE(compare_reports(a, b).regression());
  EXPECT_FALSE(compare_reports(report({failed("x", "e")}), report({failed("x", "e")})).regression());
  EXPECT_FALSE(compare_reports(a, report(json::array())).regression());
  // A median 20 % slower: regression (exit 1), unless the threshold is raised past it.
  b = report({run("m", 120, 122, 130, 132)});
  EXPECT_TRUE(compare_reports(a, b).regression());
  CompareOptions loose;
  loose.threshold_pct = 25;
  EXPECT_FALSE(compare_reports(a, b, loose).regression());
}

TEST(Compare, SamplesAddTheMannWhitneyTest) {
  // Medians 100 -> 120 with tight spreads, but only 5 samples each and no
  // overlap: p = 0.0122 (see MannWhitneyWithoutOverlap) is not below 0.01.
  json a = report({run("m", 100, 102, 110, 112)});
  json b = report({run("m", 120, 122, 130, 132)});
  a["runs"][0]["samples_us"] = {98, 99, 100, 101, 102};
  b["runs"][0]["samples_us"] = {118, 119, 120, 121, 122};
  CompareResult res = compare_reports(a, b);
  ASSERT_TRUE(res.rows[0].median->p_value);
  EXPECT_NEAR(*res.rows[0].median->p_value, 0.0121858, 1e-6);
  EXPECT_EQ(res.rows[0].median->reason, SameReason::NotSignificant);
  EXPECT_FALSE(res.regression());
  EXPECT_FALSE(res.rows[0].p99->p_value);
  // Six each, no overlap: U = 0, sigma^2 = 36 * 13 / 12 = 39, z = (18 - 0.5) / 6.244998 = 2.802243,
  // p = 2 (1 - Phi(2.802243)) = 0.005075: called.
  a["runs"][0]["samples_us"].push_back(103);
  b["runs"][0]["samples_us"].push_back(123);
  res = compare_reports(a, b);
  EXPECT_NEAR(*res.rows[0].median->p_value, 0.005075, 1e-5);
  EXPECT_EQ(res.rows[0].median->verdict, Verdict::Slower);
  // Samples on one side only: no test.
  b["runs"][0].erase("samples_us");
  EXPECT_FALSE(compare_reports(a, b).rows[0].median->p_value);
}

TEST(Compare, DuplicatesPairInOrderAndNotes) {
  json a = report({run("m", 100, 101, 110, 111), run("m", 200, 201, 210, 211)});
  json b = report({run("m", 100, 101, 110, 111), run("m", 300, 301, 310, 311)}, "other-box");
  b["options"]["threads"] = 4;
  CompareResult res = compare_reports(a, b);
  ASSERT_EQ(res.rows.size(), 2u);
  EXPECT_EQ(res.rows[0].occurrence, 1);
  EXPECT_EQ(res.rows[0].median->verdict, Verdict::Same);
  EXPECT_EQ(res.rows[1].occurrence, 2);
  EXPECT_EQ(res.rows[1].median->verdict, Verdict::Slower);
  ASSERT_EQ(res.notes.size(), 2u);
  EXPECT_NE(res.notes[0].find("other-box"), std::string::npos) << res.notes[0];
  EXPECT_NE(res.notes[1].find("threads 1 vs 4"), std::string::npos) << res.notes[1];
}

TEST(Compare, NotTimedRuns) {
  json a = report({run("m", 100, 101, 110, 111)});
  json b = report({{{"model", "m"}, {"backend", "native"}, {"status", "ok"}, {"latency_us", nullptr}}});
  CompareResult res = compare_reports(a, b);
  EXPECT_EQ(res.rows[0].kind, RowKind::NotTimed);
  EXPECT_FALSE(res.regression());
}

TEST(Compare, CheckReportSaysWhatIsWrong) {
  json good = report({run("m", 100, 101, 110, 111)});
  EXPECT_NO_THROW(check_report(good));
  EXPECT_NE(error_of([] { check_report(json::array()); }).find("expected a JSON object"), std::string::npos);
  json r = good;
  r.erase("schema");
  EXPECT_NE(error_of([&] { check_report(r); }).find("no \"schema\" field"), std::string::npos);
  r = good;
  r["schema"] = "rtml.bench/2";
  EXPECT_NE(error_of([&] { check_report(r); }).find("another rtml version"), std::string::npos);
  r = good;
  r["runs"] = "none";
  EXPECT_NE(error_of([&] { check_report(r); }).find("\"runs\" is string"), std::string::npos);
  r = good;
  r["runs"][0]["latency_us"]["p90"] = "fast";
  std::string e = error_of([&] { check_report(r); });
  EXPECT_NE(e.find("runs[0] (model 'm', backend 'native'): latency_us.p90 is string"), std::string::npos) << e;
  r = good;
  r["runs"][0]["latency_us"].erase("p999");
  EXPECT_NE(error_of([&] { check_report(r); }).find("latency_us.p999 is missing"), std::string::npos);
  r = good;
  r["runs"][0]["status"] = "skipped";
  EXPECT_NE(error_of([&] { check_report(r); }).find("'skipped'"), std::string::npos);
  r = good;
  r["runs"][0]["samples_us"] = {1.0, "x"};
  EXPECT_NE(error_of([&] { check_report(r); }).find("samples_us[1]"), std::string::npos);
  r = good;
  r["runs"][0]["memory"] = {{"rss_peak_bytes", 1.5}};
  EXPECT_NE(error_of([&] { check_report(r); }).find("memory.rss_peak_bytes is 1.5, expected an integer"),
            std::string::npos);
  r = good;
  r["runs"][0]["memory"] = {{"rss_peak_bytes", 3500000.0}};  // a whole number written as a float is an integer
  EXPECT_NO_THROW(check_report(r));
  r = good;
  r.erase("host");
  EXPECT_NE(error_of([&] { check_report(r); }).find("\"host\" is missing"), std::string::npos);
}

TEST(Compare, ReadReportFileNamesTheFile) {
  fs::path dir = fs::temp_directory_path() / ("rtml_compare_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string missing = (dir / "missing.json").string();
  std::string e = error_of([&] { read_report_file(missing); });
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  EXPECT_NE(e.find("No such file"), std::string::npos) << e;

  std::string broken = (dir / "broken.json").string();
  std::ofstream(broken) << "{\"schema\": \"rtml.bench/1\",\n \"runs\": [1, 2,]}";
  e = error_of([&] { read_report_file(broken); });
  EXPECT_NE(e.find(broken + " is not JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;

  std::string other = (dir / "other.json").string();
  std::ofstream(other) << "{\"name\": \"not a report\"}";
  e = error_of([&] { read_report_file(other); });
  EXPECT_NE(e.find(other + ": no \"schema\" field"), std::string::npos) << e;

  std::string good = (dir / "good.json").string();
  std::ofstream(good) << report({run("m", 1, 2, 3, 4)}).dump();
  EXPECT_EQ(read_report_file(good)["runs"][0]["model"], "m");
  fs::remove_all(dir);
}

}  // namespace
