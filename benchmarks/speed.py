"""Inference and training speed of our model (fast path) against timm's inception_resnet_v2 (fp32, eager).

    python benchmarks/speed.py [--size 80] [--repeats 10] [--device cpu|cuda]

Same weights (timm's mapped into ours), same inputs, same thread count, one process. The last line is
``speedup: inference=X.XX training=Y.YY`` (ours / timm in images per second; shipped resolution, batch 1 inference).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_model import InceptionResNetV2
from fer_model.inference import FastClassifier
from fer_model.recognizer import default_model
from fer_model.timm_weights import convert_timm_state_dict


def timed(step: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Wall seconds of ``step`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return times


def row(name: str, batch: int, times: list[float]) -> float:
    """Print min/median ms per image and images/s (from the median); return images/s."""
    per_image = [t / batch * 1000 for t in times]
    rate = batch / statistics.median(times)
    print(f"  {name:22s} batch {batch:2d}: {min(per_image):8.2f} / {statistics.median(per_image):8.2f} ms/img "
          f"(min/median)  {rate:8.1f} img/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, help="shipped resolution (default: the shipped model's image_size)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import timm

    device = torch.device(args.device)
    shipped = default_model()
    ours = InceptionResNetV2.from_pretrained(shipped) if shipped else InceptionResNetV2()
    size = args.size or ours.image_size
    torch.manual_seed(0)
    reference = timm.create_model("inception_resnet_v2", num_classes=ours.num_classes).eval().to(device)
    ours.load_state_dict(convert_timm_state_dict(reference.state_dict()))
    fast = FastClassifier(ours, device=device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
          f"ours: {fast.precision} + channels_last + inference_mode; timm: fp32 eager")

    speedups: dict[tuple[int, int], float] = {}
    for resolution in dict.fromkeys([size, 299]):
        print(f"inference at {resolution} px")
        for batch in (1, 16):
            x = torch.randn(batch, 3, resolution, resolution, device=device)
            repeats = max(3, args.repeats // (4 if resolution == 299 and batch == 16 else 1))

            def run_timm(x: torch.Tensor = x) -> None:
                with torch.inference_mode():
                    reference(x)

            timm_rate = row("timm fp32 eager", batch, timed(run_timm, repeats))
            ours_rate = row(f"ours {fast.precision}", batch, timed(lambda x=x: fast.probabilities(x), repeats))
            speedups[(resolution, batch)] = ours_rate / timm_rate
            print(f"  ratio ours/timm: {speedups[(resolution, batch)]:.2f}")

    with torch.inference_mode():  # agreement of the fast path with fp32 on generated images
        ours_fp32 = FastClassifier(ours, device=device, precision="fp32")
        images = torch.randn(64, 3, size, size, device=device) * 0.5
        exact, quick = ours_fp32.probabilities(images), fast.probabilities(images)
    agreement = (exact.argmax(1) == quick.argmax(1)).float().mean().item()
    print(f"fast path vs fp32 on 64 generated images: top-1 agreement {agreement:.1%}, "
          f"mean |dp| {(exact - quick).abs().mean().item():.5f}")

    print(f"training step at {size} px, batch 32 (AdamW)")
    batch = 32
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, ours.num_classes, (batch,), device=device)

    def trainer(model: torch.nn.Module, amp: bool, channels_last: bool) -> Callable[[], None]:
        model = model.train().to(memory_format=torch.channels_last) if channels_last else model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        inputs = x.contiguous(memory_format=torch.channels_last) if channels_last else x

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = torch.nn.functional.cross_entropy(model(inputs).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    repeats = max(3, args.repeats // 2)
    timm_train = row("timm fp32 eager", batch, timed(trainer(reference, False, False), repeats, warmup=1))
    ours_train = row(f"ours {fast.precision}", batch,
                     timed(trainer(ours, fast.precision == "bf16", True), repeats, warmup=1))
    print(f"  ratio ours/timm: {ours_train / timm_train:.2f}")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"speedup: inference={speedups[(size, 1)]:.2f} training={ours_train / timm_train:.2f}")


if __name__ == "__main__":
    main()
