"""FLUX.1's two tokenizers, as the pack carries them (t5_tokenizer.json, clip_tokenizer.json), and
small test tokenizers of the same kinds trained here (no real tokenizer files exist on the test
machines).

The reference (black-forest-labs/flux, HFEmbedder) runs transformers 4.x's slow tokenizers:
  T5Tokenizer (google/t5-v1_1-xxl, legacy): the prompt is split on the added tokens (<pad>, </s>,
    <unk>, <extra_id_N>; the sentinels eat the white space on both sides), each piece is encoded by
    sentencepiece itself, </s> is appended; truncated to L − 1 ids + </s>, padded with <pad> 0.
  CLIPTokenizer (openai/clip-vit-large-patch14): the prompt is split on <|startoftext|> and
    <|endoftext|>, each piece is cleaned (ftfy.fix_text, runs of `regex` \\s to one space, strip),
    lower-cased, cut by CLIP's pattern and byte-level BPE'd with "</w>" word ends; wrapped in
    <|startoftext|> … <|endoftext|>, truncated to 77 keeping both, padded with <|endoftext|>.
The pack's tokenizer.json files reproduce these in the Rust `tokenizers` library flowedit runs:
  t5_tokenizer.json    sentencepiece's normalisation map (Precompiled), its space handling (runs of
                       spaces to one, none at either end), "▁" before each piece of text, the
                       Unigram pieces and scores; the sentinels only as added tokens (stripping the
                       white space beside them); </s> appended.
  clip_tokenizer.json  lower case, CLIP's pattern (with what the slow tokenizer's case-insensitive
                       matching adds), bytes as characters, BPE with "</w>"; wrapped in
                       <|startoftext|> … <|endoftext|>. The pack's `clean: "clip"`
                       (src/model/prompt-clean.ts) does the cleaning before it.
flowedit_export/flux/slow_tokenizers.py writes the slow tokenizers out; python/tokenize_flux_prompts.py
and test/model/flux-tokenizer-parity.test.ts compare them with flowedit's prompt path id for id.
CLIP agrees on every prompt tried (ftfy's mojibake repair aside, which flowedit's cleaning leaves
out). T5 differs where `tokenizers` cannot do what sentencepiece does: ties between segmentations
(sentencepiece adds float32 scores), graphemes of several characters (the Precompiled normaliser
maps a grapheme, not the longest match), U+001C–U+001F beside a sentinel, <pad>/</s>/<unk> made by
the normalisation map (e.g. from full-width brackets), and a prompt ending in a typed </s> (the
slow tokenizer then appends none).
"""

import base64
import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..checkpoint import CheckpointError, read_json, require_file

# T5's special ids: <pad> 0, </s> 1, <unk> 2 (no BOS); the sentinels <extra_id_N> follow the
# sentencepiece pieces in reverse order (<extra_id_0> is the last id).
T5_PAD_ID, T5_EOS_ID, T5_UNK_ID = 0, 1, 2
T5_SPECIALS = {T5_PAD_ID: "<pad>", T5_EOS_ID: "</s>", T5_UNK_ID: "<unk>"}
T5_EXTRA_IDS = 100

# CLIP's special tokens are its last two ids; <|endoftext|> is also its unknown and padding token.
CLIP_BOS, CLIP_EOS = "<|startoftext|>", "<|endoftext|>"
CLIP_WORD_END = "</w>"
# The slow CLIPTokenizer reads at most this many merges (lines 1 … 48894 after the header).
CLIP_MAX_MERGES = 49152 - 256 - 2
# CLIP's pre-tokenizing pattern (the slow tokenizer matches it ignoring case on lower-cased text).
CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@dataclass(frozen=True)
class TokenizerInfo:
    """What the manifest and the text encoder need to know about a pack tokenizer."""

    vocab_size: int  # ids the tokenizer can produce: model pieces and added tokens
    pad_id: int
    eos_id: int
    unk_id: int
    bos_id: Optional[int] = None  # CLIP's <|startoftext|>; T5 has none


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2/CLIP's byte → character table: printable Latin-1 bytes stand for themselves, the
    others (controls, space, …) for the characters from U+0100 on, in byte order. Iterated in
    CLIP's vocabulary order: the printable bytes first, then the others."""
    kept = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# The pack's Split pattern: CLIP's, with what the slow tokenizer's case-insensitive `regex` matching
