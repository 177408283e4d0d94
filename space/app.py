"""The Gradio Space: upload a photo, stream a webcam or analyse a video, and see each face's emotion.

    python space/app.py [--model DIR_OR_REPO_ID] [--device auto|cpu|cuda] [--host 127.0.0.1] [--port 7860]

The model is --model, else $FER_MODEL, else the model/ folder next to this file (space/model in the repository and in
the deployed bundle), else the published default (fer_model.recognizer.DEFAULT_REPO_ID). In the repository, run it
with the library importable: `PYTHONPATH=. python space/app.py` (or `make demo`); the bundle carries fer_model/.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import csv
import ctypes
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np
import pandas as pd
from gradio.data_classes import Base64ImageData, ImageData
from gradio.image_utils import encode_image_array_to_base64
from gradio.utils import get_upload_folder, is_in_or_equal
from PIL import Image

from fer_model import EmotionRecognizer, ImageError, ModelLoadError, Prediction, load_image
from fer_model.annotate import COLOURS, draw_prediction
from fer_model.card import tta_name
from fer_model.faces import crop_face
from fer_model.gradcam import grad_cam, overlay
from fer_model.recognizer import resolve_model
from fer_model.runtime import DEVICES
from fer_model.video import VideoError

HERE = Path(__file__).resolve().parent

MAX_FILE_SIZE = "20mb"  # uploads above this are refused by Gradio before they reach the model
QUEUE_MAX_SIZE = 64  # waiting requests beyond this get "queue full" instead of piling up
PHOTO_CONCURRENCY = 2  # photo requests processed at once (2 cores: more only adds latency)
STREAM_EVERY_S = 0.1  # shortest webcam frame interval; the browser sends the next frame once the last one is back
STREAM_TIME_LIMIT_S = 120  # one webcam session's processing budget before it must be restarted
SMOOTHING = 0.4  # weight of the newest webcam frame in the moving average of probabilities
MAX_VIDEO_SECONDS = 30.0
VIDEO_SAMPLES_PER_S = 4.0
VIDEO_MAX_SIDE_PX = 640
VIDEO_TIME_BUDGET_S = 60  # one video request's processing budget; the timeline so far is returned with a note
VIDEO_UPDATE_EVERY = 8  # samples between partial plots (the handler notices a client that left at each update)
CACHE_MAX_AGE_S = int(os.environ.get("FER_CACHE_MAX_AGE_S", "3600"))  # uploads and results are deleted after this
RESULT_KEEP_S = 300  # result files are copied to Gradio's cache at once; older ones are deleted
MMAP_THRESHOLD_BYTES = 1 << 20  # glibc mmaps allocations from this size up (decoded photos), and unmaps them on free
GLIBC_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
NOT_UPLOADED = "Only files uploaded to this app can be analysed."
UPLOAD_EXPIRED = f"That upload has been deleted (uploads are kept {CACHE_MAX_AGE_S / 60:g} minutes): upload it again."
PATH_PATTERN = re.compile(r"\S*[\\/]([^\\/\s]+[\\/][^\\/\s]+)")  # a path; group 1: its last two parts
TABLE_COLUMNS = ["Face", "Emotion", "Confidence", "Top 3"]
FIRST_FACE = "Face 1"
HEATMAP_HINT = "Grad-CAM: choose a face, then press *Why this emotion?*"
LIVE_LABEL_TITLE = "Largest face, smoothed over recent frames"
PLOT_COLOURS = {label: "#{:02x}{:02x}{:02x}".format(*rgb) for label, rgb in COLOURS.items()}
PLOT_LEGEND_HTML = " ".join(
    f'<span style="white-space: nowrap"><span style="color: {colour}" aria-hidden="true">&#9632;</span> {label}</span>'
    for label, colour in PLOT_COLOURS.items()
)
EXAMPLE_FILES = [  # file in space/examples, accessible name
    ("astronaut.jpg", "Astronaut: one face"),
    ("astronaut-face.jpg", "Close-up of a face"),
    ("group.jpg", "Three faces"),
    ("cameraman.jpg", "Cameraman, grayscale"),
    ("rocket.jpg", "Rocket: no face"),
]
EXAMPLES = [str(HERE / "examples" / name) for name, _ in EXAMPLE_FILES]
HOW_TO = """Finds the faces in a photo, a webcam feed or a short video and reads each one's facial expression as one of
seven emotions: angry, disgust, fear, happy, neutral, sad or surprise.

