"""A Wan2.1 text-to-video model pack (format 2, /docs/model-pack.md and the v2 additions): its
manifest, the checks of a release folder before any long work, and the assembly of the parts
(transformer here; VAE in wan/vae.py; text encoder and tokenizer in wan/t5.py and wan/tokenizer.py).

The library does not print; `export_wan_pack` reports through a `progress` callback.
"""

import gc
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from ..checkpoint import CheckpointError, check_safetensors_complete, check_state_dict, check_torch_file_complete, file_shapes
from ..plan import EXPORT_MEMORY_RATIO, ExportError, available_memory, check_common_options, check_out, elsewhere, existing_folder, kept_files
from .config import DIT_SIZES, ConfigError, DiTConfig, dit_config_from_json
from .dit import INDEX_FILE, SINGLE_FILE, WanDiT

PARTS = ("transformer", "text", "vae")
# The release's file names (Wan-AI/Wan2.1-T2V-1.3B and -14B).
CONFIG_FILE = "config.json"
VAE_FILE = "Wan2.1_VAE.pth"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_FOLDER = os.path.join("google", "umt5-xxl")

# Files of each part inside a pack (external data files only when a graph is large).
PART_FILES = {
    "transformer": ("transformer.onnx", "transformer.onnx.data"),
    "text": ("text_encoder.onnx", "text_encoder.onnx.data", "tokenizer.json"),
    "vae": ("vae_encoder.onnx", "vae_encoder.onnx.data", "vae_decoder.onnx", "vae_decoder.onnx.data"),
}
PACK_FILES = ("transformer.onnx", "text_encoder.onnx", "tokenizer.json", "vae_encoder.onnx", "vae_decoder.onnx")

# The pipeline's default negative prompt (wan/configs/shared_config.py, sample_neg_prompt).
NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)
# The reference's text-to-video sampling defaults (generate.py): 50 steps, flow shift 5.0,
# guidance 5.0, 81 frames. Its UniPC solver is not one of flowedit's; FireFlow is the
# second-order solver that, like UniPC, costs about one velocity call per step.
DEFAULT_STEPS = 50
DEFAULT_SHIFT = 5.0
DEFAULT_GUIDANCE = 5.0
DEFAULT_SOLVER = "fireflow"
MAX_FRAMES = 81
# Working sizes the releases were trained at: 1.3B at 480p, 14B up to 720p.
WORKING_SIZE = {"1.3b": (832, 480), "14b": (1280, 720), "tiny": (128, 128), "custom": (832, 480)}

# Parameter counts of the other parts, used for the disk estimate when they cannot be counted.
T5_XXL_PARAMS = 5.7e9
VAE_PARAMS = 1.3e8


@dataclass
class WanExport:
    """What to export: from a release folder (`checkpoint`) or random weights (`random` size)."""

    out: str
    checkpoint: Optional[str] = None
    random: Optional[str] = None  # 'tiny' | '1.3b' | '14b'
    dtype: str = "float32"  # transformer weights: 'float32' | 'float16'
    weights: Optional[str] = None  # 'int8' | 'int4': weight-only MatMul for transformer and text encoder
    block_size: Optional[int] = None
    activations: str = "int8"  # how quantised MatMuls multiply on the CPU (quantize.ACCURACY_LEVEL)
    shift: float = DEFAULT_SHIFT
    only: Tuple[str, ...] = PARTS
    seed: int = 0
    force: bool = False
    ignore_memory: bool = False  # export even where the memory estimate says it will not fit


@dataclass
class Plan:
    """The checked export: sizes, source files and the disk it needs."""

    dit: DiTConfig
    size: str  # 'tiny' | '1.3b' | '14b' | 'custom'
    files: Dict[str, str] = field(default_factory=dict)  # role -> path in the release folder
    disk_bytes: int = 0
    reused: Dict[str, str] = field(default_factory=dict)  # pack file -> existing file to keep
    tokenizer_json: Optional[str] = None  # the pack's tokenizer.json, prepared and checked by the plan