# adds to it written out (the long s ſ folds to s, so "'ſ" is a contraction; U+0345 folds to a
# letter, so neither the letter class nor its complement takes it and it is dropped).
PACK_CLIP_PATTERN = r"""<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}\x{345}]+"""

# sentencepiece piece types (sentencepiece_model.proto)
_UNKNOWN, _USER_DEFINED, _UNUSED = 2, 4, 5
_SENTINEL = re.compile(r"<extra_id_(\d+)>")


@dataclass(frozen=True)
class PackTokenizer:
    """A pack tokenizer.json (its text) and what the manifest needs to know about it."""

    json_text: str
    info: TokenizerInfo


def _read_json(path: str, what: str):
    return read_json(require_file(path, what))


def _folder(folder: str, what: str) -> None:
    if not os.path.isdir(folder):
        raise CheckpointError(f"{folder}: not a folder; expected {what}")


def _config(folder: str) -> dict:
    """tokenizer_config.json merged over special_tokens_map.json (either may be absent)."""
    out: dict = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            out.update(_read_json(path, name))
    return out


def _token_text(value) -> Optional[str]:
    """A special token as configs write it: a string or {"content": …}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _added_token(id_: int, content: str, strip: bool) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": strip, "rstrip": strip, "normalized": False, "special": True}


def _checked(spec: dict, source: str, probes: Dict[str, List[int]]) -> str:
    """The JSON text of `spec`, after checking that the `tokenizers` library reads it and encodes
    each probe to the ids given (an internal check of the conversion)."""
    from tokenizers import Tokenizer

    text = json.dumps(spec, ensure_ascii=False)
    tok = Tokenizer.from_str(text)
    for probe, want in probes.items():
        got = tok.encode(probe).ids
        if got != want:
            raise CheckpointError(f"{source}: the converted tokenizer encodes {probe!r} as {got}, the source as {want}; the tokenizer files disagree with each other")
    return text


# ---------------------------------------------------------------------------------------------
# T5: spiece.model and/or tokenizer.json → t5_tokenizer.json


@dataclass(frozen=True)
class _Sentencepiece:
    pieces: List[Tuple[str, float]]  # the model's pieces and scores, ids in order
    charsmap: bytes  # the precompiled normalisation map (empty: none)
    byte_fallback: bool
    source: str


def _t5_from_spiece(path: str) -> _Sentencepiece:
    proto = _read_spiece(path)
    if proto.trainer_spec.model_type != 1:  # UNIGRAM
        raise CheckpointError(f"{path}: a sentencepiece model of type {proto.trainer_spec.model_type}; expected T5's Unigram model")
    pieces = [(p.piece, p.score) for p in proto.pieces]
    types = [p.type for p in proto.pieces]
    _check_t5_specials([p for p, _ in pieces], path)
    if types[T5_UNK_ID] != _UNKNOWN or proto.trainer_spec.unk_id != T5_UNK_ID:
        raise CheckpointError(f"{path}: the unknown piece is id {proto.trainer_spec.unk_id}; expected <unk> at {T5_UNK_ID} as in T5")
    odd = sorted({t for t in types if t in (_USER_DEFINED, _UNUSED)})
    if odd:
        raise CheckpointError(f"{path}: has user-defined or unused pieces (types {odd}), which T5's tokenizer does not have and tokenizer.json cannot express")
    ns = proto.normalizer_spec
    if not (ns.add_dummy_prefix and ns.remove_extra_whitespaces and ns.escape_whitespaces):
        raise CheckpointError(
            f"{path}: normaliser settings add_dummy_prefix={ns.add_dummy_prefix}, remove_extra_whitespaces={ns.remove_extra_whitespaces}, "
            f"escape_whitespaces={ns.escape_whitespaces}; expected T5's (all true)"
        )
    return _Sentencepiece(pieces, bytes(ns.precompiled_charsmap), bool(proto.trainer_spec.byte_fallback), path)


def _find_charsmap(normalizer) -> Optional[str]:
    if not isinstance(normalizer, dict):
        return None
    if normalizer.get("type") == "Precompiled":
        return normalizer.get("precompiled_charsmap") or ""
    for inner in normalizer.get("normalizers", []) if normalizer.get("type") == "Sequence" else []:
        found = _find_charsmap(inner)
        if found is not None:
            return found
    return None


def _t5_from_tokenizer_json(path: str, spec: dict) -> Tuple[_Sentencepiece, List[str]]:
    """The sentencepiece model inside a T5 tokenizer.json, and the sentinels it appends."""
    model = spec.get("model") or {}
    if model.get("type") != "Unigram":
        raise CheckpointError(f"{path}: a {model.get('type')} tokenizer; expected T5's Unigram (sentencepiece) tokenizer")
    vocab = model.get("vocab") or []
    pieces = [(str(p), float(s)) for p, s in vocab]
    sentinels: List[str] = []
    while pieces and _SENTINEL.fullmatch(pieces[-1][0]):
        sentinels.append(pieces.pop()[0])
    for t in spec.get("added_tokens") or []:
        if _SENTINEL.fullmatch(t.get("content", "")) and t["content"] not in sentinels:
            sentinels.append(t["content"])
    _check_t5_specials([p for p, _ in pieces], path)
    if model.get("unk_id") != T5_UNK_ID:
        raise CheckpointError(f"{path}: the model's unk_id is {model.get('unk_id')}; expected {T5_UNK_ID} as in T5")
    charsmap = _find_charsmap(spec.get("normalizer"))
    if charsmap is None:
        raise CheckpointError(f"{path}: its normaliser has no Precompiled step (sentencepiece's normalisation map); expected a tokenizer.json converted from T5's spiece.model")
    return _Sentencepiece(pieces, base64.b64decode(charsmap), bool(model.get("byte_fallback")), path), sentinels


def _check_t5_specials(pieces: List[str], source: str) -> None:
    for id_, piece in T5_SPECIALS.items():
        got = pieces[id_] if id_ < len(pieces) else None
        if got != piece:
            raise CheckpointError(f"{source}: id {id_} is {got!r}; expected {piece} as in T5 (<pad> 0, </s> 1, <unk> 2)")


def build_t5_tokenizer(folder: str) -> PackTokenizer:
    """The pack's t5_tokenizer.json from a T5 tokenizer folder (google/t5-v1_1-xxl as FLUX.1 ships
    it: spiece.model and/or tokenizer.json, tokenizer_config.json). With both files, they must
    hold the same pieces, scores and normalisation map. Sentinels: tokenizer_config.json's
    extra_ids (else those tokenizer.json has, else T5's 100)."""
    what = "FLUX.1's T5 tokenizer folder (google/t5-v1_1-xxl: spiece.model and/or tokenizer.json)"
    _folder(folder, what)
    spiece, tok_json = os.path.join(folder, "spiece.model"), os.path.join(folder, "tokenizer.json")
    has_spiece, has_json = os.path.isfile(spiece), os.path.isfile(tok_json)
    if not has_spiece and not has_json:
        other = [n for n in ("vocab.json", "merges.txt") if os.path.isfile(os.path.join(folder, n))]
        kind = f" ({' and '.join(other)}: a BPE tokenizer such as CLIP's)" if other else ""
        raise CheckpointError(f"{folder}: has neither spiece.model nor tokenizer.json{kind}; expected {what}")
    sentinels: Optional[List[str]] = None
    from_json = None
    if has_json:
        from_json, sentinels = _t5_from_tokenizer_json(tok_json, _read_json(tok_json, "a tokenizer.json"))
    sp = _t5_from_spiece(spiece) if has_spiece else from_json
    if has_spiece and from_json is not None:
        _same_sentencepiece(sp, from_json)
    config = _config(folder)
    if config.get("legacy") is False:
        raise CheckpointError(f"{os.path.join(folder, 'tokenizer_config.json')}: legacy is false; FLUX.1's reference runs T5's legacy tokenizer (google/t5-v1_1-xxl), which this pack reproduces")
    extra = config.get("extra_ids")
    if extra is None:
        extra = len(sentinels) if sentinels else T5_EXTRA_IDS
    if sentinels and len(sentinels) != extra:
        raise CheckpointError(f"{tok_json}: has {len(sentinels)} <extra_id_N> tokens but tokenizer_config.json says extra_ids={extra}; the tokenizer files disagree with each other")
    n = len(sp.pieces)
    added = [_added_token(i, T5_SPECIALS[i], strip=False) for i in sorted(T5_SPECIALS)]
    # <extra_id_0> is the last id; added tokens take the ids after the model's in the order given
    added += [_added_token(n + k, f"<extra_id_{extra - 1 - k}>", strip=True) for k in range(extra)]
    normalizers = [{"type": "Precompiled", "precompiled_charsmap": base64.b64encode(sp.charsmap).decode()}] if sp.charsmap else []
    # sentencepiece drops leading and trailing spaces and collapses runs of them (spaces only:
    # other white space is whatever the normalisation map made of it)
    normalizers += [
        {"type": "Replace", "pattern": {"Regex": " +"}, "content": " "},
        {"type": "Replace", "pattern": {"Regex": "^ | $"}, "content": ""},
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        # every piece between added tokens gets sentencepiece's "▁" prefix, as the slow tokenizer
        # encodes each piece on its own; no splitting: sentencepiece segments the whole piece
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [T5_EOS_ID], "tokens": ["</s>"]}},
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": T5_UNK_ID, "vocab": [[p, s] for p, s in sp.pieces], "byte_fallback": sp.byte_fallback},
    }
    probes = {"": [T5_EOS_ID], "</s>": [T5_EOS_ID, T5_EOS_ID]}
    if extra:
        probes["<extra_id_0>"] = [n + extra - 1, T5_EOS_ID]
    text = _checked(spec, spiece if has_spiece else tok_json, probes)
    return PackTokenizer(text, TokenizerInfo(vocab_size=n + extra, pad_id=T5_PAD_ID, eos_id=T5_EOS_ID, unk_id=T5_UNK_ID))