**How to use it.** *Photo*: upload, paste or drop a photo, or click an example. Each face is boxed and numbered from the
largest; the table lists every face with its three likeliest emotions. Choose a face and press *Why this emotion?* to
see which regions drove its label. *Webcam*: allow the camera, then press *Record*. *Video*: upload a
clip of up to {video_s:.0f} s for an emotion timeline and a CSV. Uploaded photos and videos, and the pictures made from
them, are kept in the server's temporary files for about {minutes} minutes, then deleted."""
WEBCAM_NOTE = f"""**Privacy**: each webcam frame is sent to this server, analysed in memory and sent straight back;
no frame is written to disk or kept. Only a running average of the largest face's probabilities stays in memory
until you stop. Press *Record* under the camera to start and *Stop* to stop; a session ends by itself after
{STREAM_TIME_LIMIT_S} s."""
LABEL_WEBCAM_BUTTON_JS = """() => {
  // Gradio names the webcam's start/stop button "capture photo" even when it streams: say what it does.
  const name = "Start or stop live emotion analysis";
  const fix = () => document.querySelectorAll('#camera button[aria-label="capture photo"]')
    .forEach((button) => button.setAttribute("aria-label", name));
  new MutationObserver(fix).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                    attributeFilter: ["aria-label"]});
  fix();
}"""
CSS = """
#camera .button-wrap { position: static; transform: none; margin: 8px auto; }  /* under the picture, not on it */
"""
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
        if not Path(payload.path).exists():  # an upload older than CACHE_MAX_AGE_S has been deleted
            raise gr.Error(UPLOAD_EXPIRED)
        return payload.path if self.type == "filepath" else super().preprocess(payload)


class LiveImage(gr.Image):
    """``gr.Image`` output that sends each frame inline as a JPEG data URL, so no webcam frame is written to disk.

    (``gr.Image`` saves every returned array into Gradio's file cache to serve it by URL.)
    """

    def get_block_name(self) -> str:
        return "image"

    def postprocess(self, value: np.ndarray | None) -> Base64ImageData | None:
        return None if value is None else Base64ImageData(url=encode_image_array_to_base64(value))


def without_paths(text: str) -> str:
    """``text`` with each file path cut to its last two parts (dataset and split): no server paths on the page."""
    return PATH_PATTERN.sub(r"\1", text)


def model_info(recognizer: EmotionRecognizer, card_url: str | None) -> str:
    """Markdown for the model panel: what the model is, how accurate it measured, what that means and its limits."""
    model = recognizer.model
    training, metrics = model.training_info or {}, model.metrics or {}
    lines = [
        f"**Inception-ResNet-V2** (Szegedy et al. 2016), blocks {len(model.block35)}/{len(model.block17)}/"
        f"{len(model.block8)}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; "
        f"labels: {', '.join(model.labels)}.",
        f"- Input: each face is cropped, turned grayscale and resized to {model.image_size} x {model.image_size} px; "
        f"running on {recognizer.classifier.device} with {recognizer.classifier.backend} "
        f"({recognizer.classifier.precision}).",
    ]
    if training:
        start = f", fine-tuning {without_paths(str(training['init_from']))}" if training.get("init_from") else ""
        lines.append(f"- Trained on: {without_paths(str(training.get('train_data', '?')))}, "
                     f"{training.get('epochs', '?')} epochs{start}.")
    if metrics:
        views = tta_name(metrics)
        tta = f", with {views} test-time augmentation (this page uses one view)" if views else ""
        recall = {label: scores["recall"] for label, scores in metrics.get("per_class", {}).items()}
        ranked = sorted(recall, key=recall.get, reverse=True)
        lines.append(
            f"- Measured: **{metrics['accuracy']:.1%}** of {metrics.get('num_images', '?')} validation faces "
            f"({without_paths(str(metrics.get('dataset', '')))}) labelled correctly{tta}; macro-F1 "
            f"{metrics['macro_f1']:.3f}. Chance is {1 / len(model.labels):.0%}; people agree with FER2013's labels "
            "about 65% of the time."
        )
        if len(ranked) >= 4:
            lines.append("- Best at " + " and ".join(f"{c} ({recall[c]:.0%})" for c in ranked[:2]) + ", worst at "
                         + " and ".join(f"{c} ({recall[c]:.0%})" for c in ranked[-2:])
                         + ": the share of each emotion's faces that it labels correctly.")
    lines += [
        "- **Limits**: trained on FER2013, small 48 x 48 grayscale web photos of mostly frontal faces. It reads the "
        "facial expression, not what someone feels; expect mistakes on turned, dim, covered or small faces and on "
        "people unlike FER2013's. **Not for decisions about people** (hiring, policing, health, school, credit).",
        f"- [Model card]({card_url}): training, evaluation and intended use." if card_url
        else "- Model card: the README.md next to the model's weights (training, evaluation and intended use).",
    ]
    return "\n".join(lines)


