"""A FLUX.1 model pack (format 2, docs/model-pack.md): the checks of every source before any long
work (`plan_export`), the manifest (`build_manifest`), and the assembly of the parts
(`export_flux_pack`): the transformer (flux/dit.py, or flux/stream.py block by block at full size
with quantised weights), the T5 and CLIP text encoders and their tokenizers (flux/text.py,
flux/tokenizer.py), and the autoencoder (flux/ae.py).

Sources, as the FLUX.1 releases lay them out: the transformer `flux1-dev.safetensors` or
`flux1-schnell.safetensors` (or a folder holding it, or an index and its shards), `ae.safetensors`,
the T5 encoder folder `text_encoder_2/` (its tokenizer in the folder or in `tokenizer_2/` beside it)
and the CLIP text folder `text_encoder/` (its tokenizer in it or in `tokenizer/` beside it).

The library does not print; `export_flux_pack` reports through a `progress` callback.
"""

import gc
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..checkpoint import CheckpointError
from ..plan import EXPORT_MEMORY_RATIO, ExportError, available_memory, check_common_options, check_out, elsewhere, existing_folder, kept_files
from .ae import AE_SIZES, SCALE, SHIFT, Z_CHANNELS, check_ae_file, header_shapes
from .config import FLUX_SIZES, VARIANTS, FluxConfig, flux_config

PARTS = ("transformer", "text", "vae")

# Files of each part inside a pack (external data files only when a graph is large).
PART_FILES = {
    "transformer": ("transformer.onnx", "transformer.onnx.data"),
    "text": ("t5_encoder.onnx", "t5_encoder.onnx.data", "t5_tokenizer.json", "clip_encoder.onnx", "clip_encoder.onnx.data", "clip_tokenizer.json"),
    "vae": ("vae_encoder.onnx", "vae_encoder.onnx.data", "vae_decoder.onnx", "vae_decoder.onnx.data"),
}
PACK_FILES = ("manifest.json", "transformer.onnx", "t5_encoder.onnx", "t5_tokenizer.json", "clip_encoder.onnx", "clip_tokenizer.json", "vae_encoder.onnx", "vae_decoder.onnx")

# The reference's sampling per variant (src/flux/cli.py and sampling.py): [dev] 28–50 steps with
# the resolution-dependent shift and distilled guidance; [schnell] 4 steps, no shift, no guidance.
# The pack defaults: FireFlow (about one velocity call per step), distilled guidance 2 for [dev].
VARIANT_DEFAULTS = {
    "dev": {"steps": 28, "guidance": 2, "t5_tokens": 512, "license": "FLUX.1 [dev] Non-Commercial License",
            "schedule": {"shift": {"kind": "resolution", "baseShift": 0.5, "maxShift": 1.15, "baseTokens": 256, "maxTokens": 4096}}},
    "schnell": {"steps": 4, "guidance": 1, "t5_tokens": 256, "license": "Apache-2.0",
                "schedule": {"shift": {"kind": "static", "value": 1}}},
}
DEFAULT_SOLVER = "fireflow"
SHARE_STEPS = 0.2
CLIP_TOKENS = 77
# Padding ids of the release's tokenizers (google/t5-v1_1-xxl's <pad>, openai/clip-vit-large-patch14's
# <|endoftext|>): the manifest's when the text part is neither exported nor kept from a pack.
RELEASE_PAD_IDS = {"t5": 0, "clip": 49407}
MAX_T5_TOKENS = 512  # the length T5's relative positions were trained for in FLUX.1
TINY_T5_TOKENS = 16
# Image sizes: width and height multiples of 16 (8× the autoencoder, 2× the patches).
IMAGE = {"full": {"multiple": 16, "maxPixels": 1024 * 1024, "defaultSize": [1024, 1024]},
         "tiny": {"multiple": 16, "maxPixels": 128 * 128, "defaultSize": [128, 128]}}

# Parameters of the parts that are not built to be counted: the T5-XXL encoder (google/t5-v1_1-xxl,
# encoder only) and CLIP ViT-L/14's text model.
T5_XXL_ENCODER_PARAMS = 4.762e9
CLIP_L_TEXT_PARAMS = 1.23e8
TINY_TEXT_PARAMS = 1e7  # a bound on the tiny test encoders' size


