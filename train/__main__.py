"""``python -m train``: train an InceptionResNetV2 on a face dataset (defaults = the reference recipe)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from fer_model.preprocess import Augmentation

from .data import DataError
from .loop import TrainConfig, train


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Command-line flags -> TrainConfig."""
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    parser.add_argument("--data", type=Path, required=True,
                        help="images/train + images/validation, train + test, a class-folder tree, or fer2013.csv")
    parser.add_argument("--val-data", type=Path, help="validation ImageFolder, when --data has none")
    parser.add_argument("--output-dir", type=Path, default=Path("."), help="where resnet-v2-epochs/ and runs/ go")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam",
                        help="adam = Adam(amsgrad=True) as in the reference; sgd = Nesterov momentum 0.9")
    parser.add_argument("--scheduler", choices=["plateau", "cosine"], default="plateau",
                        help="plateau = ReduceLROnPlateau(min, 0.2, threshold 0.01, patience 5) on val loss")
    parser.add_argument("--warmup-epochs", type=float, default=0.0, help="linear warm-up before cosine")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--class-weighting", action="store_true", help="inverse-frequency class weights in the loss")
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--block-repeats", type=int, nargs=3, default=[10, 20, 10], metavar=("A", "B", "C"),
                        help="Block35/Block17/Block8 repeats: 10 20 10 released, 5 10 5 paper figure 15")
    parser.add_argument("--drop-rate", type=float, default=0.2)
    parser.add_argument("--augment", choices=["none", "standard"], default="standard",
                        help="none = Resize/ToTensor/Normalize only (the reference)")
    parser.add_argument("--no-random-crop", action="store_true")
    parser.add_argument("--no-hflip", action="store_true")
    parser.add_argument("--rotation", type=float, default=10.0, help="max rotation in degrees (0 disables)")
    parser.add_argument("--random-erasing", type=float, default=0.25, help="probability (0 disables)")
    parser.add_argument("--tta", choices=["none", "flip"], default="none", help="test-time augmentation on validation")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto",
                        help="mixed precision: auto = bf16 where supported (CPU and GPU), else fp16 on GPU")
    parser.add_argument("--num-workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)),
                        help="DataLoader worker processes (augmenting in the main process slows CPU training ~40 %%)")
    parser.add_argument("--seed", type=int, help="make the run deterministic")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/resnet-v2-epochs/checkpoint.pt")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable images / bad csv rows with a warning")
    parser.add_argument("--stop-after-steps", type=int, help="stop after this many optimizer steps (for quick checks)")
    args = parser.parse_args(argv)
    augment = None if args.augment == "none" else Augmentation(
        random_crop=not args.no_random_crop, hflip=not args.no_hflip,
        rotation_deg=args.rotation, random_erasing=args.random_erasing,
    )
    return TrainConfig(
        data=args.data, val_data=args.val_data, output_dir=args.output_dir, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, optimizer=args.optimizer,
        scheduler=args.scheduler, warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing,
        class_weighting=args.class_weighting, image_size=args.image_size, block_repeats=tuple(args.block_repeats),
        drop_rate=args.drop_rate, augment=augment, tta=args.tta, device=args.device, amp=args.amp,
        num_workers=args.num_workers, seed=args.seed, resume=args.resume, skip_bad=args.skip_bad,
        stop_after_steps=args.stop_after_steps,
    )


def main(argv: list[str] | None = None) -> int:
    """Run training; data errors print one clear line and exit 2, a failed write (disk full) exits 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = parse_args(argv)
    try:
        summary = train(config)
    except (DataError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. disk full while saving: the message says the previous file is intact
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "epochs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