# ---------------------------------------------------------------- checks before any long work

def _count_params(build: Callable[[], torch.nn.Module]) -> Optional[int]:
    """Parameters of a module built on the meta device (no memory), or None if that fails."""
    try:
        with torch.device("meta"):
            module = build()
        return sum(p.numel() for p in module.parameters())
    except Exception:
        return None


def _graph_bytes(params: float, dtype: str) -> float:
    """Most bytes on disk while a graph is written: the float32 graph, which its quantised form
    (always smaller) replaces, or with its float16 form beside it until the conversion ends."""
    return params * (4 + 2 if dtype == "float16" else 4)


def _check_dit_files(folder: str, problems: List[str]) -> None:
    index = os.path.join(folder, INDEX_FILE)
    single = os.path.join(folder, SINGLE_FILE)
    try:
        if os.path.isfile(index):
            import json

            with open(index, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
            for shard in shards:
                try:
                    check_safetensors_complete(os.path.join(folder, shard))
                except CheckpointError as e:
                    problems.append(str(e) if os.path.exists(os.path.join(folder, shard)) else f"{os.path.join(folder, shard)}: missing; {INDEX_FILE} names it as a shard of the transformer: download it")
        elif os.path.isfile(single):
            check_safetensors_complete(single)
        else:
            shards = [n for n in os.listdir(folder) if n.startswith("diffusion_pytorch_model-") and n.endswith(".safetensors")]
            if shards:
                problems.append(f"{index}: missing; the folder holds {len(shards)} transformer shards but not the index naming each key's shard: download it")
            else:
                problems.append(f"{single}: missing; expected the transformer's weights ({SINGLE_FILE} for 1.3B, or {INDEX_FILE} and its shards for 14B)")
    except CheckpointError as e:
        problems.append(str(e))
    except (OSError, ValueError, KeyError) as e:
        problems.append(f"{index}: not a safetensors index with a weight_map ({e})")


def _check_keys(build: Callable[[], torch.nn.Module], path: str, what: str, problems: List[str]) -> None:
    """Every key and shape of the file at `path` against the module `build` makes (on the meta
    device: nothing is allocated or loaded), so a file of another model is named before any work."""
    try:
        with torch.device("meta"):
            module = build()
        check_state_dict(module, file_shapes(path), path, what)
    except CheckpointError as e:
        problems.append(str(e))
    except Exception as e:  # an unreadable header: the completeness checks above name it
        problems.append(f"{path}: cannot be read ({e})")


def plan_export(opts: WanExport) -> Plan:
    """Check everything an export needs before starting it; raises ExportError listing every problem."""
    prepared_tokenizer: Optional[str] = None
    only = tuple(opts.only)
    problems = check_common_options(only, PARTS, opts.dtype, opts.weights)
    from ..quantize import ACCURACY_LEVEL, BLOCK_SIZES

    if opts.activations not in ACCURACY_LEVEL:
        problems.append(f"--activations {opts.activations}: expected one of {', '.join(ACCURACY_LEVEL)}")
    if opts.block_size is not None:

        if opts.weights is None:
            problems.append("--block-size applies to --weights int8|int4 only")
        elif opts.block_size not in BLOCK_SIZES:
            problems.append(f"--block-size {opts.block_size}: expected one of {', '.join(map(str, BLOCK_SIZES))}")
    if not (opts.shift > 0 and math.isfinite(opts.shift)):
        problems.append(f"--shift {opts.shift}: expected a positive number (the reference uses 5.0)")
    if (opts.checkpoint is None) == (opts.random is None):
        problems.append("pass either --checkpoint DIR (a Wan2.1 T2V release folder) or --random tiny|1.3b|14b (random weights, for tests)")
    if opts.random is not None and opts.random not in DIT_SIZES:
        problems.append(f"--random {opts.random}: expected one of {', '.join(DIT_SIZES)}")
    out = os.path.abspath(opts.out)
    problems += check_out(out, opts.force)
    if problems:
        raise ExportError(problems)

    files: Dict[str, str] = {}
    if opts.random is not None:
        dit, size = DIT_SIZES[opts.random], opts.random
    else:
        folder = opts.checkpoint
        if not os.path.isdir(folder):
            raise ExportError([f"{folder}: not a folder; expected the Wan2.1 T2V release folder ({CONFIG_FILE}, {SINGLE_FILE}, {VAE_FILE}, {T5_FILE}, {TOKENIZER_FOLDER}/)"])
        dit, size = DIT_SIZES["1.3b"], "custom"
        if "transformer" in only:
            try:
                dit = dit_config_from_json(os.path.join(folder, CONFIG_FILE))
                size = dit.name
            except ConfigError as e:
                problems.append(str(e))
            _check_dit_files(folder, problems)
            files["transformer"] = folder
        if "vae" in only:
            files["vae"] = os.path.join(folder, VAE_FILE)
            try:
                check_torch_file_complete(files["vae"])
            except CheckpointError as e:
                problems.append(str(e) if os.path.exists(files["vae"]) else f"{files['vae']}: missing; expected the release's VAE weights")
        if "text" in only:
            files["t5"] = os.path.join(folder, T5_FILE)
            files["tokenizer"] = os.path.join(folder, TOKENIZER_FOLDER)
            try:
                check_torch_file_complete(files["t5"])
            except CheckpointError as e:
                problems.append(str(e) if os.path.exists(files["t5"]) else f"{files['t5']}: missing; expected the release's UMT5-XXL encoder weights")
            tok = files["tokenizer"]
            if not os.path.isdir(tok):
                problems.append(f"{tok}: missing; expected the release's tokenizer folder (tokenizer.json or spiece.model)")
            elif not any(os.path.isfile(os.path.join(tok, n)) for n in ("tokenizer.json", "spiece.model")):
                problems.append(f"{tok}: has neither tokenizer.json nor spiece.model; expected the release's google/umt5-xxl tokenizer")
        if problems:
            raise ExportError(problems)
        # Every file's keys and shapes against the model it must hold, and the tokenizer against the
        # encoder, before the first long step.
        from . import t5
        from .tokenizer import prepare_tokenizer
        from .vae import build_vae

        if "transformer" in only:
            (dit_file,) = [p for p in (os.path.join(folder, INDEX_FILE), os.path.join(folder, SINGLE_FILE)) if os.path.isfile(p)][:1]
            _check_keys(lambda: WanDiT(dit), dit_file, f"the Wan2.1 transformer that {CONFIG_FILE} describes ({dit.layers} layers, width {dit.dim})", problems)
        if "vae" in only:
            _check_keys(lambda: build_vae("full"), files["vae"], "the Wan2.1 VAE", problems)
        if "text" in only:
            try:
                with tempfile.TemporaryDirectory() as scratch:
                    staged = os.path.join(scratch, "tokenizer.json")
                    info = prepare_tokenizer(files["tokenizer"], staged, embedding_rows=t5.T5_SIZES["xxl"].vocab)
                    with open(staged, encoding="utf-8") as f:
                        prepared_tokenizer = f.read()
                _check_keys(lambda: t5.build_t5("xxl", info.vocab_size), files["t5"], "the UMT5-XXL encoder", problems)
            except CheckpointError as e:
                problems.append(str(e))
        if problems:
            raise ExportError(problems)
    if opts.random is None and "transformer" not in only:
        # The manifest needs the transformer's sizes: take them from config.json when present.
        try:
            dit = dit_config_from_json(os.path.join(opts.checkpoint, CONFIG_FILE))
            size = dit.name
        except ConfigError as e:
            raise ExportError([str(e) + " (the manifest needs the transformer's sizes even when it is not exported)"])

    plan = Plan(dit=dit, size=size, files=files, tokenizer_json=prepared_tokenizer, reused=kept_files(out, only, PART_FILES))

    # Disk: every exported graph at its float size.
    dit_params = _count_params(lambda: WanDiT(dit)) or 0
    need = _graph_bytes(dit_params, opts.dtype) if "transformer" in only else 0
    if "vae" in only:
        need += VAE_PARAMS * 4 * (0.01 if size == "tiny" else 1)
    if "text" in only:
        need += _graph_bytes(T5_XXL_PARAMS * (1e-4 if size == "tiny" else 1), "float32")
    plan.disk_bytes = int(need * 1.05)
    # Memory: the parts are exported one after another; each peaks near EXPORT_MEMORY_RATIO × its float32 graph.
    part_bytes = {
        "transformer": dit_params * 4,
        "vae": VAE_PARAMS * 4 * (0.01 if size == "tiny" else 1),
        "text": T5_XXL_PARAMS * 4 * (1e-4 if size == "tiny" else 1),
    }
    worst = max(((part_bytes[p] * EXPORT_MEMORY_RATIO, p) for p in only if p in part_bytes), default=(0.0, ""))
    free_memory = available_memory()
    if not opts.ignore_memory and free_memory is not None and worst[0] > free_memory:
        raise ExportError([f"exporting the {worst[1]} part needs about {worst[0] / 2**30:.0f} GiB of memory (its float32 graph is traced whole) "
                           f"but {free_memory / 2**30:.0f} GiB is available: " + elsewhere(worst[1], only)])
    parent = os.path.dirname(out)
    free = shutil.disk_usage(existing_folder(parent)).free
    if plan.disk_bytes > free:
        raise ExportError([f"{parent}: {free / 1e9:.1f} GB free, the export needs about {plan.disk_bytes / 1e9:.1f} GB: free some space or choose another --out"])
    return plan


# ---------------------------------------------------------------- manifest

def default_share_layers(layers: int) -> List[int]:
    """Deep layers shared by default: those from the middle to five sixths of the depth (1.3B:
    15–24; 14B: 20–32). A starting point only: `flowedit layers` measures which layers matter."""
    lo, hi = layers // 2, max(layers // 2 + 1, (5 * layers) // 6)
    return list(range(lo, min(hi, layers)))


def pack_id(size: str, random: bool) -> str:
    return f"wan2.1-t2v-{size}" + ("-random" if random else "")


def build_manifest(plan: Plan, opts: WanExport, text_dim: int, pad_id: int) -> dict:
    """The format-2 manifest of a Wan2.1 T2V pack."""
    from .vae import LATENT_MEAN, LATENT_STD, SPATIAL_FACTOR, TEMPORAL_FACTOR, Z_DIM

    cfg, size = plan.dit, plan.size
    random = opts.random is not None
    width, height = WORKING_SIZE.get(size, WORKING_SIZE["custom"])
    label = {"1.3b": "1.3B", "14b": "14B"}.get(size, size)
    weights = opts.dtype
    if opts.weights:
        weights += f", {opts.weights} weight-only MatMul"
    origin = "random weights (for tests; it generates noise)" if random else "the Wan2.1 release (Wan-AI/Wan2.1-T2V), Apache-2.0"
    description = (
        f"Wan2.1 text-to-video diffusion transformer {label} ({cfg.layers} layers, {cfg.heads} heads of {cfg.head_dim}, width {cfg.dim}) "
        f"with cross-attention to UMT5-XXL text and the causal 3-D Wan VAE, from {origin}; transformer weights {weights}. "
        f"defaults.shareLayers is a starting point (the middle to five sixths of the depth): `flowedit layers` measures which layers to share."
    )
    max_pixels = width * height
    return {
        "format": "flowedit.pack",
        "formatVersion": 2,
        "id": pack_id(size, random),
        "name": f"Wan2.1 T2V {label}" + (" (random weights)" if random else ""),
        "description": description,
        "license": "Apache-2.0",
        "image": {"multiple": SPATIAL_FACTOR * cfg.patch[1], "maxPixels": max_pixels, "defaultSize": [width, height]},
        "frames": {"max": 9 if size == "tiny" else MAX_FRAMES, "step": TEMPORAL_FACTOR},
        "latent": {
            "channels": Z_DIM,
            "spatialCompression": SPATIAL_FACTOR,
            "temporalCompression": TEMPORAL_FACTOR,
            "scale": [1.0 / s for s in LATENT_STD],
            "shift": list(LATENT_MEAN),
        },
        "schedule": {"shift": {"kind": "static", "value": float(opts.shift)}},
        "transformer": {
            "file": "transformer.onnx",
            "patchSize": list(cfg.patch),
            "layers": cfg.layers,
            "heads": cfg.heads,
            "headDim": cfg.head_dim,
            "contextLayers": list(range(cfg.layers)),
            "text": "cross",
            "guidance": "cfg",
            **({"dtype": "float16"} if opts.dtype == "float16" else {}),
        },
        "text": {
            "encoder": "text_encoder.onnx",
            "tokenizer": "tokenizer.json",
            "maxTokens": cfg.text_len,
            "dim": text_dim,
            "padId": pad_id,
            "attentionMask": True,
            "overflow": "truncate",
            "unknown": "keep",
            "clean": "wan",
            "negativePrompt": NEGATIVE_PROMPT,
        },
        "vae": {"encoder": "vae_encoder.onnx", "decoder": "vae_decoder.onnx"},
        "defaults": {
            "steps": DEFAULT_STEPS,
            "solver": DEFAULT_SOLVER,
            "guidance": DEFAULT_GUIDANCE,
            "shareLayers": default_share_layers(cfg.layers),
            "shareSteps": 0.5,
        },
    }


# ---------------------------------------------------------------- parts

def _quantise_in_place(folder: str, name: str, opts: WanExport, progress) -> None:
    """Replace folder/name by its weight-only quantised form, as the options ask."""
    from ..quantize import quantize_in_place

    quantize_in_place(folder, name, opts.weights, progress, block_size=opts.block_size, activations=opts.activations)


def export_transformer_part(plan: Plan, opts: WanExport, folder: str, progress) -> None:
    from ..half import export_in
    from .dit import build_dit, export_transformer, load_dit_checkpoint

    cfg = plan.dit
    if opts.random is not None:
        progress(f"transformer: random {cfg.name} ({cfg.layers} layers, width {cfg.dim}), seed {opts.seed}")
        model = build_dit(cfg, seed=opts.seed)
    else:
        progress(f"transformer: loading {cfg.name} weights from {plan.files['transformer']} …")
        model = build_dit(cfg)
        load_dit_checkpoint(model, plan.files["transformer"])
    path = os.path.join(folder, "transformer.onnx")
    progress("transformer: tracing to ONNX …")
    export_in(opts.dtype, lambda p: export_transformer(model, cfg, p), path, progress)
    del model
    gc.collect()
    if opts.weights:
        _quantise_in_place(folder, "transformer.onnx", opts, progress)


def export_vae_part(plan: Plan, opts: WanExport, folder: str, progress) -> None:
    from .vae import build_vae, export_vae, load_vae_checkpoint

    size = "tiny" if plan.size == "tiny" else "full"
    torch.manual_seed(opts.seed)
    vae = build_vae(size)
    if opts.random is not None:
        progress(f"vae: random {size} VAE (its own initialisation), seed {opts.seed}")
    else:
        progress(f"vae: loading {plan.files['vae']} …")
        load_vae_checkpoint(vae, plan.files["vae"])
    progress("vae: tracing encoder and decoder to ONNX …")
    export_vae(vae, folder)


def export_text_part(plan: Plan, opts: WanExport, folder: str, progress) -> Tuple[int, int]:
    """Text encoder graph and tokenizer.json; returns (text width D, pad id)."""
    from . import t5
    from .tokenizer import prepare_tokenizer, tokenizer_info, train_test_tokenizer

    tokenizer_out = os.path.join(folder, "tokenizer.json")
    if opts.random is not None:
        with tempfile.TemporaryDirectory() as scratch:
            progress("text: training a small test tokenizer (random weights have no real tokenizer) …")
            info = prepare_tokenizer(train_test_tokenizer(os.path.join(scratch, "umt5")), tokenizer_out)
        size = "tiny" if plan.size == "tiny" else "xxl"
        progress(f"text: random {size} UMT5 encoder, seed {opts.seed}")
        torch.manual_seed(opts.seed)
        model = t5.build_t5(size, info.vocab_size)
    else:
        progress(f"text: tokenizer from {plan.files['tokenizer']}")
        assert plan.tokenizer_json is not None, "plan_export prepares and checks the tokenizer"
        with open(tokenizer_out, "w", encoding="utf-8") as f:
            f.write(plan.tokenizer_json)
        info = tokenizer_info(tokenizer_out, plan.files["tokenizer"])
        model = t5.build_t5("xxl", info.vocab_size)
        progress(f"text: loading {plan.files['t5']} …")
        t5.load_t5_checkpoint(model, plan.files["t5"])
    dim = _text_width(model)
    if dim != plan.dit.text_dim:
        raise ExportError([f"the text encoder gives {dim}-wide embeddings but the transformer takes {plan.dit.text_dim}"])
    progress("text: tracing the encoder to ONNX …")
    t5.export_text_encoder(model, folder, plan.dit.text_len)
    del model
    gc.collect()
    if opts.weights:
        _quantise_in_place(folder, "text_encoder.onnx", opts, progress)
    return dim, info.pad_id


def _text_width(model: torch.nn.Module) -> int:
    for attr in ("dim", "d_model"):
        if isinstance(getattr(model, attr, None), int):
            return getattr(model, attr)
    cfg = getattr(model, "cfg", None)
    for attr in ("dim", "d_model"):
        if isinstance(getattr(cfg, attr, None), int):
            return getattr(cfg, attr)
    raise RuntimeError("cannot tell the text encoder's output width")


# ---------------------------------------------------------------- the whole pack

def export_wan_pack(opts: WanExport, progress: Callable[[str], None] = lambda line: None) -> dict:
    """Check, then export the selected parts into `opts.out` (a temporary sibling folder renamed
    into place when complete: nothing half-written remains on failure or interruption). Parts not
    selected are kept from an existing pack at `opts.out`. Returns the manifest."""
    from ..onnx_export import finish_pack, keep_files, pack_folder, read_manifest

    plan = plan_export(opts)
    progress(f"plan: {', '.join(opts.only)} of Wan2.1 T2V {plan.size}; about {plan.disk_bytes / 1e9:.2f} GB to write")
    text_dim, pad_id = plan.dit.text_dim, 0
    with pack_folder(opts.out, force=opts.force) as folder:
        keep_files(folder, plan.reused, progress)
        if "transformer" in opts.only:
            export_transformer_part(plan, opts, folder, progress)
        if "vae" in opts.only:
            export_vae_part(plan, opts, folder, progress)
        if "text" in opts.only:
            text_dim, pad_id = export_text_part(plan, opts, folder, progress)
        manifest = build_manifest(plan, opts, text_dim, pad_id)
        old_manifest = read_manifest(os.path.join(os.path.abspath(opts.out), "manifest.json"))
        if "transformer.onnx" in plan.reused and old_manifest is not None:
            # The kept transformer's weights (float16, int8, ...) are described by the manifest it came with.
            manifest["description"] = old_manifest.get("description", manifest["description"])
        finish_pack(folder, manifest, PACK_FILES, progress)
    return manifest
