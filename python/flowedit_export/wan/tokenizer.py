"""Wan2.1's prompt side: the reference's prompt cleaning, the UMT5 tokenizer of the release
(`google/umt5-xxl`) copied into a pack as tokenizer.json, and a small UMT5-like tokenizer trained
here for tests (no real tokenizer files exist on the test machines).

The reference pipeline cleans a prompt (ftfy.fix_text, HTML entities unescaped twice, stripped,
whitespace runs collapsed) and then runs the fast (Rust `tokenizers`) tokenizer of the release
folder with padding to 512, truncation and the post-processor's EOS. A pack carries that
tokenizer.json unchanged: the `tokenizers` library running it is the reference.
"""

import html
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from typing import Iterator, List, Optional

import regex

from ..checkpoint import CheckpointError, read_json, require_file

# UMT5's special tokens: <pad> 0, </s> 1, <unk> 2 (the T5 family has no BOS).
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
SPECIAL_PIECES = {PAD_ID: "<pad>", EOS_ID: "</s>", UNK_ID: "<unk>"}

# The reference collapses runs of `\s` as the `regex` module reads it (Unicode White_Space).
_WHITESPACE_RUN = regex.compile(r"\s+")


def clean_prompt(text: str) -> str:
    """The reference's prompt cleaning: ftfy.fix_text with its defaults, HTML entities unescaped
    twice, stripped, runs of whitespace collapsed to one space, stripped again."""
    import ftfy

    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return _WHITESPACE_RUN.sub(" ", text).strip()


@dataclass(frozen=True)
class TokenizerInfo:
    """What the pack's manifest and the text encoder need to know about a tokenizer."""

    vocab_size: int
    pad_id: int
    eos_id: int
    unk_id: int


def _read_json(path: str, name: str) -> dict:
    return read_json(require_file(path, "a JSON file"), name)


def tokenizer_info(tokenizer_json: str, source: Optional[str] = None) -> TokenizerInfo:
    """Vocabulary size (model pieces and added tokens) and special ids of a tokenizer.json, checked
    to be a UMT5-style Unigram tokenizer: <pad> 0, </s> 1, <unk> 2, EOS appended by the
    post-processor. Errors name `source` (the file the tokenizer came from), else the file itself."""
    from tokenizers import Tokenizer

    name = source or tokenizer_json
    spec = _read_json(tokenizer_json, name)
    model = spec.get("model", {})
    if model.get("type") != "Unigram":
        raise CheckpointError(f"{name}: a {model.get('type')} tokenizer; expected UMT5's Unigram (sentencepiece) tokenizer")
    try:
        tok = Tokenizer.from_file(tokenizer_json)
    except Exception as e:
        raise CheckpointError(f"{name}: not a tokenizer the `tokenizers` library reads ({e})") from e
    for want, piece in SPECIAL_PIECES.items():
        got = tok.token_to_id(piece)
        if got != want:
            raise CheckpointError(f"{name}: {piece} has id {got}; expected {want} as in UMT5 (<pad> 0, </s> 1, <unk> 2)")
    if model.get("unk_id") != UNK_ID:
        raise CheckpointError(f"{name}: the model's unk_id is {model.get('unk_id')}; expected {UNK_ID}")
    ids = tok.encode("a").ids
    if not ids or ids[-1] != EOS_ID:
        raise CheckpointError(f"{name}: encoding 'a' gives {ids}, which does not end with </s> ({EOS_ID}); expected a post-processor that appends EOS")
    return TokenizerInfo(vocab_size=tok.get_vocab_size(with_added_tokens=True), pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID)


def _convert_sentencepiece(folder: str, out_path: str) -> None:
    """tokenizer.json from the folder's spiece.model (+ tokenizer_config.json) through transformers."""
    import warnings

    from transformers import T5Tokenizer

    require_file(os.path.join(folder, "spiece.model"), "UMT5's sentencepiece model (spiece.model)")
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tok = T5Tokenizer.from_pretrained(folder)
        except Exception as e:
            raise CheckpointError(f"{folder}: spiece.model could not be converted to tokenizer.json ({e})") from e
        tok.save_pretrained(scratch)
        shutil.copyfile(os.path.join(scratch, "tokenizer.json"), out_path)