@dataclass
class FluxExport:
    """What to export: from the release's files or random weights (`random` size)."""

    out: str
    checkpoint: Optional[str] = None  # the transformer: flux1-dev.safetensors / flux1-schnell.safetensors, or a folder
    ae: Optional[str] = None  # ae.safetensors
    t5: Optional[str] = None  # the T5 encoder folder (text_encoder_2/)
    clip: Optional[str] = None  # the CLIP text folder (text_encoder/)
    random: Optional[str] = None  # 'tiny' | 'full'
    variant: Optional[str] = None  # 'dev' | 'schnell'; None: the checkpoint's (dev for random weights)
    dtype: str = "float32"  # transformer Linear weights: 'float32' | 'float16'
    weights: Optional[str] = None  # 'int8' | 'int4': weight-only MatMul in the transformer and the T5 encoder
    seed: int = 0
    force: bool = False
    only: Tuple[str, ...] = PARTS
    ignore_memory: bool = False
    t5_tokens: Optional[int] = None  # T5 sequence length L; None: 512 dev, 256 schnell (16 tiny)


@dataclass
class Plan:
    """The checked export."""

    variant: str
    size: str  # 'tiny' | 'full': the transformer's and autoencoder's size
    dit: FluxConfig
    t5_tokens: int
    files: Dict[str, str] = field(default_factory=dict)  # role -> source path
    tokenizers: Dict[str, str] = field(default_factory=dict)  # 't5' | 'clip' -> the pack's tokenizer.json text, prepared and checked
    tokenizer_infos: Dict[str, object] = field(default_factory=dict)  # 't5' | 'clip' -> tokenizer.TokenizerInfo
    pad_ids: Dict[str, int] = field(default_factory=dict)
    text_dims: Dict[str, int] = field(default_factory=dict)  # 't5' -> sequence width, 'clip' -> pooled width
    stream: bool = False  # the transformer exported block by block (stream.py)
    disk_bytes: int = 0
    memory_bytes: Dict[str, float] = field(default_factory=dict)  # part -> peak estimate
    reused: Dict[str, str] = field(default_factory=dict)  # pack file -> existing file to keep


# ---------------------------------------------------------------- checks before any long work


def _check_options(opts: FluxExport) -> List[str]:
    only = tuple(opts.only)
    problems = check_common_options(only, PARTS, opts.dtype, opts.weights)
    if opts.variant not in (None, *VARIANTS):
        problems.append(f"--variant {opts.variant}: expected dev or schnell")
    if opts.random is not None and opts.random not in ("tiny", "full"):
        problems.append(f"--random {opts.random}: expected tiny or full")
    if opts.t5_tokens is not None and not 1 <= opts.t5_tokens <= MAX_T5_TOKENS:
        problems.append(f"--t5-tokens {opts.t5_tokens}: expected 1 … {MAX_T5_TOKENS} (the reference uses 512 for dev, 256 for schnell)")
    if opts.t5_tokens is not None and "text" not in only:
        problems.append("--t5-tokens sets the T5 encoder's length: add text to --only (the kept encoder keeps its own length)")
    sources = {"--checkpoint": opts.checkpoint, "--ae": opts.ae, "--t5": opts.t5, "--clip": opts.clip}
    given = [k for k, v in sources.items() if v is not None]
    if opts.random is not None and given:
        problems.append(f"--random builds every part from random weights: drop {', '.join(given)} (or drop --random to export those files)")
    if opts.random is None:
        needs = {"transformer": ["--checkpoint"], "vae": ["--ae"], "text": ["--t5", "--clip"]}
        lacking = [flag for part in only if part in needs for flag in needs[part] if sources[flag] is None]
        if lacking:
            problems.append(f"missing {', '.join(lacking)} for --only {','.join(only)}: pass the release's files (flux1-dev.safetensors, ae.safetensors, "
                            "text_encoder_2/ for T5, text_encoder/ for CLIP), or --random tiny|full for random weights")
    return problems + check_out(os.path.abspath(opts.out), opts.force)


