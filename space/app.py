"""The Gradio Space: upload a photo, stream a webcam or analyse a video, and see each face's emotion.

    python space/app.py [--model DIR_OR_REPO_ID] [--host 127.0.0.1] [--port 7860]

The model is --model, else $FER_MODEL, else the model/ folder next to this file (space/model in the repository and in
the deployed bundle), else the published default (fer_model.recognizer.DEFAULT_REPO_ID). In the repository, run it
with the library importable: `PYTHONPATH=. python space/app.py` (or `make demo`); the bundle carries fer_model/.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import csv
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np
import pandas as pd
from gradio.data_classes import ImageData
from gradio.utils import get_upload_folder, is_in_or_equal
from PIL import Image

from fer_model import EmotionRecognizer, ImageError, load_image
from fer_model.annotate import draw_prediction
from fer_model.recognizer import resolve_model
from fer_model.video import VideoError

HERE = Path(__file__).resolve().parent

MAX_FILE_SIZE = "20mb"  # uploads above this are refused by Gradio before they reach the model
QUEUE_MAX_SIZE = 64  # waiting requests beyond this get "queue full" instead of piling up
PHOTO_CONCURRENCY = 2  # photo requests processed at once (2 cores: more only adds latency)
STREAM_EVERY_S = 0.25  # webcam frame interval
STREAM_TIME_LIMIT_S = 120  # one webcam session's processing budget before it must be restarted
SMOOTHING = 0.4  # weight of the newest webcam frame in the moving average of probabilities
MAX_VIDEO_SECONDS = 30.0
VIDEO_SAMPLES_PER_S = 4.0
VIDEO_MAX_SIDE_PX = 640
VIDEO_TIME_BUDGET_S = 60  # one video request's processing budget; the timeline so far is returned with a note
VIDEO_UPDATE_EVERY = 8  # samples between partial plots (the handler notices a client that left at each update)
CACHE_MAX_AGE_S = int(os.environ.get("FER_CACHE_MAX_AGE_S", "3600"))  # uploads and results are deleted after this
RESULT_KEEP_S = 300  # result files are copied to Gradio's cache at once; older ones are deleted
NOT_UPLOADED = "Only files uploaded to this app can be analysed."
PROGRESS = gr.Progress()  # Gradio injects the live progress tracker where a handler's default is a gr.Progress


class UploadedImage(gr.Image):
    """``gr.Image`` that reads only what this app received: uploads, cached examples and webcam frames (data URLs).

    Gradio confines a payload's path to its upload cache only when the payload carries FileData's ``meta`` marker;
    ``gr.Image`` itself opens any other path, so a raw API call could name a server file. Here every path must lie
    in the upload cache (symlinks resolved), as Gradio's own check demands. With ``type="filepath"`` the path is
    handed over unopened, so fer_model reports bad files itself.
    """

    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload: ImageData | None) -> np.ndarray | str | None:
        if payload is None or payload.path is None:
            return super().preprocess(payload)
        if not is_in_or_equal(payload.path, get_upload_folder()):
            raise gr.Error(NOT_UPLOADED)  # the same words whether or not the path exists
        return payload.path if self.type == "filepath" else super().preprocess(payload)


def model_info(recognizer: EmotionRecognizer) -> str:
    """Markdown for the model panel: architecture, input, training data and validation accuracy."""
    model = recognizer.model
    training, metrics = model.training_info or {}, model.metrics or {}
    lines = [
        f"**Inception-ResNet-V2** (Szegedy et al. 2016), blocks {len(model.block35)}/{len(model.block17)}/"
        f"{len(model.block8)}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters",
        f"- input: {model.image_size} x {model.image_size} px, grayscale face crops; labels: {', '.join(model.labels)}",
        f"- running on {recognizer.classifier.device} with {recognizer.classifier.backend} "
        f"({recognizer.classifier.precision})",
    ]
    if training:
        lines.append(f"- trained on: {training.get('train_data', '?')}, {training.get('epochs', '?')} epochs")
    if metrics:
        lines.append(
            f"- validation: accuracy **{metrics['accuracy']:.1%}**, macro-F1 {metrics['macro_f1']:.3f} "
            f"on {metrics.get('num_images', '?')} images ({metrics.get('dataset', '')})"
        )
    return "\n".join(lines)


def upload_error(error: ImageError, path: str) -> str:
    """The page's message for a bad upload: what is wrong with it, by its own name, not the server's temp path."""
    return f"That file can't be used. {str(error).replace(path, Path(path).name)}"


class ResultFolder:
    """Where handlers write result files, one new folder per request, in a temp folder removed at exit.

    Gradio copies a returned file into its cache atomically right after the handler returns. (An array it would write
    to a content-addressed path in place, so two users getting the same picture at once could read a half-written
    file.) Folders older than ``RESULT_KEEP_S`` have been copied and are deleted when a new one is made.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fer-space-"))
        self.pruned_at = time.time()
        atexit.register(shutil.rmtree, self.root, ignore_errors=True)

    def new(self) -> Path:
        now = time.time()
        if now - self.pruned_at > RESULT_KEEP_S / 10:  # not on every request: the folder holds thousands
            self.pruned_at = now
            for earlier in self.root.iterdir():
                with contextlib.suppress(FileNotFoundError):  # another request may be pruning too
                    if earlier.stat().st_mtime < now - RESULT_KEEP_S:
                        shutil.rmtree(earlier, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def build_app(recognizer: EmotionRecognizer) -> gr.Blocks:
    """The Blocks app around one loaded recognizer."""
    results = ResultFolder()

    def predict(image_path: str | None) -> tuple[str, dict[str, float], dict[str, Any], str]:
        if not image_path:
            raise gr.Error("No image: upload, paste or drop a photo first.")
        try:
            rgb = load_image(image_path)
            prediction = recognizer.predict(rgb)
        except ImageError as error:
            raise gr.Error(upload_error(error, image_path)) from error
        notes = "; ".join(prediction.notes) or f"{len(prediction.faces)} face(s) found."
        picture = results.new() / "annotated.webp"
        Image.fromarray(draw_prediction(rgb, prediction)).save(picture, quality=90)
        return str(picture), prediction.faces[0].probabilities, prediction.to_dict(), notes

    def explain(image_path: str | None) -> np.ndarray:
        if not image_path:
            raise gr.Error("No image: upload a photo first.")
        try:
            return recognizer.explain(image_path)
        except ImageError as error:
            raise gr.Error(upload_error(error, image_path)) from error

    def stream(frame: np.ndarray | None, average: np.ndarray | None) -> tuple[Any, Any, Any]:
        if frame is None:
            return None, None, average
        prediction = recognizer.predict(frame)
        current = np.array([prediction.faces[0].probabilities[label] for label in recognizer.labels])
        average = current if average is None else SMOOTHING * current + (1 - SMOOTHING) * average
        smoothed = {label: float(p) for label, p in zip(recognizer.labels, average, strict=True)}
        return draw_prediction(frame, prediction), smoothed, average

    def analyse_video(video_path: str | None, progress: gr.Progress = PROGRESS) -> Iterator[tuple[Any, Any, Any]]:
        if not video_path:
            raise gr.Error("No video: upload a short clip first.")
        try:
            yield from video_timeline(recognizer, video_path, progress, results.new())
        except VideoError as error:
            raise gr.Error(str(error).replace(video_path, Path(video_path).name)) from error

    with gr.Blocks(title="Facial emotion recognition",
                   delete_cache=(min(600, CACHE_MAX_AGE_S), CACHE_MAX_AGE_S)) as app:
        gr.Markdown("# Facial emotion recognition\nInception-ResNet-V2 trained on FER2013: seven expressions per face.")
        if not recognizer.trained:
            gr.Markdown(
                "⚠️ **This demo is running an UNTRAINED model** (random weights): its predictions are meaningless.",
                elem_id="untrained-warning",
            )
        with gr.Accordion("Model", open=False):
            gr.Markdown(model_info(recognizer), elem_id="model-info")
        with gr.Tab("Photo"):
            with gr.Row():
                with gr.Column():
                    photo = UploadedImage(label="Photo", sources=["upload", "clipboard"], type="filepath")
                    with gr.Row():
                        analyse = gr.Button("Analyse", variant="primary")
                        why = gr.Button("Why? (Grad-CAM)")
                    gr.Examples(sorted(str(p) for p in (HERE / "examples").glob("*.jpg")), inputs=photo)
                with gr.Column():
                    annotated = gr.Image(label="Faces", type="numpy", elem_id="annotated")
                    note = gr.Markdown(elem_id="note")
                    label = gr.Label(label="Largest face", num_top_classes=len(recognizer.labels), elem_id="label")
                    heatmap = gr.Image(label="Grad-CAM: regions that drove the prediction", type="numpy")
                    faces = gr.JSON(label="All faces", elem_id="faces")
            analyse.click(predict, photo, [annotated, label, faces, note], api_name="predict",
                          concurrency_limit=PHOTO_CONCURRENCY)
            photo.upload(predict, photo, [annotated, label, faces, note], api_name=False,
                         concurrency_limit=PHOTO_CONCURRENCY)
            why.click(explain, photo, heatmap, api_name="explain", concurrency_limit=1)
        with gr.Tab("Webcam"):
            average = gr.State(None)
            with gr.Row():
                camera = UploadedImage(label="Camera", sources=["webcam"], streaming=True, type="numpy")
                with gr.Column():
                    live = gr.Image(label="Live", type="numpy", elem_id="live")
                    live_label = gr.Label(label="Smoothed over recent frames", num_top_classes=3, elem_id="live-label")
            camera.stream(stream, [camera, average], [live, live_label, average], api_name=False,
                          stream_every=STREAM_EVERY_S, time_limit=STREAM_TIME_LIMIT_S,
                          concurrency_limit=PHOTO_CONCURRENCY, trigger_mode="always_last")
        with gr.Tab("Video"):
            gr.Markdown(f"Up to {MAX_VIDEO_SECONDS:.0f} s; sampled {VIDEO_SAMPLES_PER_S:.0f} times a second.")
            with gr.Row():
                video = gr.Video(label="Video", sources=["upload"])
                with gr.Column():
                    plot = gr.LinePlot(x="time_s", y="probability", color="emotion", label="Emotion over time")
                    video_out = gr.Video(label="Annotated")
                    table = gr.File(label="CSV")
            gr.Button("Analyse video", variant="primary").click(
                analyse_video, video, [plot, video_out, table], api_name="video", concurrency_limit=1
            )
    return app


def video_timeline(
    recognizer: EmotionRecognizer, path: str, progress: Any, out_dir: Path
) -> Iterator[tuple[pd.DataFrame, str | None, str | None]]:
    """Partial plots while sampling, then (long-form dataframe, annotated .webm, .csv in out_dir).

    A generator, so that Gradio stops the work when the client leaves (it closes the generator at the next yield).
    """
    stream = recognizer.stream_video(path, VIDEO_SAMPLES_PER_S, MAX_VIDEO_SECONDS, VIDEO_MAX_SIDE_PX,
                                     VIDEO_TIME_BUDGET_S)
    writer, rows, timeline = None, [], None
    try:
        for timeline, rgb in stream:
            sample = timeline.samples[-1]
            progress((len(timeline.samples), timeline.planned), desc="Analysing frames", unit="frames")
            rows += [{"time_s": sample.time_s, "emotion": label, "probability": p}
                     for label, p in sample.prediction.faces[0].probabilities.items()]
            if writer is None:
                writer = cv2.VideoWriter(str(out_dir / "annotated.webm"), cv2.VideoWriter_fourcc(*"VP80"),
                                         VIDEO_SAMPLES_PER_S, (rgb.shape[1], rgb.shape[0]))
            writer.write(np.ascontiguousarray(draw_prediction(rgb, sample.prediction)[:, :, ::-1]))
            if len(timeline.samples) % VIDEO_UPDATE_EVERY == 0:
                yield pd.DataFrame(rows), None, None
    finally:
        if writer is not None:
            writer.release()
    if timeline is not None and timeline.notes:
        gr.Warning("; ".join(timeline.notes))
    frame = pd.DataFrame(rows)
    wide = frame.pivot(index="time_s", columns="emotion", values="probability").reset_index()
    csv_path = out_dir / "emotions.csv"
    wide.to_csv(csv_path, index=False, quoting=csv.QUOTE_MINIMAL, float_format="%.5f")
    yield frame, str(out_dir / "annotated.webm"), str(csv_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("FER_MODEL"), help="save_pretrained folder or Hub repo id")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    args = parser.parse_args(argv)
    recognizer = EmotionRecognizer.from_pretrained(resolve_model(args.model, HERE / "model"))
    app = build_app(recognizer)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: Gradio and atexit clean up
    app.queue(max_size=QUEUE_MAX_SIZE).launch(
        server_name=args.host, server_port=args.port, max_file_size=MAX_FILE_SIZE, show_error=True,
    )


if __name__ == "__main__":
    main()
