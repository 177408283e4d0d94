"""fer_model: an Inception-ResNet-V2 facial emotion recogniser with Hugging Face Hub packaging."""

from .faces import Box, FaceDetector
from .images import ImageError, load_image
from .labels import EMOTIONS
from .model import InceptionResNetV2, ModelLoadError
from .recognizer import EmotionRecognizer, FacePrediction, Prediction

__all__ = [
    "EMOTIONS",
    "Box",
    "EmotionRecognizer",
    "FaceDetector",
    "FacePrediction",
    "ImageError",
    "InceptionResNetV2",
    "ModelLoadError",
    "Prediction",
    "load_image",
]
