"""The reference side of test/model/flux-tokenizer-parity.test.ts: FLUX.1's tokenizers as its
reference runs them (transformers 4.x's slow T5Tokenizer and CLIPTokenizer, written out in
flowedit_export/flux/slow_tokenizers.py), and the pack tokenizer.json flowedit reads.

Reads a JSON list of prompts; writes the pack's tokenizer.json for --folder to --pack-out; prints
one JSON object (the last line of output):
  ids[L]    the reference's ids for each prompt, truncated and padded to L as it does (null where
            the reference cannot encode the prompt: see `refused`)
  refused   index → why the reference cannot encode that prompt
  clean     (clip) the reference's cleaned, lower-cased text, special tokens kept between pieces
  known     (t5) index → why the pack tokenizer (the `tokenizers` library, as flowedit runs it)
            gives other ids than the reference for that prompt, for each known cause:
              "ends with </s>"  the prompt's last token is a typed </s>: the slow tokenizer adds none
              "tie"             sentencepiece's Viterbi sums float32 scores: of two segmentations
                                with the same float64 score it keeps the one rounding favours
              "sentinel space"  U+001C–U+001F beside a sentinel <extra_id_N>: the slow tokenizer
                                strips Python's white space there (str.isspace), `tokenizers`
                                Unicode White_Space, which lacks these four
              "grapheme"        a grapheme of several characters that `tokenizers`' Precompiled
                                normaliser maps otherwise than sentencepiece: it looks a grapheme
                                under 6 UTF-8 bytes up whole, taking its shortest matching prefix's
                                mapping for all of it (e.g. an em space or a full-width letter
                                followed by a combining mark loses the mark), and a longer one
                                character by character (missing the map's entries for sequences,
                                e.g. "e" + U+0301 → "é" before a variation selector)
              "control piece"   the normalisation map makes <pad>, </s> or <unk> out of other
                                characters (e.g. full-width brackets): `tokenizers` matches that
                                piece, sentencepiece never produces control pieces from text
            anything else is "unexplained"
  info      the pack tokenizer's vocabulary size and special ids

    python python/tokenize_flux_prompts.py --kind clip --folder test/fixtures/tokenizers/clip-test \\
        --pack-out /tmp/clip_tokenizer.json --prompts prompts.json --max-tokens 77

With --jobs FILE (a JSON list of such runs: kind, folder, pack_out, prompts, max_tokens,
mojibake_repair) it does them all in one process, which starts once, and prints the list of objects.
"""

import argparse
import json
import os
import sys
from dataclasses import asdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import regex  # noqa: E402

from flowedit_export.flux import slow_tokenizers as slow  # noqa: E402
from flowedit_export.flux.tokenizer import T5_EOS_ID, build_clip_tokenizer, build_t5_tokenizer  # noqa: E402


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def clip_reference(folder: str, prompts, lengths, mojibake_repair: bool) -> dict:
    ref = slow.SlowCLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), fix_encoding=mojibake_repair)
    return {"ids": {str(L): [ref.ids(p, L) for p in prompts] for L in lengths}, "refused": {}, "clean": [ref.clean(p) for p in prompts]}


def t5_reference(folder: str, pack_json: str, prompts, lengths) -> dict:
    from tokenizers import Tokenizer

    ref = slow.SlowT5Tokenizer(os.path.join(folder, "spiece.model"))
    ids, refused, known = {}, {}, {}
    for L in lengths:
        ids[str(L)] = [ref.ids(p, L) if encodable(p) else None for p in prompts]
    for i, p in enumerate(prompts):
        if not encodable(p):
            refused[str(i)] = "a lone surrogate: sentencepiece cannot encode the prompt"
    untruncated = Tokenizer.from_str(pack_json)  # for t5_cause, with its pieces' scores
    scores = {i: s for i, (_, s) in enumerate(json.loads(untruncated.to_str())["model"]["vocab"])}
    for L in lengths:
        tok = Tokenizer.from_str(pack_json)
        tok.enable_truncation(max_length=L)
        for i, p in enumerate(prompts):
            want = ids[str(L)][i]
            if want is None or str(i) in known:
                continue
            got = tok.encode(p).ids
            got = got + [ref.pad_id] * (L - len(got))
            if got != want:
                known[str(i)] = t5_cause(ref, untruncated, scores, p)
    return {"ids": ids, "refused": refused, "known": known}


