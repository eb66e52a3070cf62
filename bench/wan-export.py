"""Cost of exporting the Wan2.1 transformer at a real size with random weights, and the velocity
error of its int8/int4 forms. Prints JSON.

    cd python && ../.venv/bin/python ../bench/wan-export.py [--size 1.3b] [--work DIR] [--reuse]

Steps, each in its own process so that its peak resident memory is its own (os.wait4):
1. `python -m flowedit_export wan2.1 --random SIZE --only transformer` (float32): time, pack size, peak RSS;
2. int4 (blocks of 32) and int8 (blocks of 128) weight-only graphs made from that float32 graph,
   as `--weights` does after the export (int8 activations, the default), and int8 with float32
   activations (`--activations float32`): time, size, peak RSS;
3. one transformer call of each graph in onnxruntime on a small latent (1×16×1×16×16, 64 tokens,
   Sc = 0): session load and run time, peak RSS, and the velocity error of int8/int4 against float32.
The 1.3B float32 graph is about 5.7 GB; the export peaks near three times that in memory.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(os.path.dirname(HERE), "python")


def peak_child_mb(args, label):
    """Run a child process; (seconds, its own peak RSS in MB through os.wait4, its stdout)."""
    start = time.perf_counter()
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen(args, cwd=PYTHON_DIR, stdout=subprocess.PIPE, stderr=null, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}); output:\n{out[-3000:]}")
    return round(seconds, 1), round(usage.ru_maxrss / 1024), out


def folder_mb(path):
    return round(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 1e6, 1)


QUANTISE = """
import sys
from flowedit_export.quantize import quantize_weights
print(quantize_weights(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), activations=sys.argv[5]))
"""

CALL = """
import json, sys, time
import numpy as np, onnxruntime as ort, torch
from flowedit_export.wan.config import DIT_SIZES
from flowedit_export.wan.dit import example_inputs
cfg = DIT_SIZES[sys.argv[2]]
t0 = time.perf_counter()
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
load = time.perf_counter() - t0
args = example_inputs(cfg, 1, 1, (8, 8), [0] * cfg.layers, seed=3, bias_scale=0.0)
feed = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
t0 = time.perf_counter()
v = sess.run(["velocity"], feed)[0]
np.save(sys.argv[3], v)
print(json.dumps({"load_s": round(load, 1), "call_s": round(time.perf_counter() - t0, 2)}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1.3b", choices=["tiny", "1.3b", "14b"])
    p.add_argument("--work", default=os.path.join("/tmp", "wan-export-bench"))
    p.add_argument("--reuse", action="store_true", help="keep an earlier float32 pack in --work instead of exporting again")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    py = sys.executable
    report = {"size": a.size, "cpus": os.cpu_count()}
    pack = os.path.join(a.work, f"wan-{a.size}-float32")
    graph = os.path.join(pack, "transformer.onnx")
    if not (a.reuse and os.path.isfile(graph)):
        s, rss, _ = peak_child_mb([py, "-m", "flowedit_export", "wan2.1", "--random", a.size, "--only", "transformer", "--out", pack, "--force"], "export")
        report["export_float32"] = {"seconds": s, "peak_rss_mb": rss, "pack_mb": folder_mb(pack)}
    graphs = {"float32": graph}
    for name, bits, block, activations in (("int4", 4, 32, "int8"), ("int8", 8, 128, "int8"), ("int8-float-activations", 8, 128, "float32")):
        q = os.path.join(a.work, f"transformer-{name}.onnx")
        for stale in (q, q + ".data"):
            if os.path.exists(stale):
                os.remove(stale)
        s, rss, out = peak_child_mb([py, "-c", QUANTISE, graph, q, str(bits), str(block), activations], f"quantise {name}")
        size = os.path.getsize(q) + (os.path.getsize(q + ".data") if os.path.exists(q + ".data") else 0)
        report[f"quantise_{name}"] = {"seconds": s, "peak_rss_mb": rss, "graph_mb": round(size / 1e6, 1), "matmuls": int(out.strip().splitlines()[-1]), "block": block, "activations": activations}
        graphs[name] = q
    import numpy as np

    velocities = {}
    for name, path in graphs.items():
        npy = os.path.join(a.work, f"velocity-{name}.npy")
        s, rss, out = peak_child_mb([py, "-c", CALL, path, a.size, npy], f"call {name}")
        report[f"call_{name}"] = {**json.loads(out.strip().splitlines()[-1]), "peak_rss_mb": rss}
        velocities[name] = np.load(npy)
    ref = velocities["float32"]
    for name in graphs:
        if name == "float32":
            continue
        report[f"call_{name}"]["velocity_rel_vs_float32"] = float(np.abs(velocities[name] - ref).max() / np.abs(ref).max())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
