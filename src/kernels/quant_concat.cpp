// rtml_x8_qconcat__ref (kernels/quant.h): portable, freestanding.
#include <stddef.h>
#include <string.h>

#include "kernels/quant.h"

RTML_KERNEL(rtml_x8_qconcat__ref) {
  const rtml_qconcat_params& p = *static_cast<const rtml_qconcat_params*>(params);
  const int64_t* blocks = static_cast<const int64_t*>(operands[p.blocks_slot]);
  const uint8_t* tables = p.tables_slot >= 0 ? static_cast<const uint8_t*>(operands[p.tables_slot]) : nullptr;
  uint8_t* y = static_cast<uint8_t*>(operands[p.out_slot]);
  for (int64_t o = 0; o < p.outer; ++o)
    for (int32_t k = 0; k < p.num_inputs; ++k) {
      const ptrdiff_t block = static_cast<ptrdiff_t>(blocks[2 * k]);
      const uint8_t* x = static_cast<const uint8_t*>(operands[k]) + static_cast<ptrdiff_t>(o) * block;
      if (blocks[2 * k + 1] < 0) {
        if (block) memcpy(y, x, static_cast<size_t>(block));
      } else {
        const uint8_t* table = tables + blocks[2 * k + 1];
        for (ptrdiff_t i = 0; i < block; ++i) y[i] = table[x[i]];
      }
      y += block;
    }
  return 0;
}