def prepare_tokenizer(folder: str, out_path: str, embedding_rows: Optional[int] = None) -> TokenizerInfo:
    """Write the pack's tokenizer.json from a release tokenizer folder (google/umt5-xxl): its
    tokenizer.json as it is, or else one converted from spiece.model with transformers. Refuses a
    tokenizer whose special ids differ from UMT5's or whose ids do not fit `embedding_rows` (the
    text encoder's token embedding), naming the file and what was expected."""
    if not os.path.isdir(folder):
        raise CheckpointError(f"{folder}: not a folder; expected the release's tokenizer folder google/umt5-xxl (tokenizer.json or spiece.model)")
    source = os.path.join(folder, "tokenizer.json")
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out_path))) as scratch:
        staged = os.path.join(scratch, "tokenizer.json")
        if os.path.isfile(source):
            shutil.copyfile(source, staged)
        elif os.path.isfile(os.path.join(folder, "spiece.model")):
            source = os.path.join(folder, "spiece.model")
            _convert_sentencepiece(folder, staged)
        else:
            raise CheckpointError(f"{folder}: has neither tokenizer.json nor spiece.model; expected the release's google/umt5-xxl tokenizer folder")
        info = tokenizer_info(staged, source)
        if embedding_rows is not None and info.vocab_size > embedding_rows:
            raise CheckpointError(
                f"{source}: {info.vocab_size} token ids but the text encoder's token embedding has {embedding_rows} rows; "
                "expected the tokenizer released with this encoder (google/umt5-xxl: 256384 ids)"
            )
        shutil.move(staged, out_path)
    return info


# ---------------------------------------------------------------------------------------------
# A small UMT5-like tokenizer for tests.

TEST_VOCAB = 4000  # sentencepiece pieces (bytes included)
TEST_EXTRA_IDS = 96  # sentinel tokens appended as UMT5's 384 are: 4096 ids in all
TEST_SENTENCES = 30000
TEST_SEED = 20250101

_ENGLISH = (
    "a the of and in on with at from over under into through across between behind beside near far "
    "red orange yellow green blue purple pink black white gray golden silver bright dark soft warm cold "
    "cat dog horse bird fish fox wolf bear deer rabbit owl eagle dragon robot astronaut child woman man "
    "girl boy old young person crowd dancer runner surfer skier chef painter musician soldier knight "
    "city street road bridge river lake ocean sea beach island mountain hill forest jungle desert field "
    "garden park village tower castle house room kitchen window door roof sky cloud rain snow storm "
    "fog wind sun moon star night morning evening sunset sunrise light shadow fire smoke water wave "
    "walks runs jumps flies swims dances sings plays looks turns falls rises moves glows shines burns "
    "slowly quickly gently suddenly smoothly camera pans tilts zooms tracks orbit close wide aerial shot "
    "view cinematic realistic detailed photorealistic anime style painting watercolor oil sketch film "
    "grain lens flare depth focus blur motion frame scene video clip high quality resolution color "
    "is are was were has have its their his her this that these those one two three many some every "
    "very more most small large tall long short tiny huge ancient modern futuristic neon rainy snowy "
    "foggy sunny cloudy quiet busy empty full happy sad calm wild peaceful dramatic epic beautiful"
).split()
_ACCENTED = (
    "café crème brûlée naïve façade déjà vu élève forêt château rivière lumière été garçon "
    "über straße schön grün müde größe fußball mädchen brücke häuser märchen "
    "niño señor mañana corazón canción jardín árbol montaña pequeño después "
    "são paulo coração ação irmã pão maçã avó "
    "zażółć gęślą jaźń łódź kraków żółw "
    "příliš žluťoučký kůň úpěl ďábelské ódy "
    "phở bánh mì tiếng việt người đường phố "
    "İstanbul güzel çiçek şehir ağaç "
    "kött smörgåsbord ångström øre fjörd"
).split()
_CYRILLIC_GREEK = "кошка собака город река солнце ночь москва πόλη ήλιος θάλασσα νύχτα γάτα".split()
_CJK_WORDS = (
    "夕阳 下的 古镇 小桥 流水 一只 猫 跳上 窗台 望向 外面 城市 夜景 霓虹 灯光 雨中 街道 "
    "山川 河流 森林 大海 天空 白云 飞鸟 少女 老人 孩子 奔跑 跳舞 微笑 电影 镜头 慢慢 推进 "
    "桜 吹雪 の 風景 東京 の 夜 猫 が 走る 海 と 空 きれい な 花 カメラ ゆっくり "
    "서울 의 밤 거리 고양이 가 달린다 바다 하늘 아름다운 꽃 카메라 천천히"
).split()
_EMOJI = "🐱 🐶 🌅 🌊 🔥 ✨ 🎬 🚀 🌸 🍣 😀 😂 ❤️ 👍 🌧️ ⛰️ 🏙️ 👩‍🚀 🇯🇵 🇫🇷".split()
# Ranges sampled with Zipf-like weights so that frequent characters get pieces and rare ones fall
# below the character coverage (exercising unknown characters and byte fallback).
_SCRIPT_RANGES = [(0x4E00, 1800), (0x3041, 86), (0x30A1, 90), (0xAC00, 600)]


