"""Writes the parts of docs/ that come from the code, so they cannot drift: `make docs`.

- docs/CHECKS.md: the thresholds table (every setting, its default, unit and meaning);
- docs/REPORT-JSON.md: the `answer` example, the sample host's real output.

tests/test_docs.py renders the same blocks and fails when a committed doc differs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_data" / "kvm-sample"


def thresholds_table() -> str:
    from memreport.analyze.wording import fmt_bytes, fmt_rate
    from memreport.config import Thresholds

    rows = ["| setting | default | unit | meaning |", "|---|---|---|---|"]
    for d in Thresholds.describe():
        v = d["default"]
        if isinstance(v, str):
            text = f'"{v}"'
        else:
            text = f"{v:g}" if isinstance(v, float) else str(v)
            if d["unit"] == "B":
                text += f" ({fmt_bytes(v)})"
            elif d["unit"] == "B/s":
                text += f" ({fmt_rate(v)})"
        rows.append(f"| `{d['name']}` | {text} | {d['unit'] or '–'} | {d['doc']} |")
    return "\n".join(rows)


def answer_example() -> str:
    from memreport.analyze import analyze
    from memreport.analyze.report_json import build
    from memreport.ingest import store
    from memreport.ingest.run import load

    result = load([SAMPLE])
    doc = build(analyze(store.frame(result.hosts[0])))
    return "```json\n" + json.dumps({"answer": doc["answer"]}, indent=2, ensure_ascii=False) + "\n```"


BLOCKS = {
    ("CHECKS.md", "thresholds"): thresholds_table,
    ("REPORT-JSON.md", "answer-example"): answer_example,
}


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin[^>]*-->\n).*?(\n<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name}:begin --> … <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def rendered() -> dict[Path, str]:
    """Each generated doc as it should read."""
    out: dict[Path, str] = {}
    for (doc, name), fn in BLOCKS.items():
        path = ROOT / "docs" / doc
        out[path] = replace_block(out.get(path) or path.read_text(), name, fn())
    return out


def main() -> None:
    for path, text in rendered().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