def _same_sentencepiece(a: _Sentencepiece, b: _Sentencepiece) -> None:
    import struct

    def f32(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]

    if len(a.pieces) != len(b.pieces):
        raise CheckpointError(f"{b.source} has {len(b.pieces)} pieces but {a.source} has {len(a.pieces)}; the tokenizer files disagree with each other: keep the pair the release ships")
    for i, ((pa, sa), (pb, sb)) in enumerate(zip(a.pieces, b.pieces)):
        if pa != pb or f32(sa) != f32(sb):
            raise CheckpointError(f"{b.source}: piece {i} is {pb!r} (score {sb}) but {a.source} has {pa!r} (score {sa}); the tokenizer files disagree with each other")
    if a.charsmap != b.charsmap:
        raise CheckpointError(f"{b.source}: its normalisation map differs from {a.source}'s; the tokenizer files disagree with each other")
    if a.byte_fallback != b.byte_fallback:
        raise CheckpointError(f"{b.source}: byte fallback {b.byte_fallback} but {a.source} has {a.byte_fallback}; the tokenizer files disagree with each other")


# ---------------------------------------------------------------------------------------------
# CLIP: vocab.json + merges.txt and/or tokenizer.json → clip_tokenizer.json


def _clip_from_files(vocab_path: str, merges_path: str) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    vocab = _read_json(vocab_path, "CLIP's vocabulary (vocab.json)")
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise CheckpointError(f"{vocab_path}: not a token → id map; expected CLIP's vocab.json")
    require_file(merges_path, "CLIP's merges (merges.txt)")
    with open(merges_path, encoding="utf-8") as f:
        lines = f.read().strip().split("\n")
    if not lines[0].startswith("#version"):
        raise CheckpointError(f"{merges_path}: the first line is {lines[0][:40]!r}; expected the '#version: 0.2' header the slow CLIPTokenizer skips")
    # the slow tokenizer reads merges 1 … 48894 after the header
    merges = []
    for i, line in enumerate(lines[1 : CLIP_MAX_MERGES + 1], start=2):
        parts = line.split()
        if len(parts) != 2:
            raise CheckpointError(f"{merges_path}: line {i} is {line[:40]!r}; expected two symbols (the file may be truncated: download it again)")
        merges.append((parts[0], parts[1]))
    return vocab, merges


