"""Attention that skips a key bias of zeros, written into an exported transformer graph.

Every layer's attention takes the pack's `ctx_bias.i` [B, S + Sc] (with the text padding mask added,
for packs that have one), expanded to [B, 1, S, S + Sc]: onnxruntime's CPU MultiHeadAttention takes
no other bias shape. Most calls feed zeros there (every reconstruction call, edit calls without
context), and both the expansion and the bias's addition to the logits cost time that grows with
S·(S + Sc): at a 17-frame clip's 1104 tokens, about a tenth of a call (docs/lab/cpu-speed.md).
`skip_zero_bias` puts each such attention node in an `If`: when the largest |bias| before its
expansion is 0 the node runs without the bias (adding zeros to the logits changes no bit), otherwise
the bias is expanded and added as before. The pack's ports do not change.
"""
from typing import Dict, List

import onnx
from onnx import TensorProto, helper

MS_DOMAIN = "com.microsoft"


def _branch(name: str, nodes: List[onnx.NodeProto], output: str) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)])


def skip_zero_bias(model: onnx.ModelProto) -> int:
    """Rewrites `model` in place; returns how many attention nodes now skip a bias of zeros. A node
    qualifies when its bias is Expand(Unsqueeze(x)), each read by that node alone; x is the bias
    before its expansion ([B, S + Sc]: `ctx_bias.i`, or with the text padding mask added), and the
    test for zeros reads it."""
    g = model.graph
    producer: Dict[str, onnx.NodeProto] = {o: n for n in g.node for o in n.output}
    readers: Dict[str, int] = {}
    for n in g.node:
        for x in n.input:
            readers[x] = readers.get(x, 0) + 1
    moved: Dict[str, List[onnx.NodeProto]] = {}  # attention node name -> the bias nodes moved into its else branch
    for n in g.node:
        if n.op_type != "MultiHeadAttention" or n.domain != MS_DOMAIN or len(n.input) < 6 or not n.input[5]:
            continue
        expand = producer.get(n.input[5])
        unsqueeze = producer.get(expand.input[0]) if expand is not None and expand.op_type == "Expand" else None
        if unsqueeze is None or unsqueeze.op_type != "Unsqueeze":
            continue
        if readers[n.input[5]] != 1 or readers[unsqueeze.output[0]] != 1:
            continue
        moved[n.name] = [unsqueeze, expand]

    out: List[onnx.NodeProto] = []
    skip = {id(m) for pair in moved.values() for m in pair}
    for n in g.node:
        if id(n) in skip:
            continue
        if n.name not in moved:
            out.append(n)
            continue
        unsqueeze, expand = moved[n.name]
        bias_input = unsqueeze.input[0]  # [B, S + Sc] before its expansion
        base = n.name
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        q, k, v = n.input[0], n.input[1], n.input[2]
        plain = helper.make_node("MultiHeadAttention", [q, k, v], [f"{base}/no_bias_out"], name=f"{base}/no_bias", domain=MS_DOMAIN, **attrs)
        biased = helper.make_node("MultiHeadAttention", [q, k, v, "", "", expand.output[0]], [f"{base}/bias_out"], name=f"{base}/bias", domain=MS_DOMAIN, **attrs)
        zero = helper.make_node("Constant", [], [f"{base}/zero"], name=f"{base}/zero", value=helper.make_tensor(f"{base}/zero_value", TensorProto.FLOAT, [], [0.0]))
        out += [
            zero,
            helper.make_node("Abs", [bias_input], [f"{base}/bias_abs"], name=f"{base}/bias_abs"),  # [B, S + Sc]
            helper.make_node("ReduceMax", [f"{base}/bias_abs"], [f"{base}/bias_max"], name=f"{base}/bias_max", keepdims=0),  # []
            helper.make_node("Equal", [f"{base}/bias_max", f"{base}/zero"], [f"{base}/bias_zero"], name=f"{base}/bias_zero"),  # [] bool
            helper.make_node(
                "If",
                [f"{base}/bias_zero"],
                list(n.output),
                name=f"{base}/if_bias",
                then_branch=_branch(f"{base}/without_bias", [plain], plain.output[0]),
                else_branch=_branch(f"{base}/with_bias", [unsqueeze, expand, biased], biased.output[0]),
            ),
        ]
    del g.node[:]
    g.node.extend(out)
    return len(moved)
