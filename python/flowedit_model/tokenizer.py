"""A whole-word WordPiece tokenizer as a Hugging Face `tokenizer.json`, and its Python mirror.

The vocabulary holds [PAD] = 0, [UNK] = 1 (optionally [EOS] = 2) and then one entry per word.
The pipeline is Lowercase -> Whitespace pre-tokenizer (runs of word characters, or runs of
punctuation) -> WordPiece -> (with [EOS]) a post-processor that appends [EOS]. With no "##"
pieces in the vocabulary, a word is its own id or [UNK]. `encode` reproduces this and then
truncates/right-pads to L, as flowedit does (truncation keeps the final [EOS], as the Hugging Face
tokenizer's does).
"""

import re
from typing import Dict, List, Sequence, Tuple

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"
PAD_ID, UNK_ID, EOS_ID = 0, 1, 2
# The Whitespace pre-tokenizer's pattern \w+|[^\w\s]+ with Unicode character classes, as the
# Rust tokenizers library (which flowedit runs in Node through `tokenizers`) applies it.
WORD_RE = re.compile(r"\w+|[^\w\s]+")


def specials_of(eos: bool) -> Tuple[str, ...]:
    """The special tokens, in id order."""
    return (PAD, UNK, EOS) if eos else (PAD, UNK)


def build_vocab(words: Sequence[str], eos: bool = False) -> Dict[str, int]:
    vocab = {t: i for i, t in enumerate(specials_of(eos))}
    for w in words:
        if w != w.lower() or not re.fullmatch(r"[A-Za-z0-9_]+", w):
            raise ValueError(f"vocabulary words must be lower-case word characters: {w!r}")
        if w not in vocab:
            vocab[w] = len(vocab)
    return vocab


def _special(token: str, token_id: int) -> dict:
    return {
        "id": token_id,
        "content": token,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def _eos_post_processor() -> dict:
    """TemplateProcessing that appends [EOS] to every sequence."""
    seq = lambda name: {"Sequence": {"id": name, "type_id": 0}}  # noqa: E731
    eos = {"SpecialToken": {"id": EOS, "type_id": 0}}
    return {
        "type": "TemplateProcessing",
        "single": [seq("A"), eos],
        "pair": [seq("A"), eos, seq("B"), eos],
        "special_tokens": {EOS: {"id": EOS, "ids": [EOS_ID], "tokens": [EOS]}},
    }


def tokenizer_json(words: Sequence[str], eos: bool = False) -> dict:
    """The `tokenizer.json` object for the word list (with eos, prompts end with [EOS])."""
    specials = specials_of(eos)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_special(t, i) for i, t in enumerate(specials)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": _eos_post_processor() if eos else None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": UNK,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": build_vocab(words, eos),
        },
    }


def encode(text: str, words: Sequence[str], max_tokens: int, eos: bool = False) -> List[int]:
    """Token ids of `text`, truncated to max_tokens and right-padded with [PAD]."""
    return encode_with(build_vocab(words, eos), text, max_tokens)


def encode_with(vocab: Dict[str, int], text: str, max_tokens: int) -> List[int]:
    """encode() with a vocabulary built already (build_vocab), for many texts. A vocabulary with
    [EOS] ends every prompt with it, also a truncated one."""
    ids = [vocab.get(piece, UNK_ID) for piece in WORD_RE.findall(text.lower())]
    if EOS in vocab:
        ids = ids[: max_tokens - 1] + [vocab[EOS]]
    ids = ids[:max_tokens]
    return ids + [PAD_ID] * (max_tokens - len(ids))


def real_tokens(ids: Sequence[int]) -> int:
    """How many of right-padded ids are the prompt's own (including [EOS])."""
    n = len(ids)
    while n > 0 and ids[n - 1] == PAD_ID:
        n -= 1
    return n