def _clip_from_tokenizer_json(path: str, spec: dict) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        kind = " (T5's sentencepiece kind)" if model.get("type") == "Unigram" else ""
        raise CheckpointError(f"{path}: a {model.get('type')} tokenizer{kind}; expected CLIP's byte-level BPE tokenizer")
    if model.get("end_of_word_suffix") != CLIP_WORD_END:
        raise CheckpointError(f"{path}: a BPE without the '{CLIP_WORD_END}' word end; expected CLIP's tokenizer")
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model.get("merges") or []]
    return dict(model.get("vocab") or {}), [(a, b) for a, b in merges][:CLIP_MAX_MERGES]


def build_clip_tokenizer(folder: str) -> PackTokenizer:
    """The pack's clip_tokenizer.json from a CLIP tokenizer folder (openai/clip-vit-large-patch14
    as FLUX.1 ships it: vocab.json + merges.txt and/or tokenizer.json). With both, they must hold
    the same vocabulary and merges. The pad id is the config's pad token (else <|endoftext|>)."""
    what = "FLUX.1's CLIP tokenizer folder (openai/clip-vit-large-patch14: vocab.json + merges.txt and/or tokenizer.json)"
    _folder(folder, what)
    paths = {n: os.path.join(folder, n) for n in ("vocab.json", "merges.txt", "tokenizer.json")}
    has = {n: os.path.isfile(p) for n, p in paths.items()}
    if not has["tokenizer.json"] and not (has["vocab.json"] and has["merges.txt"]):
        if os.path.isfile(os.path.join(folder, "spiece.model")):
            raise CheckpointError(f"{folder}: holds spiece.model, a sentencepiece tokenizer such as T5's; expected {what}")
        lacking = [n for n in ("vocab.json", "merges.txt") if not has[n]]
        raise CheckpointError(f"{folder}: has no tokenizer.json and lacks {' and '.join(lacking)}; expected {what}")
    from_json = None
    if has["tokenizer.json"]:
        from_json = _clip_from_tokenizer_json(paths["tokenizer.json"], _read_json(paths["tokenizer.json"], "a tokenizer.json"))
    if has["vocab.json"] and has["merges.txt"]:
        vocab, merges = _clip_from_files(paths["vocab.json"], paths["merges.txt"])
        source = paths["merges.txt"]
        if from_json is not None:
            if from_json[0] != vocab:
                raise CheckpointError(f"{paths['tokenizer.json']}: its vocabulary differs from vocab.json's; the tokenizer files disagree with each other: keep the set the release ships")
            if from_json[1] != merges:
                raise CheckpointError(f"{paths['tokenizer.json']}: its merges differ from merges.txt's; the tokenizer files disagree with each other: keep the set the release ships")
    else:
        vocab, merges = from_json
        source = paths["tokenizer.json"]
    for special in (CLIP_BOS, CLIP_EOS):
        if special not in vocab:
            raise CheckpointError(f"{source}: {special} is not in the vocabulary; expected CLIP's tokenizer")
    symbols = list(bytes_to_unicode().values())
    missing = [s for s in symbols + [s + CLIP_WORD_END for s in symbols] if s not in vocab]
    if missing:
        raise CheckpointError(f"{source}: {len(missing)} of CLIP's 512 byte symbols are not in the vocabulary (e.g. {missing[0]!r}); expected a byte-level BPE as CLIP's")
    for i, (a, b) in enumerate(merges):
        if a + b not in vocab or a not in vocab or b not in vocab:
            raise CheckpointError(f"{source}: merge {i + 1} ({a} {b}) makes a token the vocabulary does not have; the vocabulary and merges disagree (a file may be truncated: download it again)")
    if len(vocab) != 2 * len(symbols) + len(merges) + 2:
        raise CheckpointError(
            f"{source}: {len(merges)} merges for a vocabulary of {len(vocab)} tokens; expected CLIP's layout, 512 byte symbols + one token per merge + 2 special tokens "
            f"({2 * len(symbols) + len(merges) + 2}); a file may be truncated: download it again"
        )
    config = _config(folder)
    pad = _token_text(config.get("pad_token")) or CLIP_EOS
    if pad not in vocab:
        raise CheckpointError(f"{folder}: the pad token {pad!r} of its config is not in the vocabulary")
    bos, eos = vocab[CLIP_BOS], vocab[CLIP_EOS]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(bos, CLIP_BOS, strip=False), _added_token(eos, CLIP_EOS, strip=False)],
        # the pack's clean "clip" does ftfy and the white space; the slow tokenizer lower-cases last
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PACK_CLIP_PATTERN}, "behavior": "Removed", "invert": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": CLIP_BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": CLIP_EOS, "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": CLIP_BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": CLIP_EOS, "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": CLIP_EOS, "type_id": 0}},
            ],
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in (CLIP_BOS, CLIP_EOS)},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": CLIP_EOS, "continuing_subword_prefix": "", "end_of_word_suffix": CLIP_WORD_END,
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b in merges],
        },
    }
    text = _checked(spec, source, {"": [bos, eos], CLIP_EOS: [bos, eos, eos]})
    return PackTokenizer(text, TokenizerInfo(vocab_size=len(vocab), pad_id=vocab[pad], eos_id=eos, unk_id=eos, bos_id=bos))


