#!/usr/bin/python3
"""The kernel table (`rtml ops --kernels --json`) against the kernel library's
promises (src/kernels/rtml_kernel.h, src/kernels/table.h):

  - every symbol follows rtml_<dtype>_<op>__<impl> and appears once;
  - every params field lies inside its struct and no two overlap (so the
    code generator's C initialiser writes exactly the bytes the engine reads);
  - every source file exists, and a file is either portable or not;
  - every portable source compiles as freestanding C++17 (no C++ library
    headers: -nostdinc++, no exceptions, no RTTI) warning-free, on the host
    and, when arm-none-eabi-g++ is installed, for a Cortex-M7 with picolibc;
  - every kernel's header (where its params and declaration are) compiles as
    C99 (-pedantic), since the generated C includes it.

usage: check_kernel_library.py RTML SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

RTML, SRC = sys.argv[1], os.path.join(sys.argv[2], "src")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


p = subprocess.run([RTML, "ops", "--kernels", "--json"], capture_output=True, text=True)
check(p.returncode == 0, f"rtml ops --kernels --json exits 0 ({p.stderr.strip()})")
table = json.loads(p.stdout)
check(len(table) > 0, "the kernel table has entries")

KIND_BYTES = {"bool": 1, "int8_t": 1, "uint8_t": 1, "int32_t": 4, "uint32_t": 4, "int64_t": 8, "float": 4, "double": 8}
NAME = re.compile(r"^rtml_[a-z0-9]+_[a-z0-9_]+__[a-z0-9_]+$")
seen = set()
portable_of = {}
for k in table:
    sym = k["symbol"]
    check(NAME.match(sym) is not None, f"{sym}: named rtml_<dtype>_<op>__<impl>")
    check(sym not in seen, f"{sym}: registered once")
    seen.add(sym)
    check(os.path.isfile(os.path.join(SRC, k["source"])), f"{sym}: source {k['source']} exists")
    prev = portable_of.setdefault(k["source"], k["portable"])
    check(prev == k["portable"], f"{k['source']}: every kernel in it is portable or none is")
    if k["portable"]:
        check(not sym.endswith("_hwy"), f"{sym}: a portable kernel is not a Highway one")
    spans = []
    for f in k["fields"]:
        n = KIND_BYTES.get(f["type"])
        check(n is not None, f"{sym}.{f['name']}: a scalar type ({f['type']})")
        size = (n or 0) * f["dims"][0] * f["dims"][1]
        check(f["offset"] + size <= k["params_bytes"], f"{sym}.{f['name']}: inside the {k['params_bytes']}-byte struct")
        spans.append((f["offset"], f["offset"] + size, f["name"]))
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        check(a[1] <= b[0], f"{sym}: fields {a[2]} and {b[2]} do not overlap")

portable = sorted(s for s, port in portable_of.items() if port)
check(len(portable) > 0, "some kernel sources are portable")
cxx = shutil.which("g++")
common = ["-std=c++17", "-nostdinc++", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Werror", "-I", SRC]
arm = shutil.which("arm-none-eabi-g++")
with tempfile.TemporaryDirectory() as tmp:
    for src in portable:
        path = os.path.join(SRC, src)
        r = subprocess.run([cxx, *common, "-fsyntax-only", path], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(), f"{src}: freestanding C++17 on the host\n{r.stderr}")
        if arm:
            r = subprocess.run([arm, *common, "-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard",
                                "-specs=picolibc.specs", "-O2", "-c", path, "-o", os.path.join(tmp, "k.o")],
                               capture_output=True, text=True)
            check(r.returncode == 0 and not r.stderr.strip(), f"{src}: builds for a Cortex-M7\n{r.stderr}")
    for header in sorted({k["header"] for k in table}):
        path = os.path.join(SRC, header)
        if not check(os.path.isfile(path), f"{header}: exists"):
            continue
        r = subprocess.run(["gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c",
                            "-I", SRC, path], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(), f"{header}: compiles as C99\n{r.stderr}")
if not arm:
    print("note: arm-none-eabi-g++ is not installed (scripts/install-deps.sh installs it): the Cortex-M build of "
          "the portable kernels was not checked")

print(f"{len(table)} kernels, {len(portable)} portable sources checked: "
      + ("all good" if not failures else f"{len(failures)} failures"))
sys.exit(1 if failures else 0)