def _existing_variant(out: str) -> Optional[str]:
    """The variant of the pack at `out` (its manifest's guidance), if there is one."""
    try:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            guidance = json.load(f)["transformer"]["guidance"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"distilled": "dev", "cfg": "schnell"}.get(guidance)


def _transformer_size(path: str, variant: str) -> Tuple[str, FluxConfig]:
    """The config a checkpoint is checked against: the release's size, or the tiny test size when
    its width is the tiny one (text widths then taken from the file)."""
    from .dit import checkpoint_shapes

    try:
        shapes = checkpoint_shapes(path)
    except CheckpointError:
        return "full", flux_config("full", variant)  # check_flux_keys names the problem
    width = shapes.get("img_in.weight", ((FLUX_SIZES["full"].hidden_size,), ""))[0][0]
    if width == FLUX_SIZES["tiny"].hidden_size:
        context = shapes.get("txt_in.weight", ((0, FLUX_SIZES["tiny"].context_in_dim), ""))[0][1]
        vec = shapes.get("vector_in.in_layer.weight", ((0, FLUX_SIZES["tiny"].vec_in_dim), ""))[0][1]
        return "tiny", flux_config("tiny", variant, context_in_dim=context, vec_in_dim=vec)
    return "full", flux_config("full", variant)


def _ae_size(path: str) -> str:
    """'tiny' when ae.safetensors has the tiny test width, else 'full' (whose checks name any mismatch)."""
    try:
        width = header_shapes(path).get("encoder.conv_in.weight", (0,))[0]
    except Exception:
        return "full"
    return "tiny" if width == AE_SIZES["tiny"].ch else "full"


def _params(build: Callable[[], torch.nn.Module]) -> int:
    with torch.device("meta"):
        module = build()
    return sum(p.numel() for p in module.parameters())


def plan_export(opts: FluxExport) -> Plan:
    """Check everything an export needs before starting it; raises ExportError listing every
    problem, one line each."""
    problems = _check_options(opts)
    if problems:
        raise ExportError(problems)
    only = tuple(opts.only)
    out = os.path.abspath(opts.out)
    files: Dict[str, str] = {}

    # The variant: asked for, read from the checkpoint, or kept from the pack being completed.
    readable = True  # whether the transformer checkpoint (when given) could be read
    if opts.random is not None:
        variant = opts.variant or "dev"
        size = opts.random
    else:
        variant = opts.variant
        if opts.checkpoint is not None:
            from .dit import detect_variant

            try:
                variant = variant or detect_variant(opts.checkpoint)
            except CheckpointError as e:
                problems.append(str(e))
                readable = False
        variant = variant or _existing_variant(out)
        if variant is None:
            if readable:
                problems.append("pass --variant dev|schnell: the manifest needs it and there is no --checkpoint to read it from")
            variant = "dev"  # provisional: the other files are still checked
        size = "full"

    # Text widths: the tiny random pack's come from its tiny encoders, the release's are T5-XXL's and CLIP-L's.
    text_dims: Dict[str, int] = {}
    pad_ids: Dict[str, int] = dict(RELEASE_PAD_IDS)
    tokenizers: Dict[str, str] = {}
    infos: Dict[str, object] = {}
    if opts.random is not None and "text" in only:
        problems += _test_tokenizers(tokenizers, infos)
    if opts.random == "tiny":
        from . import text

        text_dims = {"t5": text.T5_SIZES["tiny"].d_model, "clip": text.CLIP_SIZES["tiny"].hidden}
    dit = flux_config(size, variant, context_in_dim=text_dims.get("t5"), vec_in_dim=text_dims.get("clip"))

    if opts.random is None:
        if opts.checkpoint is not None and readable:
            files["transformer"] = opts.checkpoint
            size, dit = _transformer_size(opts.checkpoint, variant)
            if "transformer" in only:
                from .dit import check_flux_keys

                problems += check_flux_keys(opts.checkpoint, dit)
        if "vae" in only:
            files["ae"] = opts.ae
            ae_size = _ae_size(opts.ae)
            ae_problems = check_ae_file(opts.ae, AE_SIZES[ae_size])
            problems += ae_problems
            if opts.checkpoint is None or not readable:
                size = ae_size  # the transformer's size is not known: the autoencoder's stands for it
            elif ae_size != size and not ae_problems:
                problems.append(f"{opts.ae}: an autoencoder of the {ae_size} size, but the transformer {opts.checkpoint} is of the {size} size: pass the autoencoder of the same release")
        if "text" in only:
            files["t5"], files["clip"] = opts.t5, opts.clip
            problems += _check_text_sources(opts.t5, opts.clip, dit if readable else None, tokenizers, infos, text_dims)
    if problems:
        raise ExportError(problems)
    pad_ids.update({kind: info.pad_id for kind, info in infos.items()})

    # Widths not read from text folders are the transformer's own.
    text_dims.setdefault("t5", dit.context_in_dim)
    text_dims.setdefault("clip", dit.vec_in_dim)
    t5_tokens = opts.t5_tokens or (TINY_T5_TOKENS if size == "tiny" else VARIANT_DEFAULTS[variant]["t5_tokens"])
    plan = Plan(variant=variant, size=size, dit=dit, t5_tokens=t5_tokens, files=files, tokenizers=tokenizers, tokenizer_infos=infos, pad_ids=pad_ids, text_dims=text_dims)
    plan.stream = "transformer" in only and streamed(size, opts.weights, opts.dtype)
    plan.reused = kept_files(out, only, PART_FILES)
    _check_resources(plan, opts, only)
    return plan


