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

std::string budget_linker_script(const std::string& board_script, const std::vector<BudgetRegion>& regions,
                                 const std::string& why) {
  // The RAM line of the board's MEMORY block: "  RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 4M".
  const size_t ram = board_script.find("\n  RAM ");
  const size_t origin = ram == std::string::npos ? ram : board_script.find("ORIGIN = ", ram);
  const size_t comma = origin == std::string::npos ? origin : board_script.find(',', origin);
  const size_t length = comma == std::string::npos ? comma : board_script.find("LENGTH = ", comma);
  const size_t eol = length == std::string::npos ? length : board_script.find('\n', length);
  const size_t include = board_script.find("INCLUDE rtml_sections.ld");
  if (eol == std::string::npos || include == std::string::npos || include < eol)
    throw Error("internal error: the board's linker script has no RAM region to carve the arena from");
  const std::string org = board_script.substr(origin + 9, comma - origin - 9);
  const std::string len = board_script.substr(length + 9, eol - length - 9);
  std::string s = board_script.substr(0, ram + 1), sections;
  uint64_t carved = 0;
  for (const BudgetRegion& r : regions) {
    s += "  " + r.region + " (rw) : ORIGIN = " + org + " + " + std::to_string(carved) + ", LENGTH = " +
         std::to_string(r.bytes) + "\n";
    carved += (r.bytes + 15) / 16 * 16;
    sections += "  " + r.section + " (NOLOAD) :\n  {\n    *(" + r.section + ")\n  } > " + r.region + "\n";
  }
  s += "  RAM   (rwx) : ORIGIN = " + org + " + " + std::to_string(carved) + ", LENGTH = " + len + " - " +
       std::to_string(carved);
  s += board_script.substr(eol, include - eol);
  s += "/* " + why + " */\nSECTIONS\n{\n" + sections + "}\n";
  s += board_script.substr(include);
  return s;
}

}  // namespace rtml::compile
