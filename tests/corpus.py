"""A generated corpus of awkward uploads (49 kinds), each with what the API, the CLI and the Space must answer."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

EMOTION_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FACE_BOX = (160, 60, 120, 120)  # x, y, width, height around the astronaut's face, with margin
MAX_FACES_NOTE = r"\d+ faces found; showing the 20 largest"
NO_FACE_NOTE = "no face detected"
TOO_THIN = r"\d+x\d+ px is too thin to hold a face \(limit: the long side at most \d+x the short one\)$"
NOT_AN_IMAGE = "not a readable image"
# Formats PIL can decode but the README does not accept: each is refused under a .jpg name (EPS would run Ghostscript).
OTHER_FORMATS = {"DDS": "RGBA", "ICO": "RGB", "IM": "RGB", "PCX": "RGB", "PPM": "RGB", "SGI": "RGB", "TGA": "RGB",
                 "XBM": "1", "EPS": "RGB"}


@dataclass(frozen=True)
class Case:
    """One file: ``error`` is a regex its error must match (None: it must succeed, with ``faces`` faces if set)."""

    kind: str
    file: str
    error: str | None = None
    faces: int | None = None
    note: str | None = None


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but carries one tiny compressed row: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _transparent_face(photo: Image.Image) -> bytes:
    rgba = photo.convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, np.uint8)
    x, y, w, h = FACE_BOX
    alpha[y : y + h, x : x + w] = 0
    rgba.putalpha(Image.fromarray(alpha))
    return _save(rgba, "PNG")


def _with_orientation(photo: Image.Image, orientation: int) -> bytes:
    """A JPEG whose EXIF orientation tag is ``orientation`` (6: stored rotated; 9: not a valid value)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(photo, "JPEG", exif=exif)