def streamed(size: str, weights: Optional[str], dtype: str) -> bool:
    """Whether the transformer is exported block by block (stream.py): at full size with quantised
    weights or float16 weights, where tracing the whole model (48 GB in float32) would not
    fit in memory."""
    return size == "full" and (weights is not None or dtype == "float16")


def _tokenizer_folder(encoder_dir: str, sibling: str, marker: Sequence[str]) -> str:
    """The folder holding an encoder's tokenizer files: the encoder's own folder when it has them,
    else the release's sibling folder (tokenizer_2/ beside text_encoder_2/, tokenizer/ beside
    text_encoder/)."""
    if any(os.path.isfile(os.path.join(encoder_dir, n)) for n in marker):
        return encoder_dir
    beside = os.path.join(os.path.dirname(os.path.abspath(encoder_dir)), sibling)
    return beside if os.path.isdir(beside) else encoder_dir


def _model_type(folder: str) -> Optional[str]:
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            return json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


T5_TYPES = ("t5",)
CLIP_TYPES = ("clip_text_model", "clip")
# Where the tiny and full random packs take their tokenizers from: the small test tokenizers.
TEST_TOKENIZERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "test", "fixtures", "tokenizers")


@dataclass(frozen=True)
class TextFolder:
    """What the plan reads from a text encoder's config.json: its output width and embedding rows."""

    dim: int
    vocab_size: int


def _text_folder_info(folder: str, kind: str) -> TextFolder:
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        raw = json.load(f)
    if kind == "t5":
        return TextFolder(dim=int(raw["d_model"]), vocab_size=int(raw["vocab_size"]))
    text = raw.get("text_config", raw) if raw.get("model_type") == "clip" else raw
    return TextFolder(dim=int(text["hidden_size"]), vocab_size=int(text["vocab_size"]))


def _prepare_tokenizer(kind: str, folder: str, embedding_rows: Optional[int], tokenizers: Dict[str, str], infos: Dict[str, object]) -> None:
    """The pack's tokenizer.json of `kind` from `folder` (checked against `embedding_rows`), kept
    in memory until the pack is written; CheckpointError when it cannot be made."""
    from . import tokenizer

    prepare = tokenizer.prepare_t5_tokenizer if kind == "t5" else tokenizer.prepare_clip_tokenizer
    with tempfile.TemporaryDirectory() as scratch:
        staged = os.path.join(scratch, f"{kind}_tokenizer.json")
        infos[kind] = prepare(folder, staged, embedding_rows)
        with open(staged, encoding="utf-8") as f:
            tokenizers[kind] = f.read()