# ---------------------------------------------------------------------------------------------
# Writing them into a pack


def _write_pack_tokenizer(tok: PackTokenizer, out_path: str, embedding_rows: Optional[int], source: str, release: str) -> TokenizerInfo:
    if embedding_rows is not None and tok.info.vocab_size > embedding_rows:
        raise CheckpointError(
            f"{source}: {tok.info.vocab_size} token ids but the text encoder's token embedding has {embedding_rows} rows; expected the tokenizer released with this encoder ({release})"
        )
    staged = out_path + ".partial"
    with open(staged, "w", encoding="utf-8") as f:
        f.write(tok.json_text)
    os.replace(staged, out_path)
    return tok.info


def prepare_t5_tokenizer(folder: str, out_path: str, embedding_rows: Optional[int] = None) -> TokenizerInfo:
    """Write t5_tokenizer.json (build_t5_tokenizer) to `out_path`; refuses (CheckpointError, nothing
    written) a tokenizer whose ids do not fit `embedding_rows`, the T5 encoder's token embedding."""
    return _write_pack_tokenizer(build_t5_tokenizer(folder), out_path, embedding_rows, folder, "google/t5-v1_1-xxl: 32100 ids, 32128 rows")


def prepare_clip_tokenizer(folder: str, out_path: str, embedding_rows: Optional[int] = None) -> TokenizerInfo:
    """Write clip_tokenizer.json (build_clip_tokenizer) to `out_path`; refuses (CheckpointError,
    nothing written) a tokenizer whose ids do not fit `embedding_rows`, CLIP's token embedding."""
    return _write_pack_tokenizer(build_clip_tokenizer(folder), out_path, embedding_rows, folder, "openai/clip-vit-large-patch14: 49408 ids")


