"""The reference side of test/model/tokenizer-parity.test.ts: Wan2.1's prompt pipeline in Python.

Reads a JSON list of prompts; for each prints (as one JSON object on the last line of output):
  clean        clean_prompt(prompt) (ftfy.fix_text, html.unescape twice, strip, whitespace runs)
  clean_plain  the same cleaning with ftfy's mojibake repair (fix_encoding) switched off
  ids[L]       token ids from the `tokenizers` (Rust) tokenizer of --tokenizer on `clean`, with the
               post-processor's EOS and truncation to L as the reference pipeline does, for each --max-tokens L

    python python/tokenize_prompts.py --tokenizer tokenizer.json --prompts prompts.json --max-tokens 512 24
"""

import argparse
import html
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flowedit_export.wan.tokenizer import _WHITESPACE_RUN, clean_prompt  # noqa: E402


def clean_without_mojibake_repair(text: str) -> str:
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text, fix_encoding=False))).strip()
    return _WHITESPACE_RUN.sub(" ", text).strip()


def main() -> None:
    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json")
    parser.add_argument("--prompts", required=True, help="JSON list of prompts")
    parser.add_argument("--max-tokens", type=int, nargs="+", default=[512])
    args = parser.parse_args()

    with open(args.prompts, encoding="utf-8") as f:
        prompts = json.load(f)
    clean = [clean_prompt(p) for p in prompts]
    ids = {}
    for L in args.max_tokens:
        tok = Tokenizer.from_file(args.tokenizer)
        tok.enable_truncation(max_length=L)
        ids[str(L)] = [e.ids for e in tok.encode_batch(clean, add_special_tokens=True)]
    print(json.dumps({"clean": clean, "clean_plain": [clean_without_mojibake_repair(p) for p in prompts], "ids": ids}))


if __name__ == "__main__":
    main()
