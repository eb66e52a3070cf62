"""Checks of the float16 transformer graphs (flowedit_export/half.py); prints the numbers as JSON.

Run from python/: `../.venv/bin/python half_checks.py`. Exits non-zero when a figure is out of
its bound. What it measures:
- `half` on the tiny fixture (test/fixtures/packs/tiny): every float port of the new graph is
  float16 but t (and guidance) float32, the manifest says transformer.dtype "float16" and formatVersion 2, the other files
  are the source pack's; the committed test/fixtures/packs/tiny-f16 is that pack;
- velocity and every k.i / v.i of the float16 graph against the float32 graph on random inputs
  (Sc = 0, and Sc > 0 with a bias holding −1e4 entries): `graph` feeds both graphs the same
  float16-exact inputs (the float16 arithmetic alone); `ports` feeds the float32 graph the
  unrounded inputs (what the float16 ports cost on top);
- inside the float16 graph, −1e4 on every context key equals Sc = 0 and nothing is NaN;
- a float16 pack and a pack with int8 weights are refused in one line;
- the Wan2.1 and FLUX.1 tiny exports with --dtype float16: float16 ports and the manifest field.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx

from check_common import rel_err, report_findings, run_ports, session
from flowedit_export.half import FLOAT32_PORTS, HalfError, check_half, port_types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "test", "fixtures", "packs")
EXCLUDE = -1e4
# float16 arithmetic alone, tiny random packs: measured 6e-4 … 1.3e-3 of max-abs over velocity,
# k.i and v.i (float16's unit roundoff is 4.9e-4; a 3-layer model adds a few of them). The bound
# leaves room for other CPUs' summation orders, far below what a wrong conversion gives (the
# angles of the time features converted: 12%).
GRAPH_BOUND = 5e-3
# The float16 ports on top (latents, text, context and outputs rounded; t and guidance stay float32):
# measured 6.4e-4 … 8.7e-4 on the tiny fixture, as the arithmetic alone. With t a float16 port it was
# 1.2–3.4% (velocity) and up to 5.6% (K/V): the bound is the arithmetic's, so a t rounded again fails.
PORTS_BOUND = 5e-3
IDENTITY_BOUND = 1e-3


def inputs(sess16, manifest: dict, batch: int, grid, context: int, seed: int, excluded: bool):
    """Random float32 inputs in port order for the tiny pack: latents of `grid` (F', H', W'),
    t in [0, 1], text, then per layer Sc = `context` keys with a random bias (its first context
    key and the first own key at −1e4 when `excluded`)."""
    g = np.random.default_rng(seed)
    f, h, w = grid
    tr = manifest["transformer"]
    pt, ph, pw = tr["patchSize"]
    n = (f // pt) * (h // ph) * (w // pw)
    s = n + (manifest["text"]["maxTokens"] if tr["text"] == "joint" else 0)
    heads, d = tr["heads"], tr["headDim"]
    args = []
    for port in sess16.get_inputs():
        name = port.name
        if name == "latents":
            args.append(g.standard_normal((batch, manifest["latent"]["channels"], f, h, w)))
        elif name == "t":
            args.append(g.random(batch))
        elif name == "text":
            args.append(g.standard_normal((batch, manifest["text"]["maxTokens"], manifest["text"]["dim"])))
        elif name.startswith(("ctx_k.", "ctx_v.")):
            args.append(g.standard_normal((batch, heads, context, d)))
        elif name.startswith("ctx_bias."):
            bias = g.standard_normal((batch, s + context))
            if excluded:
                bias[:, 0] = EXCLUDE
                if context:
                    bias[:, s] = EXCLUDE
            args.append(bias)
        else:
            raise AssertionError(f"unexpected port {name}")
    return [a.astype(np.float32) for a in args]


def worst(a, b, names) -> dict:
    errs = {n: rel_err(x, y) for n, x, y in zip(names, a, b)}
    return {"velocity": errs["velocity"], "worst": max(errs.values())}


def check_tiny(tmp: str) -> dict:
    from flowedit_export.cli import main as cli

    out = os.path.join(tmp, "tiny-f16")
    src = os.path.join(FIXTURES, "tiny")
    t0 = time.perf_counter()
    code = cli(["half", src, "--out", out])
    seconds = time.perf_counter() - t0
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    path16, path32 = os.path.join(out, "transformer.onnx"), os.path.join(src, "transformer.onnx")
    m16 = onnx.load(path16)
    same = all(open(os.path.join(src, n), "rb").read() == open(os.path.join(out, n), "rb").read()
               for n in os.listdir(src) if n not in ("transformer.onnx", "manifest.json"))
    report = {
        "exit": code,
        "seconds": round(seconds, 2),
        "bytes": {"float32": os.path.getsize(path32), "float16": os.path.getsize(path16)},
        "problems": check_half(m16),
        "port_types": sorted({onnx.TensorProto.DataType.Name(t) for t in port_types(m16).values()}),
        "manifest": {"formatVersion": manifest["formatVersion"], "dtype": manifest["transformer"].get("dtype")},
        "other_files_unchanged": same,
    }
    s32, s16 = session(path32), session(path16)
    names = [o.name for o in s32.get_outputs()]
    errors = {}
    for label, context, excluded in (("sc0", 0, False), ("sc3_excluded", 3, True)):
        args = inputs(s16, manifest, 2, (1, 8, 8), context, seed=7 + context, excluded=excluded)
        # what the float16 ports hand the graph: t (and guidance) stay float32
        exact = [a if port.name in FLOAT32_PORTS else a.astype(np.float16).astype(np.float32) for port, a in zip(s16.get_inputs(), args)]
        half = run_ports(s16, args)
        errors[label] = {"graph": worst(half, run_ports(s32, exact), names), "ports": worst(half, run_ports(s32, args), names),
                         "finite": bool(all(np.isfinite(o).all() for o in half))}
    report["errors"] = errors
    # −1e4 on every context key: the same as Sc = 0, in float16 too.
    plain = inputs(s16, manifest, 1, (1, 8, 8), 0, seed=3, excluded=False)
    ctx = inputs(s16, manifest, 1, (1, 8, 8), 4, seed=3, excluded=False)
    for i, port in enumerate(s16.get_inputs()):
        if port.name.startswith("ctx_bias."):
            ctx[i][:, : plain[i].shape[1]] = plain[i]
            ctx[i][:, plain[i].shape[1]:] = EXCLUDE
        elif not port.name.startswith(("ctx_k.", "ctx_v.")):
            ctx[i] = plain[i]
    a, b = run_ports(s16, plain), run_ports(s16, ctx)
    report["minus_1e4_context_equals_sc0_rel"] = max(rel_err(x, y) for x, y in zip(b, a))
    # The committed fixture is this conversion.
    fixture = os.path.join(FIXTURES, "tiny-f16", "transformer.onnx")
    args = inputs(s16, manifest, 1, (1, 8, 8), 2, seed=11, excluded=True)
    report["fixture_equals_conversion_rel"] = max(rel_err(x, y) for x, y in zip(run_ports(session(fixture), args), run_ports(s16, args)))
    return report


def check_refusals(tmp: str) -> dict:
    from flowedit_export.half_pack import half_pack
    from flowedit_export.quantize import quantize_weights

    out = {}
    try:
        half_pack(os.path.join(FIXTURES, "tiny-f16"), os.path.join(tmp, "twice"))
        out["float16"] = None
    except HalfError as e:
        out["float16"] = str(e).replace(REPO, "<repo>")
    int8 = os.path.join(tmp, "int8")
    shutil.copytree(os.path.join(FIXTURES, "tiny"), int8)
    quantize_weights(os.path.join(int8, "transformer.onnx"), os.path.join(int8, "transformer.onnx"), 8, 32)
    try:
        half_pack(int8, os.path.join(tmp, "int8-f16"))
        out["int8"] = None
    except HalfError as e:
        out["int8"] = str(e).replace(tmp, "<tmp>")
    out["nothing_written"] = not any(os.path.exists(os.path.join(tmp, n)) for n in ("twice", "int8-f16"))
    return out


def check_exporters(tmp: str) -> dict:
    """The tiny Wan2.1 and FLUX.1 transformers exported with --dtype float16."""
    from flowedit_export.flux.pack import FluxExport, export_flux_pack
    from flowedit_export.wan.pack import WanExport, export_wan_pack

    out = {}
    for name, export, opts in (("wan2.1", export_wan_pack, WanExport), ("flux.1", export_flux_pack, FluxExport)):
        folder = os.path.join(tmp, name)
        t0 = time.perf_counter()
        manifest = export(opts(out=folder, random="tiny", dtype="float16", only=("transformer",)))
        model = onnx.load(os.path.join(folder, "transformer.onnx"))
        out[name] = {"seconds": round(time.perf_counter() - t0, 2), "problems": check_half(model),
                     "port_types": sorted({onnx.TensorProto.DataType.Name(t) for t in port_types(model).values()}),
                     "formatVersion": manifest["formatVersion"], "dtype": manifest["transformer"].get("dtype"),
                     "weights_described": "transformer weights float16" in manifest["description"]}
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = {"tiny": check_tiny(tmp), "refusals": check_refusals(tmp), "exporters": check_exporters(tmp)}
    failures = []
    tiny = report["tiny"]
    if tiny["exit"] != 0 or tiny["problems"] or tiny["port_types"] != ["FLOAT", "FLOAT16"]:
        failures.append(f"tiny: exit {tiny['exit']}, ports {tiny['port_types']}, {tiny['problems']}")
    if tiny["manifest"] != {"formatVersion": 2, "dtype": "float16"} or not tiny["other_files_unchanged"]:
        failures.append(f"tiny: manifest {tiny['manifest']}, other files unchanged {tiny['other_files_unchanged']}")
    for label, e in tiny["errors"].items():
        if not e["finite"] or e["graph"]["worst"] > GRAPH_BOUND or e["ports"]["worst"] > PORTS_BOUND:
            failures.append(f"tiny {label}: {e} (bounds {GRAPH_BOUND}, {PORTS_BOUND})")
    if not tiny["minus_1e4_context_equals_sc0_rel"] < IDENTITY_BOUND:
        failures.append(f"−1e4 context vs Sc = 0: {tiny['minus_1e4_context_equals_sc0_rel']}")
    if tiny["fixture_equals_conversion_rel"] != 0:
        failures.append(f"test/fixtures/packs/tiny-f16 differs from the conversion: {tiny['fixture_equals_conversion_rel']}; remake it")
    r = report["refusals"]
    if r["float16"] is None or r["int8"] is None or not r["nothing_written"]:
        failures.append(f"refusals: {r}")
    for name, e in report["exporters"].items():
        if e["problems"] or e["port_types"] != ["FLOAT", "FLOAT16"] or e["formatVersion"] != 2 or e["dtype"] != "float16" or not e["weights_described"]:
            failures.append(f"{name} --dtype float16: {e}")
    return report_findings(report, failures)


if __name__ == "__main__":
    sys.exit(main())
