"""Checks of Wan2.1's text side (flowedit_export/wan/t5.py and tokenizer.py); prints one JSON object.

  encoder        tiny UMT5 encoder exported to ONNX vs PyTorch (onnxruntime, B = 3, L = 24, 40 and 512,
                 traced at L = 16): ‖onnx − torch‖∞ / ‖torch‖∞; padding rows exactly zero; real rows
                 independent of the padding length; no float64 tensor in the graph
  hf_umt5        the same weights in transformers' UMT5EncoderModel (an independent UMT5): relative
                 error on real rows
  buckets        the precomputed bucket table vs the reference's formula for j − i in ±4096
  xxl            parameter names and count of the 'xxl' size (built on the meta device)
  tokenizer      the committed test tokenizer equals a fresh training; prepare_tokenizer from
                 tokenizer.json and from spiece.model alone agree; refusals name the file
  transformers5  whether transformers' AutoTokenizer (which rebuilds a T5 tokenizer from the file's
                 vocabulary) gives the file's ids on the parity prompts' reference sample

    cd python && ../.venv/bin/python wan_text_checks.py
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from check_common import rel_err
from flowedit_export.checkpoint import CheckpointError  # noqa: E402
from flowedit_export.wan import t5  # noqa: E402
from flowedit_export.wan.tokenizer import clean_prompt, prepare_tokenizer, test_corpus, tokenizer_info, train_test_tokenizer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURE = os.path.join(ROOT, "test", "fixtures", "tokenizers", "umt5-test")


def batch(vocab: int, L: int, lengths, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), L, dtype=torch.int64)  # [B, L] padded with <pad> 0
    mask = torch.zeros(len(lengths), L, dtype=torch.int64)  # [B, L]
    for b, n in enumerate(lengths):
        ids[b, : n - 1] = torch.randint(3, vocab, (n - 1,), generator=g)
        ids[b, n - 1] = 1  # </s>
        mask[b, :n] = 1
    return ids, mask


def float64_in_graph(model: onnx.ModelProto) -> list:
    double = onnx.TensorProto.DOUBLE
    found = [i.name for i in model.graph.initializer if i.data_type == double]
    for node in model.graph.node:
        for a in node.attribute:
            if a.name == "to" and a.i == double:
                found.append(f"{node.op_type} {node.name}")
            if a.t is not None and a.t.data_type == double:
                found.append(f"{node.op_type} {node.name}")
    found += [v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == double]
    return found


def check_encoder(tmp: str) -> dict:
    torch.manual_seed(0)
    model = t5.build_t5("tiny", 4096)
    graph = t5.TextEncoderGraph(model).eval()
    path = t5.export_text_encoder(model, tmp, 512)
    onnx_model = onnx.load(path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = {"graph_inputs": [i.name for i in onnx_model.graph.input], "graph_outputs": [o.name for o in onnx_model.graph.output]}
    errs, pad_max = [], 0.0
    for L in (24, 40, 512):
        ids, mask = batch(4096, L, [24, 7, 1])
        with torch.no_grad():
            want = graph(ids, mask).numpy()  # [B, L, D]
        got = sess.run(["text"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        errs.append(rel_err(got, want))
        pad_max = max(pad_max, float(np.abs(got[mask.numpy() == 0]).max()))
        if L == 24:
            short = want
    # The same prompts with more padding: real rows unchanged.
    ids, mask = batch(4096, 40, [24, 7, 1])
    with torch.no_grad():
        longer = graph(ids, mask).numpy()
    real = mask[:, :24].numpy() == 1
    out["onnx_vs_torch_rel_err"] = max(errs)
    out["padding_rows_max_abs"] = pad_max
    out["real_rows_vs_padding_length_rel_err"] = rel_err(longer[:, :24][real], short[real])
    out["float64_in_graph"] = float64_in_graph(onnx.load(path))
    out["torch_output_std"] = float(short[real].std())
    return out, model


def check_hf_umt5(model: t5.UMT5Encoder) -> dict:
    from transformers import UMT5Config, UMT5EncoderModel

    c = model.cfg
    hf_cfg = UMT5Config(
        vocab_size=c.vocab, d_model=c.dim, d_kv=c.dim_attn // c.heads, d_ff=c.dim_ffn, num_layers=c.layers, num_heads=c.heads,
        relative_attention_num_buckets=c.buckets, relative_attention_max_distance=c.max_dist, feed_forward_proj="gated-gelu",
        dropout_rate=0.0, layer_norm_epsilon=c.eps,
    )
    hf = UMT5EncoderModel(hf_cfg).eval()
    ours = model.state_dict()
    mapped = {"shared.weight": ours["token_embedding.weight"], "encoder.embed_tokens.weight": ours["token_embedding.weight"], "encoder.final_layer_norm.weight": ours["norm.weight"]}
    for i in range(c.layers):
        p, q = f"blocks.{i}.", f"encoder.block.{i}.layer."
        for n in "qkvo":
            mapped[f"{q}0.SelfAttention.{n}.weight"] = ours[f"{p}attn.{n}.weight"]
        mapped[f"{q}0.SelfAttention.relative_attention_bias.weight"] = ours[f"{p}pos_embedding.embedding.weight"]
        mapped[f"{q}0.layer_norm.weight"] = ours[f"{p}norm1.weight"]
        mapped[f"{q}1.DenseReluDense.wi_0.weight"] = ours[f"{p}ffn.gate.0.weight"]
        mapped[f"{q}1.DenseReluDense.wi_1.weight"] = ours[f"{p}ffn.fc1.weight"]
        mapped[f"{q}1.DenseReluDense.wo.weight"] = ours[f"{p}ffn.fc2.weight"]
        mapped[f"{q}1.layer_norm.weight"] = ours[f"{p}norm2.weight"]
    missing, unexpected = hf.load_state_dict(mapped, strict=False)
    ids, mask = batch(c.vocab, 200, [200, 150, 3])  # distances beyond 128: the far buckets
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
        got = t5.TextEncoderGraph(model)(ids, mask).numpy()
    real = mask.numpy() == 1
    return {"rel_err_real_rows": rel_err(got[real], want[real]), "unloaded_hf_keys": sorted(missing), "unused_keys": sorted(unexpected)}


def check_buckets() -> dict:
    rel = torch.arange(-4096, 4097)
    table = t5.bucket_table(32, 128)
    looked_up = table[rel.clamp(-128, 128) + 128]
    return {"table_equals_reference_formula": bool((looked_up == t5.reference_bucket(rel, 32, 128)).all()), "table_dtype": str(table.dtype)}


def check_xxl() -> dict:
    with torch.device("meta"):
        model = t5.UMT5Encoder(t5.T5_SIZES["xxl"])
    sd = model.state_dict()
    try:
        t5.build_t5("xxl", 300000)
        refused = None
    except CheckpointError as e:
        refused = str(e)
    return {"keys": len(sd), "parameters": sum(v.numel() for v in sd.values()), "first_keys": list(sd)[:11], "too_large_vocab_refused": refused}


def check_tokenizer(tmp: str) -> dict:
    out = {}
    fresh = train_test_tokenizer(os.path.join(tmp, "fresh"))
    with open(os.path.join(fresh, "tokenizer.json"), "rb") as a, open(os.path.join(FIXTURE, "tokenizer.json"), "rb") as b:
        out["fixture_equals_fresh_training"] = a.read() == b.read()
    info = prepare_tokenizer(FIXTURE, os.path.join(tmp, "from_json.json"), embedding_rows=4096)
    out["info"] = info.__dict__
    only_spm = os.path.join(tmp, "only_spm")
    os.makedirs(only_spm)
    for name in ("spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(FIXTURE, name), only_spm)
    prepare_tokenizer(only_spm, os.path.join(tmp, "from_spm.json"))
    from tokenizers import Tokenizer

    a, b = Tokenizer.from_file(os.path.join(tmp, "from_json.json")), Tokenizer.from_file(os.path.join(tmp, "from_spm.json"))
    sample = [clean_prompt(s) for s in test_corpus(500, seed=3)]
    out["spm_conversion_agrees"] = f"{sum(x.ids == y.ids for x, y in zip(a.encode_batch(sample), b.encode_batch(sample)))} of {len(sample)}"
    refusals = {}
    try:
        prepare_tokenizer(FIXTURE, os.path.join(tmp, "x.json"), embedding_rows=1000)
    except CheckpointError as e:
        refusals["vocab_exceeds_embedding"] = str(e)
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    spec = json.load(open(os.path.join(FIXTURE, "tokenizer.json"), encoding="utf-8"))
    spec["model"]["vocab"][0], spec["model"]["vocab"][1] = spec["model"]["vocab"][1], spec["model"]["vocab"][0]
    for t in spec["added_tokens"]:
        t["id"] = {0: 1, 1: 0}.get(t["id"], t["id"])
    json.dump(spec, open(os.path.join(bad, "tokenizer.json"), "w", encoding="utf-8"))
    try:
        prepare_tokenizer(bad, os.path.join(tmp, "y.json"))
    except CheckpointError as e:
        refusals["special_ids_differ"] = str(e)
    try:
        prepare_tokenizer(os.path.join(tmp, "empty_dir_missing"), os.path.join(tmp, "z.json"))
    except CheckpointError as e:
        refusals["no_folder"] = str(e)
    out["refusals"] = refusals
    out["not_written_when_refused"] = not any(os.path.exists(os.path.join(tmp, n)) for n in ("x.json", "y.json", "z.json"))
    return out


def check_transformers5(tmp: str) -> dict:
    import warnings

    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf = AutoTokenizer.from_pretrained(FIXTURE)
    raw = Tokenizer.from_file(os.path.join(FIXTURE, "tokenizer.json"))
    sample = [clean_prompt(s) for s in test_corpus(500, seed=5)] + ["", "a  b", "🦙 ข้าว", "x" * 3]
    got = hf(sample, padding="max_length", truncation=True, max_length=512, add_special_tokens=True)
    agree = 0
    for ids, mask, e in zip(got["input_ids"], got["attention_mask"], raw.encode_batch(sample)):
        n = sum(mask)
        agree += ids[:n] == e.ids and all(i == 0 for i in ids[n:])
    return {"autotokenizer_class": type(hf).__name__, "agrees_with_tokenizer_json": f"{agree} of {len(sample)}"}


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        encoder, model = check_encoder(tmp)
        result = {
            "encoder": encoder,
            "hf_umt5": check_hf_umt5(model),
            "buckets": check_buckets(),
            "xxl": check_xxl(),
            "tokenizer": check_tokenizer(tmp),
            "transformers5": check_transformers5(tmp),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
