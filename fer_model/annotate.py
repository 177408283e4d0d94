"""Drawing predictions onto images: a numbered box and 'N label NN%' tag per face, for the demo, videos and the CLI."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .recognizer import Prediction

COLOURS = {
    "angry": (230, 57, 70),
    "disgust": (106, 153, 78),
    "fear": (155, 93, 229),
    "happy": (255, 190, 11),
    "neutral": (141, 153, 174),
    "sad": (58, 134, 255),
    "surprise": (255, 0, 110),
}
FONT_FRACTION = 1 / 24  # tag text height as a share of the image's longest side: ~15 px when shown 360 px wide


def face_tag(number: int, label: str, confidence: float, numbered: bool) -> str:
    """The text drawn on face ``number`` (1 = largest): 'happy 91%', or '2 happy 91%' when several are numbered."""
    return f"{number} {label} {confidence:.0%}" if numbered else f"{label} {confidence:.0%}"


def draw_prediction(rgb: np.ndarray, prediction: Prediction) -> np.ndarray:
    """A copy of ``rgb`` with each face boxed and tagged, numbered largest first when there are several.

    A tag sits above its box, or below it when the box touches the top edge (where page overlays and the image
    border would hide it), or inside the box when neither fits. A whole-image result gets a caption only.
    """
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(image.size) * FONT_FRACTION)))
    numbered = len(prediction.faces) > 1
    for number, face in enumerate(prediction.faces, start=1):
        colour = COLOURS.get(face.label, (255, 255, 255))
        text = face_tag(number, face.label, face.confidence, numbered)
        if face.box is None:
            text += " (whole image: no face found)"
            x, top_of_box, bottom_of_box = line, line, line
        else:
            x, top_of_box = face.box.x, face.box.y
            bottom_of_box = face.box.y + face.box.height
            draw.rectangle([x, top_of_box, x + face.box.width, bottom_of_box], outline=colour, width=line)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        width, height = right - left + 2 * line, bottom - top + 2 * line
        if face.box is None:
            y = top_of_box
        elif top_of_box - height >= height:  # room above, clear of the top edge
            y = top_of_box - height
        elif bottom_of_box + height <= image.height:
            y = bottom_of_box
        else:
            y = top_of_box + line
        x = min(x, max(image.width - width, 0))  # keep the tag inside the right edge
        draw.rectangle([x, y, x + width, y + height], fill=colour)
        draw.text((x + line - left, y + line - top), text, fill=(0, 0, 0), font=font)
    return np.asarray(image)
