#!/usr/bin/env python3
"""Counts the instructions one iteration of each bench case costs, under callgrind.

    benches/instructions.py PACKAGE BENCH [SUBSTRING]

Wall-clock benchmarks on a shared two-core VM drift by a third between runs; instruction
counts do not. Each case runs twice under `valgrind --tool=callgrind` (a few hundred and
a few thousand iterations); the difference of the totals divided by the difference of
the iterations is the cost of one iteration, with start-up and set-up cancelled out.

Cases are named `group/operation/implementation`; for each group with an `apierr` case
and a reference (`serde_json`, `axum`), the ratio reference/apierr is printed: above 1
means apierr runs fewer instructions, and for throughput benches it is the throughput
ratio in instructions.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

# Iterations of the two runs; a case that costs millions of instructions an iteration
# (a 64 KiB body) takes fewer: APIERR_INSTRUCTIONS_ITERS=5,25.
FEW, MANY = (int(n) for n in os.environ.get("APIERR_INSTRUCTIONS_ITERS", "200,2000").split(","))


def executable(package: str, bench: str) -> str:
    out = subprocess.run(
        ["cargo", "bench", "-p", package, "--bench", bench, "--no-run",
         "--message-format=json"],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == bench:
            return msg["executable"]
    sys.exit(f"no executable for bench {bench} of {package}")


def total(binary: str, case: str, iters: int) -> int:
    with tempfile.NamedTemporaryFile(suffix=".cg") as out:
        env = dict(os.environ, APIERR_BENCH_CASE=case, APIERR_BENCH_ITERS=str(iters))
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}",
             # Only what a case runs: set-up is not counted at all, so that a set-up
             # whose cost depends on the clock (metrics-exporter-prometheus calibrates
             # quanta's TSC clock for as long as it takes) cannot leak into the difference.
             "--toggle-collect=*cases::Case::new*", binary],
            check=True, env=env, capture_output=True,
        )
        for line in open(out.name):
            m = re.match(r"(?:summary|totals): (\d+)", line)
            if m:
                return int(m.group(1))
    sys.exit(f"no totals for {case}")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    package, bench = sys.argv[1], sys.argv[2]
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    binary = executable(package, bench)
    names = subprocess.run(
        [binary], env=dict(os.environ, APIERR_BENCH_LIST="1"),
        check=True, capture_output=True, text=True,
    ).stdout.split()
    per_iter = {}
    for name in names:
        if only not in name:
            continue
        few, many = total(binary, name, FEW), total(binary, name, MANY)
        per_iter[name] = (many - few) / (MANY - FEW)
        print(f"{name:<55} {per_iter[name]:>9.0f} instructions", flush=True)
    print()
    for name, cost in per_iter.items():
        group, _, impl = name.rpartition("/")
        if impl != "apierr":
            continue
        for other, ref in per_iter.items():
            o_group, _, o_impl = other.rpartition("/")
            if o_group == group and o_impl != "apierr":
                print(f"{group:<45} {o_impl}/apierr = {ref / cost:.2f}")


if __name__ == "__main__":
    main()
