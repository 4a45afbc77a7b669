/* rtml-qemu-insn.so: a QEMU TCG plugin (API version 1) that counts executed
 * guest instructions per inference and per step of a compiled model, and
 * the bytes loaded and stored per memory region during inferences.
 *
 * Arguments (-plugin rtml-qemu-insn.so,NAME=VALUE,...):
 *   begin=ADDR step=ADDR end=ADDR   the marker functions' entry addresses
 *                                   (rtml_markers.h; the Thumb bit is ignored)
 *   region=NAME:START:END           up to 4 named address ranges [START, END)
 *   out=PATH                        where the counts go (default: QEMU's log)
 *
 * How it counts: every instruction gets an inline counter increment at
 * translation, which runs each time the instruction executes (translation
 * happens once, execution many times; only the latter is counted). The
 * first instruction of each marker function gets an execution callback
 * instead, which reads the counter, closes the open segment, opens a new
 * one and then counts the marker instruction itself. So:
 *   - an inference is every instruction from rtml_inference_begin's first
 *     (inclusive) to rtml_inference_end's first (exclusive);
 *   - the k-th step of an inference runs from its k-th rtml_step_begin's
 *     first instruction (inclusive) to the next marker's (exclusive);
 *   - program instructions are all executed instructions, reset to exit.
 * Loads and stores during an inference are attributed to the region that
 * holds their address (or "other"), in bytes of each access. No time and
 * no cycles: QEMU has no timing model, and the counts do not depend on the
 * host, so two runs give the same numbers.
 *
 * Output (line format, parsed by src/compile/qemu_runner.cpp):
 *   rtml-qemu-insn 1
 *   program_instructions N
 *   inference I instructions N steps S
 *   step I K instructions N           (K-th step of inference I, from 0)
 *   region NAME load_bytes L store_bytes S
 * Inferences and steps are numbered from 0; an inference still open at
 * exit is not reported. One vCPU (M-profile boards have one). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtml_qemu_plugin.h"

RTML_QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

enum marker { MARKER_BEGIN, MARKER_STEP, MARKER_END, MARKER_COUNT };
enum { MAX_REGIONS = 4 };

struct region {
  char name[32];
  uint64_t start, end;
  uint64_t load_bytes, store_bytes;
};

struct counts {
  uint64_t* values;
  size_t size, capacity;
};

static struct {
  uint64_t marker_addr[MARKER_COUNT];
  char* out_path;
  struct region regions[MAX_REGIONS + 1]; /* the last is "other" */
  int num_regions;

  uint64_t insns; /* every executed instruction so far */
  int in_inference;
  int in_step;
  uint64_t inference_start, step_start;
  struct counts inference_insns;          /* per inference */
  struct counts step_insns, step_inference; /* per step, and the inference it belongs to */
} g;

static void push(struct counts* c, uint64_t v) {
  if (c->size == c->capacity) {
    c->capacity = c->capacity ? 2 * c->capacity : 256;
    c->values = realloc(c->values, c->capacity * sizeof *c->values);
    if (!c->values) {
      fprintf(stderr, "rtml-qemu-insn: out of memory\n");
      exit(1);
    }
  }
  c->values[c->size++] = v;
}

static void on_marker(unsigned int vcpu, void* userdata) {
  (void)vcpu;
  const enum marker m = (enum marker)(uintptr_t)userdata;
  const uint64_t now = g.insns;
  if (g.in_step) {
    push(&g.step_insns, now - g.step_start);
    push(&g.step_inference, g.inference_insns.size);
    g.in_step = 0;
  }
  switch (m) {
    case MARKER_BEGIN:
      g.in_inference = 1;
      g.inference_start = now;
      break;
    case MARKER_STEP:
      if (g.in_inference) {
        g.in_step = 1;
        g.step_start = now;
      }
      break;
    case MARKER_END:
      if (g.in_inference) push(&g.inference_insns, now - g.inference_start);
      g.in_inference = 0;
      break;
    default:
      break;
  }
  g.insns += 1; /* the marker instruction itself */
}

