"""The slow (pure Python) T5Tokenizer and CLIPTokenizer of transformers 4.x, as FLUX.1's reference
runs them, written out here (transformers 5 no longer has them): the ids a prompt must get.

T5 (legacy, google/t5-v1_1-xxl):
  1. split the prompt on the added tokens (<pad>, </s>, <unk>, <extra_id_N>), leftmost first;
     a sentinel <extra_id_N> strips the white space (str.isspace) at the end of the piece before it
     and at the start of the piece after it
  2. each other piece: sentencepiece's own encoding (pieces, then piece → id; unknown → <unk>)
  3. cut to L − 1 ids, then </s> appended unless the ids already end with </s>; padded with <pad>
CLIP (openai/clip-vit-large-patch14):
  1. split the prompt on <|startoftext|> and <|endoftext|>
  2. each other piece: ftfy.fix_text, runs of `\\s` (the `regex` module's: Unicode White_Space) to
     one space, str.strip, str.lower; the words of CLIP's pattern (matched ignoring case); each
     word's UTF-8 bytes as characters, byte-pair merged with "</w>" at its end (a word that is
     exactly a special token's text stays that token)
  3. cut to L − 2 ids, wrapped in <|startoftext|> … <|endoftext|>, padded with the pad token
"""

import json
from typing import Dict, List, Optional, Sequence, Tuple

import regex

from .tokenizer import CLIP_BOS, CLIP_EOS, CLIP_MAX_MERGES, CLIP_PATTERN, CLIP_WORD_END, T5_EOS_ID, T5_EXTRA_IDS, T5_SPECIALS, bytes_to_unicode

_CLIP_WORDS = regex.compile(CLIP_PATTERN, regex.IGNORECASE)
_WHITESPACE_RUN = regex.compile(r"\s+")


def split_on(text: str, specials: Sequence[str]) -> List[str]:
    """`text` cut around every occurrence of the special strings, leftmost (then longest) first;
    the specials are kept as their own items."""
    if not specials:
        return [text]
    pattern = regex.compile("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))
    out: List[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(text[pos : m.start()])
        out.append(m.group())
        pos = m.end()
    out.append(text[pos:])
    return out


def _pad(ids: List[int], length: int, pad_id: int) -> List[int]:
    return ids + [pad_id] * (length - len(ids))


class SlowT5Tokenizer:
    def __init__(self, spiece_model: str, extra_ids: int = T5_EXTRA_IDS):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=spiece_model)
        n = self.sp.get_piece_size()
        self.added: Dict[str, int] = {piece: self.sp.piece_to_id(piece) for piece in T5_SPECIALS.values()}
        self.sentinels = {f"<extra_id_{i}>": n + extra_ids - 1 - i for i in range(extra_ids)}
        self.added.update(self.sentinels)
        self.pad_id = self.added["<pad>"]

    def _parts(self, text: str) -> List[str]:
        """Pieces of text (even items) and added tokens (odd items), white space stripped beside sentinels."""
        parts = split_on(text, list(self.added))
        for i, part in enumerate(parts):
            if part in self.sentinels:
                if i > 0:
                    parts[i - 1] = parts[i - 1].rstrip()
                if i + 1 < len(parts):
                    parts[i + 1] = parts[i + 1].lstrip()
        return parts

    def chunks(self, text: str) -> List[str]:
        """The non-empty pieces of text sentencepiece encodes."""
        return [p for p in self._parts(text)[::2] if p]

    def pieces(self, text: str) -> List[str]:
        out: List[str] = []
        for i, part in enumerate(self._parts(text)):
            if i % 2 == 1:
                out.append(part)
            elif part:
                out.extend(self.sp.encode(part, out_type=str))
        return out

    def ids(self, text: str, max_tokens: int) -> List[int]:
        ids = [self.added[p] if p in self.added else self.sp.piece_to_id(p) for p in self.pieces(text)]
        if len(ids) + 1 > max_tokens:
            ids = ids[: max_tokens - 1]
        if not ids or ids[-1] != T5_EOS_ID:
            ids = ids + [T5_EOS_ID]
        return _pad(ids, max_tokens, self.pad_id)


def clip_clean(text: str, fix_encoding: bool = True) -> str:
    """The slow CLIPTokenizer's cleaning of one piece: ftfy, white space, strip, lower case
    (fix_encoding=False: ftfy without its mojibake repair)."""
    import ftfy

    fixed = ftfy.fix_text(text) if fix_encoding else ftfy.fix_text(text, fix_encoding=False)
    return _WHITESPACE_RUN.sub(" ", fixed).strip().lower()


_BYTES = bytes_to_unicode()


def clip_words(text: str, fix_encoding: bool = True) -> List[str]:
    """The byte-encoded words the slow CLIPTokenizer merges, for one piece without special tokens."""
    return ["".join(_BYTES[b] for b in w.encode("utf-8")) for w in _CLIP_WORDS.findall(clip_clean(text, fix_encoding))]


class SlowCLIPTokenizer:
    def __init__(self, vocab_json: str, merges_txt: str, pad_token: str = CLIP_EOS, fix_encoding: bool = True):
        self.fix_encoding = fix_encoding
        with open(vocab_json, encoding="utf-8") as f:
            self.encoder: Dict[str, int] = json.load(f)
        with open(merges_txt, encoding="utf-8") as f:
            lines = f.read().strip().split("\n")[1 : CLIP_MAX_MERGES + 1]
        self.ranks: Dict[Tuple[str, str], int] = {tuple(line.split()): r for r, line in enumerate(lines)}
        self.cache: Dict[str, List[str]] = {CLIP_BOS: [CLIP_BOS], CLIP_EOS: [CLIP_EOS]}
        self.bos_id, self.eos_id, self.pad_id = self.encoder[CLIP_BOS], self.encoder[CLIP_EOS], self.encoder[pad_token]
        self.unk_id = self.encoder[CLIP_EOS]

    def bpe(self, word: str) -> List[str]:
        """Byte-pair merges of one word, lowest rank first, every occurrence left to right."""
        if word in self.cache:
            return self.cache[word]
        symbols = list(word[:-1]) + [word[-1] + CLIP_WORD_END]
        while len(symbols) > 1:
            pairs = {(a, b) for a, b in zip(symbols, symbols[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged: List[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        self.cache[word] = symbols
        return symbols

    def clean(self, text: str) -> str:
        """Each piece between special tokens cleaned and lower-cased; the special tokens kept."""
        parts = split_on(text, [CLIP_BOS, CLIP_EOS])
        return "".join(p if i % 2 else clip_clean(p, self.fix_encoding) for i, p in enumerate(parts))

    def tokens(self, text: str) -> List[str]:
        out: List[str] = []
        for i, part in enumerate(split_on(text, [CLIP_BOS, CLIP_EOS])):
            if i % 2 == 1:
                out.append(part)
            elif part:
                for word in clip_words(part, self.fix_encoding):
                    out.extend(self.bpe(word))
        return out

    def ids(self, text: str, max_tokens: int) -> List[int]:
        ids = [self.encoder.get(t, self.unk_id) for t in self.tokens(text)]
        ids = [self.bos_id] + ids[: max_tokens - 2] + [self.eos_id]
        return _pad(ids, max_tokens, self.pad_id)