def _test_tokenizers(tokenizers: Dict[str, str], infos: Dict[str, object]) -> List[str]:
    """Random weights have no tokenizer of their own: the repository's test tokenizers stand in."""
    problems = []
    for kind, name in (("t5", "t5-test"), ("clip", "clip-test")):
        folder = os.path.normpath(os.path.join(TEST_TOKENIZERS, name))
        try:
            _prepare_tokenizer(kind, folder, None, tokenizers, infos)
        except CheckpointError as e:
            problems.append(f"{e} (random weights use the test tokenizers of test/fixtures/tokenizers: run from the repository)")
    return problems


def _check_text_sources(t5_dir: str, clip_dir: str, dit: Optional[FluxConfig], tokenizers: Dict[str, str], infos: Dict[str, object], text_dims: Dict[str, int]) -> List[str]:
    """The T5 and CLIP folders: each of its kind (a T5 folder as --clip and the reverse named as
    such), weights complete and of the expected shapes, tokenizers prepared and fitting the
    encoders' vocabularies, widths matching the transformer's. Fills `tokenizers`, `infos` and
    `text_dims`. Widths are compared with `dit` unless it is None (a transformer that could not be read)."""
    from . import text

    problems: List[str] = []
    kinds = {"t5": (t5_dir, "--t5", T5_TYPES, "text_encoder_2/ (google/t5-v1_1-xxl's encoder)"),
             "clip": (clip_dir, "--clip", CLIP_TYPES, "text_encoder/ (openai/clip-vit-large-patch14's text model)")}
    for kind, (folder, flag, types, expected) in kinds.items():
        other = "clip" if kind == "t5" else "t5"
        model_type = _model_type(folder) if os.path.isdir(folder) else None
        if model_type in kinds[other][2]:
            problems.append(f"{folder}: a {other.upper()} folder (config.json model_type {model_type!r}) given as {flag}: "
                            f"pass {expected} as {flag} and this folder as {kinds[other][1]}")
            continue
        folder_problems = text.check_text_folder(folder, kind)
        if folder_problems:
            problems += folder_problems
            continue
        info = _text_folder_info(folder, kind)
        text_dims[kind] = info.dim
        want = info.dim if dit is None else dit.context_in_dim if kind == "t5" else dit.vec_in_dim
        if info.dim != want:
            problems.append(f"{folder}: {kind.upper()} gives {info.dim}-wide {'sequences' if kind == 't5' else 'pooled vectors'}, "
                            f"but the transformer takes {want}: pass the encoder FLUX.1 was trained with ({expected})")
        sibling = "tokenizer_2" if kind == "t5" else "tokenizer"
        marker = ("tokenizer.json", "spiece.model") if kind == "t5" else ("tokenizer.json", "vocab.json")
        try:
            _prepare_tokenizer(kind, _tokenizer_folder(folder, sibling, marker), info.vocab_size, tokenizers, infos)
        except CheckpointError as e:
            problems.append(str(e))
    return problems


