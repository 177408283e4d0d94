"""``python -m train``: train an InceptionResNetV2 on a face dataset (defaults = the reference recipe)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import typing
from typing import Any

from fer_model.preprocess import Augmentation

from .config import TrainConfig
from .data import DataError
from .loop import train


def _add_fields(parser: argparse.ArgumentParser, fields: tuple[dataclasses.Field, ...], hints: dict[str, Any]) -> None:
    """One flag per dataclass field: ``--field-name``, typed, defaulted and documented from the field.

    A bool that defaults to True becomes ``--no-field-name``; a tuple takes one value per element.
    """
    for spec in fields:
        flag, kind = "--" + spec.name.replace("_", "-"), hints[spec.name]
        options = {key: value for key, value in spec.metadata.items() if key != "help"}
        options["help"] = spec.metadata.get("help", "").replace("%", "%%") or None
        if spec.default is dataclasses.MISSING:
            options["required"] = True
        else:
            options["default"] = spec.default
        if kind is bool:
            if spec.default:
                parser.add_argument("--no-" + flag[2:], dest=spec.name, action="store_false", **options)
            else:
                parser.add_argument(flag, action="store_true", **options)
            continue
        args = typing.get_args(kind)
        if typing.get_origin(kind) is tuple:
            options.update(type=args[0], nargs=len(args))
        else:  # X or X | None
            options["type"] = next((arg for arg in args if arg is not type(None)), kind)
        parser.add_argument(flag, **options)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Command-line flags -> TrainConfig (flags and defaults come from its fields, and Augmentation's)."""
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    config_fields = [spec for spec in dataclasses.fields(TrainConfig) if spec.name != "augment"]
    _add_fields(parser, tuple(config_fields), typing.get_type_hints(TrainConfig))
    augment_field = next(spec for spec in dataclasses.fields(TrainConfig) if spec.name == "augment")
    parser.add_argument("--augment", choices=["none", "standard"], default="standard",
                        help=augment_field.metadata["help"])
    augmentation = parser.add_argument_group("augmentation (--augment standard)")
    _add_fields(augmentation, dataclasses.fields(Augmentation), typing.get_type_hints(Augmentation))
    args = vars(parser.parse_args(argv))
    augment = Augmentation(**{spec.name: _as_field(args.pop(spec.name)) for spec in dataclasses.fields(Augmentation)})
    return TrainConfig(augment=None if args.pop("augment") == "none" else augment,
                       **{name: _as_field(value) for name, value in args.items()})


def _as_field(value: Any) -> Any:
    """argparse gives lists for ``nargs``; the dataclasses hold tuples."""
    return tuple(value) if isinstance(value, list) else value


def main(argv: list[str] | None = None) -> int:
    """Run training; data errors print one clear line and exit 2, a failed write (disk full) exits 1."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    for name in ("train", "fer_model"):  # our progress; libraries only warn (the Hub's saves named staging folders)
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        summary = train(parse_args(argv))
    except (DataError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. disk full while saving: the message says the previous file is intact
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "epochs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