static void on_memory(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* userdata) {
  (void)vcpu;
  (void)userdata;
  if (!g.in_inference) return;
  struct region* r = &g.regions[g.num_regions];
  for (int i = 0; i < g.num_regions; ++i)
    if (vaddr >= g.regions[i].start && vaddr < g.regions[i].end) {
      r = &g.regions[i];
      break;
    }
  const uint64_t bytes = UINT64_C(1) << qemu_plugin_mem_size_shift(info);
  if (qemu_plugin_mem_is_store(info))
    r->store_bytes += bytes;
  else
    r->load_bytes += bytes;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
    int marker = -1;
    for (int m = 0; m < MARKER_COUNT; ++m)
      if (g.marker_addr[m] == vaddr) marker = m;
    if (marker >= 0)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, (void*)(uintptr_t)marker);
    else
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &g.insns, 1);
    qemu_plugin_register_vcpu_mem_cb(insn, on_memory, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
  }
}

static void write_counts(FILE* f) {
  fprintf(f, "rtml-qemu-insn 1\n");
  fprintf(f, "program_instructions %" PRIu64 "\n", g.insns);
  size_t s = 0;
  for (size_t i = 0; i < g.inference_insns.size; ++i) {
    size_t first = s;
    while (s < g.step_insns.size && g.step_inference.values[s] == i) ++s;
    fprintf(f, "inference %zu instructions %" PRIu64 " steps %zu\n", i, g.inference_insns.values[i], s - first);
    for (size_t k = first; k < s; ++k)
      fprintf(f, "step %zu %zu instructions %" PRIu64 "\n", i, k - first, g.step_insns.values[k]);
  }
  for (int i = 0; i <= g.num_regions; ++i)
    fprintf(f, "region %s load_bytes %" PRIu64 " store_bytes %" PRIu64 "\n", g.regions[i].name,
            g.regions[i].load_bytes, g.regions[i].store_bytes);
}

static void on_exit_(qemu_plugin_id_t id, void* userdata) {
  (void)id;
  (void)userdata;
  if (!g.out_path) {
    char* text = NULL;
    size_t size = 0;
    FILE* f = open_memstream(&text, &size);
    if (!f) return;
    write_counts(f);
    fclose(f);
    qemu_plugin_outs(text);
    free(text);
    return;
  }
  FILE* f = fopen(g.out_path, "w");
  if (!f) {
    fprintf(stderr, "rtml-qemu-insn: cannot write %s\n", g.out_path);
    return;
  }
  write_counts(f);
  fclose(f);
}

static int parse_address(const char* s, uint64_t* out) {
  char* end = NULL;
  unsigned long long v = strtoull(s, &end, 0);
  if (end == s || (*end && *end != ':')) return -1;
  *out = v;
  return 0;
}

static int parse_region(const char* value) {
  if (g.num_regions == MAX_REGIONS) return -1;
  struct region* r = &g.regions[g.num_regions];
  const char* colon = strchr(value, ':');
  if (!colon || colon == value || (size_t)(colon - value) >= sizeof r->name) return -1;
  memcpy(r->name, value, (size_t)(colon - value));
  r->name[colon - value] = 0;
  const char* second = strchr(colon + 1, ':');
  if (!second || parse_address(colon + 1, &r->start) != 0 || parse_address(second + 1, &r->end) != 0 ||
      r->end <= r->start)
    return -1;
  ++g.num_regions;
  return 0;
}

static int parse_arg(const char* arg) {
  static const char* const marker_keys[MARKER_COUNT] = {"begin=", "step=", "end="};
  for (int m = 0; m < MARKER_COUNT; ++m) {
    size_t n = strlen(marker_keys[m]);
    if (strncmp(arg, marker_keys[m], n) == 0) {
      if (parse_address(arg + n, &g.marker_addr[m]) != 0) return -1;
      g.marker_addr[m] &= ~UINT64_C(1); /* Thumb function symbols have bit 0 set */
      return 0;
    }
  }
  if (strncmp(arg, "region=", 7) == 0) return parse_region(arg + 7);
  if (strncmp(arg, "out=", 4) == 0) {
    free(g.out_path);
    g.out_path = strdup(arg + 4);
    return g.out_path ? 0 : -1;
  }
  return -1;
}

RTML_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc,
                                                char** argv) {
  (void)info;
  for (int m = 0; m < MARKER_COUNT; ++m) g.marker_addr[m] = UINT64_MAX;
  for (int i = 0; i < argc; ++i)
    if (parse_arg(argv[i]) != 0) {
      fprintf(stderr,
              "rtml-qemu-insn: bad argument '%s' (expected begin=ADDR, step=ADDR, end=ADDR, out=PATH or "
              "region=NAME:START:END, at most %d regions)\n",
              argv[i], MAX_REGIONS);
      return -1;
    }
  strcpy(g.regions[g.num_regions].name, "other");
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
  return 0;
}