def _crowd(face: Image.Image, columns: int = 8, rows: int = 7) -> bytes:
    """56 copies of one face in a grid: more faces than the recognizer classifies."""
    tile = face.resize((110, 110))
    grid = Image.new("RGB", (columns * 120, rows * 120), (128, 128, 128))
    for index in range(columns * rows):
        grid.paste(tile, ((index % columns) * 120 + 5, (index // columns) * 120 + 5))
    return _save(grid, "JPEG", quality=92)


def _animated(photo: Image.Image) -> bytes:
    blank = Image.new("RGB", photo.size, (0, 0, 0))
    return _save(photo, "GIF", save_all=True, append_images=[blank], duration=100, loop=0)


def fifty_megapixel_jpeg(astronaut: np.ndarray, quality: int = 70) -> bytes:
    """An 8660 x 5773 JPEG (just under the 50 M pixel limit) of under 1 MB: a flat wall with one large face."""
    canvas = Image.new("RGB", (8660, 5773), (200, 190, 170))
    head = Image.fromarray(astronaut).crop((110, 10, 290, 190)).resize((2000, 2000))  # the face ~1000 px wide
    canvas.paste(head, (3330, 1886))
    return _save(canvas, "JPEG", quality=quality)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("face.jpg", b"not really")
    return buffer.getvalue()


CASES = [
    Case("empty file", "empty.jpg", error="empty file"),
    Case("truncated JPEG", "truncated.jpg", error="corrupt or truncated"),
    Case("random bytes", "random.jpg", error="not a readable image"),
    Case("text file", "notes.png", error="not a readable image"),
    Case("SVG", "drawing.svg", error="not a readable image"),
    Case("HEIC (unsupported)", "phone.heic", error="not a readable image"),
    Case("PDF", "scan.pdf", error="not a readable image"),
    Case("ZIP archive", "faces.zip", error="not a readable image"),
    Case("HTML named .jpg", "page.jpg", error="not a readable image"),
    Case("decompression bomb", "bomb.png", error=r"too many pixels \(limit 50,000,000\)$"),
    Case("PNG with a bad checksum", "badcrc.png", error="not a readable image"),
    Case("1x1 image", "dot.png", faces=0, note=NO_FACE_NOTE),
    Case("1000x10 strip", "strip.png", faces=0, note=NO_FACE_NOTE),
    Case("1000x3 strip", "thin-strip.png", error=TOO_THIN),
    Case("2000x1 line", "line.png", error=TOO_THIN),
    Case("1x2000 column", "column.png", error=TOO_THIN),
    Case("65535x1 line", "long-line.png", error=TOO_THIN),
    Case("all-zero image", "black.png", faces=0, note=NO_FACE_NOTE),
    Case("no face", "wall.jpg", faces=0, note=NO_FACE_NOTE),
    Case("RGBA with a transparent face", "ghost.png"),
    Case("RGBA", "rgba.png", faces=1),
    Case("grayscale", "gray.jpg", faces=1),
    Case("gray + alpha", "gray-alpha.png", faces=1),
    Case("1-bit", "bilevel.png"),
    Case("16-bit PNG", "sixteen.png", faces=1),
    Case("float TIFF", "float.tif", faces=1),
    Case("CMYK JPEG", "cmyk.jpg", faces=1),
    Case("palette PNG", "palette.png", faces=1),
    Case("EXIF-rotated", "rotated.jpg", faces=1),
    Case("invalid EXIF orientation", "bad-exif.jpg", faces=1),
    Case("animated GIF", "animated.gif", faces=1),
    Case("WebP", "photo.webp", faces=1),
    Case("BMP", "photo.bmp", faces=1),
    Case("TIFF", "photo.tiff", faces=1),
    Case("progressive JPEG", "progressive.jpg", faces=1),
    Case("PNG named .jpg", "really-a-png.jpg", faces=1),
    Case("name with spaces and accents", "my photo – été.jfif", faces=1),
    Case("50+ faces", "crowd.jpg", faces=20, note=MAX_FACES_NOTE),
    Case("huge valid photo", "huge.jpg", faces=1),
    Case("50-megapixel JPEG under 1 MB", "fifty-megapixels.jpg", faces=1),
    *(Case(f"{fmt} named .jpg", f"really-{fmt.lower()}.jpg", error=NOT_AN_IMAGE) for fmt in OTHER_FORMATS),
]


def build_corpus(folder: Path, astronaut: np.ndarray) -> list[Case]:
    """Write every case's file into ``folder`` (made from the astronaut photo) and return ``CASES``."""
    photo = Image.fromarray(astronaut).resize((400, 400))
    x, y, w, h = FACE_BOX
    face = photo.crop((x, y, x + w, y + h))
    gray = photo.convert("L")
    jpeg = _save(photo, "JPEG", quality=90)
    sixteen = Image.fromarray(np.asarray(gray, np.uint16) * 257)
    makers: dict[str, Callable[[], bytes]] = {
        "empty.jpg": lambda: b"",
        "truncated.jpg": lambda: jpeg[: len(jpeg) // 3],
        "random.jpg": lambda: np.random.default_rng(0).bytes(5000),
        "notes.png": lambda: b"just some text\n" * 20,
        "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
        "phone.heic": lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(200),
        "scan.pdf": lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "faces.zip": _zip,
        "page.jpg": lambda: b"<!doctype html><p>hi</p>",
        "bomb.png": lambda: png_header_only(30000, 30000),
        "badcrc.png": lambda: (lambda png: png[:29] + b"\0\0\0\0" + png[33:])(_save(photo, "PNG")),
        "dot.png": lambda: _save(Image.new("RGB", (1, 1)), "PNG"),
        "strip.png": lambda: _save(Image.new("RGB", (1000, 10), (90, 60, 30)), "PNG"),
        "thin-strip.png": lambda: _save(Image.new("RGB", (1000, 3), (90, 60, 30)), "PNG"),
        "line.png": lambda: _save(Image.new("RGB", (2000, 1), (90, 60, 30)), "PNG"),
        "column.png": lambda: _save(Image.new("RGB", (1, 2000), (90, 60, 30)), "PNG"),
        "long-line.png": lambda: _save(Image.new("L", (65535, 1), 90), "PNG"),
        "black.png": lambda: _save(Image.new("RGB", (200, 200)), "PNG"),
        "wall.jpg": lambda: _save(Image.new("RGB", (300, 200), (200, 190, 170)), "JPEG"),
        "ghost.png": lambda: _transparent_face(photo),
        "rgba.png": lambda: _save(photo.convert("RGBA"), "PNG"),
        "gray.jpg": lambda: _save(gray, "JPEG"),
        "gray-alpha.png": lambda: _save(gray.convert("LA"), "PNG"),
        "bilevel.png": lambda: _save(gray.convert("1"), "PNG"),
        "sixteen.png": lambda: _save(sixteen, "PNG"),
        "float.tif": lambda: _save(Image.fromarray(np.asarray(gray, np.float32)), "TIFF"),
        "cmyk.jpg": lambda: _save(photo.convert("CMYK"), "JPEG"),
        "palette.png": lambda: _save(photo.quantize(256), "PNG"),
        "rotated.jpg": lambda: _with_orientation(photo.transpose(Image.Transpose.ROTATE_90), 6),
        "bad-exif.jpg": lambda: _with_orientation(photo, 9),
        "animated.gif": lambda: _animated(photo),
        "photo.webp": lambda: _save(photo, "WEBP", quality=90),
        "photo.bmp": lambda: _save(photo, "BMP"),
        "photo.tiff": lambda: _save(photo, "TIFF"),
        "progressive.jpg": lambda: _save(photo, "JPEG", progressive=True),
        "really-a-png.jpg": lambda: _save(photo, "PNG"),
        "my photo – été.jfif": lambda: jpeg,
        "crowd.jpg": lambda: _crowd(face),
        "huge.jpg": lambda: _save(Image.fromarray(astronaut).resize((6000, 6000)), "JPEG", quality=80),
        "fifty-megapixels.jpg": lambda: fifty_megapixel_jpeg(astronaut),
        **{f"really-{fmt.lower()}.jpg": (lambda fmt=fmt: _save(photo.convert(OTHER_FORMATS[fmt]), fmt))
           for fmt in OTHER_FORMATS},
    }
    assert set(makers) == {case.file for case in CASES}
    for case in CASES:
        (folder / case.file).write_bytes(makers[case.file]())
    return CASES


@dataclass(frozen=True)
class ModelCase:
    """A model folder spoiled by ``spoil``; loading it must raise ModelLoadError matching ``error``, promptly."""

    kind: str
    spoil: Callable[[Path], None]
    error: str


def _set(**fields: object) -> Callable[[Path], None]:
    def spoil(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **fields}))
    return spoil


def _config_text_field(field: str, literal: str) -> Callable[[Path], None]:
    """Set ``field`` to a raw JSON literal (NaN, Infinity, 1e309 are what Python's json reads but cannot write)."""
    def spoil(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        config[field] = "@@"
        (folder / "config.json").write_text(json.dumps(config).replace('"@@"', literal))
    return spoil


def _config_text(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "config.json").write_text(text)


def _shard_names(name: object) -> Callable[[Path], None]:
    """Point the index's first tensor at ``name`` instead of its shard."""
    def spoil(folder: Path) -> None:
        index = json.loads((folder / "model.safetensors.index.json").read_text())
        index["weight_map"][next(iter(index["weight_map"]))] = name
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return spoil


def _fifo(name: str) -> Callable[[Path], None]:
    def spoil(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)  # opening it for reading would block until a writer comes
    return spoil


def _index_text(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "model.safetensors.index.json").write_text(text)


MODEL_CASES = [
    ModelCase("100000 Block35 repeats", _set(block_repeats=[100000, 1, 1]),
              r"block_repeats: .*at most \[20, 40, 20\]"),
    ModelCase("0 Block8 repeats", _set(block_repeats=[1, 1, 0]), "block_repeats: "),
    ModelCase("image_size 20000", _set(image_size=20000), r"image_size: expected an int in 75\.\.1024, got 20000"),
    ModelCase("image_size 10**9", _set(image_size=10**9), r"image_size: expected an int in 75\.\.1024"),
    ModelCase("in_chans 100000", _set(in_chans=100000), r"in_chans: expected an int in 1\.\.4"),
    ModelCase("num_classes 10**6", _set(num_classes=10**6), r"num_classes: expected an int in 1\.\.1001"),
    ModelCase("NaN mean", _config_text_field("mean", "[NaN, 0.5, 0.5]"), r"mean: expected 3 numbers .* in \[0, 1\]"),
    ModelCase("infinite mean", _config_text_field("mean", "[Infinity, 0.5, 0.5]"), r"mean: expected 3 numbers"),
    ModelCase("1e309 mean", _config_text_field("mean", "[1e309, 0.5, 0.5]"), r"mean: expected 3 numbers"),
    ModelCase("std 1e-300", _set(std=[1e-300, 0.5, 0.5]), r"std: expected 3 numbers .* in \[0\.001, 10\]"),
    ModelCase("NaN std", _config_text_field("std", "[0.5, NaN, 0.5]"), r"std: expected 3 numbers"),
    ModelCase("7 identical labels", _set(labels=["happy"] * 7),
              r"labels: expected a list of 7 class names .*all different"),
    ModelCase("a 10000-character label", _set(labels=["x" * 10000, *EMOTION_NAMES[1:]]),
              r"labels: .*1\.\.64 characters"),
    ModelCase("metrics a list", _set(metrics=[0.9]), r"metrics: expected an object \(dict\) or null, got list"),
    ModelCase("training a string", _set(training="yes"), r"training: expected an object \(dict\) or null, got str"),
    ModelCase("metrics without accuracy", _set(metrics={"macro_f1": 0.5}), r"metrics\.accuracy: expected a number in"),
    ModelCase("accuracy as text", _set(metrics={"accuracy": "high", "macro_f1": 0.5}), r"metrics\.accuracy: expected"),
    ModelCase("config.json a list", _config_text("[1, 2, 3]"), r"config\.json: expected a JSON object .*got list"),
    ModelCase("config.json null", _config_text("null"), r"config\.json: expected a JSON object .*got NoneType"),
    ModelCase("config.json a string", _config_text('"InceptionResNetV2"'), r"config\.json: expected a JSON object"),
    ModelCase("config.json nested 200k deep", _config_text('{"metrics": ' + "[" * 200_000 + "]" * 200_000 + "}"),
              r"config\.json: nested too deeply"),
    ModelCase("config.json of 2 MB", _config_text('{"labels": null, "x": "' + "x" * 2_000_000 + '"}'),
              r"config\.json: 2,000,0\d\d bytes; expected at most 1,000,000"),
    ModelCase("config.json a FIFO", _fifo("config.json"), r"config\.json: not a regular file"),
    ModelCase("shard ../../etc/passwd", _shard_names("../../etc/passwd"), r"shard '\.\./\.\./etc/passwd' is not"),
    ModelCase("shard /etc/passwd", _shard_names("/etc/passwd"), r"shard '/etc/passwd' is not a plain"),
    ModelCase("shard named as a number", _shard_names(7), r"shard 7 is not a plain"),
    ModelCase("shard missing", _shard_names("model-00009-of-00009.safetensors"),
              r"'model-00009-of-00009\.safetensors' is missing"),
    ModelCase("shard a FIFO", _fifo("model-00001-of-00002.safetensors"),
              r"00001-of-00002\.safetensors' is missing or not a regular"),
    ModelCase("index a list", _index_text("[]"), r"index\.json: not a valid shard index"),
    ModelCase("index without weight_map", _index_text('{"metadata": {}}'), r"index\.json: not a valid shard index"),
    ModelCase("index nested 200k deep", _index_text("[" * 200_000 + "]" * 200_000), r"index\.json: nested too deeply"),
]
