"""report.html in headless Chromium with networking off: nothing fetched, every chart visible,
a screenshot kept in test-artifacts/ (issue 3). Driven over the DevTools protocol on a pipe."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from helpers import synthetic as S
from helpers.cdp import Chromium

from memreport.render.report import write_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.slow

CHARTS_JS = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect(), cs = getComputedStyle(s);
    return {cls: s.getAttribute('class'), w: r.width, h: r.height, display: cs.display, visibility: cs.visibility,
            paths: s.querySelectorAll('path, rect').length};
  }),
  height: document.documentElement.scrollHeight,
  width: document.documentElement.scrollWidth,
  viewport: window.innerWidth,
  scripts: document.scripts.length,
  title: document.title,
  images: document.images.length,
})"""


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        pytest.fail("chromium missing: bash tests/system_deps.sh (make test does)")
    return binary


def _open(report: Path, tmp_path: Path, width: int = 1100) -> tuple[dict, list[dict], bytes]:
    browser = Chromium(_chromium(), tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network.enable", "Page.enable", "Runtime.enable", "Log.enable"):
            browser.send(domain, session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send("Page.navigate", {"url": report.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired")
        info = json.loads(
            browser.send("Runtime.evaluate", {"expression": CHARTS_JS, "returnByValue": True}, session=session)["result"]["value"]
        )
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(info["height"], 16000), "scale": 1},
            },
            session=session,
        )
        return info, list(browser.events), base64.b64decode(shot["data"])
    finally:
        browser.close()


def test_report_in_chromium_offline(tmp_path: Path) -> None:
    paths = write_report(S.week(), tmp_path / "out", pdf=False)
    info, events, png = _open(paths["html"], tmp_path)

    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
    errors = [e["params"] for e in events if e.get("method") in ("Runtime.exceptionThrown",)]
    log_errors = [
        e["params"]["entry"]
        for e in events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
    ]
    assert requests == [paths["html"].resolve().as_uri()]  # the page itself, nothing else
    assert failed == [] and errors == [] and log_errors == []
    assert info["scripts"] == 0 and info["images"] == 0
    assert info["title"] == "Memory capacity report: kvm-week"

    charts = info["charts"]
    assert [c["cls"].split()[1] for c in charts] == [
        "chart-memory",
        "chart-swap-rates",
        "chart-pressure",
        "chart-ksm",
        "chart-vms",
    ]
    for c in charts:
        assert c["w"] > 400 and c["h"] > 100, c
        assert c["display"] != "none" and c["visibility"] == "visible"
        assert c["paths"] >= 2  # drawn: at least a data line or bars besides the axes
    assert info["width"] <= info["viewport"]  # nothing wider than the window (no horizontal overflow)

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "chromium-report.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 50_000


def test_hostile_names_do_not_run_in_chromium(tmp_path: Path) -> None:
    df = S.samples(n=120)
    vf = S.vms(df["ts"].iloc[::20], [("</td><img src=x onerror=alert(3)>", 2 * 1024**3, 1024**3, 0)])
    paths = write_report(S.host(df, vf, name="<script>alert(1)</script>"), tmp_path / "out", pdf=False)
    info, events, _ = _open(paths["html"], tmp_path, width=900)
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert requests == [paths["html"].resolve().as_uri()]  # no <img src=x> fetched
    assert info["scripts"] == 0 and info["images"] == 0
    assert info["title"] == "Memory capacity report: <script>alert(1)</script>"
    assert not [e for e in events if e.get("method") == "Page.javascriptDialogOpening"]