def _check_resources(plan: Plan, opts: FluxExport, only: Tuple[str, ...]) -> None:
    """Disk for every graph and memory for the largest part, refused with the way round."""
    from .ae import AutoEncoder
    from .dit import FluxDiT

    cfg = plan.dit
    dit_params = _params(lambda: FluxDiT(cfg))
    ae_params = _params(lambda: AutoEncoder(AE_SIZES[plan.size]))
    if plan.size == "tiny":
        t5_params = clip_params = TINY_TEXT_PARAMS
    else:
        t5_params, clip_params = T5_XXL_ENCODER_PARAMS, CLIP_L_TEXT_PARAMS
    bytes_per = {"float32": 4, "float16": 2}[opts.dtype]
    if plan.stream:
        bits = {"int8": 8, "int4": 4}.get(opts.weights or "", 8 * bytes_per)
        dit_disk = dit_params * bits / 8 * 1.15  # weights plus a scale (and zero point) per block
        block = _params(lambda: _largest_block(cfg))
        dit_memory = block * 4 * EXPORT_MEMORY_RATIO + dit_disk  # one block traced, then all parts joined
    else:
        dit_disk = dit_params * (4 + 2 if opts.dtype == "float16" else 4)  # float16: the float32 graph beside it until converted
        dit_memory = dit_params * 4 * EXPORT_MEMORY_RATIO
    plan.memory_bytes = {"transformer": dit_memory, "text": (t5_params + clip_params) * 4 * EXPORT_MEMORY_RATIO, "vae": ae_params * 4 * EXPORT_MEMORY_RATIO}
    need = {"transformer": dit_disk, "text": (t5_params + clip_params) * 4, "vae": ae_params * 4}
    plan.disk_bytes = int(sum(need[p] for p in only) * 1.05)

    free_memory = available_memory()
    worst_bytes, worst = max((plan.memory_bytes[p], p) for p in only)
    if not opts.ignore_memory and free_memory is not None and worst_bytes > free_memory:
        ways = ""
        if worst == "transformer" and not plan.stream and plan.size == "full":
            streamed_bytes = _params(lambda: _largest_block(cfg)) * 4 * EXPORT_MEMORY_RATIO + dit_params * 0.6
            ways = f"pass --weights int4 (the transformer is then exported block by block, about {_amount(streamed_bytes)}), or "
        raise ExportError([f"exporting the {worst} part needs about {_amount(worst_bytes)} of memory but {_amount(free_memory)} is available: "
                           + ways + elsewhere(worst, only)])
    parent = os.path.dirname(os.path.abspath(opts.out))
    free = shutil.disk_usage(existing_folder(parent)).free
    if plan.disk_bytes > free:
        raise ExportError([f"{parent}: {_amount(free)} free, the export needs about {_amount(plan.disk_bytes)}: free some space or choose another --out"])


def _amount(n: float) -> str:
    """Bytes in GiB (MiB below one GiB), whole above ten."""
    if n < 2**30:
        return f"{n / 2**20:.0f} MiB"
    return f"{n / 2**30:.0f} GiB" if n >= 10 * 2**30 else f"{n / 2**30:.1f} GiB"


def _largest_block(cfg: FluxConfig) -> torch.nn.Module:
    from .dit import DoubleStreamBlock

    return DoubleStreamBlock(cfg)


# ---------------------------------------------------------------- manifest


def pack_id(variant: str, random: Optional[str], size: str) -> str:
    if random is not None:
        return f"flux.1-{variant}-{random}-random"
    return f"flux.1-{variant}" + ("" if size == "full" else f"-{size}")


