"""Strict loading of checkpoint files: safetensors (single file or index + shards) and .pth.

Every problem is reported at once, naming the file: missing keys, unexpected keys, shape
mismatches. Nothing is loaded into the module unless everything matches.
"""

import json
import os
from typing import Collection, Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]

# How many key names one error lists before it summarises the rest.
LIST_LIMIT = 12


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file and what was expected."""


def _listed(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:LIST_LIMIT])
    return shown + (f" … and {len(keys) - LIST_LIMIT} more" if len(keys) > LIST_LIMIT else "")


def require_file(path: str, what: str) -> str:
    """`path` if it is a readable, non-empty file, else a CheckpointError saying what it should be."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: missing; expected {what}")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: not a file; expected {what}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: empty file; expected {what}")
    return path


def read_json(path: str, name: Optional[str] = None):
    """The JSON in `path`; one that cannot be read is a CheckpointError naming `name` (by default `path`)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except Exception as e:
        raise CheckpointError(f"{name or path}: not readable as JSON ({e}); the file may be truncated: download it again") from e


def read_safetensors(path: str) -> StateDict:
    """All tensors of one .safetensors file; a truncated or corrupt file is a CheckpointError."""
    from safetensors.torch import load_file

    require_file(path, "a .safetensors file")
    try:
        return load_file(path, device="cpu")
    except Exception as e:  # safetensors raises its own error types for truncation/corruption
        raise CheckpointError(f"{path}: cannot be read as safetensors ({e}); the file may be truncated: download it again") from e


def read_safetensors_index(index_path: str) -> StateDict:
    """Tensors of a sharded checkpoint: `*.safetensors.index.json` names the shard of each key."""
    require_file(index_path, "a safetensors index (.safetensors.index.json)")
    try:
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
    except Exception as e:
        raise CheckpointError(f"{index_path}: not a safetensors index with a weight_map ({e})") from e
    folder = os.path.dirname(index_path)
    shards = sorted(set(weight_map.values()))
    missing = [s for s in shards if not os.path.isfile(os.path.join(folder, s))]
    if missing:
        raise CheckpointError(f"{index_path}: names shards that are not in {folder}: {_listed(missing)}; download them")
    state: StateDict = {}
    for shard in shards:
        shard_path = os.path.join(folder, shard)
        tensors = read_safetensors(shard_path)
        expected = {k for k, s in weight_map.items() if s == shard}
        absent = expected - set(tensors)
        if absent:
            raise CheckpointError(f"{shard_path}: lacks keys its index assigns to it: {_listed(absent)}; the shard may be from another release")
        state.update(tensors)
    return state


def read_torch_file(path: str) -> StateDict:
    """A state dict saved with torch.save (.pth/.pt), read without running pickled code."""
    require_file(path, "a PyTorch state dict (.pth)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot be read as a PyTorch state dict ({e}); the file may be truncated: download it again") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, expected a dict of tensors")
    return obj


def file_shapes(path: str) -> StateDict:
    """Each tensor of a checkpoint as an empty meta tensor of its shape, read without loading the
    weights: safetensors headers (one file, or an index and its shards), or a .pth mapped lazily."""
    from safetensors import safe_open

    if path.endswith(".index.json"):
        with open(path, encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        files = [os.path.join(os.path.dirname(path), s) for s in shards]
    elif path.endswith(".safetensors"):
        files = [path]
    else:
        return {k: torch.empty(v.shape, device="meta") for k, v in read_torch_file(path).items()}
    out: StateDict = {}
    for file in files:
        with safe_open(file, framework="pt") as f:
            for k in f.keys():
                out[k] = torch.empty(f.get_slice(k).get_shape(), device="meta")
    return out


def check_state_dict(module: nn.Module, state: StateDict, source: str, what: str) -> None:
    """Raise one CheckpointError listing every missing/unexpected key and shape mismatch."""
    expected = module.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    refuse_mismatches(source, what, missing, unexpected, wrong)


def refuse_mismatches(source: str, what: str, missing: Collection[str], unexpected: Collection[str], wrong: Sequence[str]) -> None:
    """One CheckpointError naming every `missing` and `unexpected` key and each shape mismatch
    (`wrong`: "key (shape) (expected (shape))", in the order to list them); none: nothing."""
    problems: List[str] = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_listed(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatches: {'; '.join(wrong[:LIST_LIMIT])}")
    if problems:
        raise CheckpointError(f"{source} does not match {what}: " + " | ".join(problems))


def load_strict(module: nn.Module, state: StateDict, source: str, what: str, dtype: Optional[torch.dtype] = torch.float32) -> None:
    """Check `state` against `module` (check_state_dict), then load it, cast to `dtype`."""
    check_state_dict(module, state, source, what)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    module.load_state_dict(state, strict=True)


def check_safetensors_complete(path: str) -> None:
    """Read only the header of a .safetensors file and check that the file holds every byte the
    header promises (a cheap check for a truncated download before any long work)."""
    import struct

    require_file(path, "a .safetensors file")
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > size - 8:
                raise ValueError(f"header of {header_len} bytes in a file of {size}")
            header = json.loads(f.read(header_len))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e}); the file may be truncated: download it again") from e
    if 8 + header_len + end > size:
        raise CheckpointError(f"{path}: truncated: {size} bytes, its header describes {8 + header_len + end}; download it again")


def check_torch_file_complete(path: str) -> None:
    """Check that a torch.save file (a zip archive) is complete by reading its directory, which a
    zip keeps at its end: a truncated download fails here without loading any tensor."""
    import zipfile

    require_file(path, "a PyTorch state dict (.pth)")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except zipfile.BadZipFile as e:
        raise CheckpointError(f"{path}: not a complete PyTorch file ({e}); the file may be truncated: download it again") from e
    if not any(n.endswith("data.pkl") for n in names):
        raise CheckpointError(f"{path}: a zip archive without data.pkl; expected a file written by torch.save")