def tokenizer_problems(folder: str, kind: str) -> List[str]:
    """What is wrong with a tokenizer folder of `kind` ('t5' or 'clip'), without writing anything."""
    try:
        (build_t5_tokenizer if kind == "t5" else build_clip_tokenizer)(folder)
    except CheckpointError as e:
        return [str(e)]
    return []


# ---------------------------------------------------------------------------------------------
# Small test tokenizers: a T5-v1.1-like sentencepiece Unigram model and a CLIP-like byte-level BPE.

T5_TEST_PIECES = 2000  # sentencepiece pieces, <pad> </s> <unk> included: 2,100 ids with the sentinels
CLIP_TEST_MERGES = 1534  # 512 byte symbols + 1,534 merges + 2 specials = 2,048 ids
TEST_SENTENCES = 30000
TEST_SEED = 20250811


def test_corpus(count: int = TEST_SENTENCES, seed: int = TEST_SEED):
    """Deterministic multilingual sentences (the Wan test tokenizer's generator, another seed) with
    upper case, apostrophes and punctuation runs mixed in, as CLIP's pattern splits them."""
    from ..wan.tokenizer import test_corpus as sentences

    rng = random.Random(seed)
    extras = ["'s", "'t", "'re", "'ve", "'ll", "'d", "'m", "...", "!!", "?!", "--", "(", ")", "[", "]", '"', ":", ";", "#", "@", "&", "/", "*"]
    for line in sentences(count, seed):
        words = line.split(" ")
        for i in range(len(words)):
            r = rng.random()
            if r < 0.05:
                words[i] = words[i].upper()
            elif r < 0.12:
                words[i] = words[i] + rng.choice(extras)
        yield " ".join(words)