def build_manifest(plan: Plan, opts: FluxExport) -> dict:
    """The format-2 manifest of a FLUX.1 pack (docs/model-pack.md; FLUX.1 uses two text encoders and layer groups)."""
    cfg, variant = plan.dit, plan.variant
    defaults = VARIANT_DEFAULTS[variant]
    random = opts.random is not None
    label = f"FLUX.1 [{variant}]"
    weights = opts.dtype
    if opts.weights:
        weights = f"{opts.weights} weight-only MatMul"
    origin = "random weights (for tests; it generates noise)" if random else f"the {label} release (black-forest-labs/FLUX.1-{variant})"
    double = list(range(cfg.depth))
    single = list(range(cfg.depth, cfg.layers))
    description = (
        f"{label} rectified-flow transformer ({cfg.depth} double-stream and {cfg.depth_single_blocks} single-stream blocks, "
        f"{cfg.num_heads} heads of {cfg.head_dim}, width {cfg.hidden_size}) attending jointly to T5 text "
        f"({plan.t5_tokens} tokens), conditioned on CLIP's pooled vector"
        + (" and a distilled guidance value" if variant == "dev" else "")
        + f", with FLUX's 16-channel autoencoder; from {origin}; transformer weights {weights}. "
        "defaults.shareLayers is a starting point (the single-stream blocks): `flowedit layers` measures which layers to share."
    )
    return {
        "format": "flowedit.pack",
        "formatVersion": 2,
        "id": pack_id(variant, opts.random, plan.size),
        "name": label + (" (random weights)" if random else ""),
        "description": description,
        "license": defaults["license"],
        "image": dict(IMAGE["tiny" if plan.size == "tiny" else "full"]),
        "latent": {"channels": Z_CHANNELS, "spatialCompression": AE_SIZES[plan.size].spatial_compression, "temporalCompression": 1, "scale": SCALE, "shift": SHIFT},
        "schedule": json.loads(json.dumps(defaults["schedule"])),
        "transformer": {
            "file": "transformer.onnx",
            "patchSize": [1, 2, 2],
            "layers": cfg.layers,
            "heads": cfg.num_heads,
            "headDim": cfg.head_dim,
            "contextLayers": list(range(cfg.layers)),
            "text": "joint",
            "guidance": "distilled" if variant == "dev" else "cfg",
            "layerGroups": {"double": double, "single": single},
            **({"dtype": "float16"} if opts.dtype == "float16" else {}),
        },
        "text": {
            "encoders": [
                {"name": "t5", "encoder": "t5_encoder.onnx", "tokenizer": "t5_tokenizer.json", "maxTokens": plan.t5_tokens,
                 "padId": plan.pad_ids.get("t5", 0), "overflow": "truncate", "unknown": "refuse", "clean": "none",
                 "outputs": [{"name": "text", "kind": "sequence", "dim": plan.text_dims["t5"], "to": "text"}]},
                {"name": "clip", "encoder": "clip_encoder.onnx", "tokenizer": "clip_tokenizer.json", "maxTokens": CLIP_TOKENS,
                 "padId": plan.pad_ids["clip"], "overflow": "truncate", "unknown": "keep", "clean": "clip",
                 "outputs": [{"name": "pooled", "kind": "pooled", "dim": plan.text_dims["clip"], "to": "pooled"}]},
            ]
        },
        "vae": {"encoder": "vae_encoder.onnx", "decoder": "vae_decoder.onnx"},
        "defaults": {"steps": defaults["steps"], "solver": DEFAULT_SOLVER, "guidance": defaults["guidance"], "shareLayers": single, "shareSteps": SHARE_STEPS},
    }


# ---------------------------------------------------------------- parts


def export_transformer_part(plan: Plan, opts: FluxExport, folder: str, progress) -> None:
    from ..half import export_in
    from ..quantize import DEFAULT_BLOCK, WEIGHT_BITS, quantize_in_place
    from .dit import build_flux, export_transformer, load_flux_checkpoint

    cfg = plan.dit
    path = os.path.join(folder, "transformer.onnx")
    source = f"random weights, seed {opts.seed}" if opts.random is not None else plan.files["transformer"]
    if plan.stream:
        from .stream import stream_export

        kind = f"{opts.weights} weights" if opts.weights else "float16 weights"
        progress(f"transformer: FLUX.1 [{plan.variant}] block by block with {kind}, from {source} …")
        report = stream_export(cfg, path, checkpoint=plan.files.get("transformer"), seed=opts.seed if opts.random is not None else None,
                               bits=WEIGHT_BITS[opts.weights] if opts.weights else None, float16=opts.dtype == "float16",
                               block_size=DEFAULT_BLOCK.get(opts.weights, 32), progress=progress)
        progress(f"transformer: {report['bytes'] / 1e9:.2f} GB in {report['seconds']:.0f} s, peak memory {report['peak_rss_bytes'] / 2**30:.1f} GiB")
        return
    if opts.random is not None:
        progress(f"transformer: random {plan.size} FLUX.1 [{plan.variant}] ({cfg.depth} + {cfg.depth_single_blocks} blocks, width {cfg.hidden_size}), seed {opts.seed}")
        model = build_flux(cfg, seed=opts.seed)
    else:
        progress(f"transformer: loading {source} …")
        model = build_flux(cfg)
        load_flux_checkpoint(model, plan.files["transformer"])
    progress("transformer: tracing to ONNX …")
    export_in(opts.dtype, lambda p: export_transformer(model, cfg, p), path, progress)
    del model
    gc.collect()
    if opts.weights:
        quantize_in_place(folder, "transformer.onnx", opts.weights, progress)


