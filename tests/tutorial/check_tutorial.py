"""Runs every command of docs/tutorial.md, in order, in a scratch folder that sees
the build as build/ and the sources' examples/ and zoo/ (the tutorial's commands
are written from the top of a checkout). Each must exit 0. Blocks fenced as
```sh board (need a Bela on the network), ```sh setup (install: the test runs
inside the build it checks) and ```sh cross (a full armhf cross build) are listed with that reason and not run.

usage: check_tutorial.py TUTORIAL.md SOURCE_DIR BUILD_DIR WORKDIR
"""
import os
import re
import shutil
import subprocess
import sys

SKIP_REASONS = {
    "board": "needs a Bela on the network (rtml agent / ssh root@bela.local)",
    "setup": "installs and builds rtml: the test runs inside the build it checks",
    "cross": "a full armhf cross build (make test-armhf builds and tests it)",
}


def blocks(text):
    """(info, [command lines]) for every ```sh ... fenced block."""
    for m in re.finditer(r"^```(sh[^\n]*)\n(.*?)^```", text, re.S | re.M):
        info = m.group(1).split()
        lines = [ln for ln in m.group(2).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        yield (info[1] if len(info) > 1 else "run"), lines


def main():
    tutorial, source, build, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for name, target in (("build", build), ("examples", os.path.join(source, "examples")),
                         ("zoo", os.path.join(source, "zoo"))):
        os.symlink(os.path.abspath(target), os.path.join(work, name))
    with open(tutorial) as f:
        text = f.read()
    ran = skipped = 0
    for kind, lines in blocks(text):
        if kind != "run" and kind not in SKIP_REASONS:
            sys.exit(f"FAIL {tutorial}: a ```sh {kind} block: expected ```sh, ```sh board, ```sh setup or ```sh cross")
        for line in lines:
            if kind != "run":
                print(f"SKIP {line}\n     ({SKIP_REASONS[kind]})")
                skipped += 1
                continue
            print(f"$ {line}", flush=True)
            p = subprocess.run(["bash", "-c", line], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=900)
            print(p.stdout[-3000:], end="")
            if p.returncode != 0:
                sys.exit(f"FAIL: `{line}` exited {p.returncode}")
            ran += 1
    if ran < 8:
        sys.exit(f"FAIL: only {ran} commands found to run in {tutorial}")
    print(f"tutorial: {ran} commands ran, {skipped} skipped (reasons above)")


if __name__ == "__main__":
    main()