def upload_error(error: ImageError, path: str) -> str:
    """The page's message for a bad upload: what is wrong with it, by its own name, not the server's temp path."""
    return f"That file can't be used. {str(error).replace(path, Path(path).name)}"


def headline(prediction: Prediction) -> str:
    """The result's first line: how many faces, or, prominently, that none was found and what is shown instead."""
    count = len(prediction.faces)
    notes = [note for note in prediction.notes if not note.startswith("no face detected")]  # e.g. "25 faces found; .."
    if not prediction.face_detected:
        text = ("### Whole image classified: no face detected\nThe result below is for the whole picture. It only "
                "means something if the photo is already a close crop of one face; otherwise try a photo with a "
                "clear, frontal face.")
    elif count == 1:
        text = "**1 face found.**"
    else:
        text = f"**{count} faces {'shown' if notes else 'found'}**, numbered from the largest."
    return "\n\n".join([text, *notes])


def face_name(index: int, face: dict[str, Any]) -> str:
    """How the page names one face of a result: 'Face 2', or 'Whole image' when no face was found."""
    return "Whole image" if face["box"] is None else f"Face {index + 1}"


def face_number(choice: int | str | None) -> int:
    """The face number chosen on the page or sent by an API caller: 1 when none is given, 0 when not a number."""
    choice = 1 if choice in (None, "") else choice
    return int(choice) if re.fullmatch(r"[0-9]{1,4}", str(choice)) else 0  # ASCII digits: int() takes others


def heatmap_text(number: int, face: dict[str, Any]) -> str:
    """What the Grad-CAM picture of face ``number`` (1 = largest) shows, for its caption and alt text."""
    subject = "the whole image" if face["box"] is None else f"face {number}"
    return f"Grad-CAM of {subject}: red marks the regions that drove '{face['label']}'"


def face_rows(result: dict[str, Any]) -> pd.DataFrame:
    """The per-face table of a /predict result: number, label, confidence and the three likeliest labels."""
    rows = []
    for index, face in enumerate(result["faces"]):
        top = sorted(face["probabilities"].items(), key=lambda item: item[1], reverse=True)[:3]
        rows.append({"Face": face_name(index, face), "Emotion": face["label"],
                     "Confidence": f"{face['probabilities'][face['label']]:.0%}",
                     "Top 3": ", ".join(f"{label} {p:.0%}" for label, p in top)})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def confidence(face: dict[str, Any]) -> float:
    """The probability of a /predict face's label."""
    return face["probabilities"][face["label"]]


def describe(result: dict[str, Any]) -> str:
    """Alt text for the annotated photo of a /predict result: what the boxes and tags on it say."""
    faces = result["faces"]
    if not result["face_detected"]:
        return f"The photo; no face detected. Whole image: {faces[0]['label']}."
    tags = "; ".join(f"face {i} {face['label']} {confidence(face):.0%}" for i, face in enumerate(faces, 1))
    boxes = "one face box" if len(faces) == 1 else f"{len(faces)} numbered face boxes"
    return f"The photo with {boxes}: {tags}."


