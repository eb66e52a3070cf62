"""What the exporters' check scripts share: the relative error they report, a one-thread
onnxruntime session, the element types a graph holds, and how a script reports its findings."""

import json

import numpy as np
import onnx


def rel_err(a, b) -> float:
    """‖a − b‖∞ / ‖b‖∞ in float64; arrays of different shapes are an error, not a number."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape}, expected {b.shape}")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def session(path: str):
    """An onnxruntime CPU session on one thread (as torch runs these small graphs in the checks)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def onnx_types(path: str) -> set:
    """Element types of every tensor the graph declares, holds or casts to."""
    m = onnx.load(path)
    types = {i.data_type for i in m.graph.initializer}
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        types.add(vi.type.tensor_type.elem_type)
    for node in m.graph.node:
        for a in node.attribute:
            if node.op_type == "Cast" and a.name == "to":
                types.add(a.i)
            if a.name == "value" and a.t is not None:
                types.add(a.t.data_type)
    return types


PORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64}


def run_ports(sess, args, outputs=None) -> list:
    """`sess` on `args` (arrays or torch tensors in input order), each cast to its port's element
    type (a float16 graph takes float16), the outputs returned as float32 arrays."""
    feeds = {}
    for port, a in zip(sess.get_inputs(), args):
        a = a.numpy() if hasattr(a, "numpy") else np.asarray(a)
        feeds[port.name] = a.astype(PORT_DTYPES.get(port.type, a.dtype))
    return [np.asarray(o, dtype=np.float32) if np.issubdtype(np.asarray(o).dtype, np.floating) else o for o in sess.run(outputs, feeds)]


def report_findings(report: dict, failures: list) -> int:
    """Prints the findings as one JSON line (the tests read the last line) with the failures in it;
    returns the script's exit status (1 when anything failed)."""
    report["failures"] = failures
    print(json.dumps(report, ensure_ascii=False))
    return 1 if failures else 0