def t5_cause(ref: "slow.SlowT5Tokenizer", tok, scores: dict, prompt: str) -> str:
    """Why the pack tokenizer `tok` (untruncated; `scores`: id → its piece's score) gives other ids
    than the reference for `prompt` (module docstring)."""
    pieces = ref.pieces(prompt)
    if pieces and pieces[-1] == "</s>":
        return "ends with </s>"
    parts = slow.split_on(prompt, list(ref.added))
    for i in range(1, len(parts), 2):
        if parts[i] in ref.sentinels:
            left, right = parts[i - 1], parts[i + 1]
            beside = left[len(left.rstrip()) :] + right[: len(right) - len(right.lstrip())]  # what the slow tokenizer strips
            if regex.search(r"[\x1c-\x1f]", beside):
                return "sentinel space"
    sp = ref.sp

    def rust_normalized(text: str) -> str:
        n = tok.normalizer.normalize_str(text).replace(" ", "\u2581")
        return ("\u2581" + n) if n else ""

    for chunk in ref.chunks(prompt):
        want = sp.encode(chunk)
        got = tok.encode(chunk, add_special_tokens=False).ids
        if got == want:
            continue
        if rust_normalized(chunk) != sp.normalize(chunk):
            if any(len(g) > 1 and rust_normalized(g) != sp.normalize(g) for g in regex.findall(r"\X", chunk)):
                return "grapheme"
            return "unexplained"
        if set(tok.encode(chunk, add_special_tokens=False).tokens) & {"<pad>", "</s>", "<unk>"}:
            return "control piece"
        unk = ref.added["<unk>"]
        same_unknowns = got.count(unk) == want.count(unk)
        if same_unknowns and abs(sum(scores[i] for i in got if i != unk) - sum(sp.get_score(i) for i in want if i != unk)) < 1e-6:
            return "tie"
        return "unexplained"
    return "unexplained"


def reference(kind: str, folder: str, pack_out: str, prompts: str, max_tokens, mojibake_repair: bool = True) -> dict:
    """One run: the pack tokenizer written to `pack_out`, the reference's object for the prompts in
    the JSON file `prompts`."""
    with open(prompts, encoding="utf-8") as f:
        prompts = json.load(f)
    pack = (build_t5_tokenizer if kind == "t5" else build_clip_tokenizer)(folder)
    with open(pack_out, "w", encoding="utf-8") as f:
        f.write(pack.json_text)
    if kind == "clip":
        out = clip_reference(folder, prompts, max_tokens, mojibake_repair)
    else:
        out = t5_reference(folder, pack.json_text, prompts, max_tokens)
    out["info"] = asdict(pack.info)
    return out


JOB_KEYS = {"kind", "folder", "pack_out", "prompts", "max_tokens", "mojibake_repair"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["t5", "clip"])
    parser.add_argument("--folder", help="the tokenizer folder (spiece.model / vocab.json + merges.txt)")
    parser.add_argument("--pack-out", help="where to write the pack's tokenizer.json")
    parser.add_argument("--prompts", help="JSON list of prompts")
    parser.add_argument("--max-tokens", type=int, nargs="+")
    parser.add_argument("--no-mojibake-repair", action="store_true", help="(clip) ftfy without fix_encoding")
    parser.add_argument("--jobs", help="instead of the options above, a JSON list of runs, each an object with the keys "
                        f"{', '.join(sorted(JOB_KEYS))} (mojibake_repair optional, true by default): all in this one "
                        "process; prints the list of their objects")
    args = parser.parse_args()

    if args.jobs:
        with open(args.jobs, encoding="utf-8") as f:
            jobs = json.load(f)
        for n, job in enumerate(jobs):
            if not JOB_KEYS - {"mojibake_repair"} <= set(job) <= JOB_KEYS:
                parser.error(f"--jobs {args.jobs}: job {n} has the keys {sorted(job)}; expected {sorted(JOB_KEYS)}")
        print(json.dumps([reference(**job) for job in jobs]))
        return
    missing = [f"--{k.replace('_', '-')}" for k in ("kind", "folder", "pack_out", "prompts", "max_tokens") if getattr(args, k) is None]
    if missing:
        parser.error(f"missing {', '.join(missing)} (or give --jobs)")
    print(json.dumps(reference(args.kind, args.folder, args.pack_out, args.prompts, args.max_tokens, not args.no_mojibake_repair)))


if __name__ == "__main__":
    main()
