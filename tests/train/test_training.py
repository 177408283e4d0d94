"""``python -m train`` end to end on tiny data: checkpoints, TensorBoard, resume, SIGKILL, DDP, evaluate, export."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tqdm._monitor import TMonitor

from devtools.synthetic import make_face_folder
from fer_model import EmotionRecognizer, InceptionResNetV2
from fer_model.preprocess import Augmentation
from fer_model.runtime import resolve_precision
from train.__main__ import main as train_main
from train.__main__ import parse_args
from train.checkpoint import load_checkpoint, load_initial_weights
from train.config import TrainConfig
from train.loaders import _MixCollate
from train.loop import train
from train.state import EMA_EVERY_STEPS

from .conftest import FAST_FLAGS, ROOT, run_module


@pytest.fixture(scope="module")
def trained(kaggle_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs with the reference recipe defaults (Adam amsgrad + plateau)."""
    out = tmp_path_factory.mktemp("run")
    result = run_module("train", "--data", str(kaggle_data), "--output-dir", str(out), "--epochs", "2", *FAST_FLAGS)
    assert result.returncode == 0, result.stderr
    return out


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_each_epoch_writes_weights_checkpoint_history_and_tensorboard(trained: Path) -> None:
    epochs = trained / "resnet-v2-epochs"
    assert sorted(p.name for p in epochs.iterdir()) == ["best", "checkpoint.pt", "epoch-001", "epoch-002"]
    history = json.loads((trained / "history.json").read_text())
    epoch_two = InceptionResNetV2.from_pretrained(epochs / "epoch-002")  # a save_pretrained folder, loaded strictly
    assert epoch_two.training_info["selected_epoch"] == 2 and epoch_two.config["block_repeats"] == [1, 1, 1]
    assert epoch_two.metrics["accuracy"] == pytest.approx(history[1]["val_accuracy"], abs=1e-5)
    assert sum(map(sum, epoch_two.metrics["confusion_matrix"])) == 14 and epoch_two.metrics["num_images"] == 14
    best = max(history, key=lambda row: row["val_accuracy"])["epoch"]
    assert InceptionResNetV2.from_pretrained(epochs / "best").training_info["selected_epoch"] == best
    assert [row["epoch"] for row in history] == [1, 2]
    assert {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"} <= set(history[0])
    (run_dir,) = (trained / "runs").iterdir()
    logged = scalars(run_dir)
    assert [step for step, _ in logged["epoch/val_accuracy"]] == [history[0]["global_step"], history[1]["global_step"]]
    assert {"epoch/train_loss", "epoch/val_loss", "epoch/lr", "epoch/train_accuracy"} <= set(logged)
    checkpoint = load_checkpoint(epochs / "checkpoint.pt")
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 2 * 5  # 42 images / batch 8, last dropped


def test_resume_continues_at_next_epoch_with_identical_optimizer_state(trained: Path, kaggle_data: Path,
                                                                       tmp_path: Path) -> None:
    before = load_checkpoint(trained / "resnet-v2-epochs" / "checkpoint.pt")
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(copy)], check=True)
    result = run_module("train", "--data", str(kaggle_data), "--output-dir", str(copy), "--epochs", "3",
                        "--resume", *FAST_FLAGS)
    assert result.returncode == 0, result.stderr
    assert "resumed from" in result.stderr and "at epoch 3" in result.stderr
    assert "INFO epoch 3: train loss" in result.stderr and ".tmp" not in result.stderr  # no staging folder named
    history = json.loads((copy / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[2]["global_step"] == 15
    after = load_checkpoint(copy / "resnet-v2-epochs" / "checkpoint.pt")
    assert after["epoch"] == 3
    # the optimizer the resumed run started from was the saved one: its step counters continued from there
    first = next(iter(before["optimizer"]["state"].values()))
    resumed = next(iter(after["optimizer"]["state"].values()))
    assert float(resumed["step"]) == float(first["step"]) + 5


def _wait_for(condition: Callable[[], bool], timeout: float = 600, poll: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(poll)


def _completed_epoch(checkpoint: Path) -> int:
    return load_checkpoint(checkpoint)["epoch"] if checkpoint.exists() else 0


def _assert_nothing_is_torn(out: Path) -> int:
    """Every weights file, the checkpoint and the history load, and agree on the last completed epoch.

    The checkpoint is written last in an epoch, so a kill just before it leaves that epoch's weights and history row
    one ahead; the resumed run redoes that epoch and overwrites them.
    """
    epochs_dir = out / "resnet-v2-epochs"
    for folder in [*epochs_dir.glob("epoch-*"), epochs_dir / "best"]:
        InceptionResNetV2.from_pretrained(folder)
    completed = load_checkpoint(epochs_dir / "checkpoint.pt")["epoch"]
    logged = [row["epoch"] for row in json.loads((out / "history.json").read_text())]
    assert logged in (list(range(1, completed + 1)), list(range(1, completed + 2)))
    assert sorted(epochs_dir.glob("epoch-*"))[-1].name in {f"epoch-{e:03d}" for e in (completed, completed + 1)}
    return completed


def test_three_sigkills_lose_at_most_an_epoch_each_and_the_run_finishes(kaggle_data: Path, tmp_path: Path) -> None:
    """Killed inside an epoch, while writing a checkpoint, and inside an epoch again; resumed after each kill."""
    out, epochs = tmp_path / "run", 6
    checkpoint = out / "resnet-v2-epochs" / "checkpoint.pt"
    args = [sys.executable, "-m", "train", "--data", str(kaggle_data), "--output-dir", str(out),
            "--epochs", str(epochs), *FAST_FLAGS]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    delays = random.Random(0)
    for kill_at in ("mid-epoch", "checkpoint write", "mid-epoch"):
        before = _completed_epoch(checkpoint)
        resume = ["--resume"] if before else []
        process = subprocess.Popen([*args, *resume], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if kill_at == "mid-epoch":  # a random moment after this run has finished an epoch of its own
            _wait_for(lambda before=before: _completed_epoch(checkpoint) > before, poll=0.1)
            time.sleep(delays.uniform(0.2, 1.5))
        else:  # the moment a checkpoint's temp file appears
            _wait_for(lambda: any(checkpoint.parent.glob(".*.tmp")))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if kill_at == "checkpoint write":
            assert any(checkpoint.parent.glob(".*.tmp"))  # the kill did land inside a write
        completed = _assert_nothing_is_torn(out)
        assert completed >= before  # what was saved before is still there; at most the running epoch is lost
    result = run_module("train", "--data", str(kaggle_data), "--output-dir", str(out), "--epochs", str(epochs),
                        "--resume", *FAST_FLAGS)
    assert result.returncode == 0, result.stderr
    assert f"at epoch {completed + 1}" in result.stderr  # it resumed right after the last completed epoch
    assert _assert_nothing_is_torn(out) == epochs
    assert not list(checkpoint.parent.glob(".*.tmp")) and not list(out.glob(".*.tmp"))  # stale temp files removed


@contextmanager
def small_tmpfs(folder: Path, size_bytes: int) -> Iterator[Path]:
    """A real filesystem of ``size_bytes`` mounted on ``folder`` (needs root; skips otherwise)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_disk_full_on_a_real_tmpfs_keeps_the_previous_checkpoint(trained: Path, kaggle_data: Path,
                                                                  tmp_path: Path) -> None:
    """Room for epoch 1's files but not epoch 2's: the run stops with a clear error, epoch 1 stays loadable."""
    epoch_one = [trained / "resnet-v2-epochs" / name for name in ("epoch-001", "best", "checkpoint.pt")]
    needed = sum(file.stat().st_size for path in epoch_one for file in [path, *path.rglob("*")] if file.is_file())
    with small_tmpfs(tmp_path / "disk", needed + 4 * 2**20) as disk:
        result = run_module("train", "--data", str(kaggle_data), "--output-dir", str(disk), "--epochs", "3",
                            *FAST_FLAGS)
        assert result.returncode == 1, result.stderr
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("error: could not write") and "No space left" in error and "intact" in error
        assert load_checkpoint(disk / "resnet-v2-epochs" / "checkpoint.pt")["epoch"] == 1
        InceptionResNetV2.from_pretrained(disk / "resnet-v2-epochs" / "epoch-001")
        assert not list((disk / "resnet-v2-epochs").glob(".*.tmp"))


def test_two_rank_gloo_ddp_run_completes(kaggle_data: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "train", "--data", str(kaggle_data), "--output-dir", str(tmp_path), "--epochs", "1",
         "--device", "cpu", *FAST_FLAGS],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "world size 2" in result.stderr
    checkpoint = load_checkpoint(tmp_path / "resnet-v2-epochs" / "checkpoint.pt")
    assert checkpoint["global_step"] == 42 // (8 * 2) and len(checkpoint["rng"]) == 2


def test_evaluate_prints_json_with_the_documented_keys(trained: Path, kaggle_data: Path, tmp_path: Path) -> None:
    export = run_module("train.export", "--model", str(trained / "resnet-v2-epochs" / "best"),
                        "--out", str(tmp_path / "model"), "--data", str(kaggle_data / "images" / "validation"),
                        "--tta", "flip", "--fp16", "--history", str(trained / "history.json"))
    assert export.returncode == 0, export.stderr
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"config.json", "README.md", "confusion_matrix.png", "training_history.csv"} <= files
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    card = (tmp_path / "model" / "README.md").read_text()
    assert f"accuracy: **{config['metrics']['accuracy']:.4f}**" in card and "- optimizer: adam (amsgrad)" in card

    result = run_module("train.evaluate", "--model", str(tmp_path / "model"), "--data",
                        str(kaggle_data / "images" / "validation"), "--tta", "flip", "--json",
                        "--confusion-png", str(tmp_path / "cm.png"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(report)
    assert report["num_images"] == 14 and sum(map(sum, report["confusion_matrix"])) == 14
    assert report["accuracy"] == pytest.approx(config["metrics"]["accuracy"], abs=1 / 14)
    assert (tmp_path / "cm.png").stat().st_size > 1000
    model = InceptionResNetV2.from_pretrained(tmp_path / "model")
    assert model.training_info["selected_epoch"] >= 1
    recognizer = EmotionRecognizer(model, device="cpu")
    assert len(recognizer.predict(torch.zeros(80, 80, 3, dtype=torch.uint8).numpy()).faces) == 1


def test_data_errors_exit_2_with_the_path(tmp_path: Path) -> None:
    make_face_folder(tmp_path / "images" / "train", ["angri"], per_class=1)
    make_face_folder(tmp_path / "images" / "validation", ["angry"], per_class=1)
    result = run_module("train", "--data", str(tmp_path), "--epochs", "1", *FAST_FLAGS)
    assert result.returncode == 2
    assert "angri: unknown class 'angri'" in result.stderr


LEVERS = ["--ema-decay", "0.5", "--mixup-alpha", "0.2", "--cutmix-alpha", "1.0", "--mix-prob", "0.5",
          "--rotation-deg", "15", "--scale", "0.8", "1.2", "--random-erasing", "0.5", "--class-balance", "sampler",
          "--optimizer", "adamw", "--scheduler", "cosine"]


def test_ema_run_saves_the_average_as_the_model_and_resumes_it(kaggle_data: Path, tmp_path: Path) -> None:
    """EMA + MixUp/CutMix + strong augmentation + balanced sampling: one epoch, then a resumed second one."""
    args = ["--data", str(kaggle_data), "--output-dir", str(tmp_path), *FAST_FLAGS, *LEVERS]
    first = run_module("train", *args, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    epochs_dir = tmp_path / "resnet-v2-epochs"
    checkpoint = load_checkpoint(epochs_dir / "checkpoint.pt")
    assert int(checkpoint["ema"]["n_averaged"]) == 5 // EMA_EVERY_STEPS  # one update every few optimizer steps
    saved = InceptionResNetV2.from_pretrained(epochs_dir / "epoch-001").state_dict()
    key = "stem.conv2d_1a.conv.weight"
    assert torch.equal(saved[key], checkpoint["ema"][f"module.{key}"])  # the average is what is saved ...
    assert not torch.equal(saved[key], checkpoint["model"][key])  # ... not the raw weights
    # with batch-norm statistics recomputed from the training images (6 batches of 8 for 42), not averaged ones
    assert int(saved["stem.conv2d_1a.bn.num_batches_tracked"]) == 6
    row = json.loads((tmp_path / "history.json").read_text())[0]
    assert {"val_accuracy", "raw_val_accuracy", "raw_val_macro_f1"} <= set(row)
    recipe = InceptionResNetV2.from_pretrained(epochs_dir / "best").training_info
    assert recipe["ema_decay"] == 0.5 and recipe["class_balance"] == "sampler"
    assert recipe["augmentation"]["scale"] == [0.8, 1.2] and recipe["cutmix_alpha"] == 1.0

    at = args.index("--ema-decay")
    without_ema = args[:at] + args[at + 2:]
    refused = run_module("train", *without_ema, "--epochs", "2", "--resume")
    assert refused.returncode == 2 and "saved with --ema-decay; resume with it too" in refused.stderr
    assert load_checkpoint(epochs_dir / "checkpoint.pt")["epoch"] == 1  # nothing was touched

    resumed = run_module("train", *args, "--epochs", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert int(load_checkpoint(epochs_dir / "checkpoint.pt")["ema"]["n_averaged"]) == 10 // EMA_EVERY_STEPS


def test_every_config_field_has_a_flag_with_the_same_default() -> None:
    assert parse_args(["--data", "faces"]) == TrainConfig(data=Path("faces"))
    flags = parse_args(["--data", "faces", "--scale", "0.8", "1.2", "--no-hflip", "--ema-decay", "0.999",
                        "--block-repeats", "5", "10", "5"])
    assert flags.augment == Augmentation(scale=(0.8, 1.2), hflip=False)
    assert flags.ema_decay == 0.999 and flags.block_repeats == (5, 10, 5)
    assert parse_args(["--data", "faces", "--augment", "none"]).augment is None


@pytest.mark.parametrize(("flag", "value"), [("--ema-decay", "1"), ("--mix-prob", "1.5"), ("--cutmix-alpha", "-1")])
def test_out_of_range_lever_exits_2_naming_the_flag(flag: str, value: str, tmp_path: Path) -> None:
    result = run_module("train", "--data", str(tmp_path), flag, value)
    assert result.returncode == 2 and f"error: {flag} {float(value)}: expected a value" in result.stderr


def test_mix_collate_gives_soft_targets_on_mixed_batches_only() -> None:
    batch = [(torch.full((3, 8, 8), float(i)), i % 7) for i in range(8)]
    always = _MixCollate(7, TrainConfig(data=Path("x"), cutmix_alpha=1.0, mix_prob=1.0))
    images, targets = always(batch)
    assert images.shape == (8, 3, 8, 8) and targets.shape == (8, 7)
    assert torch.allclose(targets.sum(1), torch.ones(8)) and targets.max() < 1 + 1e-6
    never = _MixCollate(7, TrainConfig(data=Path("x"), mixup_alpha=0.2, mix_prob=0.0))
    _, targets = never(batch)
    assert targets.tolist() == [i % 7 for i in range(8)]


def test_train_returns_with_no_loader_thread_left_running(kaggle_data: Path, tmp_path: Path) -> None:
    """A run stopped mid-epoch leaves no prefetch thread behind: such a thread, still inside a torch op when the
    interpreter exits, aborts the process ('terminate called without an active exception', rc -6)."""
    before = set(threading.enumerate())
    for workers in (0, 1):  # batch 2: 21 batches an epoch, far more than a prefetch queue holds
        train(TrainConfig(data=kaggle_data, output_dir=tmp_path / str(workers), epochs=2, image_size=75,
                          block_repeats=(1, 1, 1), batch_size=2, num_workers=workers, stop_after_steps=2))
    left = [thread for thread in set(threading.enumerate()) - before if not isinstance(thread, TMonitor)]
    for thread in left:  # a thread that is already ending (a closed queue's feeder) gets a moment to finish
        thread.join(timeout=10)
    assert [thread.name for thread in left if thread.is_alive()] == []


def test_too_few_images_for_one_batch_is_an_error_not_an_empty_run(kaggle_data: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    args = ["--data", str(kaggle_data), "--output-dir", str(tmp_path), "--epochs", "1", *FAST_FLAGS]
    assert train_main([*args, "--batch-size", "64"]) == 2  # 42 training images; the later flag wins
    assert "42 training images do not fill one batch of --batch-size 64" in capsys.readouterr().err
    assert not (tmp_path / "resnet-v2-epochs").exists()


def test_a_fresh_run_never_overwrites_a_run_and_resume_keeps_its_settings(trained: Path, kaggle_data: Path,
                                                                          tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(copy)], check=True)
    before = load_checkpoint(copy / "resnet-v2-epochs" / "checkpoint.pt")
    args = ["--data", str(kaggle_data), "--output-dir", str(copy), "--epochs", "3", *FAST_FLAGS]
    assert train_main(args) == 2  # forgot --resume
    error = capsys.readouterr().err
    assert "holds a run already" in error and "pass --resume to continue it" in error
    assert train_main([*args, "--resume", "--block-repeats", "2", "1", "1"]) == 2
    assert "block_repeats: [1, 1, 1] -> [2, 1, 1]" in capsys.readouterr().err
    assert train_main([*args[:-len(FAST_FLAGS) - 2], "--epochs", "2", *FAST_FLAGS, "--resume"]) == 2
    assert "the run has done 2 epochs already; pass --epochs above 2" in capsys.readouterr().err
    assert train_main([*args, "--resume", "--optimizer", "sgd", "--lr", "0.1"]) == 2
    error = capsys.readouterr().err
    assert "lr: 0.001 -> 0.1" in error and "optimizer: adam (amsgrad) -> sgd" in error
    after = load_checkpoint(copy / "resnet-v2-epochs" / "checkpoint.pt")
    assert after["epoch"] == before["epoch"] and torch.equal(after["model"]["classifier.weight"],
                                                             before["model"]["classifier.weight"])
    used = json.loads(before["config"])["training"]["precision"]  # what --precision auto meant on this CPU
    assert used == resolve_precision("auto", torch.device("cpu")) and used in {"bf16", "fp32"}
    assert train_main([*args, "--resume", "--precision", used]) == 0  # naming what auto chose is the same setting
    assert load_checkpoint(copy / "resnet-v2-epochs" / "checkpoint.pt")["epoch"] == 3


@pytest.mark.parametrize(("flags", "message"), [
    (["--log-every-steps", "0"], "--log-every-steps 0: expected a value >= 1"),
    (["--label-smoothing", "5"], "--label-smoothing 5.0: expected a value in [0, 1)"),
    (["--warmup-epochs", "-1"], "--warmup-epochs -1.0: expected a value in [0, --epochs]"),
    (["--batch-size", "0"], "--batch-size 0: expected a value >= 1"),
    (["--scale", "0", "0"], "--scale 0.0 0.0: expected a value of two numbers 0.1 <= LOW <= HIGH <= 10"),
    (["--scale", "1", "1e300"], "--scale 1.0 1e+300: expected a value of two numbers 0.1 <= LOW <= HIGH <= 10"),
    (["--scale", "1.2", "0.8"], "--scale 1.2 0.8: expected a value of two numbers 0.1 <= LOW <= HIGH <= 10"),
    (["--random-erasing", "2"], "--random-erasing 2.0: expected a value in [0, 1]"),
    (["--lr", "inf"], "--lr inf: expected a value that is a finite number"),
    (["--stop-after-steps", "0"], "--stop-after-steps 0: expected a value >= 1"),
    (["--init-from", ""], "--init-from '': expected a value naming a save_pretrained folder or a Hub repo id"),
])
def test_bad_values_are_refused_before_any_work_naming_the_flag(flags: list[str], message: str,
                                                                capsys: pytest.CaptureFixture) -> None:
    assert train_main(["--data", "faces", *flags]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_init_from_starts_at_the_saved_weights_and_records_the_source(trained: Path, kaggle_data: Path,
                                                                       tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    source = trained / "resnet-v2-epochs" / "best"
    start = InceptionResNetV2.from_pretrained(source).state_dict()
    args = ["--data", str(kaggle_data), "--output-dir", str(tmp_path), "--epochs", "1", "--stop-after-steps", "1",
            "--lr", "1e-9", *FAST_FLAGS]  # one step of Adam at 1e-9 moves each weight by about 1e-9
    monkeypatch.chdir(source.parent)
    assert train_main([*args, "--init-from", "best"]) == 0
    tuned = InceptionResNetV2.from_pretrained(tmp_path / "resnet-v2-epochs" / "epoch-001")
    assert tuned.training_info["init_from"] == str(source.resolve())  # a folder as its absolute path, Hub id as is
    for name in ("classifier.weight", "stem.conv2d_1a.conv.weight", "conv2d_7b.conv.weight"):
        assert torch.allclose(tuned.state_dict()[name], start[name], atol=1e-6), name


def test_init_from_refuses_a_missing_folder_or_another_network_before_any_work(trained: Path, kaggle_data: Path,
                                                                              tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture) -> None:
    other_labels = tmp_path / "three-classes"
    InceptionResNetV2(num_classes=3, image_size=75, block_repeats=(1, 1, 1)).save_pretrained(other_labels)
    source = trained / "resnet-v2-epochs" / "best"
    cases = [
        (tmp_path / "nowhere", [], "--init-from {0}: no such folder; expected a folder written by save_pretrained "
                                   "or a Hub repo id"),
        (source / "config.json", [], "--init-from {0}: a file, not a folder"),
        (trained, [], "--init-from {0}: no config.json there; expected a folder written by save_pretrained (a "
                      "training run's model is its resnet-v2-epochs/best)"),  # the run's folder, not its model folder
        (source, ["--block-repeats", "2", "1", "1"], "--init-from {0}: another network than this run's "
                                                     "(block_repeats [1, 1, 1] there, [2, 1, 1] here)"),
        (other_labels, [], "--init-from {0}: another network than this run's (labels ['class_0', 'class_1', "
                           "'class_2'] there, ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'] "
                           "here)"),
    ]
    for init, flags, message in cases:
        out = tmp_path / "run"
        assert train_main(["--data", str(kaggle_data), "--output-dir", str(out), "--epochs", "1", *FAST_FLAGS,
                           *flags, "--init-from", str(init)]) == 2
        error = capsys.readouterr().err
        assert message.format(init) in error and error.count("\n") == 1, error  # one line
        assert not (out / "resnet-v2-epochs").exists()


def test_init_from_at_another_image_size_loads_and_warns(trained: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = trained / "resnet-v2-epochs" / "best"  # trained at 75 px
    model = InceptionResNetV2(image_size=96, block_repeats=(1, 1, 1))
    load_initial_weights(model, str(source))
    assert torch.equal(model.classifier.weight, InceptionResNetV2.from_pretrained(source).classifier.weight)
    assert f"--init-from {source} was trained at 75 px; this run trains at 96 px (pass --image-size 75" in caplog.text
