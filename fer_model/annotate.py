"""Drawing predictions onto images: a box and 'label NN%' per face, for the demo, videos and the CLI."""

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


def draw_prediction(rgb: np.ndarray, prediction: Prediction) -> np.ndarray:
    """A copy of ``rgb`` with each face boxed and labelled (a whole-image result gets a caption only)."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(image.size) / 32)))
    for face in prediction.faces:
        colour = COLOURS.get(face.label, (255, 255, 255))
        text = f"{face.label} {face.confidence:.0%}"
        if face.box is None:
            text += " (whole image: no face found)"
            x, y = line, line
        else:
            x, y = face.box.x, face.box.y
            draw.rectangle([x, y, x + face.box.width, y + face.box.height], outline=colour, width=line)
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        height = bottom - top + 2 * line
        top = y - height if y - height >= 0 else y
        draw.rectangle([x, top, x + right - left + 2 * line, top + height], fill=colour)
        draw.text((x + line, top + line - (font.getbbox(text)[1])), text, fill=(0, 0, 0), font=font)
    return np.asarray(image)
