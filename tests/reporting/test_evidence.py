"""Evidence bundles on both stores: contents as they stood, signature, tamper detection, scope, CLI."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline.commands.main import main
from pipeline.config import Settings
from pipeline.reporting.evidence import MANIFEST, Subject, build_bundle, collect_cases, verify_bundle
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import load_or_create_key, public_pem
from pipeline.speech.clips import duration_s
from pipeline.warehouse import Store
from tests import scenario
from tests.pipeline_harness import env_of

pytestmark = pytest.mark.integration
NOVEMBER = Period.parse(scenario.PERIOD, "Asia/Shanghai")
EFFICACY = next(v for v in scenario.starlight_violations() if v.category == "efficacy_without_registration")


@pytest.fixture
def seeded(store: Store) -> Store:
    scenario.seed(store)
    return store


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return load_or_create_key(tmp_path / "keys" / "evidence.pem")


EVERYTHING = Scope.everything()


def bundle_of(store: Store, key: Ed25519PrivateKey, subject: Subject, scope: Scope = EVERYTHING) -> bytes:
    cases = collect_cases(store, scope, subject, context_s=10.0)
    return build_bundle(
        cases, key, subject=subject, created_by="test", context_s=10.0, clip_padding_s=1.5
    ).data


def test_bundle_of_one_violation_holds_what_stood_at_the_time(seeded: Store, key: Ed25519PrivateKey) -> None:
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    zf = zipfile.ZipFile(io.BytesIO(data))
    vid = EFFICACY.event_id
    record = json.loads(zf.read(f"violations/{vid}.json"))
    assert record["violation"]["category"] == "efficacy_without_registration"
    ledger = json.loads(zf.read(f"ledger/{vid}.json"))
    # imported again after the stream with a renewed filing: the bundle shows the first version
    assert ledger["import_id"] == "import-1"
    assert ledger["raw"]["qualifications"][0]["valid_to"] == "2027-06-30"
    listing = json.loads(zf.read(f"listings/{vid}.json"))
    assert listing["listing_id"] == "L1"
    assert listing["event"] == "explain"
    texts = [s["text"] for s in json.loads(zf.read(f"transcripts/{vid}.json"))["segments"]]
    assert any("美白祛斑" in t for t in texts)
    clip = zf.read(f"audio/{vid}.wav")
    # the sentence with 1.5 s either side (the transcript context is 10 s)
    assert duration_s(clip) == pytest.approx(EFFICACY.end_offset_s - EFFICACY.offset_s + 3, abs=0.1)
    report = zf.read("report.html").decode()
    assert "功效宣称无注册证" in report
    assert f'src="audio/{vid}.wav"' in report
    assert verify_bundle(data, key.public_key()).ok


def test_anchor_period_bundle_and_missing_audio_is_said(seeded: Store, key: Ed25519PrivateKey) -> None:
    rival = bundle_of(seeded, key, Subject(anchor_id="anchor-zhao", period=NOVEMBER))
    names = zipfile.ZipFile(io.BytesIO(rival)).namelist()
    notes = [n for n in names if n.endswith(".missing.txt")]
    assert len(notes) == 3
    assert b"no archived audio" in zipfile.ZipFile(io.BytesIO(rival)).read(notes[0])
    starlight = bundle_of(seeded, key, Subject(anchor_id="anchor-xiaomei", period=NOVEMBER))
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(starlight)).read(MANIFEST))
    assert sum(f["path"].startswith("violations/") for f in manifest["files"]) == 8


def rewrite(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The zip with some members replaced (None: removed) or added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in change:
                if change[name] is not None:
                    dst.writestr(name, change[name])  # type: ignore[arg-type]
            else:
                dst.writestr(name, src.read(name))
        for name, content in change.items():
            if name not in src.namelist() and content is not None:
                dst.writestr(name, content)
    return out.getvalue()


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_any_changed_byte_fails_verification(seeded: Store, key: Ed25519PrivateKey) -> None:
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    members = zipfile.ZipFile(io.BytesIO(data)).namelist()
    for name in members:
        original = zipfile.ZipFile(io.BytesIO(data)).read(name)
        for at in {0, len(original) // 2, len(original) - 1}:
            result = verify_bundle(rewrite(data, {name: flipped(original, at)}), key.public_key())
            assert not result.ok, (name, at)
    assert not verify_bundle(rewrite(data, {"extra.txt": b"planted"})).ok
    assert not verify_bundle(rewrite(data, {f"audio/{EFFICACY.event_id}.wav": None})).ok
    assert not verify_bundle(data[:-10]).ok


def test_every_changed_byte_of_the_public_key_fails_without_raising(
    seeded: Store, key: Ed25519PrivateKey
) -> None:
    """A flipped byte can leave a valid key (another key: bad signature) or break the PEM (its
    reason): either way a result, never an exception."""
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    pem = zipfile.ZipFile(io.BytesIO(data)).read("public_key.pem")
    reasons = set()
    for at in range(len(pem)):
        result = verify_bundle(rewrite(data, {"public_key.pem": flipped(pem, at)}), key.public_key())
        assert not result.ok, at
        reasons.add(result.problems[0].split(":")[0])
    assert "public_key.pem" in reasons  # some flips break the PEM itself, and say so


@pytest.mark.parametrize(
    "manifest",
    [
        b"[]",
        b"1e999999",
        b'{"files": [1]}',
        b'{"files": "abc"}',
        b'{"files": [{"path": ["a"], "sha256": "00", "bytes": 1}]}',
        b"[" * 100_000,
        b'{"files": [{"path": "a", "sha256": "00", "bytes": true}]}',
        b"\xff\xfe not utf-8",
    ],
)
def test_a_malformed_manifest_is_a_reason_not_a_crash(key: Ed25519PrivateKey, manifest: bytes) -> None:
    """Signed with the trusted key, so the signature holds and the manifest's shape is what fails."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(MANIFEST, manifest)
        zf.writestr("manifest.sig", key.sign(manifest))
        zf.writestr("public_key.pem", public_pem(key))
    result = verify_bundle(out.getvalue(), key.public_key())
    assert not result.ok
    assert result.problems[0].startswith(MANIFEST), result.problems