def result_title(result: dict[str, Any]) -> str:
    """What the probability bars of a /predict result are for: the largest face, or the whole image."""
    if not result["face_detected"]:
        return "Whole image (no face detected)"
    return "Face 1 (largest)" if len(result["faces"]) > 1 else "Face 1"


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


def build_app(recognizer: EmotionRecognizer, card_url: str | None = None) -> gr.Blocks:
    """The Blocks app around one loaded recognizer; ``card_url`` links the model card when there is one online."""
    results = ResultFolder()

    def save(rgb: np.ndarray, name: str) -> str:
        picture = results.new() / name
        Image.fromarray(rgb).save(picture, quality=90)
        return str(picture)

    def read(image_path: str | None) -> np.ndarray:
        if not image_path:
            raise gr.Error("No image: upload, paste or drop a photo first.")
        try:
            return load_image(image_path)
        except ImageError as error:
            raise gr.Error(upload_error(error, image_path)) from error

    def predict(image_path: str | None) -> tuple[str, dict[str, float], dict[str, Any], str]:
        rgb = read(image_path)
        prediction = recognizer.predict(rgb)
        return (save(draw_prediction(rgb, prediction), "annotated.webp"), prediction.faces[0].probabilities,
                prediction.to_dict(), headline(prediction))

    def predict_new(image_path: str | None) -> tuple[Any, ...]:
        return predict(image_path) if image_path else (gr.skip(),) * 4

    def show_faces(result: dict[str, Any] | None) -> tuple[Any, ...]:
        """The page's view of a /predict result: the table, the faces to explain, alt text and the bars' title."""
        if not result:  # no photo any more
            return (gr.skip(),) * 4
        choices = [(f"{face_name(i, face)}: {face['label']}", i + 1) for i, face in enumerate(result["faces"])]
        return (face_rows(result), gr.Dropdown(choices=choices, value=1), gr.Image(alt_text=describe(result)),
                gr.Label(label=result_title(result), show_heading=result["face_detected"]))

    def reset_photo(image_path: str | None) -> tuple[Any, ...]:
        """Everything about the previous photo goes as soon as a new one (or none) is chosen."""
        return (None, gr.Label(None, label="Result", show_heading=False), None, "Analysing…" if image_path else "",
                pd.DataFrame(columns=TABLE_COLUMNS), gr.Dropdown(choices=[(FIRST_FACE, 1)], value=1), None,
                HEATMAP_HINT)

    def explain(image_path: str | None, choice: int | str | None) -> Any:
        rgb = read(image_path)
        prediction = recognizer.predict(rgb)
        number = face_number(choice)
        if not 1 <= number <= len(prediction.faces):
            raise gr.Error(f"Face {str(choice)[:20]} is not in this photo: it has {len(prediction.faces)}; choose "
                           f"a number from 1 to {len(prediction.faces)}.")
        face = prediction.faces[number - 1]
        crop = rgb if face.box is None else crop_face(rgb, face.box)
        heatmap = grad_cam(recognizer.model, recognizer.transform(crop).to(recognizer.classifier.device),
                           recognizer.labels.index(face.label))
        return save(overlay(crop, heatmap), "gradcam.webp")

    def heatmap_caption_for(result: dict[str, Any] | None, choice: int | str | None) -> tuple[str, Any]:
        number = face_number(choice)
        if not result or not 1 <= number <= len(result["faces"]):
            return HEATMAP_HINT, gr.Image(alt_text=None)
        face = result["faces"][number - 1]
        text = heatmap_text(number, face)
        return f"**{text}** ({confidence(face):.0%}).", gr.Image(alt_text=text)

    def stream(frame: np.ndarray | None, average: np.ndarray | None) -> tuple[Any, Any, Any]:
        if frame is None:
            return None, None, average
        prediction = recognizer.predict(frame)
        if not prediction.face_detected:
            return draw_prediction(frame, prediction), gr.Label(None, label="No face in view"), None
        current = np.array([prediction.faces[0].probabilities[label] for label in recognizer.labels])
        average = current if average is None else SMOOTHING * current + (1 - SMOOTHING) * average
        smoothed = {label: float(p) for label, p in zip(recognizer.labels, average, strict=True)}
        return draw_prediction(frame, prediction), gr.Label(smoothed, label=LIVE_LABEL_TITLE), average

    def analyse_video(video_path: str | None, progress: gr.Progress = PROGRESS) -> Iterator[tuple[Any, Any, Any]]:
        if not video_path:
            raise gr.Error("No video: upload a short clip first.")
        try:
            yield from video_timeline(recognizer, video_path, progress, results.new())
        except VideoError as error:
            raise gr.Error(str(error).replace(video_path, Path(video_path).name)) from error

    def analyse_new_video(video_path: str | None, progress: gr.Progress = PROGRESS) -> Iterator[tuple[Any, ...]]:
        if video_path:  # a cleared input changes too: nothing to analyse then
            yield from analyse_video(video_path, progress)
        else:
            yield (gr.skip(),) * 3

    with gr.Blocks(title="Facial emotion recognition",
                   delete_cache=(min(600, CACHE_MAX_AGE_S), CACHE_MAX_AGE_S)) as app:
        gr.Markdown("# Facial emotion recognition\n"
                    + HOW_TO.format(video_s=MAX_VIDEO_SECONDS, minutes=CACHE_MAX_AGE_S // 60))
        if not recognizer.trained:
            gr.Markdown(
                "⚠️ **This demo is running an UNTRAINED model** (random weights): its predictions are meaningless.",
                elem_id="untrained-warning",
            )
        with gr.Accordion("About the model: accuracy and limits", open=False):
            gr.Markdown(model_info(recognizer, card_url), elem_id="model-info")
        with gr.Tab("Photo"):
            with gr.Row():
                with gr.Column():
                    photo = UploadedImage(label="Photo", sources=["upload", "clipboard"], type="filepath",
                                          elem_id="photo")
                    analyse = gr.Button("Analyse", variant="primary")
                    gr.Examples(EXAMPLES, inputs=photo, label="Examples: click one to analyse it",
                                example_labels=[name for _, name in EXAMPLE_FILES], elem_id="examples")
                with gr.Column():
                    note = gr.Markdown(elem_id="note")
                    annotated = gr.Image(label="Faces", show_label=False, type="filepath", buttons=[],
                                         elem_id="annotated")
                    label = gr.Label(label="Result", num_top_classes=len(recognizer.labels), elem_id="label")
                    table = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), label="Every face", interactive=False,
                                         elem_id="face-table", buttons=[])
                    with gr.Group():
                        face = gr.Dropdown([(FIRST_FACE, 1)], value=1, label="Face to explain", elem_id="face-choice",
                                           allow_custom_value=True)  # each photo has its own faces, API callers too
                        why = gr.Button("Why this emotion? (Grad-CAM)")
                    heatmap_caption = gr.Markdown(HEATMAP_HINT, elem_id="heatmap-caption")
                    heatmap = gr.Image(label="Grad-CAM", show_label=False, type="filepath", buttons=[], height=320,
                                       elem_id="heatmap")
                    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
                        faces = gr.JSON(label="All faces", elem_id="faces")
            photo_outputs = [annotated, label, faces, note]
            photo.change(reset_photo, photo, [*photo_outputs, table, face, heatmap, heatmap_caption], api_name=False,
                         queue=False,
                         show_progress="hidden").then(
                predict_new, photo, photo_outputs, api_name=False, concurrency_id="photo",
                concurrency_limit=PHOTO_CONCURRENCY).success(show_faces, faces, [table, face, annotated, label],
                                                             api_name=False, queue=False, show_progress="hidden")
            analyse.click(predict, photo, photo_outputs, api_name="predict", concurrency_id="photo",
                          concurrency_limit=PHOTO_CONCURRENCY).success(
                show_faces, faces, [table, face, annotated, label], api_name=False, queue=False,
                show_progress="hidden")
            why.click(explain, [photo, face], heatmap, api_name="explain", concurrency_limit=1).success(
                heatmap_caption_for, [faces, face], [heatmap_caption, heatmap], api_name=False, queue=False,
                show_progress="hidden")
            face.input(lambda: (None, HEATMAP_HINT), None, [heatmap, heatmap_caption], api_name=False, queue=False,
                       show_progress="hidden")
        with gr.Tab("Webcam"):
            gr.Markdown(WEBCAM_NOTE, elem_id="webcam-note")
            average = gr.State(None)
            with gr.Row():
                camera = UploadedImage(label="Camera", sources=["webcam"], streaming=True, type="numpy",
                                       elem_id="camera")
                with gr.Column():
                    live = LiveImage(label="Live", show_label=False, elem_id="live", buttons=[],
                                     alt_text="Live webcam view with each face boxed and tagged with its emotion")
                    live_label = gr.Label(label=LIVE_LABEL_TITLE, num_top_classes=3, elem_id="live-label")
            camera.stream(stream, [camera, average], [live, live_label, average], api_name=False,
                          stream_every=STREAM_EVERY_S, time_limit=STREAM_TIME_LIMIT_S, show_progress="hidden",
                          concurrency_limit=PHOTO_CONCURRENCY)
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(label="Video", sources=["upload"], elem_id="video")
                    analyse_clip = gr.Button("Analyse video", variant="primary")
                    gr.Markdown(f"Up to {MAX_VIDEO_SECONDS:.0f} s; analysed as soon as it is uploaded, "
                                f"{VIDEO_SAMPLES_PER_S:.0f} frames a second (the largest face in each).")
                with gr.Column():
                    plot = gr.LinePlot(x="time_s", y="probability", color="emotion", label="Emotion over time",
                                       color_map=PLOT_COLOURS, colors_in_legend=[], x_title="time (s)",
                                       elem_id="timeline")
                    gr.HTML(PLOT_LEGEND_HTML, elem_id="timeline-legend")  # wraps on phones; the plot's own does not
                    video_out = gr.Video(label="Annotated", elem_id="video-annotated")
                    table_file = gr.File(label="CSV", elem_id="video-csv")
            video_outputs = [plot, video_out, table_file]
            video.change(lambda _: (None, None, None), video, video_outputs, api_name=False, queue=False,
                         show_progress="hidden").then(analyse_new_video, video, video_outputs, api_name=False,
                                                      concurrency_id="video", concurrency_limit=1)
            analyse_clip.click(analyse_video, video, video_outputs, api_name="video", concurrency_id="video",
                               concurrency_limit=1)
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


