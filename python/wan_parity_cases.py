"""Parity cases of the Wan2.1 graphs for the Node tests: the tiny random transformer, UMT5 text
encoder and causal 3-D VAE are exported to ONNX beside inputs and their PyTorch outputs, in the
format of parity_cases.py (<out>/<pack>/cases/<case>/case.json with raw little-endian tensors,
and <out>/summary.json). The VAE's expected outputs are the release's chunked procedure.

    .venv/bin/python python/wan_parity_cases.py --out DIR
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flowedit_export.wan import t5  # noqa: E402
from flowedit_export.wan.config import DIT_SIZES  # noqa: E402
from flowedit_export.wan.dit import TransformerGraph, build_dit, example_inputs, export_transformer  # noqa: E402
from flowedit_export.wan.vae import build_vae, export_vae  # noqa: E402
from parity_cases import write_case  # noqa: E402
from wan_vae_checks import write_vae_cases  # noqa: E402

PACK = "wan-tiny"
TOKENIZER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "tokenizers", "umt5-test", "tokenizer.json")
PROMPTS = ["a man walks on a path", "Ein Hund läuft über die Wiese", "一只猫在窗边 🐱", ""]


@torch.no_grad()
def transformer_cases(model, cfg, pack_dir: str) -> list:
    names = ["velocity", *[f"{kv}.{i}" for i in range(cfg.layers) for kv in ("k", "v")]]
    inputs_of = ["latents", "t", "text", *[f"{p}.{i}" for i in range(cfg.layers) for p in ("ctx_k", "ctx_v", "ctx_bias")]]
    graph = TransformerGraph(model)
    cases = []
    for name, batch, frames, grid, context, bias in [
        ("transformer_a_no_context", 2, 1, (4, 4), [0] * cfg.layers, 0.0),
        ("transformer_b_context_bias", 1, 3, (3, 5), [7] * cfg.layers, 1.0),
        ("transformer_c_mixed_context", 1, 2, (2, 6), [0, 5][: cfg.layers] + [0] * (cfg.layers - 2), 3.0),
    ]:
        args = example_inputs(cfg, batch, frames, grid, context, seed=len(cases) + 1, bias_scale=bias)
        outputs = graph(*args)
        cases.append(write_case(pack_dir, name, "transformer", dict(zip(inputs_of, args)), dict(zip(names, outputs))))
    return cases


@torch.no_grad()
def text_cases(model, max_tokens: int, pack_dir: str) -> list:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(TOKENIZER)
    tok.enable_truncation(max_tokens)
    tok.enable_padding(length=max_tokens, pad_id=0)
    enc = tok.encode_batch(PROMPTS)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)  # [B, L]
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)  # [B, L]
    text = t5.TextEncoderGraph(model)(ids, mask)  # [B, L, D]
    return [write_case(pack_dir, "text_encoder", "text_encoder", {"input_ids": ids, "attention_mask": mask}, {"text": text})]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    start = time.time()
    pack_dir = os.path.join(args.out, PACK)
    os.makedirs(pack_dir, exist_ok=True)
    cfg = DIT_SIZES["tiny"]
    dit = build_dit(cfg, seed=0)
    export_transformer(dit, cfg, os.path.join(pack_dir, "transformer.onnx"))
    cases = transformer_cases(dit, cfg, pack_dir)

    with open(TOKENIZER, encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    torch.manual_seed(0)
    encoder = t5.build_t5("tiny", vocab)
    t5.export_text_encoder(encoder, pack_dir, cfg.text_len)
    cases += text_cases(encoder, cfg.text_len, pack_dir)

    torch.manual_seed(0)
    vae = build_vae("tiny")
    export_vae(vae, pack_dir)
    cases += write_vae_cases(vae, os.path.join(pack_dir, "cases"))

    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"packs": {PACK: cases}}, f, indent=1)
    print(f"wrote {len(cases)} cases to {pack_dir} in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
