"""Small sentencepiece Unigram models with T5's layout, trained for the test tokenizers of every
exporter (no real tokenizer files exist on the test machines)."""

import os
from typing import Iterable


def train_unigram(lines: Iterable[str], scratch: str, pieces: int, sentences: int, byte_fallback: bool,
                  pad_id: int, eos_id: int, unk_id: int) -> str:
    """Train a Unigram model of `pieces` pieces (specials included) on `lines` (the first
    `sentences`, in order) with T5's settings: no BOS, nmt_nfkc normalisation, `byte_fallback` as
    asked; one thread and a fixed seed size, so every run gives the same model. Works in the
    folder `scratch`; returns the path of the model there (spiece.model, which records the
    scratch paths it was trained from)."""
    import sentencepiece as spm

    corpus = os.path.join(scratch, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_prefix=os.path.join(scratch, "spiece"),
        model_type="unigram",
        vocab_size=pieces,
        pad_id=pad_id,
        eos_id=eos_id,
        unk_id=unk_id,
        bos_id=-1,
        byte_fallback=byte_fallback,
        character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc",
        input_sentence_size=sentences,
        shuffle_input_sentence=False,
        num_threads=1,
        seed_sentencepiece_size=200000,
        minloglevel=2,
    )
    return os.path.join(scratch, "spiece.model")
