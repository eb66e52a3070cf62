"""Cost of exporting the full-size FLUX.1 transformer (12B) with int4 weights, part by part
(flowedit_export/flux/stream.py), random weights, and of one onnxruntime call of the result. Prints JSON.

    cd python && ../.venv/bin/python ../bench/flux-full.py [--size full] [--variant dev] [--work DIR] [--reuse]

Steps, each in its own process so that its peak resident memory is its own (os.wait4):
1. the stream export, int4 weights in blocks of 32 (int8 activations, the default): time, peak
   RSS, graph size; each part's time is written to stderr as it finishes;
2. one transformer call at 512×512 (latent 64×64: 1024 image tokens) with L = 512 text tokens,
   Sc = 0, fetching only the velocity: session load time, call time, peak RSS.

Measured (dev, 2 shared CPU cores, 23 GiB): export 2154 s (a double block 45–96 s, a single
block 20–29 s, about half of each spent drawing the random weights and half tracing), peak RSS
3.5 GB, graph 7.64 GB; the call: session load 58 s, call 137 s, peak RSS 13.5 GB.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(os.path.dirname(HERE), "python")


def child(args, label):
    """Run a child process (its stderr passes through); (seconds, its peak RSS in MB, its stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=PYTHON_DIR, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{label} failed ({code}); output:\n{out[-3000:]}")
    return round(seconds, 1), round(usage.ru_maxrss / 1024), out


EXPORT = """
import json, sys
from flowedit_export.flux.config import flux_config
from flowedit_export.flux.stream import stream_export
cfg = flux_config(sys.argv[2], sys.argv[3])
report = stream_export(cfg, sys.argv[1], seed=0, bits=4, block_size=32, progress=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps(report))
"""

CALL = """
import json, sys, time
import numpy as np, onnxruntime as ort
from flowedit_export.flux.config import flux_config
from flowedit_export.flux.dit import example_inputs
cfg = flux_config(sys.argv[2], sys.argv[3])
t0 = time.perf_counter()
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
load = time.perf_counter() - t0
args = example_inputs(cfg, 1, (32, 32), 512, [0] * cfg.layers, seed=3, bias_scale=0.0)
feed = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
t0 = time.perf_counter()
v = sess.run(["velocity"], feed)[0]
call = time.perf_counter() - t0
print(json.dumps({"load_s": round(load, 1), "call_s": round(call, 1), "velocity_shape": list(v.shape), "velocity_finite": bool(np.isfinite(v).all()), "velocity_absmax": float(np.abs(v).max())}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="full", choices=["tiny", "full"])
    p.add_argument("--variant", default="dev", choices=["dev", "schnell"])
    p.add_argument("--work", default=os.path.join("/tmp", "flux-full-bench"))
    p.add_argument("--reuse", action="store_true", help="keep an earlier graph in --work instead of exporting again")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    py = sys.executable
    report = {"size": a.size, "variant": a.variant, "cpus": os.cpu_count()}
    graph = os.path.join(a.work, f"transformer-{a.size}-{a.variant}-int4.onnx")
    if not (a.reuse and os.path.isfile(graph)):
        for stale in (graph, graph + ".data"):
            if os.path.exists(stale):
                os.remove(stale)
        s, rss, out = child([py, "-c", EXPORT, graph, a.size, a.variant], "export")
        exported = json.loads(out.strip().splitlines()[-1])
        slowest = sorted(exported["parts"].items(), key=lambda kv: -kv[1]["total_s"])[:3]
        report["export_int4"] = {"seconds": s, "peak_rss_mb": rss, "graph_mb": round(exported["bytes"] / 1e6, 1), "join_s": exported["join_s"],
                                 "slowest_parts": {k: v for k, v in slowest}}
        print(json.dumps(report), file=sys.stderr, flush=True)
    s, rss, out = child([py, "-c", CALL, graph, a.size, a.variant], "call")
    report["call_512x512_L512"] = {**json.loads(out.strip().splitlines()[-1]), "seconds_with_load": s, "peak_rss_mb": rss}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
