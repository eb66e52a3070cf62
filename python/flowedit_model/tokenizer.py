"""A whole-word WordPiece tokenizer as a Hugging Face `tokenizer.json`, and its Python mirror.

The vocabulary holds [PAD] = 0, [UNK] = 1 and then one entry per word. The pipeline is
Lowercase -> Whitespace pre-tokenizer (runs of word characters, or runs of punctuation) ->
WordPiece. With no "##" pieces in the vocabulary, a word is its own id or [UNK].
`encode` reproduces this and then truncates/right-pads to L, as flowedit does.
"""

import re
from typing import Dict, List, Sequence

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
# The Whitespace pre-tokenizer's pattern \w+|[^\w\s]+ with the character classes of
# JavaScript regular expressions (as @huggingface/tokenizers runs it): \w is ASCII only,
# \s is JavaScript's set of white space.
_JS_WORD = "A-Za-z0-9_"
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
WORD_RE = re.compile(f"[{_JS_WORD}]+|[^{_JS_WORD}{_JS_SPACE}]+")


def build_vocab(words: Sequence[str]) -> Dict[str, int]:
    vocab = {PAD: PAD_ID, UNK: UNK_ID}
    for w in words:
        if w != w.lower() or not re.fullmatch(f"[{_JS_WORD}]+", w):
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


def tokenizer_json(words: Sequence[str]) -> dict:
    """The `tokenizer.json` object for the word list."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_special(PAD, PAD_ID), _special(UNK, UNK_ID)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": UNK,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": build_vocab(words),
        },
    }


def encode(text: str, words: Sequence[str], max_tokens: int) -> List[int]:
    """Token ids of `text`, truncated to max_tokens and right-padded with [PAD]."""
    return encode_with(build_vocab(words), text, max_tokens)


def encode_with(vocab: Dict[str, int], text: str, max_tokens: int) -> List[int]:
    """encode() with a vocabulary built already (build_vocab), for many texts."""
    ids = [vocab.get(piece, UNK_ID) for piece in WORD_RE.findall(text.lower())]
    ids = ids[:max_tokens]
    return ids + [PAD_ID] * (max_tokens - len(ids))
