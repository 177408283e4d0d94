"""train: turns a folder of face images into a trained, evaluated, publishable InceptionResNetV2."""
