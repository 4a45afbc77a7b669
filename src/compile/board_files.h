// The Cortex-M board support files (src/compile/targets/cortex-m: linker
// scripts of every board, startup.c, rtml_semihost, rtml_markers, the test
// main.c, Makefile), embedded in rtml at build time with the kernel library
// (compile/embedded_sources.h), so that `rtml compile --project` writes them
// without the source tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtml::compile {

struct BoardFile {
  std::string_view name;  // file name, no folder
  std::string_view text;  // its bytes
};

std::vector<BoardFile> cortexm_board_files();

// Writes every board file into dir (made if missing); with_main false leaves
// out main.c, for a program with its own main. Error naming the file when a
// write fails.
void write_cortexm_board_files(const std::string& dir, bool with_main = true);

// A board's linker script (mps2_an500.ld...) for `rtml compile --ram`: the
// start of its RAM carved into a region ARENA of exactly budget_bytes that
// holds main.c's arena alone (section .rtml_arena), so the link fails when
// the arena is over the budget; the rest of RAM as before.
std::string budget_linker_script(const std::string& board_script, uint64_t budget_bytes);

}  // namespace rtml::compile
