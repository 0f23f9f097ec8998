"""Archive names (pipeline.speech.archive) are injective: two stream ids never share a file, and a
stream's archive is not continued by another MCN's ingest (issue 16, item 5)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import AudioError
from pipeline.speech.archive import archive_path, plan_part

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_safe_id_keeps_its_name() -> None:
    assert archive_path(Path("/a"), "room-1.2_x") == Path("/a/room-1.2_x.ogg")


ALIKE = [("a/b", "a_b"), ("a/b", "a:b"), ("直播间", "___"), ("x+2", "x_2"), ("../x", "___x"), ("", "_")]


@pytest.mark.parametrize("ids", [*ALIKE, (".x", "_x")])
def test_ids_that_sanitise_alike_get_distinct_archives(ids: tuple[str, str]) -> None:
    first, second = (archive_path(Path("/a"), i) for i in ids)
    assert first != second
    for path in (first, second):
        assert path.parent == Path("/a")
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._~-]*\.ogg", path.name), path.name


def test_an_unsafe_id_is_named_by_its_hash() -> None:
    assert re.fullmatch(r"a_b~[0-9a-f]{16}\.ogg", archive_path(Path("/a"), "a/b").name)


def test_streams_whose_ids_sanitise_alike_each_get_a_first_part(tmp_path: Path) -> None:
    one = plan_part(tmp_path, "a/b", T0, "one.wav", digest="1", now=None, mcn_id="mcn-1")
    two = plan_part(tmp_path, "a_b", T0, "two.wav", digest="2", now=None, mcn_id="mcn-2")
    assert one.archive != two.archive
    assert (one.part.start_s, two.part.start_s) == (0.0, 0.0)
    assert one.path.name == one.archive.name
    assert two.path.name == two.archive.name


def test_the_parts_list_names_the_mcn_and_another_mcn_cannot_continue_the_archive(tmp_path: Path) -> None:
    first = plan_part(tmp_path, "s1", T0, "one.wav", digest="1", now=None, mcn_id="mcn-1")
    listed = json.loads((tmp_path / "s1+parts.json").read_text(encoding="utf-8"))
    assert listed["mcn_id"] == "mcn-1"
    first.path.write_bytes(b"")  # the part's file (empty: its end is read as 0 s)
    with pytest.raises(AudioError, match="mcn-1"):
        plan_part(tmp_path, "s1", T0, "two.wav", digest="2", now=None, mcn_id="mcn-2")
    again = plan_part(tmp_path, "s1", T0, "two.wav", digest="2", now=None, mcn_id="mcn-1")
    assert again.path.name == "s1+2.ogg"


def test_a_parts_list_written_before_it_named_the_mcn_is_still_read(tmp_path: Path) -> None:
    plan_part(tmp_path, "s1", T0, "one.wav", digest="1", now=None, mcn_id="mcn-1")
    listed = tmp_path / "s1+parts.json"
    data = json.loads(listed.read_text(encoding="utf-8"))
    del data["mcn_id"]
    data["parts"][0]["end_s"], data["parts"][0]["next_seq"] = 5.0, 50
    listed.write_text(json.dumps(data), encoding="utf-8")
    again = plan_part(tmp_path, "s1", T0, "two.wav", digest="2", now=None, mcn_id="mcn-2")
    assert (again.path.name, again.part.start_s) == ("s1+2.ogg", 5.0)
