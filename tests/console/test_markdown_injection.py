"""Markdown injection (issue 13 #7): a user- or MLflow-supplied string shown through markdown is
escaped — no live link, no remote image, no HTML — in query parameters and in stored run tags."""

from __future__ import annotations

import re

import pytest

from components.text import code, md
from services.demo import seed as demo
from services.registry.mlflow_client import make_client
from tests.support.app import app_test, assert_no_exception

PAYLOAD = "[Session expired - sign in again](http://127.0.0.1:9/phish) ![px](http://127.0.0.1:9/pixel.png)"


def _sources(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "warning", "info", "error", "success", "subheader"):
        out += [e.value for e in getattr(at, kind)]
    for m in at.metric:
        out += [m.label, str(m.value)]
    return out


_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)  # inline code spans: shown literally


def _live(sources: list[str]) -> list[str]:
    # outside code spans, an unescaped "](" or "![" is a link / image in markdown; "<img" HTML
    bare = [_CODE.sub("", s) for s in sources]
    return [s for s in bare if "](" in s or "![" in s or "<img" in s.lower() or "http://127" in s]


def test_md_escapes_links_images_html_and_directives():
    out = md(PAYLOAD)
    assert "](" not in out and "![" not in out and "http://" not in out
    assert md("<img src=x onerror=alert(1)>").startswith("\\<img")
    assert ":red[" not in md(":red[alarm] :material/warning:")
    assert "\n" not in md("line\nbreak") and len(md("x" * 1000)) <= 300
    assert code("a`b") == "``a`b``"


@pytest.mark.parametrize(
    "page,params",
    [
        ("pages/runs.py", {"experiment": PAYLOAD}),
        ("pages/runs.py", {"run": PAYLOAD}),
        ("pages/leaderboard.py", {"experiment": PAYLOAD}),
        ("pages/leaderboard.py", {"run": PAYLOAD}),
    ],
)
def test_query_parameters_are_escaped(demo_settings, monkeypatch, page, params):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test(page, {"model": demo.MODEL_NAME, **params}).run()
    assert_no_exception(at)
    sources = _sources(at)
    assert any("Session expired" in s for s in sources)  # the text is shown ...
    assert not _live(sources), _live(sources)  # ... as text


def test_stored_trigger_tag_is_escaped(demo_copy, monkeypatch):
    client = make_client(demo_copy)
    manifest = demo.read_manifest(demo_copy.home)
    assert manifest is not None  # the demo wrote its manifest
    pid = manifest["parent_run_id"]
    client.set_tag(pid, "driftgate.trigger", PAYLOAD)
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    for page in ("app.py", "pages/runs.py"):
        at = app_test(page, {"model": demo.MODEL_NAME}).run()
        assert_no_exception(at)
        sources = _sources(at)
        assert any("Session expired" in s for s in sources), page
        assert not _live(sources), (page, _live(sources))
