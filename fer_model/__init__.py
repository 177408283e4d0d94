"""fer_model: an Inception-ResNet-V2 facial emotion recogniser with Hugging Face Hub packaging."""

from .faces import Box, FaceDetector
from .images import ImageError, load_image
from .labels import EMOTIONS
from .model import InceptionResNetV2, ModelLoadError
from .recognizer import EmotionRecognizer, FacePrediction, Prediction
from .video import VideoError, VideoTimeline

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
    "VideoError",
    "VideoTimeline",
    "load_image",
]
