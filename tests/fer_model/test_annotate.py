"""Face tags drawn on images: numbered when there are several, kept inside the picture and clear of its top edge."""

from __future__ import annotations

import numpy as np

from fer_model import Box, FacePrediction, Prediction
from fer_model.annotate import COLOURS, draw_prediction

GREY = 128


def face(box: Box | None, label: str, p: float = 0.9) -> FacePrediction:
    others = {name: (1 - p) / (len(COLOURS) - 1) for name in COLOURS if name != label}
    return FacePrediction(box, label, {label: p, **others})


def rows_with(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Indices of the rows that contain ``colour`` (tags are filled with their label's colour)."""
    return np.flatnonzero((image == colour).all(axis=2).any(axis=1))


def draw(*faces: FacePrediction, side: int = 400) -> np.ndarray:
    grey = np.full((side, side, 3), GREY, np.uint8)
    return draw_prediction(grey, Prediction(list(faces), faces[0].box is not None, side, side))


def test_a_tag_goes_above_its_box_when_there_is_room() -> None:
    image = draw(face(Box(150, 200, 100, 100), "happy"))
    rows = rows_with(image, COLOURS["happy"])
    assert rows.min() < 200 - 10 and rows.max() <= 300  # tag above the box, nothing below it


def test_a_tag_goes_below_a_box_at_the_top_edge_where_page_overlays_would_hide_it() -> None:
    image = draw(face(Box(150, 0, 100, 100), "sad"))
    rows = rows_with(image, COLOURS["sad"])
    assert rows.max() > 100 + 10  # the tag hangs under the box
    below = image[101:, 150:250]
    assert (below == COLOURS["sad"]).all(axis=2).sum() > 200


def test_a_tag_at_the_right_edge_stays_inside_the_image() -> None:
    image = draw(face(Box(370, 200, 30, 30), "angry"))
    tag_rows = image[150:200]  # the tag above the box
    tag_columns = np.flatnonzero((tag_rows == COLOURS["angry"]).all(axis=2).any(axis=0))
    assert tag_columns.min() < 370  # shifted left so that its text fits


def test_several_faces_are_numbered_and_one_is_not() -> None:
    one = draw(face(Box(150, 200, 100, 100), "happy"))
    two = draw(face(Box(150, 200, 100, 100), "happy"), face(Box(20, 300, 60, 60), "neutral"))
    width_one = np.flatnonzero((one[150:200] == COLOURS["happy"]).all(axis=2).any(axis=0)).size
    width_two = np.flatnonzero((two[150:200] == COLOURS["happy"]).all(axis=2).any(axis=0)).size
    assert width_two > width_one  # "1 happy 90%" is wider than "happy 90%"
    assert rows_with(two, COLOURS["neutral"]).size > 0
