"""Checks of FLUX.1's text side (flowedit_export/flux/text.py and tokenizer.py); prints one JSON object.

  t5          tiny T5 encoder exported to ONNX vs PyTorch (onnxruntime; B = 3; L = 16, 40, 512;
              traced at L = 16): ‖onnx − torch‖∞ / ‖torch‖∞; graph ports; no float64 tensor
  clip        tiny CLIP text model exported to ONNX vs PyTorch on prompts of different lengths
              padded with <|endoftext|>: relative error; the pooled vector vs the final-layer-normed
              hidden state at each prompt's first <|endoftext|>; independent of what follows it
  loading     the tiny models written as release folders (T5: sharded safetensors with only
              shared.weight; a full T5ForConditionalGeneration pytorch_model.bin. CLIP: the
              release's "text_model." keys; a full CLIPModel) loaded back: largest difference
              from the original outputs; check_text_folder finds nothing
  refusals    the messages for a missing key, an unexpected key, a shape mismatch, a truncated
              shard, the other encoder's folder, no weights
  release     parameter names and counts of the full sizes (built on the meta device)
  tokenizers  the committed test tokenizers equal fresh trainings; the pack tokenizer from each
              source file alone equals the one from both; info; refusals; nothing written when refused

    cd python && ../.venv/bin/python flux_text_checks.py [--only encoders|tokenizers]

--only encoders: t5, clip, loading, refusals and release; --only tokenizers: tokenizers (the two
halves share nothing, so two processes can run them side by side).
"""

import argparse
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

from check_common import rel_err, session
from flowedit_export.checkpoint import CheckpointError  # noqa: E402
from flowedit_export.flux import text, tokenizer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "tokenizers")
CLIP_EOS = 2047  # the test CLIP tokenizer's <|endoftext|>


def float64_in_graph(model: onnx.ModelProto) -> list:
    double = onnx.TensorProto.DOUBLE
    found = [i.name for i in model.graph.initializer if i.data_type == double]
    for node in model.graph.node:
        for a in node.attribute:
            if (a.name == "to" and a.i == double) or (a.t is not None and a.t.data_type == double):
                found.append(f"{node.op_type} {node.name}")
    return found


def ports(path: str) -> dict:
    m = onnx.load(path)
    shape = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    return {"inputs": {i.name: shape(i) for i in m.graph.input}, "outputs": {o.name: shape(o) for o in m.graph.output}, "float64": float64_in_graph(m)}


def t5_ids(L: int, lengths, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), L, dtype=torch.int64)  # [B, L] padded with <pad> 0
    for b, n in enumerate(lengths):
        ids[b, : n - 1] = torch.randint(3, 2100, (n - 1,), generator=g)
        ids[b, n - 1] = 1  # </s>
    return ids


