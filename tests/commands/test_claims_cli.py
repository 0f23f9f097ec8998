"""`claimwatch detect` (DESIGN.md §3.1) and `claimwatch eval claims`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pipeline.commands.main import main
from tests.paths import DATA

DEV = DATA / "claims" / "dev.jsonl"
CONTRACT = {"category", "term", "start", "end", "severity", "rule_id", "legal_basis"}


def test_detect_writes_one_line_per_input_in_order(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    texts = {"a": "全网最低价，这是最好用的面霜", "b": "今天给大家带来四款好物", "c": "这款面霜每白效果好"}
    source.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()), "utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["detect", "--in", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    assert all(set(line) == {"id", "claims"} for line in lines)
    assert lines[1]["claims"] == []
    for line in lines:
        for claim in line["claims"]:
            assert set(claim) == CONTRACT
            assert texts[line["id"]][claim["start"] : claim["end"]] == claim["term"]
    assert {"absolute", "price"} <= {c["category"] for c in lines[0]["claims"]}
    assert [c["term"] for c in lines[2]["claims"]] == ["每白"]


def test_detect_stdin_to_stdout_with_the_full_claims() -> None:
    line = json.dumps({"id": "x", "text": "美白面霜", "source": "listing"}, ensure_ascii=False)
    result = CliRunner().invoke(main, ["detect", "--in", "-", "--out", "-", "--full"], input=line + "\n")
    assert result.exit_code == 0, result.output
    (claim,) = json.loads(result.stdout)["claims"]
    assert claim["requires"] == ["cosmetics_special_registration"]
    assert claim["lexicon_version"].startswith("1.")


def test_detect_reports_bad_lines_and_carries_on(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        '{"id": "a", "text": "最好用"}',
        "not json",
        '{"id": "b"}',
        '{"id": 3, "text": "x"}',
        '{"id": "c", "text": "x", "source": "tv"}',
        '{"id": "d", "text": "招财"}',
    ]
    source.write_text("\n".join(lines) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["detect", "--in", str(source), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{source}:2: not valid JSON" in result.stderr
    assert f"{source}:3: field 'text': is required" in result.stderr
    assert f"{source}:4: field 'id': must be a string" in result.stderr
    assert f"{source}:5: field 'source'" in result.stderr
    assert [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()] == ["a", "d"]


def test_detect_shows_progress_on_long_inputs_written_to_a_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = (json.dumps({"id": str(i), "text": "好物"}) + "\n" for i in range(1200))
    source.write_text("".join(lines), "utf-8")
    result = CliRunner().invoke(main, ["detect", "--in", str(source), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0
    assert "1200/1200" in result.stderr
    quiet = CliRunner().invoke(main, ["detect", "--in", str(source), "--out", "-"])
    assert "1200/1200" not in quiet.stderr


def test_eval_claims_prints_the_figures() -> None:
    result = CliRunner().invoke(main, ["eval", "claims", "--data", str(DEV), "--errors", "3"])
    assert result.exit_code == 0, result.output
    headings = ("precision", "macro-F1", "binary F1", "no-claim lines flagged", "confusions", "superstition")
    for heading in headings:
        assert heading in result.output
    figures = json.loads(CliRunner().invoke(main, ["eval", "claims", "--data", str(DEV), "--json"]).output)
    assert figures["examples"] == 640
    assert figures["macro_f1"] >= 0.92


def test_eval_claims_reports_bad_lines(tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    good = json.dumps({"id": "1", "text": "全网最低价", "labels": ["absolute", "price"]}, ensure_ascii=False)
    data.write_text(good + '\n{"id": "2"}\n', "utf-8")
    result = CliRunner().invoke(main, ["eval", "claims", "--data", str(data)])
    assert result.exit_code == 1
    assert f"{data}:2: field 'text'" in result.stderr
    assert "utterances                1" in result.output


def test_the_console_script_runs_detect() -> None:
    script = Path(sys.executable).parent / "claimwatch"
    out = subprocess.run(
        [str(script), "detect", "--in", "-", "--out", "-"],
        input='{"id": "x", "text": "专家推荐"}\n',
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["claims"][0]["category"] == "authority"
