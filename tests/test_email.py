"""The report as a mail (issue 6): `memreport email DIR` writes a standards-compliant .eml whose
structure, cid references, PDF attachment and mail-safe HTML are checked by parsing it back with
Python's email package, and whose HTML part is rendered in headless Chromium with the cid images
resolved (screenshot kept in test-artifacts/email-report.png)."""

from __future__ import annotations

import base64
import email
import json
import re
import shutil
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import synthetic as S

from memreport.mail import build_fleet_digest, write_eml
from memreport.mail.html_mail import GMAIL_CLIP_BYTES, subject
from memreport.mail.message import Recipients, build_message
from memreport.render.report import write_report

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of a realistic host: every chart (memory, swap rates, KSM, VMs); swap 1.9 GiB short."""
    out = tmp_path_factory.mktemp("mail") / "kvm-week"
    write_report(S.week(days=2.0, interval_s=30.0), out)
    return out


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def tree(part: EmailMessage) -> object:
    """The MIME structure as nested lists of content types."""
    if part.is_multipart():
        return [part.get_content_type(), [tree(p) for p in part.iter_parts()]]  # type: ignore[arg-type]
    return part.get_content_type()


def html_of(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return body.get_content()  # type: ignore[no-any-return]


def cid_parts(msg: EmailMessage) -> dict[str, EmailMessage]:
    return {p["Content-ID"].strip("<>"): p for p in msg.walk() if p.get("Content-ID")}  # type: ignore[misc]


def test_eml_structure_cids_and_pdf(report_dir: Path, cli) -> None:
    out = report_dir.parent / "out" / "kvm.eml"
    proc = cli(
        "email",
        report_dir,
        "-o",
        out,
        "--to",
        "ops@example.com",
        "--cc",
        "cap@example.com",
        "--from",
        "memreport@example.com",
        check=True,
    )
    assert proc.stdout.strip() == str(out)
    raw = out.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout, as on the wire
    msg = parse(raw)

    assert tree(msg) == [
        "multipart/mixed",
        [
            [
                "multipart/related",
                [
                    ["multipart/alternative", ["text/plain", "text/html"]],
                    "image/png",
                    "image/png",
                    "image/png",
                    "image/png",
                    "image/png",
                ],
            ],
            "application/pdf",
        ],
    ]
    doc = json.loads((report_dir / "report.json").read_text())
    assert doc["verdict"] in ("WARN", "CRIT")
    assert msg["Subject"] == subject(doc) == f"[memreport] kvm-week: {doc['verdict']}, swap short by 1.9 GiB"
    assert msg["From"] == "memreport@example.com"
    assert msg["To"] == "ops@example.com" and msg["Cc"] == "cap@example.com"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Memreport-Verdict"] == doc["verdict"]
    assert msg["Message-ID"] and msg["Date"]
    related = next(msg.iter_parts())
    assert related.get_param("type") == "multipart/alternative"

    # every cid: in the HTML resolves to a PNG part, and every PNG part is used
    html = html_of(msg)
    cids = re.findall(r'src="cid:([^"]+)"', html)
    parts = cid_parts(msg)
    assert len(cids) == 5 and sorted(cids) == sorted(parts)
    for cid in cids:
        p = parts[cid]
        assert p.get_content_type() == "image/png" and p.get_content_disposition() == "inline"
        png = p.get_content()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 3000
    assert [parts[c].get_filename() for c in cids] == [
        "chart-memory.png",
        "chart-swap-rates.png",
        "chart-pressure.png",
        "chart-ksm.png",
        "chart-vms.png",
    ]

    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pdf) == 1 and pdf[0].get_filename() == "kvm-week-memory-report.pdf"
    assert pdf[0].get_content() == (report_dir / "report.pdf").read_bytes()

    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert text.startswith(f"kvm-week: {doc['verdict']} (memory capacity report)\n")
    top = doc["findings"][0]
    assert f"{top['severity']}  {top['title']}" in text and f"-> {top['recommendation']}" in text
    assert "kvm-week-memory-report.pdf" in text


def test_html_is_mail_safe_and_small(report_dir: Path) -> None:
    html = html_of(build_message(report_dir))
    low = html.lower()
    assert "<svg" not in low and "<script" not in low and "data:" not in low
    assert "<link" not in low and "http://" not in low and "https://" not in low  # nothing remote
    assert "javascript:" not in low and " onerror" not in low
    assert len(html.encode()) < GMAIL_CLIP_BYTES, len(html.encode())
    # CSS inlined: the layout's classes became style attributes; only the @media block stays in <style>
    assert 'class="card"' in html and "max-width:680px" in html.replace(" ", "")
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert all(s.strip().startswith("@media") for s in styles), styles
    assert html.count('role="presentation"') >= 5  # table layout
    assert "Swap too small: 1.9 GiB short of the peak Inactive" in html and "What to do:" in html
    doc = json.loads((report_dir / "report.json").read_text())
    assert "The answer" in html and doc["answer"]["lines"][0] in html


def test_many_findings_stay_under_the_gmail_clip(report_dir: Path, tmp_path: Path) -> None:
    """Regression guard for the 102 KB clip: a report with hundreds of long findings still fits."""
    d = tmp_path / "big"
    shutil.copytree(report_dir, d)
    doc = json.loads((d / "report.json").read_text())
    doc["findings"] = [
        {
            "id": f"x.{i}",
            "check": "vms",
            "severity": "WARN",
            "title": f"Finding {i} " + "long " * 30,
            "detail": "detail " * 200,
            "recommendation": "do " * 100,
            "evidence": {},
        }
        for i in range(300)
    ]
    (d / "report.json").write_text(json.dumps(doc))
    html = html_of(build_message(d))
    assert len(html.encode()) < GMAIL_CLIP_BYTES
    assert "more finding" in html  # the rest is pointed to in the PDF


def test_hostile_host_name_is_escaped(report_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "hostile"
    shutil.copytree(report_dir, d)
    doc = json.loads((d / "report.json").read_text())
    doc["host"] = 'evil\r\nBcc: victim@example.com <script>alert(1)</script>"/../x'
    (d / "report.json").write_text(json.dumps(doc))
    msg = parse(build_message(d).as_bytes())
    assert msg["Bcc"] is None  # no header injection through the host name
    assert "\n" not in msg["Subject"] and "evil Bcc: victim" in msg["Subject"]
    html = html_of(msg)
    assert "<script" not in html and "&lt;script&gt;" in html
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["evil_Bcc_victim_example.com_script_alert_1_script_x-memory-report.pdf"]


def test_subject_names_the_top_finding() -> None:
    deficit = {
        "id": "swap.deficit",
        "severity": "CRIT",
        "title": "Swap too small: add 6.5 GiB of swap",
        "evidence": {"deficit_bytes": int(6.5 * 1024**3)},
    }
    ok = {"id": "oom.headroom", "severity": "OK", "title": "Allocations fit"}
    assert (
        subject({"host": "kvm01", "verdict": "CRIT", "findings": [deficit, ok]})
        == "[memreport] kvm01: CRIT, swap short by 6.5 GiB"
    )
    assert subject({"host": "kvm02", "verdict": "OK", "findings": [ok]}) == "[memreport] kvm02: OK"
    warn = {"id": "new.check", "severity": "WARN", "title": "Something else happened"}
    assert subject({"host": "kvm03", "verdict": "WARN", "findings": [warn]}) == "[memreport] kvm03: WARN, something else happened"


def test_write_eml_default_path_and_no_pdf(report_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "nopdf"
    shutil.copytree(report_dir, d)
    (d / "report.pdf").unlink()
    path = write_eml(d, who=Recipients(to=("a@example.com",)))
    assert path == d / "report.eml"
    msg = parse(path.read_bytes())
    assert [p.get_content_type() for p in msg.iter_parts()] == ["multipart/related"]  # nothing attached
    assert "report.html" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_email_of_a_missing_report_is_one_line(tmp_path: Path, cli) -> None:
    proc = cli("email", tmp_path)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"memreport: error: {tmp_path}: not a report directory: no report.json (write one with `memreport report`)"
    )
    proc = cli("email", tmp_path, "--to", "not an address")
    assert proc.returncode == 2 and "is not a mail address" in proc.stderr and "Traceback" not in proc.stderr


def test_fleet_digest(report_dir: Path, tmp_path: Path, cli) -> None:
    fleet = tmp_path / "fleet"
    (fleet / "hosts").mkdir(parents=True)
    shutil.copytree(report_dir, fleet / "hosts" / "kvm-week")
    (fleet / "fleet.pdf").write_bytes(b"%PDF-1.7 fleet\n")
    rows = [
        {
            "host": "kvm-week",
            "verdict": "CRIT",
            "report": "hosts/kvm-week",
            "memory_total_bytes": 64 * 1024**3,
            "swap_deficit_bytes": 2 * 1024**3,
            "top_finding": "Swap thrash: 1 window",
        },
        {"host": "kvm-ok", "verdict": "OK", "memory_total_bytes": 128 * 1024**3, "top_finding": None},
        {"host": "kvm-warn", "verdict": "WARN"},
    ]  # a minimal row: host and verdict only
    (fleet / "fleet.json").write_text(json.dumps({"format": 1, "hosts": rows}))
    msg = build_fleet_digest(fleet, Recipients(to=("ops@example.com",)))
    msg = parse(msg.as_bytes())
    assert msg["Subject"].startswith("[memreport] fleet of 3 hosts: 1 CRIT, 1 WARN; worst kvm-week: ")
    html = html_of(msg)
    assert [h for h in re.findall(r"<b>(kvm-[a-z]+)</b>", html)][:3] == ["kvm-week", "kvm-warn", "kvm-ok"]  # by risk
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert len(cids) == 1 and set(cids) == set(cid_parts(msg))  # the worst host's memory chart
    assert [p.get_filename() for p in msg.iter_attachments()] == ["fleet-memory-report.pdf"]
    assert len(html.encode()) < GMAIL_CLIP_BYTES and "<svg" not in html
    proc = cli("email", fleet, check=True)
    assert proc.stdout.strip() == str(fleet / "fleet-digest.eml")


# --- the HTML part as a mail client shows it ------------------------------------------------------

IMAGES_JS = """JSON.stringify({
  images: [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth, shown: i.getBoundingClientRect().width, complete: i.complete})),
  width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight, scripts: document.scripts.length,
})"""


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        pytest.fail("chromium missing: bash tests/system_deps.sh (make test does)")
    return binary


def unpack_for_browser(msg: EmailMessage, d: Path) -> Path:
    """The HTML part with each cid: rewritten to its PNG part's file (what a mail client does)."""
    d.mkdir(parents=True, exist_ok=True)
    html = html_of(msg)
    for cid, part in cid_parts(msg).items():
        name = part.get_filename()
        assert name and "/" not in name
        (d / name).write_bytes(part.get_content())
        html = html.replace(f"cid:{cid}", name)
    assert "cid:" not in html
    page = d / "mail.html"
    page.write_text(html, encoding="utf-8")
    return page


