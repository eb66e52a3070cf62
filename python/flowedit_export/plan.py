"""What every exporter's plan checks before any long work: the options they share, the pack folder
at --out, the memory and disk the export needs, and the error that lists every problem found.

The exporters call `available_memory` and `shutil.disk_usage` themselves, so that both can be
replaced where a check needs other figures.
"""

import os
from typing import Dict, List, Optional, Sequence

# Peak resident memory of an export over its float32 graph's size: the Wan2.1 1.3B transformer's
# export peaked at 11.2 GiB for a 5.68 GB graph (bench/wan-export.py); the tracer holds the
# module, the traced graph and the serialised model.
EXPORT_MEMORY_RATIO = 2.1


class ExportError(Exception):
    """Problems found before the export starts, one per line."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def check_common_options(only: Sequence[str], parts: Sequence[str], dtype: str, weights: Optional[str]) -> List[str]:
    """--only (a subset of `parts`), --dtype and --weights, as every exporter takes them."""
    problems: List[str] = []
    if not only or any(p not in parts for p in only):
        problems.append(f"--only {','.join(only)}: expected a comma-separated subset of {','.join(parts)}")
    if dtype not in ("float32", "float16"):
        problems.append(f"--dtype {dtype}: expected float32 or float16")
    if weights not in (None, "int8", "int4"):
        problems.append(f"--weights {weights}: expected int8 or int4")
    if weights is not None and dtype == "float16":
        problems.append(f"--weights {weights} with --dtype float16: choose one (quantised weights already make the graph smaller than float16)")
    return problems


def check_out(out: str, force: bool) -> List[str]:
    """The pack folder at `out` (absolute): refused if it exists, unless `force` and it is a folder."""
    if os.path.exists(out) and not force:
        return [f"{out}: exists; choose another --out or pass --force to replace it"]
    if os.path.exists(out) and not os.path.isdir(out):
        return [f"{out}: exists and is not a folder"]
    return []


def kept_files(out: str, only: Sequence[str], part_files: Dict[str, Sequence[str]]) -> Dict[str, str]:
    """The files of the parts not in `only` (`part_files`: part -> its pack files) that an existing
    pack at `out` holds, kept when those parts are not exported again: pack file -> path."""
    if not os.path.isdir(out):
        return {}
    return {name: os.path.join(out, name) for part, names in part_files.items() if part not in only
            for name in names if os.path.isfile(os.path.join(out, name))}


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new process (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def elsewhere(part: str, only: Sequence[str]) -> str:
    """The way round a part too large for this machine's memory, the end of its refusal."""
    others = [p for p in only if p != part]
    return (
        f"export it on a larger machine with --only {part} into a copy of this pack"
        + (f", and the rest here with --only {','.join(others)}" if others else "")
        + " (parts not exported are kept from the pack at --out), or pass --ignore-memory to try anyway"
    )


def existing_folder(path: str) -> str:
    """The nearest folder that exists at or above `path` (the disk a new folder there would be on)."""
    probe = path
    while probe and not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    return probe or "."
