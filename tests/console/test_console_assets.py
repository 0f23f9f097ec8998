"""The console's vendored front-end files (pipeline/console/static/vendor): the locked versions."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.console.player import around


def test_vendored_echarts_is_the_locked_version() -> None:
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/echarts"]["version"]
    vendor = PROJECT_ROOT / "pipeline" / "console" / "static" / "vendor"
    assert f'.version="{locked}"' in (vendor / "echarts.min.js").read_text(encoding="utf-8")
    assert "Apache License" in (vendor / "ECHARTS-LICENSE").read_text(encoding="utf-8")
    assert Path(vendor / "ZRENDER-LICENSE").is_file()


def test_the_claim_is_cut_out_of_its_sentence_to_be_marked() -> None:
    assert around("这款面霜能美白祛斑，效果很好", "美白祛斑") == ("这款面霜能", "美白祛斑", "，效果很好")
    assert around("全网最低价", "") == ("全网最低价", "", "")
    assert around("说法变了", "最低价") == ("说法变了", "", "")
