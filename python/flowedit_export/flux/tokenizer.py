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
The pack's tokenizer.json files reproduce these in the Rust `tokenizers` library (with the
pack's `clean: "clip"` doing CLIP's cleaning before it); python/tokenize_flux_prompts.py holds the
slow references and test/model/flux-tokenizer-parity.test.ts compares them id for id.
"""

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..checkpoint import CheckpointError, require_file

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
    import sentencepiece as spm

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = os.path.join(scratch, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for line in test_corpus():
                f.write(line + "\n")
        spm.SentencePieceTrainer.train(
            input=corpus,
            model_prefix=os.path.join(scratch, "spiece"),
            model_type="unigram",
            vocab_size=T5_TEST_PIECES,
            pad_id=T5_PAD_ID,
            eos_id=T5_EOS_ID,
            unk_id=T5_UNK_ID,
            bos_id=-1,
            byte_fallback=False,
            character_coverage=0.9995,
            normalization_rule_name="nmt_nfkc",
            input_sentence_size=TEST_SENTENCES,
            shuffle_input_sentence=False,
            num_threads=1,
            seed_sentencepiece_size=200000,
            minloglevel=2,
        )
        proto = _read_spiece(os.path.join(scratch, "spiece.model"))
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
