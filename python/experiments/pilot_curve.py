"""The in-run check's curve of pixel-space runs (train_pixel.py), as a markdown table:

    .venv/bin/python python/experiments/pilot_curve.py NAME=RUN/log.jsonl [NAME=...] [--every N]

One row per check (every N-th, and always the last): samples seen, training minutes, and per run
per-object shape, per-object colour and whole-caption accuracy; then the ceiling and chance rows.
"""

import argparse
import json
from typing import Dict, List


def read(path: str) -> Dict[str, List[Dict]]:
    by: Dict[str, List[Dict]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            by.setdefault(r["stage"], []).append(r)
    return by


def pct(x: float) -> str:
    return f"{100 * x:.0f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="NAME=path/to/log.jsonl")
    p.add_argument("--every", type=int, default=1)
    args = p.parse_args()
    runs = [(n, read(path)) for n, path in (r.split("=", 1) for r in args.runs)]
    head = "| check | " + " | ".join(f"{n}: samples, train min, shape / colour / caption %" for n, _ in runs) + " |"
    print(head)
    print("|" + "---|" * (1 + len(runs)))
    longest = max(len(log.get("check", [])) for _, log in runs)
    for i in range(longest):
        if i % args.every and i != longest - 1:
            continue
        cells = []
        for _, log in runs:
            checks = log.get("check", [])
            if i < len(checks):
                c = checks[i]
                cells.append(f"{c['samples']:,}, {c['train_s'] / 60:.1f}, {pct(c['shape'])} / {pct(c['colour'])} / {pct(c['caption'])}")
            else:
                cells.append("")
        print(f"| {i + 1} | " + " | ".join(cells) + " |")
    for stage in ("ceiling", "chance"):
        cells = [(f"{pct(log[stage][0]['shape'])} / {pct(log[stage][0]['colour'])} / {pct(log[stage][0]['caption'])}"
                  if stage in log else "") for _, log in runs]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
