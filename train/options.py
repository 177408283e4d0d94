"""Flags that train/'s evaluation entry points share, with the same names and defaults as ``python -m fer_model``."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_model.runtime import DEVICES, PRECISIONS

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "space" / "model"  # the repository's shipped checkpoint


def add_model_flags(parser: argparse.ArgumentParser, model_required: bool = False) -> None:
    """``--model`` (default: the shipped model unless required), ``--device`` and ``--precision``."""
    if model_required:
        parser.add_argument("--model", required=True, help="save_pretrained folder (e.g. resnet-v2-epochs/best)")
    else:
        parser.add_argument("--model", default=str(SHIPPED_MODEL),
                            help="save_pretrained folder or Hub repo id (default: the shipped model, space/model)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="auto = CUDA when present, else the CPU")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto = bf16 where native, else fp16 on a GPU, else fp32")
