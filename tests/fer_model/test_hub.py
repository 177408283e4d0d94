"""safetensors round trips, the offline Hub cache, push_to_hub at the HTTP boundary, and load errors."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from fer_model import InceptionResNetV2, ModelLoadError

from .fake_hub import FakeHub

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (Hub settings are read once at import) with extra env vars."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=ROOT,
    )


def test_save_load_round_trip_is_exact(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names[:3] == ["README.md", "config.json", "model-00001-of-00002.safetensors"]  # 60 MB fp32: two shards
    assert names[3:] == ["model-00002-of-00002.safetensors", "model.safetensors.index.json"]
    loaded = InceptionResNetV2.from_pretrained(tmp_path / "m")
    x = torch.randn(2, 3, 75, 75)
    with torch.inference_mode():
        assert torch.equal(tiny_model(x), loaded(x))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["labels"][0] == "angry" and config["block_repeats"] == [1, 1, 1] and config["image_size"] == 75


def test_full_model_is_sharded_under_50_mb_and_reloads(tmp_path: Path) -> None:
    model = InceptionResNetV2().eval()
    model.half().save_pretrained(tmp_path / "m")
    shards = sorted((tmp_path / "m").glob("model-*.safetensors"))
    assert len(shards) >= 2
    assert all(shard.stat().st_size < 50 * 1024 * 1024 for shard in shards)
    assert (tmp_path / "m" / "model.safetensors.index.json").is_file()
    loaded = InceptionResNetV2.from_pretrained(tmp_path / "m")
    assert loaded.classifier.weight.dtype == torch.float32
    assert torch.equal(loaded.classifier.weight, model.classifier.weight.float())


def test_model_card_describes_the_model(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert "library_name: fer_model" in card
    assert "angry, disgust, fear, happy, neutral, sad, surprise" in card
    assert "Not for decisions about people" in card
    assert "**Untrained**" in card
    metrics = {"accuracy": 0.66, "macro_f1": 0.6, "num_images": 3589, "per_class": {"happy": {"f1": 0.9}}}
    trained = InceptionResNetV2(block_repeats=(1, 1, 1), metrics=metrics, training={"epochs": 20})
    trained.save_pretrained(tmp_path / "t")
    card = (tmp_path / "t" / "README.md").read_text()
    assert "accuracy: **0.6600**" in card and "- epochs: 20" in card and "| happy | 0.000 | 0.000 | 0.900 |" in card
    assert "(3589 images, single view)" in card and "test-time augmentation" not in card


@pytest.mark.parametrize(("tta", "phrase"), [("none", "(3589 images, single view)"),
                                             ("flip", "(3589 images, flip test-time augmentation)")])
def test_model_card_names_the_views_the_metrics_used(tta: str, phrase: str, tmp_path: Path) -> None:
    metrics = {"accuracy": 0.66, "macro_f1": 0.6, "num_images": 3589, "tta": tta}
    InceptionResNetV2(block_repeats=(1, 1, 1), metrics=metrics).save_pretrained(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert phrase in card and "none test-time" not in card
    assert ("name: Accuracy (flip test-time augmentation)" in card) == (tta == "flip")


def test_from_pretrained_resolves_a_repo_id_from_the_offline_cache(tiny_model: InceptionResNetV2,
                                                                  tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    tiny_model.save_pretrained(saved)
    commit = "a" * 40
    repo = tmp_path / "hub" / "models--fer--tiny"
    shutil.copytree(saved, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    torch.save(torch.randn(2, 3, 75, 75), tmp_path / "x.pt")
    with torch.inference_mode():
        expected = tiny_model(torch.load(tmp_path / "x.pt", weights_only=True))
    torch.save(expected, tmp_path / "expected.pt")
    code = f"""
import torch
from fer_model import InceptionResNetV2
model = InceptionResNetV2.from_pretrained("fer/tiny")
x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True)
with torch.inference_mode():
    assert torch.equal(model(x), torch.load({str(tmp_path / 'expected.pt')!r}, weights_only=True))