def export_vae_part(plan: Plan, opts: FluxExport, folder: str, progress) -> None:
    from .ae import build_ae, export_ae, load_ae_checkpoint

    size = plan.size
    if opts.random is not None:
        progress(f"vae: random {size} autoencoder, seed {opts.seed}")
        ae = build_ae(size, seed=opts.seed)
    else:
        progress(f"vae: loading {plan.files['ae']} …")
        ae = build_ae(size)
        load_ae_checkpoint(ae, plan.files["ae"])
    progress("vae: tracing encoder and decoder to ONNX …")
    export_ae(ae, folder)


def export_text_part(plan: Plan, opts: FluxExport, folder: str, progress) -> None:
    """t5_encoder.onnx, clip_encoder.onnx and the tokenizers the plan prepared."""
    from ..quantize import quantize_in_place
    from . import text

    random_size = {"t5": "tiny" if plan.size == "tiny" else "xxl", "clip": "tiny" if plan.size == "tiny" else "large"}
    for kind in ("t5", "clip"):
        with open(os.path.join(folder, f"{kind}_tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(plan.tokenizers[kind])
        if opts.random is not None:
            progress(f"text: random {random_size[kind]} {kind.upper()} encoder, seed {opts.seed}")
            model = text.build_random(kind, random_size[kind], seed=opts.seed)
        else:
            progress(f"text: loading {plan.files[kind]} …")
            model = text.load_text_encoder(plan.files[kind], kind)
        width = text.text_width(model)
        if width != plan.text_dims[kind]:
            raise ExportError([f"the {kind.upper()} encoder gives {width}-wide outputs but the pack declares {plan.text_dims[kind]}"])
        progress(f"text: tracing the {kind.upper()} encoder to ONNX …")
        if kind == "t5":
            text.export_t5_encoder(model, folder)
        else:
            text.export_clip_encoder(model, folder, eos_id=plan.tokenizer_infos["clip"].eos_id)
        del model
        gc.collect()
        if kind == "t5" and opts.weights:
            quantize_in_place(folder, "t5_encoder.onnx", opts.weights, progress)


# ---------------------------------------------------------------- the whole pack


def export_flux_pack(opts: FluxExport, progress: Callable[[str], None] = lambda line: None) -> dict:
    """Check, then export the selected parts into `opts.out` (a temporary sibling folder renamed
    into place when complete: nothing half-written remains on failure or interruption). Parts not
    selected are kept from an existing pack at `opts.out`. Returns the manifest."""
    from ..onnx_export import finish_pack, keep_files, pack_folder, read_manifest

    plan = plan_export(opts)
    progress(f"plan: {', '.join(opts.only)} of FLUX.1 [{plan.variant}] ({plan.size}); about {_amount(plan.disk_bytes)} to write")
    with pack_folder(opts.out, force=opts.force) as folder:
        keep_files(folder, plan.reused, progress)
        old_manifest = read_manifest(os.path.join(os.path.abspath(opts.out), "manifest.json"))
        if "transformer" in opts.only:
            export_transformer_part(plan, opts, folder, progress)
        if "vae" in opts.only:
            export_vae_part(plan, opts, folder, progress)
        if "text" in opts.only:
            export_text_part(plan, opts, folder, progress)
        elif old_manifest is not None and "t5_encoder.onnx" in plan.reused:
            _text_from_manifest(plan, old_manifest)
        manifest = build_manifest(plan, opts)
        if "transformer.onnx" in plan.reused and old_manifest is not None:
            # The kept transformer's weights (float16, int4, ...) are described by the manifest it came with.
            manifest["description"] = old_manifest.get("description", manifest["description"])
        finish_pack(folder, manifest, PACK_FILES, progress)
    return manifest


def _text_from_manifest(plan: Plan, manifest: dict) -> None:
    """The kept text encoders' pad ids, widths and T5 length, from the manifest they came with."""
    try:
        for enc in manifest["text"]["encoders"]:
            plan.pad_ids[enc["name"]] = enc["padId"]
            plan.text_dims[enc["name"]] = enc["outputs"][0]["dim"]
            if enc["name"] == "t5":
                plan.t5_tokens = enc["maxTokens"]
    except (KeyError, TypeError, IndexError):
        pass
