"""Compare a benchmark between two checkouts in one run, as ratios.

A change that should not move a figure (a refactor, a dependency bump) is measured against the commit
before it on the same machine at the same moment: absolute figures drift with the load of a shared
machine, ratios of interleaved runs much less. Each checkout runs with its own Python (its own venv,
where that checkout is installed), rounds alternate (old, new, old, new ...), and every number a
benchmark prints is paired with the number at the same place in the other checkout's output: lines are
matched by their text with the numbers masked. Per figure it prints the best of each side and new/old.

Run:  python bench/compare.py OLD_DIR NEW_DIR [--rounds 2] -- bench/extract_bench.py --rounds 3
      (each DIR is a checkout with its own .venv; the command runs in each, with that .venv's python)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def figures(output: str) -> dict[tuple[str, int], float]:
    """Every number of ``output``, keyed by its line's text with numbers masked and its place there."""
    found: dict[tuple[str, int], float] = {}
    for line in output.splitlines():
        if line.startswith("reproduce:"):
            continue
        shape = NUMBER.sub("#", line.strip())
        for place, match in enumerate(NUMBER.finditer(line)):
            found[(shape, place)] = float(match.group().replace(",", ""))
    return found


def run(checkout: Path, command: list[str]) -> tuple[str, float]:
    python = checkout / ".venv" / "bin" / "python"
    started = time.monotonic()
    done = subprocess.run([str(python), *command], cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{checkout}: {' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("no benchmark command after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    best: dict[str, dict[tuple[str, int], list[float]]] = {"old": {}, "new": {}}
    walls: dict[str, list[float]] = {"old": [], "new": []}
    last = ""
    for _ in range(args.rounds):
        for side in ("old", "new"):
            output, wall = run(getattr(args, side), command)
            walls[side].append(wall)
            for key, value in figures(output).items():
                best[side].setdefault(key, []).append(value)
            last = output if side == "new" else last
    print(f"{' '.join(command)}: {args.rounds} rounds each, interleaved; old {args.old}, new {args.new}")
    print(last.rstrip())
    print("figure (line, number #n): old / new = new/old  (median of rounds)")
    for key in best["new"]:
        if key not in best["old"]:
            continue
        old, new = (sorted(best[s][key])[len(best[s][key]) // 2] for s in ("old", "new"))
        if old:
            print(f"  {key[0][:90]} #{key[1]}: {old:,.4g} / {new:,.4g} = {new / old:.2f}")
    print(f"  wall seconds: {min(walls['old']):.1f} / {min(walls['new']):.1f}")
    print(
        f"reproduce: {sys.executable} bench/compare.py {args.old} {args.new} --rounds {args.rounds} -- {' '.join(command)}"
    )


if __name__ == "__main__":
    main()
