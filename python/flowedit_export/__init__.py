"""Exporters of real models (Wan2.1, ...) into flowedit model packs (docs/model-pack.md, format 2).

Run from python/: `python -m flowedit_export wan2.1 --checkpoint <dir> --out <pack>`.
"""
