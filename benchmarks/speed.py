"""Inference and training speed of our model against timm's inception_resnet_v2 (fp32, eager), with agreement figures.

    python -m benchmarks.speed [--size 80] [--repeats 10] [--device cpu|cuda] [--val-data DIR]

Same weights (timm's mapped into ours), same inputs, same thread count, one process. Ours runs on each backend:
PyTorch (channels_last, bf16 where native, inference_mode) and, on the CPU, ONNX Runtime. The agreement section
compares the fast paths with fp32 PyTorch on the shipped model, over the FER2013 validation images when they are
there (else generated images). The last line is ``speedup: inference=X.XX training=Y.YY`` (ours / timm in images per
second at the shipped resolution; inference at batch 1 with the default backend, training at the recipe's batch 64).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from fer_model import InceptionResNetV2
from fer_model.inference import Classifier, TorchClassifier, auto_backend
from fer_model.onnx_backend import OnnxClassifier, export_onnx
from fer_model.runtime import DEVICES, autocast, bf16_supported, pick_device, resolve_precision
from fer_model.timm_weights import convert_timm_state_dict
from train.evaluate import validation_set
from train.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "space" / "model"
FER2013_VALIDATION = ROOT.parent / "shared" / "data" / "fer2013" / "validation"
TRAIN_BATCHES = (32, 64)  # 64 is the shipped recipe's batch size
EPOCH_IMAGES = 28_709  # FER2013's training split


def timed(steps: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Wall seconds of each step over ``repeats`` rounds, interleaved so that every step sees the same machine load."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - started)
    return times


def report(batch: int, times: dict[str, list[float]]) -> dict[str, float]:
    """Print min/median ms per image, images/s (from the median) and the ratio to the first entry; return images/s."""
    rates = {name: batch / statistics.median(runs) for name, runs in times.items()}
    baseline = next(iter(rates.values()))
    for name, runs in times.items():
        per_image = [t / batch * 1000 for t in runs]
        ratio = f"  x{rates[name] / baseline:.2f}" if rates[name] is not baseline else ""
        print(f"  {name:26s} batch {batch:2d}: {min(per_image):8.2f} / {statistics.median(per_image):8.2f} ms/img "
              f"(min/median)  {rates[name]:8.1f} img/s{ratio}")
    return rates


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backends(model: InceptionResNetV2, device: torch.device, workdir: Path) -> dict[str, Classifier]:
    """Ours on every backend this device has, by label; ONNX goes to ``workdir``, not the user's cache."""
    found: list[Classifier] = [TorchClassifier(model, device)]
    if device.type == "cpu":
        found.append(OnnxClassifier(export_onnx(model, workdir / f"{model.image_size}px.onnx")))
    return {f"ours {c.backend} {c.precision}": c for c in found}


