"""Count the FLOPs of one ONNX graph call from the shapes it actually runs with.

    .venv/bin/python python/count_flops.py <model.onnx> '<{"input": [shape], ...}>'

Every MatMul, Gemm and MultiHeadAttention input that is not a weight is made a graph output, the
graph runs once on onnxruntime (CPU) with random inputs of the given shapes, and each product
counts 2·m·n·k (times its broadcast batch); MultiHeadAttention (query [B, S, h·d], keys and values
[B, h, T, d]) holds two, Q·Kᵀ and softmax·V: 4·B·S·T·h·d. Products inside an If count once (its
then branch: the attention that skips a key bias of zeros, flowedit_model/zero_bias.py). Prints {"flops": N, "matmuls": count} as the last line. An independent check
of flowedit's formula (src/model/flops.ts), which counts from the manifest instead.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> None:
    model = onnx.load(sys.argv[1])
    shapes = json.loads(sys.argv[2])
    g = model.graph
    weights = {t.name: list(t.dims) for t in g.initializer}
    # an If's branches read the main graph's values; one branch runs, so the then branch is counted
    nodes = list(g.node) + [x for n in g.node if n.op_type == "If" for a in n.attribute if a.name == "then_branch" for x in a.g.node]
    products = [n for n in nodes if n.op_type in ("MatMul", "Gemm", "MultiHeadAttention")]
    shown = {o.name for o in g.output}
    for n in products:
        for x in n.input[:2]:
            if x not in weights and x not in shown:
                g.output.append(onnx.helper.make_empty_tensor_value_info(x))
                shown.add(x)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, feeds)))

    def shape(x):
        return weights[x] if x in weights else list(values[x].shape)

    total = 0
    for n in products:
        a, b = shape(n.input[0]), shape(n.input[1])
        if n.op_type == "Gemm":
            attr = {x.name: x.i for x in n.attribute}
            m, k = (a[1], a[0]) if attr.get("transA", 0) else (a[0], a[1])
            total += 2 * m * k * (b[0] if attr.get("transB", 0) else b[1])
        elif n.op_type == "MultiHeadAttention":
            total += 4 * a[0] * a[1] * b[2] * a[2]  # query [B, S, h·d], keys [B, h, T, d]
        else:
            batch = int(np.prod(np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])))) if max(len(a), len(b)) > 2 else 1
            total += 2 * batch * a[-2] * a[-1] * b[-1]
    print(json.dumps({"flops": total, "matmuls": len(products)}))


if __name__ == "__main__":
    main()