def test_a_garbage_public_key_is_a_reason_not_a_crash(seeded: Store, key: Ed25519PrivateKey) -> None:
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    for garbage in (b"", b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        result = verify_bundle(rewrite(data, {"public_key.pem": garbage}))
        assert not result.ok
        assert result.problems[0].startswith("public_key.pem"), result.problems


def test_a_bundle_re_signed_with_another_key_is_not_trusted(seeded: Store, key: Ed25519PrivateKey) -> None:
    forger = Ed25519PrivateKey.generate()
    forged = bundle_of(seeded, forger, Subject(violation_id=EFFICACY.event_id))
    result = verify_bundle(forged, key.public_key())
    assert result.ok  # internally consistent...
    assert result.trusted is False  # ...but not signed by this installation


def test_scope_decides_what_can_be_exported(seeded: Store, key: Ed25519PrivateKey) -> None:
    from pipeline.reporting.evidence import EvidenceError

    with pytest.raises(EvidenceError, match="that you may see"):
        bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id), Scope.only("mcn-rival"))
    with pytest.raises(EvidenceError):
        bundle_of(seeded, key, Subject(anchor_id="anchor-xiaomei", period=NOVEMBER), Scope.only("mcn-rival"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_signature_checks_with_openssl(seeded: Store, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    zipfile.ZipFile(io.BytesIO(bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id)))).extractall(
        tmp_path
    )
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin"]
    out = subprocess.run([*command, "-in", "manifest.json", "-sigfile", "manifest.sig"], cwd=tmp_path,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert "Signature Verified Successfully" in out.stdout, out.stdout + out.stderr


def test_export_and_verify_commands(seeded: Store, store_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {**env_of(store_settings), "CLAIMWATCH_EVIDENCE_KEY_FILE": str(tmp_path / "k.pem")}
    out = tmp_path / "bundle.zip"
    args = ["evidence", "export", "--anchor", "anchor-xiaomei", "--period", "2026-11", "--out", str(out)]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "8 violation(s)" in result.output
    checked = runner.invoke(main, ["evidence", "verify", str(out)], env=env)
    assert checked.exit_code == 0, checked.output
    assert "the trusted key" in checked.output
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rewrite(out.read_bytes(), {"report.html": b"<p>nothing to see</p>"}))
    failed = runner.invoke(main, ["evidence", "verify", str(tampered)], env=env)
    assert failed.exit_code == 1
    assert "report.html: changed" in failed.output
    audit = seeded.query("SELECT action, target FROM audit_log WHERE action = 'evidence.export'")
    assert audit == [{"action": "evidence.export", "target": "anchor anchor-xiaomei in 2026-11"}]
    usage = runner.invoke(main, ["evidence", "export", "--out", str(out)], env=env)
    assert usage.exit_code == 2
