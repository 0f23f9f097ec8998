"""Evidence bundles on both stores: contents as they stood, signature, tamper detection, scope, CLI."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipeline.commands.main import main
from pipeline.config import Settings
from pipeline.reporting.evidence import (
    MANIFEST,
    Subject,
    Verification,
    build_bundle,
    collect_cases,
    verify_bundle,
)
from pipeline.reporting.scope import Period, Scope
from pipeline.reporting.signing import fingerprint, load_or_create_key, public_pem
from pipeline.speech.clips import duration_s
from pipeline.warehouse import Store
from tests import scenario
from tests.evidence_support import MALFORMED_MANIFESTS, forge, rewrite, signed_zip, zip_bomb
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
        cases,
        key,
        subject=subject,
        created_by="test",
        context_s=10.0,
        clip_padding_s=1.5,
        timezone="Asia/Shanghai",
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
    # times in the console's time zone (Beijing), as the officer saw them, with the zone named
    local = EFFICACY.ts.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{local:%Y-%m-%d %H:%M:%S}" in report
    assert "Asia/Shanghai" in report
    assert "(UTC)" not in report
    manifest = json.loads(zf.read(MANIFEST))
    assert manifest["key_id"] == fingerprint(key)
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
    trusted = key.public_key()
    assert verify_bundle(rewrite(data, {"extra.txt": b"planted"}), trusted).problems
    assert verify_bundle(rewrite(data, {f"audio/{EFFICACY.event_id}.wav": None}), trusted).problems
    assert verify_bundle(data[:-10], trusted).problems


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
    assert result.consistent  # internally consistent...
    assert result.trusted is False  # ...but not signed by this installation
    assert not result.ok


def test_scope_decides_what_can_be_exported(seeded: Store, key: Ed25519PrivateKey) -> None:
    from pipeline.reporting.evidence import EvidenceError

    with pytest.raises(EvidenceError, match="that you may see"):
        bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id), Scope.only("mcn-rival"))
    with pytest.raises(EvidenceError):
        bundle_of(seeded, key, Subject(anchor_id="anchor-xiaomei", period=NOVEMBER), Scope.only("mcn-rival"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_documented_openssl_recipe_checks_against_the_published_key(
    seeded: Store, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """docs/console.md: the signature against the key the certification body published (never the
    bundle's own), and the bundle key's fingerprint with standard tools."""
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    published = tmp_path / "certification-body.pem"
    published.write_bytes(public_pem(key))
    genuine, forged = tmp_path / "genuine", tmp_path / "forged"
    zipfile.ZipFile(io.BytesIO(data)).extractall(genuine)
    zipfile.ZipFile(io.BytesIO(forge(data, {}, Ed25519PrivateKey.generate()))).extractall(forged)
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(published), "-rawin"]
    for folder, verdict in (
        (genuine, "Signature Verified Successfully"),
        (forged, "Signature Verification Failure"),
    ):
        out = subprocess.run([*command, "-in", "manifest.json", "-sigfile", "manifest.sig"], cwd=folder,
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert verdict in out.stdout, out.stdout + out.stderr
    recipe = "openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum | cut -c1-32"
    out = subprocess.run(recipe, shell=True, cwd=genuine, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fingerprint(key)


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
    assert "verified" in checked.output
    assert "(trusted: this installation" in checked.output
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rewrite(out.read_bytes(), {"report.html": b"<p>nothing to see</p>"}))
    failed = runner.invoke(main, ["evidence", "verify", str(tampered)], env=env)
    assert failed.exit_code == 1
    assert "report.html: changed" in failed.output
    audit = seeded.query("SELECT action, target FROM audit_log WHERE action = 'evidence.export'")
    assert audit == [{"action": "evidence.export", "target": "anchor anchor-xiaomei in 2026-11"}]
    usage = runner.invoke(main, ["evidence", "export", "--out", str(out)], env=env)
    assert usage.exit_code == 2


# -- the trust model: who signed is checked against a key pinned out of band ----------------------


def test_a_forged_bundle_does_not_verify_on_an_auditors_machine(
    seeded: Store, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """The auditor has no installation key: without a pinned key nothing is 'valid' and the exit
    status is not 0; with the certification body's fingerprint pinned the forgery fails."""
    data = bundle_of(seeded, key, Subject(violation_id=EFFICACY.event_id))
    change = {f"transcripts/{EFFICACY.event_id}.json": b'{"context_s": 10.0, "segments": []}'}
    forged, genuine = tmp_path / "forged.zip", tmp_path / "genuine.zip"
    forged.write_bytes(forge(data, change, Ed25519PrivateKey.generate()))
    genuine.write_bytes(data)
    runner = CliRunner()
    auditor = {"CLAIMWATCH_DATA_DIR": str(tmp_path / "auditor")}

    unpinned = runner.invoke(main, ["evidence", "verify", str(forged)], env=auditor)
    assert unpinned.exit_code == 3, unpinned.output
    assert "NOT verified" in unpinned.output
    assert "valid," not in unpinned.output
    assert "checked:" in unpinned.output
    assert "not checked:" in unpinned.output

    pins = tmp_path / "trusted-keys.txt"
    pins.write_text(f"# published by the certification body\n{fingerprint(key)} certification body\n")
    pinned = {**auditor, "CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE": str(pins)}
    refused = runner.invoke(main, ["evidence", "verify", str(forged)], env=pinned)
    assert refused.exit_code == 1, refused.output
    assert "NOT signed by a trusted key" in refused.output
    verified = runner.invoke(main, ["evidence", "verify", str(genuine)], env=pinned)
    assert verified.exit_code == 0, verified.output
    assert f"{fingerprint(key)} (trusted: certification body)" in verified.output

    by_option = ["evidence", "verify", "--trust", fingerprint(key), str(genuine)]
    assert runner.invoke(main, by_option, env=auditor).exit_code == 0
    by_option[3] = fingerprint(Ed25519PrivateKey.generate())
    assert runner.invoke(main, by_option, env=auditor).exit_code == 1


def test_the_signing_key_is_published_and_rotated(
    seeded: Store, store_settings: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {**env_of(store_settings), "CLAIMWATCH_EVIDENCE_KEY_FILE": str(tmp_path / "keys" / "k.pem")}
    shown = runner.invoke(main, ["evidence", "key"], env=env)
    assert shown.exit_code == 0, shown.output
    pins = [line for line in shown.output.splitlines() if line and not line.startswith("#")]
    first = pins[0].split()[0]
    assert len(first) == 32
    assert "current" in pins[0]
    pem = runner.invoke(main, ["evidence", "key", "--pem"], env=env).output
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")

    def export(name: str) -> Path:
        out = tmp_path / name
        args = ["evidence", "export", "--violation", EFFICACY.event_id, "--out", str(out)]
        assert runner.invoke(main, args, env=env).exit_code == 0
        return out

    old = export("old.zip")
    assert json.loads(zipfile.ZipFile(old).read(MANIFEST))["key_id"] == first
    rotated = runner.invoke(main, ["evidence", "key", "--rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    after = runner.invoke(main, ["evidence", "key"], env=env).output
    second = next(line.split()[0] for line in after.splitlines() if "current" in line)
    assert second != first
    assert any(line.startswith(first) and "retired" in line for line in after.splitlines())
    new = export("new.zip")
    assert json.loads(zipfile.ZipFile(new).read(MANIFEST))["key_id"] == second
    for bundle in (old, new):  # the installation trusts its retired keys for the bundles they signed
        checked = runner.invoke(main, ["evidence", "verify", str(bundle)], env=env)
        assert checked.exit_code == 0, checked.output
    pinned_file = tmp_path / "pins.txt"
    pinned_file.write_text(after)  # what `evidence key` prints is a trust file an auditor can pin
    auditor = {
        "CLAIMWATCH_DATA_DIR": str(tmp_path / "a"),
        "CLAIMWATCH_EVIDENCE_TRUSTED_KEYS_FILE": str(pinned_file),
    }
    for bundle in (old, new):
        assert runner.invoke(main, ["evidence", "verify", str(bundle)], env=auditor).exit_code == 0


# -- malformed bundles through the command line: a reason and exit 1, never a traceback ----------


@pytest.mark.parametrize("manifest", [*MALFORMED_MANIFESTS, None], ids=[*map(str, range(6)), "garbage-key"])
def test_malformed_bundles_fail_in_the_cli_with_a_reason(
    key: Ed25519PrivateKey, tmp_path: Path, manifest: bytes | None
) -> None:
    if manifest is None:
        data = rewrite(signed_zip(key, b'{"files": []}'), {"public_key.pem": b"garbage"})
        reason = "public_key.pem"
    else:
        data, reason = signed_zip(key, manifest), "manifest.json"
    path = tmp_path / "malformed.zip"
    path.write_bytes(data)
    result = CliRunner().invoke(
        main,
        ["evidence", "verify", "--trust", fingerprint(key), str(path)],
        env={"CLAIMWATCH_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"FAIL {reason}" in result.output


# -- zip bombs: the members are streamed, capped, and never read before the signature holds -------

BOMB_BYTES = 256 << 20


@pytest.fixture(scope="module")
def bomb_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def bomb(bomb_key: Ed25519PrivateKey) -> bytes:
    return zip_bomb(bomb_key, BOMB_BYTES)


def peak_memory(action: Callable[[], Verification]) -> tuple[Verification, int]:
    """What ``action`` returns, and the most memory Python held meanwhile (bytes)."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_hashed_in_bounded_memory(bomb: bytes, bomb_key: Ed25519PrivateKey) -> None:
    assert len(bomb) < 1 << 20
    result, peak = peak_memory(lambda: verify_bundle(bomb, bomb_key.public_key()))
    assert result.ok, result.problems
    assert peak < 16 << 20, f"peak {peak >> 20} MiB while verifying a {BOMB_BYTES >> 20} MiB member"


def test_a_zip_bomb_past_the_unpacked_limit_is_not_read(bomb: bytes, bomb_key: Ed25519PrivateKey) -> None:
    started = time.monotonic()
    result = verify_bundle(bomb, bomb_key.public_key(), max_unpacked_bytes=64 << 20)
    assert time.monotonic() - started < 0.5
    assert any("more than the" in p for p in result.problems), result.problems


def test_members_are_not_read_before_the_signature_holds(bomb_key: Ed25519PrivateKey) -> None:
    badly_signed = zip_bomb(bomb_key, BOMB_BYTES, sign_with=Ed25519PrivateKey.generate())
    started = time.monotonic()
    result, peak = peak_memory(lambda: verify_bundle(badly_signed, bomb_key.public_key()))
    assert time.monotonic() - started < 0.5
    assert peak < 4 << 20
    assert result.problems[0].startswith("bad signature"), result.problems
    untrusted = verify_bundle(zip_bomb(bomb_key, 8 << 20), Ed25519PrivateKey.generate().public_key(),
                              read_untrusted=False)  # fmt: skip
    assert untrusted.trusted is False
    assert not untrusted.files_checked
