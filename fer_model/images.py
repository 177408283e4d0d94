"""Reading user images into RGB uint8 arrays: paths, bytes, PIL images and numpy arrays, with clear errors."""

from __future__ import annotations

import io
import math
import os
import stat
import threading

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_PIXELS = 50_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_IMAGE_SIDE_PX = 4096  # larger valid photos are downscaled to this before detection
MAX_SIDE_RATIO = 100  # a longer side over 100x the shorter one holds no face, and detection's resize would empty it
LARGE_IMAGE_PIXELS = 16_000_000  # decodes above this (after JPEG draft scaling) take one of the slots below
MAX_LARGE_DECODES = 1  # large decodes running at once: each holds hundreds of MB until it is downscaled
PIL_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")  # the only decoders tried, whatever the file's name
ACCEPTED_FORMATS = "JPEG, PNG, WebP, BMP, GIF (first frame), TIFF"
# File names that folder readers (the CLI, training, train.photos) pick up: the usual names of PIL_FORMATS' files.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray

_large_decodes = threading.BoundedSemaphore(MAX_LARGE_DECODES)


class ImageError(ValueError):
    """An input that is not a usable image; the message says what is wrong and what is accepted."""


def _check_size(width: int, height: int, name: str) -> None:
    """Refuse empty, over-large and needle-thin images before any pixel is decoded or resized."""
    if width < 1 or height < 1:
        raise ImageError(f"{name}: empty image ({width}x{height} px)")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{name}: {width}x{height} px is too large (limit {MAX_IMAGE_PIXELS:,} pixels)")
    if max(width, height) > MAX_SIDE_RATIO * min(width, height):
        raise ImageError(
            f"{name}: {width}x{height} px is too thin to hold a face (limit: the long side at most "
            f"{MAX_SIDE_RATIO}x the short one)"
        )


def _draft(image: Image.Image, max_side_px: int) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when that still leaves ``max_side_px`` (other formats: no-op)."""
    width, height = image.size
    scale = max_side_px / max(width, height)
    if scale < 1:
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))


def _from_pil(image: Image.Image, name: str, max_side_px: int) -> Image.Image:
    """Any PIL mode (palette, RGBA, CMYK, 16-bit, animated) -> 'L' or 'RGB', EXIF orientation applied."""
    _check_size(*image.size, name)
    image.seek(0)  # animated GIF/WebP: the first frame
    _draft(image, max_side_px)
    if image.size[0] * image.size[1] <= LARGE_IMAGE_PIXELS:
        return _convert(image, max_side_px)
    with _large_decodes:
        return _convert(image, max_side_px)


def _convert(image: Image.Image, max_side_px: int) -> Image.Image:
    """Decode ``image`` and bring it to 'L' or 'RGB' (transparency on white), at most ``max_side_px`` a side."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        span = array.max() - array.min()
        array = (array - array.min()) * (255.0 / span) if span > 0 else np.zeros_like(array)
        image = Image.fromarray(array.astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.nan_to_num(np.asarray(image)), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return _limit_side(image, max_side_px)


def _limit_side(image: Image.Image, max_side_px: int) -> Image.Image:
    """Downscale so the longest side is at most ``max_side_px`` (detection, crops and training need no more)."""
    if max(image.size) > max_side_px:
        image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
    return image


def _rgb_array(image: Image.Image) -> np.ndarray:
    """An 'L' or 'RGB' image as a writable RGB uint8 array (torch warns on read-only arrays)."""
    return np.array(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)


def _from_array(array: np.ndarray, color: str) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 array of bool/int/float -> RGB uint8; ``color`` is 'rgb' or 'bgr'."""
    array = np.asarray(array)  # a plain ndarray: np.matrix and other subclasses misbehave in repeat and indexing
    if array.dtype.kind not in "biuf":
        raise ImageError(f"array of dtype {array.dtype}: expected numbers (uint8, uint16, int, float or bool)")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
        raise ImageError(f"array of shape {array.shape}: expected HxW, HxWx1, HxWx3 or HxWx4")
    _check_size(array.shape[1], array.shape[0], f"array of shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array / 257).astype(np.uint8)
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ImageError(f"array of shape {array.shape}: contains NaN or infinite values")
        array = array.astype(np.float64)
        array = (np.clip(array, 0, 1) * 255 if array.max() <= 1.0 else np.clip(array, 0, 255)).astype(np.uint8)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if color == "bgr":
        array = array[:, :, [2, 1, 0, 3][: array.shape[2]]]
    if array.shape[2] == 4:
        return _rgb_array(_from_pil(Image.fromarray(np.ascontiguousarray(array), "RGBA"), "array", MAX_IMAGE_SIDE_PX))
    if max(array.shape[:2]) <= MAX_IMAGE_SIDE_PX:
        return np.ascontiguousarray(array)
    return np.array(_limit_side(Image.fromarray(np.ascontiguousarray(array)), MAX_IMAGE_SIDE_PX))


def load_image(source: ImageInput, color: str = "rgb") -> np.ndarray:
    """Read ``source`` as an RGB uint8 HxWx3 array; ``color`` says how to read a numpy array ('rgb' or 'bgr')."""
    if isinstance(source, np.ndarray):
        return _from_array(source, color)
    if isinstance(source, Image.Image):
        return _rgb_array(_from_pil(source, "image", MAX_IMAGE_SIDE_PX))
    if not isinstance(source, (str, os.PathLike, bytes)):
        raise ImageError(f"{type(source).__name__}: expected a path, bytes, a PIL image or a numpy array")
    return _rgb_array(decode_image(source))


def decode_image(source: str | os.PathLike | bytes, max_side_px: int = MAX_IMAGE_SIDE_PX) -> Image.Image:
    """Decode an image file (or its bytes) as ``load_image`` does, to an 'L' or 'RGB' PIL image at most
    ``max_side_px`` a side; training reads its files with it, so it sees what inference sees."""
    name = "bytes" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        try:
            info = os.stat(source)  # one system call: this runs once per file of a training set
        except FileNotFoundError as error:
            raise ImageError(f"{name}: no such file") from error
        except OSError as error:  # a loop of links, a folder that may not be read, a name too long
            raise ImageError(f"{name}: cannot be opened ({error.strerror})") from error
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{name}: not a regular file; expected an image file")
        if info.st_size == 0:
            raise ImageError(f"{name}: empty file; accepted formats: {ACCEPTED_FORMATS}")
    try:  # PIL refuses over 2x its own MAX_IMAGE_PIXELS when opening; _check_size applies ours before decoding
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=PIL_FORMATS) as image:
            return _from_pil(image, name, max_side_px)
    except Image.DecompressionBombError as error:
        raise ImageError(f"{name}: too many pixels (limit {MAX_IMAGE_PIXELS:,})") from error
    except ImageError:
        raise
    except UnidentifiedImageError as error:
        raise ImageError(f"{name}: not a readable image; accepted formats: {ACCEPTED_FORMATS}") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{name}: corrupt or truncated image ({error}); accepted: {ACCEPTED_FORMATS}") from error