def inference(reference: torch.nn.Module, ours: InceptionResNetV2, device: torch.device, repeats: int) -> float:
    """Ours on each backend vs timm at the shipped size and 299 px, batch 1 and 16; returns the headline ratio."""
    headline, default = 0.0, auto_backend(device)
    with tempfile.TemporaryDirectory() as workdir:
        for resolution in dict.fromkeys([ours.image_size, 299]):
            model = InceptionResNetV2(**{**ours.config, "image_size": resolution})
            model.load_state_dict(ours.state_dict())
            candidates = backends(model, device, Path(workdir))
            print(f"inference at {resolution} px (default backend here: {default})")
            for batch in (1, 16):
                x = torch.randn(batch, 3, resolution, resolution, device=device)
                runs = max(3, repeats // (4 if resolution == 299 and batch == 16 else 1))

                def run_timm(x: torch.Tensor = x) -> None:
                    with torch.inference_mode():
                        reference(x)

                steps = {"timm fp32 eager": run_timm}
                steps |= {label: (lambda c=c, x=x: c.probabilities(x)) for label, c in candidates.items()}
                rates = report(batch, timed(steps, runs))
                if resolution == ours.image_size and batch == 1:
                    label = next(label for label, c in candidates.items() if c.backend == default)
                    headline = rates[label] / rates["timm fp32 eager"]
            print(f"  peak resident memory so far: {peak_rss_mb():.0f} MB")
    return headline


def validation_images(model: InceptionResNetV2, data: Path | None) -> tuple[torch.Tensor, str]:
    """Preprocessed validation images (every one in ``data``), or 256 generated ones when there is no data."""
    if data is None:
        generator = torch.Generator().manual_seed(0)
        return torch.randn(256, 3, model.image_size, model.image_size, generator=generator) * 0.5, "generated images"
    dataset = validation_set(model, data)
    return torch.stack([dataset[i][0] for i in range(len(dataset))]), f"validation images of {data}"


def agreement(model: InceptionResNetV2, data: Path | None, device: torch.device) -> None:
    """Top-1 agreement and probability differences of each fast path against fp32 PyTorch."""
    images, source = validation_images(model, data)

    def probabilities(classifier: Classifier) -> torch.Tensor:
        return torch.cat([classifier.probabilities(images[i : i + 64]) for i in range(0, len(images), 64)])

    paths: list[tuple[str, Classifier]] = []
    with tempfile.TemporaryDirectory() as workdir:
        if device.type == "cpu":
            paths.append(("onnxruntime fp32", OnnxClassifier(export_onnx(model, Path(workdir) / "model.onnx"))))
        if bf16_supported(device):
            paths.append(("torch bf16", TorchClassifier(model, device, "bf16")))
        exact = probabilities(TorchClassifier(model, device, "fp32"))
        print(f"agreement with fp32 PyTorch on {len(images)} {source}")
        for name, classifier in paths:
            fast = probabilities(classifier)
            difference = (fast - exact).abs()
            same = (fast.argmax(1) == exact.argmax(1)).float().mean().item()
            print(f"  {name:18s} top-1 agreement {same:.2%}, mean |dp| {difference.mean().item():.5f}, "
                  f"mean of the per-image max |dp| {difference.amax(1).mean().item():.5f}")


def training(reference: torch.nn.Module, ours: InceptionResNetV2, device: torch.device, repeats: int) -> float:
    """A training step (forward, backward, AdamW): timm fp32 eager vs ours as train/ runs it; the batch-64 ratio."""
    precision, lr = resolve_precision("auto", device), 1e-4
    size = 299 if device.type == "cuda" else ours.image_size
    print(f"training step at {size} px: timm fp32 eager + AdamW; ours {precision} autocast + "
          f"channels_last + fused AdamW (train/loop.py)")

    def trainer(model: torch.nn.Module, fast: bool, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
        model = model.train().to(memory_format=torch.channels_last) if fast else model.train()
        optimizer = (build_optimizer("adamw", model, lr) if fast
                     else torch.optim.AdamW(model.parameters(), lr=lr))
        inputs = x.contiguous(memory_format=torch.channels_last) if fast else x

        def step() -> None:
            with autocast(device, precision if fast else "fp32"):
                loss = torch.nn.functional.cross_entropy(model(inputs).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    ratio = 0.0
    for batch in TRAIN_BATCHES:
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.randint(0, ours.num_classes, (batch,), device=device)
        runs = max(3, repeats // 2)
        rates = report(batch, timed({"timm fp32 eager": trainer(reference, False, x, y),
                                     "ours": trainer(ours, True, x, y)}, runs, warmup=1))
        ratio = rates["ours"] / rates["timm fp32 eager"]
        minutes = {name: EPOCH_IMAGES / rate / 60 for name, rate in rates.items()}
        print(f"  an epoch of {EPOCH_IMAGES:,} images at {size} px: timm {minutes['timm fp32 eager']:.1f} min, "
              f"ours {minutes['ours']:.1f} min")
    print(f"  peak resident memory so far: {peak_rss_mb():.0f} MB")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument("--val-data", type=Path, help="images for the agreement figures (default: FER2013 "
                        "validation next to the repo when present, else generated images)")
    args = parser.parse_args()
    import timm

    device = pick_device(args.device)
    shipped = (SHIPPED_MODEL / "config.json").is_file()  # else an untrained model of the shipped shape: speed only
    model = InceptionResNetV2.from_pretrained(SHIPPED_MODEL) if shipped else InceptionResNetV2(image_size=80)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
          f"bf16 native: {bf16_supported(device)}; timm: fp32 eager, inference_mode")
    agreement(model, args.val_data or (FER2013_VALIDATION if FER2013_VALIDATION.is_dir() else None), device)

    torch.manual_seed(0)
    reference = timm.create_model("inception_resnet_v2", num_classes=model.num_classes).eval().to(device)
    ours = InceptionResNetV2(**model.config).to(device)
    ours.load_state_dict(convert_timm_state_dict(reference.state_dict()))
    inference_ratio = inference(reference, ours, device, args.repeats)
    training_ratio = training(reference, ours, device, args.repeats)
    print(f"speedup: inference={inference_ratio:.2f} training={training_ratio:.2f}")


if __name__ == "__main__":
    main()
