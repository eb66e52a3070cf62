"""Small rectified-flow DiT family exported to flowedit model packs (docs/model-pack.md)."""

from .config import CONFIGS, PackConfig
from .models import PackModels, build_models

__all__ = ["CONFIGS", "PackConfig", "PackModels", "build_models"]
