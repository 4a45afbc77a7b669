#include "compile/board_files.h"

#include <filesystem>
#include <fstream>

#include "compile/embedded_sources.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace rtml::compile {

namespace {
constexpr std::string_view kBoardDir = "compile/targets/cortex-m/";
}

std::vector<BoardFile> cortexm_board_files() {
  std::vector<BoardFile> files;
  for (const EmbeddedSource& s : embedded_sources())
    if (s.path.substr(0, kBoardDir.size()) == kBoardDir) files.push_back({s.path.substr(kBoardDir.size()), s.text});
  return files;
}

void write_cortexm_board_files(const std::string& dir, bool with_main) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the project folder (" + ec.message() + ")");
  for (const BoardFile& f : cortexm_board_files()) {
    if (!with_main && f.name == "main.c") continue;
    const fs::path path = fs::path(dir) / f.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(f.text.data(), static_cast<std::streamsize>(f.text.size()));
    if (!out.good()) throw Error(path.string() + ": cannot write it");
  }
}

}  // namespace rtml::compile
