"""`python -m flowedit_export half PACK --out PACK16`: a copy of a pack whose transformer is the
float16 graph of half.py, its manifest saying `"transformer": {"dtype": "float16"}` and
`"formatVersion": 2` (format 2 is a superset of format 1, so a format-1 pack stays valid). Text
encoders and VAE graphs are kept as they are (float32). The new pack appears only when complete.
"""

import os
from typing import Callable, Dict, List

import onnx

from .half import HalfError, half_graph, refusal
from .onnx_export import finish_pack, keep_files, pack_folder, read_manifest


def _pack_files(pack: str) -> List[str]:
    return sorted(n for n in os.listdir(pack) if os.path.isfile(os.path.join(pack, n)))


def check_pack(pack: str) -> Dict:
    """The manifest of `pack` when its transformer can be made float16; HalfError says why not."""
    manifest = read_manifest(os.path.join(pack, "manifest.json"))
    if manifest is None:
        raise HalfError(f"{pack}: no readable manifest.json: give a model pack folder")
    transformer = manifest.get("transformer")
    if not isinstance(transformer, dict) or not isinstance(transformer.get("file"), str):
        raise HalfError(f"{pack}/manifest.json: no transformer.file: the pack has no transformer to convert")
    if transformer.get("dtype", "float32") != "float32":
        raise HalfError(f"{pack}: the transformer is already {transformer['dtype']} (manifest transformer.dtype): nothing to convert")
    path = os.path.join(pack, transformer["file"])
    if not os.path.isfile(path):
        raise HalfError(f"{path} is missing: the pack is incomplete")
    why = refusal(onnx.load(path, load_external_data=False))
    if why:
        raise HalfError(f"{path}: {why}")
    return manifest


def half_pack(pack: str, out: str, force: bool = False, progress: Callable[[str], None] = lambda line: None) -> Dict:
    """Write `out`, a copy of `pack` with a float16 transformer (checked before any work; the
    folder appears only when complete). Returns the new manifest and the conversion's figures."""
    pack, out = os.path.abspath(pack), os.path.abspath(out)
    if pack == out:
        raise HalfError(f"--out {out} is the pack itself: choose another folder")
    manifest = check_pack(pack)
    name = manifest["transformer"]["file"]
    transformer_files = {name, name + ".data"}
    kept = {n: os.path.join(pack, n) for n in _pack_files(pack) if n not in transformer_files and n != "manifest.json"}
    progress(f"plan: {pack} -> {out}, transformer {name} to float16, {len(kept)} other files kept")
    with pack_folder(out, force=force) as folder:
        keep_files(folder, kept, progress)
        progress(f"{name}: converting to float16 …")
        figures = half_graph(os.path.join(pack, name), os.path.join(folder, name), progress)
        manifest = dict(manifest)
        manifest["formatVersion"] = max(2, int(manifest.get("formatVersion", 1)))
        manifest["transformer"] = {**manifest["transformer"], "dtype": "float16"}
        if isinstance(manifest.get("description"), str):
            manifest["description"] = manifest["description"].rstrip() + " Transformer in float16."
        finish_pack(folder, manifest, [name, *kept], progress)
    return {"manifest": manifest, **figures}