@pytest.mark.slow
def test_html_part_renders_in_chromium(report_dir: Path, tmp_path: Path) -> None:
    from helpers.cdp import Chromium

    page = unpack_for_browser(build_message(report_dir), tmp_path / "unpacked")
    browser = Chromium(_chromium(), tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network.enable", "Page.enable", "Runtime.enable"):
            browser.send(domain, session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 900, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired")
        info = json.loads(
            browser.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True}, session=session)["result"]["value"]
        )
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 900, "height": min(info["height"], 8000), "scale": 1},
            },
            session=session,
        )
        events = list(browser.events)
    finally:
        browser.close()
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith(page.parent.as_uri()) for u in requests), requests  # the page and its PNG parts only
    assert [i["src"] for i in info["images"]] == [
        "chart-memory.png",
        "chart-swap-rates.png",
        "chart-pressure.png",
        "chart-ksm.png",
        "chart-vms.png",
    ]
    for img in info["images"]:
        assert img["complete"] and img["w"] >= 1200 and 600 <= img["shown"] <= 640, img  # 2× PNG shown at 632 px
    assert info["scripts"] == 0 and info["width"] <= 900
    png = base64.b64decode(shot["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "email-report.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 50_000


def test_charts_are_deterministic(report_dir: Path) -> None:
    """The same report gives the same PNG bytes and so the same Content-IDs (reproducible .eml bodies)."""
    a, b = build_message(report_dir), build_message(report_dir)
    pa, pb = cid_parts(a), cid_parts(b)
    assert list(pa) == list(pb) and len(pa) == 5
    assert all(pa[c].get_content() == pb[c].get_content() for c in pa)