print("ok")
"""
    result = run_python(code, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    missing = run_python(
        "from fer_model import InceptionResNetV2; InceptionResNetV2.from_pretrained('fer/absent')",
        HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"),
    )
    assert missing.returncode != 0 and "fer/absent" in missing.stderr


def test_push_to_hub_uploads_config_weights_and_card(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    code = f"""
from fer_model import InceptionResNetV2
model = InceptionResNetV2.from_pretrained({str(tmp_path / 'm')!r})
model.push_to_hub("someone/fer-tiny", token="hf_fake")
"""
    with FakeHub() as hub:
        result = run_python(code, HF_ENDPOINT=hub.url, HF_HUB_DISABLE_XET="1")
    assert result.returncode == 0, result.stderr
    assert len(hub.commits) == 1
    commit = hub.commits[0]
    assert "/api/models/someone/fer-tiny/commit/main" in commit["path"]
    saved = {p.name for p in (tmp_path / "m").iterdir()}
    assert set(commit["files"]) == saved
    assert json.loads(commit["files"]["config.json"])["block_repeats"] == [1, 1, 1]
    index = json.loads(commit["files"]["model.safetensors.index.json"])
    shard = index["weight_map"]["classifier.weight"]
    (tmp_path / "uploaded.safetensors").write_bytes(commit["files"][shard])
    uploaded = load_file(tmp_path / "uploaded.safetensors")
    assert torch.equal(uploaded["classifier.weight"], tiny_model.classifier.weight)


def test_missing_weights_is_a_clear_error(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    for weights in (tmp_path / "m").glob("model*"):
        weights.unlink()
    with pytest.raises(ModelLoadError, match=r"no model\.safetensors"):
        InceptionResNetV2.from_pretrained(tmp_path / "m")


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\x80\x04\x95pickle"])
def test_corrupt_weights_are_a_clear_error(tiny_model: InceptionResNetV2, tmp_path: Path, content: bytes) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model-00001-of-00002.safetensors").write_bytes(content)
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        InceptionResNetV2.from_pretrained(tmp_path / "m")


def test_truncated_weights_are_a_clear_error(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model-00002-of-00002.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        InceptionResNetV2.from_pretrained(tmp_path / "m")


@pytest.mark.parametrize(("field", "value"), [("num_classes", "seven"), ("image_size", 12.5), ("labels", "angry")])
def test_config_with_wrong_types_names_file_and_field(tiny_model: InceptionResNetV2, tmp_path: Path,
                                                      field: str, value: object) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config[field] = value
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=rf"config.json: {field}"):
        InceptionResNetV2.from_pretrained(tmp_path / "m")


def test_weights_of_another_shape_are_a_clear_error(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(num_classes=5, labels=list("abcde"))
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path / "m")
    assert str(raised.value) == (f"{tmp_path / 'm'}: weights do not fit this model's config.json: 2 of another shape "
                                 "(classifier.weight [7, 1536] in the file, [5, 1536] here, classifier.bias [7] in the "
                                 "file, [5] here)")


def remove_weights(folder: Path) -> None:
    for path in [*folder.glob("model*.safetensors"), *folder.glob("model.safetensors.index.json")]:
        path.unlink()


def test_config_with_unknown_keys_names_them(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_clases": 7}))
    with pytest.raises(ModelLoadError, match=r"config.json: unknown keys \['num_clases'\]; the keys of this model"):
        InceptionResNetV2.from_pretrained(tmp_path)


def test_labels_that_do_not_match_num_classes(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "labels": ["happy", "sad"]}))
    with pytest.raises(ModelLoadError, match=r"config.json: labels: expected a list of 7 class names"):
        InceptionResNetV2.from_pretrained(tmp_path)


def test_weights_of_another_architecture_are_refused(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    import torchvision

    tiny_model.save_pretrained(tmp_path)
    remove_weights(tmp_path)
    resnet = torchvision.models.resnet18(num_classes=7).state_dict()
    save_file({key: value.contiguous() for key, value in resnet.items()}, tmp_path / "model.safetensors")
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path)
    assert str(raised.value) == (  # one line: counts and the first three names of each kind, not ~360 keys
        f"{tmp_path}: weights do not fit this model's config.json: 236 missing (stem.conv2d_1a.conv.weight, "
        "stem.conv2d_1a.bn.weight, stem.conv2d_1a.bn.bias, ...); 122 unexpected (bn1.bias, bn1.num_batches_tracked, "
        "bn1.running_mean, ...)")


def test_pickled_weights_are_never_unpickled(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path)
    remove_weights(tmp_path)
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelLoadError, match=r"pickled \.bin/\.pt weights are not loaded"):
        InceptionResNetV2.from_pretrained(tmp_path)
    assert not marker.exists()


def test_missing_repo_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "no-such-user/no-such-model"
    with pytest.raises(ModelLoadError, match=rf"{name}: not a model folder here and not loadable from the"):
        InceptionResNetV2.from_pretrained(name, local_files_only=True)


@pytest.mark.parametrize("name", ["/no/such/folder", "./no-such-folder", "../no/such", ""])
def test_missing_folder_that_cannot_be_a_repo_id_is_said_so(name: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(name)
    assert str(raised.value) == f"{name or repr(name)}: no such folder; expected a folder written by save_pretrained " \
                                "or a Hub repo id"


def test_a_folder_under_home_given_with_a_tilde_loads(tiny_model: InceptionResNetV2, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``--model=~/m`` reaches us unexpanded (the shell expands ~ only at a word's start)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    tiny_model.save_pretrained(tmp_path / "m")
    loaded = InceptionResNetV2.from_pretrained("~/m")
    assert torch.equal(loaded.classifier.weight, tiny_model.classifier.weight)
    with pytest.raises(ModelLoadError, match=rf"^{re.escape(str(tmp_path / 'elsewhere'))}: no such folder"):
        InceptionResNetV2.from_pretrained("~/elsewhere")


def test_only_the_weight_files_save_pretrained_writes_are_read(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    """Another *.safetensors beside them is ignored; a single file and shards together, or a tensor in two shards,
    are refused: which copy would load is not clear (the loader's order of shards is a set's)."""
    tiny_model.save_pretrained(tmp_path / "m")
    save_file({"classifier.weight": torch.zeros(7, 1536)}, tmp_path / "m" / "ema.safetensors")
    assert torch.equal(InceptionResNetV2.from_pretrained(tmp_path / "m").classifier.weight,
                       tiny_model.classifier.weight)
    index = json.loads((tmp_path / "m" / "model.safetensors.index.json").read_text())
    first, second = sorted(set(index["weight_map"].values()))
    (tmp_path / "m" / "ema.safetensors").unlink()
    save_file({"classifier.bias": torch.full((7,), 42.0)}, tmp_path / "m" / "model.safetensors")
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path / "m")
    assert str(raised.value) == (f"{tmp_path / 'm'}: both model.safetensors and model.safetensors.index.json; "
                                 "expected one (save_pretrained writes either, so which weights are meant is unclear)")
    (tmp_path / "m" / "model.safetensors").unlink()
    shard = load_file(tmp_path / "m" / second)
    save_file({**shard, "stem.conv2d_1a.conv.weight": torch.zeros(32, 3, 3, 3)}, tmp_path / "m" / second)
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path / "m")
    assert str(raised.value) == f"{tmp_path / 'm' / second}: tensors also in another shard: stem.conv2d_1a.conv.weight"
    assert "stem.conv2d_1a.conv.weight" in load_file(tmp_path / "m" / first)


def test_a_file_or_a_folder_without_config_is_said_so(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path / "m" / "config.json")
    assert str(raised.value) == (f"{tmp_path / 'm' / 'config.json'}: a file, not a folder; expected a folder written "
                                 "by save_pretrained or a Hub repo id")
    (tmp_path / "m" / "config.json").unlink()  # the weights alone: the defaults would be a guess (7 classes, 299 px)
    with pytest.raises(ModelLoadError) as raised:
        InceptionResNetV2.from_pretrained(tmp_path / "m")
    assert str(raised.value) == (f"{tmp_path / 'm'}: no config.json there; expected a folder written by save_pretrained"
                                 " (a training run's model is its resnet-v2-epochs/best)")


@pytest.mark.parametrize("config", ["[1, 2]", "null", '"a string"'])
def test_hub_repo_whose_config_is_not_an_object_is_a_clear_error(tiny_model: InceptionResNetV2, tmp_path: Path,
                                                                 config: str) -> None:
    commit = "b" * 40
    snapshot = tmp_path / "hub" / "models--fer--odd" / "snapshots" / commit
    tiny_model.save_pretrained(snapshot)
    (snapshot / "config.json").write_text(config)
    (tmp_path / "hub" / "models--fer--odd" / "refs").mkdir()
    (tmp_path / "hub" / "models--fer--odd" / "refs" / "main").write_text(commit)
    result = run_python("from fer_model import InceptionResNetV2; InceptionResNetV2.from_pretrained('fer/odd')",
                        HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"))
    assert result.returncode != 0
    assert "ModelLoadError" in result.stderr and "expected a JSON object of config keys" in result.stderr
    assert "AttributeError" not in result.stderr
