"""The seven FER2013 emotion classes, in the dataset's alphabetical folder order."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
