#include "compile/board_files.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace rtml::compile {

void write_cortexm_board_files(const std::string& dir, bool with_main) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the project folder (" + ec.message() + ")");
  for (const BoardFile& f : cortexm_board_files()) {
    if (!with_main && std::string_view(f.name) == "main.c") continue;
    const fs::path path = fs::path(dir) / f.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(f.text.data(), static_cast<std::streamsize>(f.text.size()));
    if (!out.good()) throw Error(path.string() + ": cannot write it");
  }
}

}  // namespace rtml::compile