def clip_ids(lengths, seed: int = 2, tail=None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((len(lengths), 77), CLIP_EOS, dtype=torch.int64)  # [B, 77] padded with <|endoftext|>
    for b, n in enumerate(lengths):
        ids[b, 0] = 2046  # <|startoftext|>
        ids[b, 1 : n - 1] = torch.randint(0, 2046, (n - 2,), generator=g)
        if tail is not None:
            ids[b, n:] = tail
    return ids


def check_t5(tmp: str, model) -> dict:
    path = text.export_t5_encoder(model, tmp)
    sess = session(path)
    graph = text.T5TextGraph(model).eval()
    errs = {}
    for L in (16, 40, 512):
        ids = t5_ids(L, [min(L, 12), 5, L])
        with torch.no_grad():
            want = graph(ids).numpy()  # [B, L, D]
        errs[str(L)] = rel_err(sess.run(["text"], {"input_ids": ids.numpy()})[0], want)
    return {"ports": ports(path), "onnx_vs_torch_rel_err": errs}


def check_clip(tmp: str, model) -> dict:
    path = text.export_clip_encoder(model, tmp, CLIP_EOS)
    sess = session(path)
    graph = text.ClipPooledGraph(model).eval()
    ids = clip_ids([3, 20, 77, 50])
    with torch.no_grad():
        want = graph(ids).numpy()  # [B, P]
        hidden = model(input_ids=ids).last_hidden_state.numpy()  # [B, 77, D], after the final layer norm
    got = sess.run(["pooled"], {"input_ids": ids.numpy()})[0]
    first_eos = (ids.numpy() == CLIP_EOS).argmax(axis=1)  # [B]
    at_eos = hidden[np.arange(len(ids)), first_eos]  # [B, D]
    # other tokens after each prompt's EOS (the model is causal: the pooled vector must not change)
    other_tail = sess.run(["pooled"], {"input_ids": clip_ids([3, 20, 77, 50], tail=7).numpy()})[0]
    return {
        "ports": ports(path),
        "onnx_vs_torch_rel_err": rel_err(got, want),
        "pooled_vs_hidden_at_first_eos_rel_err": rel_err(got, at_eos),
        "first_eos": first_eos.tolist(),
        "pooled_vs_other_tail_rel_err": rel_err(other_tail, got),
    }


def write_folder(folder: str, config: dict, state: dict, layout: str) -> None:
    """A transformers folder: config.json and the weights as `layout` says."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    state = {k: v.detach().clone().contiguous() for k, v in state.items()}
    if layout == "bin":
        torch.save(state, os.path.join(folder, "pytorch_model.bin"))
    elif layout == "sharded":
        keys = sorted(state)
        halves = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2 :]}
        weight_map = {}
        for name, part in halves.items():
            save_file({k: state[k].to(torch.bfloat16) for k in part}, os.path.join(folder, name))
            weight_map.update({k: name for k in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    else:
        save_file(state, os.path.join(folder, "model.safetensors"))


def t5_outputs(model, ids) -> np.ndarray:
    with torch.no_grad():
        return text.T5TextGraph(model)(ids).numpy()


def clip_outputs(model, ids) -> np.ndarray:
    with torch.no_grad():
        return text.ClipPooledGraph(model)(ids).numpy()


def check_loading(tmp: str, t5, clip) -> dict:
    from transformers import CLIPConfig, CLIPModel, T5ForConditionalGeneration

    out, folders = {}, {}
    t5_config = t5.config.to_dict()
    t5_state = {k: v for k, v in t5.state_dict().items() if k != "encoder.embed_tokens.weight"}
    folders["t5_sharded_bf16"] = os.path.join(tmp, "t5_sharded")
    write_folder(folders["t5_sharded_bf16"], {**t5_config, "model_type": "t5", "architectures": ["T5EncoderModel"]}, t5_state, "sharded")
    torch.manual_seed(3)
    full = T5ForConditionalGeneration(text.t5_config(text.T5_SIZES["tiny"]))
    full.shared.weight.data.copy_(t5.shared.weight.data)
    full.encoder.load_state_dict(t5.encoder.state_dict())
    folders["t5_full_bin"] = os.path.join(tmp, "t5_full")
    write_folder(folders["t5_full_bin"], {**t5_config, "model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}, full.state_dict(), "bin")
    clip_config = {**clip.config.to_dict(), "model_type": "clip_text_model"}
    folders["clip_release"] = os.path.join(tmp, "clip_release")
    write_folder(folders["clip_release"], clip_config, {"text_model." + k: v for k, v in clip.state_dict().items()}, "single")
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, image_size=32, patch_size=16)
    whole = CLIPModel(CLIPConfig(text_config=clip.config.to_dict(), vision_config=vision, projection_dim=32))
    whole.text_model.load_state_dict(clip.state_dict())
    folders["clip_full_model"] = os.path.join(tmp, "clip_full")
    write_folder(folders["clip_full_model"], {"model_type": "clip", "text_config": clip.config.to_dict(), "vision_config": vision, "projection_dim": 32}, whole.state_dict(), "single")
    ids_t5, ids_clip = t5_ids(24, [24, 9, 3]), clip_ids([5, 77, 30])
    want_t5, want_clip = t5_outputs(t5, ids_t5), clip_outputs(clip, ids_clip)
    bf16 = text.load_text_encoder(folders["t5_sharded_bf16"], "t5")
    with torch.no_grad():
        rounded = t5.shared.weight.to(torch.bfloat16).float()
    for name, folder in folders.items():
        kind = name.split("_")[0]
        problems = text.check_text_folder(folder, kind)
        model = bf16 if name == "t5_sharded_bf16" else text.load_text_encoder(folder, kind)
        if kind == "t5":
            diff = rel_err(t5_outputs(model, ids_t5), want_t5)
        else:
            diff = rel_err(clip_outputs(model, ids_clip), want_clip)
        out[name] = {"problems": problems, "rel_err": diff, "dtype": str(next(model.parameters()).dtype)}
    out["t5_sharded_bf16"]["embedding_is_bf16_rounded"] = bool(torch.equal(bf16.shared.weight, rounded))
    out["t5_sharded_bf16"]["embedding_tied"] = bf16.shared.weight.data_ptr() == bf16.encoder.embed_tokens.weight.data_ptr()
    out["folders"] = folders
    return out


def check_refusals(tmp: str, folders: dict) -> dict:
    from safetensors.torch import load_file, save_file

    out = {}

    def variant(name: str, source: str) -> str:
        dst = os.path.join(tmp, name)
        shutil.copytree(source, dst)
        return dst

    def refusal(folder: str, kind: str):
        problems = text.check_text_folder(folder, kind)
        try:
            text.load_text_encoder(folder, kind)
            loaded = None
        except CheckpointError as e:
            loaded = str(e)
        return {"check": problems, "load": loaded}

    f = variant("clip_missing", folders["clip_release"])
    state = load_file(os.path.join(f, "model.safetensors"))
    del state["text_model.final_layer_norm.weight"]
    save_file(state, os.path.join(f, "model.safetensors"))
    out["missing_key"] = refusal(f, "clip")
    f = variant("clip_unexpected", folders["clip_release"])
    state = load_file(os.path.join(f, "model.safetensors"))
    state["text_model.encoder.layers.0.extra.weight"] = torch.zeros(2)
    save_file(state, os.path.join(f, "model.safetensors"))
    out["unexpected_key"] = refusal(f, "clip")
    f = variant("t5_wide", folders["t5_full_bin"])
    with open(os.path.join(f, "config.json")) as fh:
        cfg = json.load(fh)
    cfg["d_ff"] = 96
    with open(os.path.join(f, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    out["shape_mismatch"] = refusal(f, "t5")
    f = variant("t5_truncated", folders["t5_sharded_bf16"])
    shard = os.path.join(f, "model-00002-of-00002.safetensors")
    with open(shard, "r+b") as fh:
        fh.truncate(os.path.getsize(shard) - 100)
    out["truncated_shard"] = refusal(f, "t5")
    out["other_encoder"] = refusal(folders["t5_sharded_bf16"], "clip")
    f = variant("clip_no_weights", folders["clip_release"])
    os.remove(os.path.join(f, "model.safetensors"))
    out["no_weights"] = refusal(f, "clip")
    return out


def check_release() -> dict:
    out = {}
    for kind, size in (("t5", "xxl"), ("clip", "large")):
        config = text.t5_config(text.T5_SIZES[size]) if kind == "t5" else text.clip_config(text.CLIP_SIZES[size])
        with torch.device("meta"):
            sd = text._module(kind, config).state_dict()
        unique = {k: v for k, v in sd.items() if k != "encoder.embed_tokens.weight"}
        out[kind] = {"keys": len(unique), "parameters": sum(v.numel() for v in unique.values()), "first_keys": list(unique)[:4]}
    return out


def check_tokenizers(tmp: str) -> dict:
    out = {}
    fresh_t5 = tokenizer.train_t5_test_tokenizer(os.path.join(tmp, "t5-fresh"))
    fresh_clip = tokenizer.train_clip_test_tokenizer(os.path.join(tmp, "clip-fresh"))
    same = lambda a, b, names: all(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read() for n in names)  # noqa: E731
    t5_names = ["spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    clip_names = ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    out["fixtures_equal_fresh_training"] = {"t5": same(fresh_t5, os.path.join(FIXTURES, "t5-test"), t5_names), "clip": same(fresh_clip, os.path.join(FIXTURES, "clip-test"), clip_names)}

    def only(source: str, name: str, keep) -> str:
        dst = os.path.join(tmp, name)
        os.makedirs(dst)
        for n in keep:
            shutil.copy(os.path.join(source, n), dst)
        return dst

    t5_dir, clip_dir = os.path.join(FIXTURES, "t5-test"), os.path.join(FIXTURES, "clip-test")
    both_t5, both_clip = tokenizer.build_t5_tokenizer(t5_dir), tokenizer.build_clip_tokenizer(clip_dir)
    out["sources_agree"] = {
        "t5_spiece_only": tokenizer.build_t5_tokenizer(only(t5_dir, "t5-spiece", ["spiece.model", "tokenizer_config.json"])).json_text == both_t5.json_text,
        "t5_json_only": tokenizer.build_t5_tokenizer(only(t5_dir, "t5-json", ["tokenizer.json", "tokenizer_config.json"])).json_text == both_t5.json_text,
        "clip_files_only": tokenizer.build_clip_tokenizer(only(clip_dir, "clip-files", ["vocab.json", "merges.txt"])).json_text == both_clip.json_text,
        "clip_json_only": tokenizer.build_clip_tokenizer(only(clip_dir, "clip-json", ["tokenizer.json"])).json_text == both_clip.json_text,
    }
    out["info"] = {"t5": both_t5.info.__dict__, "clip": both_clip.info.__dict__}

    refusals = {}

    def refused(name: str, fn):
        try:
            fn()
            refusals[name] = None
        except CheckpointError as e:
            refusals[name] = str(e)

    refused("t5_folder_as_clip", lambda: tokenizer.build_clip_tokenizer(only(t5_dir, "t5-as-clip", ["spiece.model"])))
    refused("clip_folder_as_t5", lambda: tokenizer.build_t5_tokenizer(only(clip_dir, "clip-as-t5", ["vocab.json", "merges.txt"])))
    refused("clip_json_as_t5", lambda: tokenizer.build_t5_tokenizer(only(clip_dir, "clip-json-as-t5", ["tokenizer.json"])))
    bad = only(clip_dir, "clip-truncated-merges", ["vocab.json", "merges.txt"])
    lines = open(os.path.join(bad, "merges.txt"), encoding="utf-8").read().split("\n")
    open(os.path.join(bad, "merges.txt"), "w", encoding="utf-8").write("\n".join(lines[:900]) + "\n")
    refused("clip_truncated_merges", lambda: tokenizer.build_clip_tokenizer(bad))
    bad = only(clip_dir, "clip-truncated-vocab", ["vocab.json", "merges.txt"])
    raw = open(os.path.join(bad, "vocab.json"), "rb").read()
    open(os.path.join(bad, "vocab.json"), "wb").write(raw[: len(raw) // 2])
    refused("clip_truncated_vocab", lambda: tokenizer.build_clip_tokenizer(bad))
    bad = only(clip_dir, "clip-disagree", ["vocab.json", "merges.txt", "tokenizer.json"])
    spec = json.load(open(os.path.join(bad, "tokenizer.json"), encoding="utf-8"))
    spec["model"]["merges"] = spec["model"]["merges"][:-1]
    json.dump(spec, open(os.path.join(bad, "tokenizer.json"), "w", encoding="utf-8"))
    refused("clip_files_disagree", lambda: tokenizer.build_clip_tokenizer(bad))
    bad = only(t5_dir, "t5-disagree", ["spiece.model", "tokenizer.json", "tokenizer_config.json"])
    spec = json.load(open(os.path.join(bad, "tokenizer.json"), encoding="utf-8"))
    spec["model"]["vocab"][500][1] -= 0.5
    json.dump(spec, open(os.path.join(bad, "tokenizer.json"), "w", encoding="utf-8"))
    refused("t5_files_disagree", lambda: tokenizer.build_t5_tokenizer(bad))
    bad = only(t5_dir, "t5-truncated", ["spiece.model"])
    raw = open(os.path.join(bad, "spiece.model"), "rb").read()
    open(os.path.join(bad, "spiece.model"), "wb").write(raw[: len(raw) // 3])
    refused("t5_truncated_spiece", lambda: tokenizer.build_t5_tokenizer(bad))
    refused("no_folder", lambda: tokenizer.build_t5_tokenizer(os.path.join(tmp, "nowhere")))
    target = os.path.join(tmp, "t5_tokenizer.json")
    refused("vocab_exceeds_embedding", lambda: tokenizer.prepare_t5_tokenizer(t5_dir, target, embedding_rows=1000))
    out["refusals"] = refusals
    out["not_written_when_refused"] = not os.path.exists(target) and not os.path.exists(target + ".partial")
    written = tokenizer.prepare_clip_tokenizer(clip_dir, os.path.join(tmp, "clip_tokenizer.json"), embedding_rows=2048)
    out["written_info_matches"] = written == both_clip.info and open(os.path.join(tmp, "clip_tokenizer.json"), encoding="utf-8").read() == both_clip.json_text
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["encoders", "tokenizers"], help="one half of the checks (all without)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "encoders"):
            t5 = text.build_random("t5", "tiny", seed=0)
            clip = text.build_random("clip", "tiny", seed=1)
            out["t5"] = check_t5(tmp, t5)
            out["clip"] = check_clip(tmp, clip)
            out["loading"] = check_loading(tmp, t5, clip)
            out["refusals"] = check_refusals(tmp, out["loading"].pop("folders"))
            out["release"] = check_release()
        if args.only in (None, "tokenizers"):
            out["tokenizers"] = check_tokenizers(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