def _zipf_char(rng: random.Random, start: int, count: int) -> str:
    rank = min(int(rng.paretovariate(1.1)) - 1, count - 1)
    return chr(start + rank)


def _number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return str(rng.randrange(10))
    if kind == 1:
        return str(rng.randrange(10000))
    if kind == 2:
        return f"{rng.uniform(0, 100):.{rng.randrange(1, 3)}f}"
    if kind == 3:
        return f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    return f"{rng.randrange(1, 60)}{rng.choice(['s', 'fps', 'mm', 'km', '%', 'px'])}"


def _sentence(rng: random.Random) -> str:
    words: List[str] = []
    for _ in range(rng.randrange(4, 24)):
        r = rng.random()
        if r < 0.50:
            w = rng.choice(_ENGLISH)
            words.append(w.capitalize() if rng.random() < 0.1 else w)
        elif r < 0.62:
            words.append(rng.choice(_ACCENTED))
        elif r < 0.66:
            words.append(rng.choice(_CYRILLIC_GREEK))
        elif r < 0.76:
            words.append(rng.choice(_CJK_WORDS))
        elif r < 0.84:
            start, count = rng.choice(_SCRIPT_RANGES)
            words.append("".join(_zipf_char(rng, start, count) for _ in range(rng.randrange(1, 5))))
        elif r < 0.93:
            words.append(_number(rng))
        elif r < 0.97:
            words.append(rng.choice(_EMOJI))
        else:
            words.append(rng.choice([",", ".", "!", "?", ";", ":", "-", "(", ")", '"', "'", "、", "。"]))
    return " ".join(words)


def test_corpus(count: int = TEST_SENTENCES, seed: int = TEST_SEED) -> Iterator[str]:
    """Deterministic multilingual sentences (English, accents, Cyrillic/Greek, CJK, numbers, emoji)."""
    rng = random.Random(seed)
    for _ in range(count):
        yield _sentence(rng)


def train_test_tokenizer(out_dir: str) -> str:
    """Train a small sentencepiece Unigram model with UMT5's settings (<pad> 0, </s> 1, <unk> 2, no
    BOS, byte fallback, nmt_nfkc normalisation) on `test_corpus()`, and lay it out like the release
    folder google/umt5-xxl: spiece.model, tokenizer_config.json, special_tokens_map.json and the
    tokenizer.json that transformers converts from them. Returns `out_dir`."""
    from ..unigram import train_unigram

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        model = train_unigram(test_corpus(), scratch, TEST_VOCAB, TEST_SENTENCES, byte_fallback=True, pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID)
        shutil.copyfile(model, os.path.join(out_dir, "spiece.model"))
    extra = [f"<extra_id_{i}>" for i in range(TEST_EXTRA_IDS)]
    config = {
        "tokenizer_class": "T5Tokenizer",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": TEST_EXTRA_IDS,
        "additional_special_tokens": extra,
        "model_max_length": 512,
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "additional_special_tokens": extra}, f, indent=2)
    tokenizer_json = os.path.join(out_dir, "tokenizer.json")
    if os.path.exists(tokenizer_json):
        os.remove(tokenizer_json)
    _convert_sentencepiece(out_dir, tokenizer_json)
    tokenizer_info(tokenizer_json)
    return out_dir
