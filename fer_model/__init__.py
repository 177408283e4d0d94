"""fer_model: an Inception-ResNet-V2 facial emotion recogniser with Hugging Face Hub packaging."""

from .labels import EMOTIONS
from .model import InceptionResNetV2, ModelLoadError

__all__ = ["EMOTIONS", "InceptionResNetV2", "ModelLoadError"]