def train_t5_test_tokenizer(out_dir: str) -> str:
    """Train a small sentencepiece Unigram model with T5 v1.1's settings (<pad> 0, </s> 1, <unk> 2,
    no BOS, no byte fallback: characters outside the model are <unk>; nmt_nfkc normalisation) on
    `test_corpus()`, and lay it out like the tokenizer folder of google/t5-v1_1-xxl as FLUX.1
    ships it: spiece.model, tokenizer_config.json (100 sentinels, legacy), special_tokens_map.json
    and the tokenizer.json transformers converts from them. Returns `out_dir`."""
    from ..unigram import train_unigram

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        model = train_unigram(test_corpus(), scratch, T5_TEST_PIECES, TEST_SENTENCES, byte_fallback=False,
                              pad_id=T5_PAD_ID, eos_id=T5_EOS_ID, unk_id=T5_UNK_ID)
        proto = _read_spiece(model)
    # the trainer records its scratch paths: the same names on every run
    proto.trainer_spec.input[:] = ["corpus.txt"]
    proto.trainer_spec.model_prefix = "spiece"
    with open(os.path.join(out_dir, "spiece.model"), "wb") as f:
        f.write(proto.SerializeToString())
    extra = [f"<extra_id_{i}>" for i in range(T5_EXTRA_IDS)]
    added = {str(i): _added(t, strip=False) for i, t in T5_SPECIALS.items()}
    for i, token in enumerate(extra):
        added[str(T5_TEST_PIECES + T5_EXTRA_IDS - 1 - i)] = _added(token, strip=True)
    config = {
        "tokenizer_class": "T5Tokenizer",
        "added_tokens_decoder": dict(sorted(added.items(), key=lambda kv: int(kv[0]))),
        "additional_special_tokens": extra,
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": T5_EXTRA_IDS,
        "legacy": True,
        "model_max_length": 512,
        "sp_model_kwargs": {},
    }
    _write_json(os.path.join(out_dir, "tokenizer_config.json"), config)
    _write_json(os.path.join(out_dir, "special_tokens_map.json"), {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "additional_special_tokens": extra})
    _transformers_tokenizer_json(out_dir, "T5Tokenizer")
    return out_dir


