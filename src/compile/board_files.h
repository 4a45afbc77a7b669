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

// A region of exactly `bytes` that holds the input section `section` alone.
struct BudgetRegion {
  std::string region;   // "ARENA", "LEVEL_dtcm"
  std::string section;  // ".rtml_arena", ".rtml_level_dtcm"
  uint64_t bytes = 0;
};
// A board's linker script (mps2_an500.ld...) for `rtml compile --ram` or
// `--memory`: the start of its RAM carved into `regions`, one after another
// (--ram: ARENA, which holds main.c's arena; --memory: one per level, each
// holding that level's array), so the link fails when one is over its
// budget; the rest of RAM as before.
std::string budget_linker_script(const std::string& board_script, const std::vector<BudgetRegion>& regions,
                                 const std::string& why);

}  // namespace rtml::compile
