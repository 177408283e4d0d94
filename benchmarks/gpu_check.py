"""GPU check for a lent CUDA machine, in one call of at most 8 minutes: the CUDA tests, one training epoch at 299 px
(bf16 autocast, channels_last, as train/ runs it), and inference speed at 299 px, batch 64 (bf16, channels_last).

    python -m benchmarks.gpu_check [--data FER2013_DIR] [--epoch-images 28709]   (or: make gpu-check)

Without a CUDA device it prints that it skipped and exits 0. The epoch uses FER2013 (``--data`` or
../shared/data/fer2013 when present), else generated 48 px faces of FER2013's training-set size. Exits 1 when a step
failed; each step has its own time limit so the whole check ends within 8 minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.speed import EPOCH_IMAGES, timed
from devtools.synthetic import make_face_folder
from fer_model import EMOTIONS, InceptionResNetV2
from fer_model.inference import TorchClassifier

ROOT = Path(__file__).resolve().parents[1]
FER2013 = ROOT.parent / "shared" / "data" / "fer2013"
TESTS_LIMIT_S = 150
EPOCH_LIMIT_S = 240
INFERENCE_BATCH = 64
INFERENCE_SIZE_PX = 299
INFERENCE_REPEATS = 20


def run(step: str, args: list[str], limit_s: float) -> bool:
    """Run ``args`` from the repository root; print how it ended and how long it took."""
    started = time.perf_counter()
    try:
        code = subprocess.run(args, cwd=ROOT, timeout=limit_s).returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    print(f"gpu-check: {step}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.perf_counter() - started:.0f} s",
          flush=True)
    return code == 0


def epoch_data(data: Path | None, images: int, workdir: Path) -> tuple[Path, Path]:
    """(train, validation) folders: FER2013's when present, else generated ones of ``images`` training images."""
    root = data or (FER2013 if FER2013.is_dir() else None)
    if root is not None:
        return root / "train", root / "validation"
    print(f"gpu-check: no FER2013 at {FER2013}: generating {images} training images", flush=True)
    train = make_face_folder(workdir / "train", list(EMOTIONS), per_class=images // len(EMOTIONS), seed=1)
    return train, make_face_folder(workdir / "validation", list(EMOTIONS), per_class=64, seed=2)


def inference_speed() -> None:
    """Images per second of the full model at 299 px, batch 64, bf16 channels_last (median of the repeats)."""
    classifier = TorchClassifier(InceptionResNetV2(image_size=INFERENCE_SIZE_PX), "cuda", "bf16")
    batch = torch.randn(INFERENCE_BATCH, 3, INFERENCE_SIZE_PX, INFERENCE_SIZE_PX)

    def step() -> None:
        classifier.probabilities(batch)  # includes the host-to-device copy and the result's copy back
        torch.cuda.synchronize()

    runs = sorted(timed({"infer": step}, INFERENCE_REPEATS, warmup=3)["infer"])
    median = runs[len(runs) // 2]
    print(f"gpu-check: inference {INFERENCE_SIZE_PX} px batch {INFERENCE_BATCH} bf16: {median * 1000:.1f} ms/batch, "
          f"{INFERENCE_BATCH / median:.0f} img/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder with train/ and validation/ ImageFolders")
    parser.add_argument("--epoch-images", type=int, default=EPOCH_IMAGES, help="generated images when no data")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device here: skipped")
        return 0
    print(f"gpu-check: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    ok = run("CUDA tests", [sys.executable, "-m", "pytest", "-q", "-ra", "tests/fer_model/test_cuda.py"],
             TESTS_LIMIT_S)
    with tempfile.TemporaryDirectory() as workdir:
        train, validation = epoch_data(args.data, args.epoch_images, Path(workdir))
        started = time.perf_counter()
        ok &= run("one epoch at 299 px, bf16, channels_last", [
            sys.executable, "-m", "train", "--data", str(train), "--val-data", str(validation), "--epochs", "1",
            "--image-size", "299", "--precision", "bf16", "--device", "cuda", "--num-workers", "8", "--output-dir",
            workdir], EPOCH_LIMIT_S)
        if ok:
            images = sum(1 for path in train.rglob("*") if path.is_file())
            print(f"gpu-check: epoch of {images} images (with validation and checkpointing) "
                  f"{images / (time.perf_counter() - started):.0f} img/s overall", flush=True)
    inference_speed()
    print(f"gpu-check: {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