def train_clip_test_tokenizer(out_dir: str) -> str:
    """Train a small CLIP-like byte-level BPE on `test_corpus()` cut as CLIP's slow tokenizer cuts
    text (ftfy, white space, lower case, CLIP's pattern, bytes as characters), and lay it out as
    openai/clip-vit-large-patch14 does: vocab.json (the 256 byte symbols, the same with "</w>",
    one token per merge in merge order, then <|startoftext|> and <|endoftext|>), merges.txt (with
    its "#version" header line), tokenizer_config.json, special_tokens_map.json and the
    tokenizer.json transformers makes from them. Returns `out_dir`."""
    from collections import Counter

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from .slow_tokenizers import clip_words

    os.makedirs(out_dir, exist_ok=True)
    counts: Counter = Counter()
    for line in test_corpus():
        counts.update(clip_words(line))
    symbols = list(bytes_to_unicode().values())
    bpe = Tokenizer(models.BPE(end_of_word_suffix=CLIP_WORD_END))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(
        vocab_size=2 * len(symbols) + CLIP_TEST_MERGES + 200, min_frequency=2, show_progress=False,
        initial_alphabet=symbols, end_of_word_suffix=CLIP_WORD_END, special_tokens=[],
    )
    # every word once per occurrence, in a fixed order: training is deterministic
    bpe.train_from_iterator((" ".join([w] * n) for w, n in sorted(counts.items())), trainer=trainer)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in json.loads(bpe.to_str())["model"]["merges"]]
    if len(merges) < CLIP_TEST_MERGES:
        raise RuntimeError(f"the test corpus gave {len(merges)} merges; expected at least {CLIP_TEST_MERGES}")
    merges = merges[:CLIP_TEST_MERGES]
    vocab_list = symbols + [s + CLIP_WORD_END for s in symbols] + ["".join(m) for m in merges] + [CLIP_BOS, CLIP_EOS]
    vocab = {t: i for i, t in enumerate(vocab_list)}
    assert len(vocab) == len(vocab_list), "every merge makes a new token"
    _write_json(os.path.join(out_dir, "vocab.json"), vocab)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    bos, eos = len(vocab) - 2, len(vocab) - 1
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "added_tokens_decoder": {str(bos): _added(CLIP_BOS, strip=False, normalized=True), str(eos): _added(CLIP_EOS, strip=False)},
        "bos_token": CLIP_BOS,
        "eos_token": CLIP_EOS,
        "unk_token": CLIP_EOS,
        "pad_token": CLIP_EOS,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": 77,
    }
    _write_json(os.path.join(out_dir, "tokenizer_config.json"), config)
    _write_json(os.path.join(out_dir, "special_tokens_map.json"), {"bos_token": CLIP_BOS, "eos_token": CLIP_EOS, "unk_token": CLIP_EOS, "pad_token": CLIP_EOS})
    _transformers_tokenizer_json(out_dir, "CLIPTokenizer")
    return out_dir


def _read_spiece(path: str):
    """A sentencepiece ModelProto; an unreadable file is a CheckpointError."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    require_file(path, "a sentencepiece model (spiece.model)")
    proto = pb.ModelProto()
    try:
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
    except Exception as e:
        raise CheckpointError(f"{path}: not a sentencepiece model ({e}); the file may be truncated: download it again") from e
    if not proto.pieces:
        raise CheckpointError(f"{path}: a sentencepiece model without pieces; the file may be truncated: download it again")
    return proto


def _added(content: str, strip: bool, normalized: bool = False) -> dict:
    return {"content": content, "lstrip": strip, "normalized": normalized, "rstrip": strip, "single_word": False, "special": True}


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def _transformers_tokenizer_json(folder: str, cls: str) -> None:
    """The tokenizer.json transformers writes for the folder's slow files (as release folders carry one)."""
    import warnings

    import transformers

    out = os.path.join(folder, "tokenizer.json")
    if os.path.exists(out):
        os.remove(out)
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(transformers, cls).from_pretrained(folder).save_pretrained(scratch)
        shutil.copyfile(os.path.join(scratch, "tokenizer.json"), out)
