// backends/plugin: runtimes other than the engine are loaded from shared
// objects only when asked for. What a user sees when a plugin is missing,
// is not a shared object, has no entry point or was built for another rtml:
// an error that names the file and says how to install it, never a crash.
// The fake plugins are built by tests/CMakeLists.txt (tests/plugin/).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "backends/backend.h"
#include "backends/plugin.h"
#include "error_of.h"

namespace fs = std::filesystem;
using namespace rtml;

namespace {

// Sets RTML_PLUGIN_PATH for one test and restores it afterwards.
class PluginPath {
 public:
  explicit PluginPath(const std::string& value) {
    if (const char* old = std::getenv("RTML_PLUGIN_PATH")) old_ = old;
    setenv("RTML_PLUGIN_PATH", value.c_str(), 1);
  }
  ~PluginPath() {
    if (old_.empty())
      unsetenv("RTML_PLUGIN_PATH");
    else
      setenv("RTML_PLUGIN_PATH", old_.c_str(), 1);
  }

 private:
  std::string old_;
};

const backends::KnownPlugin& known(const std::string& name) {
  for (const auto& p : backends::known_plugins())
    if (name == p.name) return p;
  throw std::runtime_error("no known plugin " + name);
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("rtml_plugin_test_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(BackendPlugins, SearchPathComesFirstThenTheExecutablesFolderAndLibRtml) {
  PluginPath path("/opt/a:/opt/b");
  std::vector<std::string> dirs = backends::plugin_dirs();
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/opt/a");
  EXPECT_EQ(dirs[1], "/opt/b");
  fs::path exe_dir = fs::read_symlink("/proc/self/exe").parent_path();
  EXPECT_EQ(dirs[2], exe_dir.string());
  EXPECT_EQ(dirs[3], (exe_dir.parent_path() / "lib" / "rtml").string());
}

TEST(BackendPlugins, EngineBackendsAreBuiltInAndEveryOtherRuntimeIsAPlugin) {
  std::vector<std::string> builtin;
  for (const auto& r : backends::registered()) builtin.push_back(r.name);
  // compiled: rtml compile's own C built and loaded (compile/host_backend.cpp), no other runtime.
  EXPECT_EQ(builtin, (std::vector<std::string>{"native", "handwritten", "compiled"}));
  for (const char* name : {"torch", "onnxruntime", "xnnpack"}) EXPECT_EQ(known(name).file, "rtml-backend-" + std::string(name) + ".so");
}

TEST(BackendPlugins, MissingPluginSaysWhereItLookedAndHowToInstall) {
  fs::path empty = temp_dir("empty");
  PluginPath path(empty.string());
  const auto& onnxruntime = known("onnxruntime");
  if (!backends::find_plugin(onnxruntime).empty()) GTEST_SKIP() << "an onnxruntime plugin is installed beside the tests";
  std::string e = error_of([&] { backends::create("onnxruntime"); });
  EXPECT_NE(e.find("rtml-backend-onnxruntime.so"), std::string::npos) << e;
  EXPECT_NE(e.find("not installed"), std::string::npos) << e;
  EXPECT_NE(e.find(empty.string()), std::string::npos) << e;
  EXPECT_NE(e.find("RTML_ONNXRUNTIME_ROOT"), std::string::npos) << e;
  fs::remove_all(empty);
}

TEST(BackendPlugins, UnknownNameListsBuiltInAndPluginBackends) {
  std::string e = error_of([] { backends::create("tensorflow"); });
  for (const char* name : {"'tensorflow'", "native", "handwritten", "torch", "onnxruntime"})
    EXPECT_NE(e.find(name), std::string::npos) << name << " in: " << e;
}

TEST(BackendPlugins, AFileThatIsNotASharedObjectIsAnErrorNamingIt) {
  fs::path dir = temp_dir("garbage");
  std::ofstream(dir / "rtml-backend-onnxruntime.so") << "not an ELF file";
  PluginPath path(dir.string());
  std::string e = error_of([] { backends::create("onnxruntime"); });
  EXPECT_NE(e.find((dir / "rtml-backend-onnxruntime.so").string()), std::string::npos) << e;
  EXPECT_NE(e.find("cannot load"), std::string::npos) << e;
  fs::remove_all(dir);
}

#ifdef RTML_FAKE_PLUGINS_DIR
TEST(BackendPlugins, ASharedObjectWithoutTheEntryPointIsRefused) {
  PluginPath path(std::string(RTML_FAKE_PLUGINS_DIR) + "/no-entry");
  std::string e = error_of([] { backends::create("onnxruntime"); });
  EXPECT_NE(e.find("not an rtml backend plugin"), std::string::npos) << e;
}

TEST(BackendPlugins, APluginBuiltForAnotherRtmlIsRefusedWithBothTags) {
  PluginPath path(std::string(RTML_FAKE_PLUGINS_DIR) + "/wrong-abi");
  std::string e = error_of([] { backends::create("onnxruntime"); });
  EXPECT_NE(e.find("built for another rtml"), std::string::npos) << e;
  EXPECT_NE(e.find("rtml-backend-plugin/0 some other build"), std::string::npos) << e;
  EXPECT_NE(e.find(RTML_PLUGIN_ABI), std::string::npos) << e;
}
#endif
