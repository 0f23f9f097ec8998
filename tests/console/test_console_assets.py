"""The console's vendored front-end files (pipeline/console/static/vendor): the locked versions."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import PROJECT_ROOT


def test_vendored_echarts_is_the_locked_version() -> None:
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/echarts"]["version"]
    vendor = PROJECT_ROOT / "pipeline" / "console" / "static" / "vendor"
    assert f'.version="{locked}"' in (vendor / "echarts.min.js").read_text(encoding="utf-8")
    assert "Apache License" in (vendor / "ECHARTS-LICENSE").read_text(encoding="utf-8")
    assert Path(vendor / "ZRENDER-LICENSE").is_file()