def model_card_url(model: str) -> str | None:
    """The model card's web address: the Hub page of a repo id, or the card in this Space's files on Hugging Face."""
    folder = Path(model).resolve()
    if not folder.is_dir():
        return f"https://huggingface.co/{model}"
    space = os.environ.get("SPACE_ID")  # set by Hugging Face Spaces: "owner/name"
    if space and folder.is_relative_to(HERE) and (folder / "README.md").is_file():
        return f"https://huggingface.co/spaces/{space}/blob/main/{folder.relative_to(HERE).as_posix()}/README.md"
    return None


def return_large_buffers_to_the_system() -> None:
    """Make glibc give freed photo buffers back: left to adapt, its threshold rises and a burst of large photos
    leaves the server ~0.5 GB bigger (python -m benchmarks.load --large). A no-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(GLIBC_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("FER_MODEL"), help="save_pretrained folder or Hub repo id")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="auto: CUDA when present, else the CPU")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    args = parser.parse_args(argv)
    return_large_buffers_to_the_system()
    model = resolve_model(args.model, HERE / "model")
    try:
        recognizer = EmotionRecognizer.from_pretrained(model, device=args.device)
    except (ModelLoadError, ValueError) as error:  # no such model, or e.g. --device cuda without a GPU
        sys.exit(f"error: {error}")
    app = build_app(recognizer, model_card_url(str(model)))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: Gradio and atexit clean up
    app.queue(max_size=QUEUE_MAX_SIZE).launch(
        server_name=args.host, server_port=args.port, max_file_size=MAX_FILE_SIZE, show_error=True,
        js=LABEL_WEBCAM_BUTTON_JS, css=CSS,
    )


if __name__ == "__main__":
    main()
