"""`make bench`, hostile archives (issue 4): how early a bomb is refused.

tests/test_archive_safety.py checks that each bomb is refused and leaves nothing behind; how fast
that is depends on the machine and how busy it is, so it is measured here (issue 11), each as a
ratio against a floor timed on the same file in the same run (best of REPEAT):

- archive_bomb_refusal_vs_gzip_dc: 1 GiB of zeros in ~1 MiB of gzip, refused on the compression
  ratio once past the 64 MiB floor, against `gzip -dc FILE > /dev/null` (reading it whole).
  Target ≤ 1: refused before the whole archive is read.
- archive_many_members_refusal_vs_listing: 1,000,000 empty members (~500 MB of headers, ~4 MB of
  gzip), refused on the member count, against Python's tarfile listing the first 100,001 headers
  (the least any refusal on the count must read). memreport's own checks per member cost about as
  much again (≈ 2 measured); target ≤ 3: nothing extracted, nothing read past the count.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import figure  # noqa: E402

from memreport.errors import UnsafeArchiveError  # noqa: E402
from memreport.ingest import archive  # noqa: E402

OUT = ROOT / "bench-out" / "archives"
REPEAT = 3


def bomb() -> Path:
    path = OUT / "bomb.tar.gz"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wb", compresslevel=9) as g:
            info = tarfile.TarInfo("sosreport-x/var/log/huge")
            info.size = 1024**3
            g.write(info.tobuf(format=tarfile.GNU_FORMAT))
            zeros = b"\0" * (1 << 20)
            for _ in range(info.size >> 20):
                g.write(zeros)
            g.write(b"\0" * 1024)
        tmp.rename(path)
    return path


def many_members() -> Path:
    path = OUT / "many.tar.gz"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wb", compresslevel=1) as g:
            for i in range(150_000):
                g.write(tarfile.TarInfo(f"sosreport-x/f{i:07d}").tobuf(format=tarfile.USTAR_FORMAT))
            same = tarfile.TarInfo("sosreport-x/same").tobuf(format=tarfile.USTAR_FORMAT) * 1000
            for _ in range(850):
                g.write(same)
            g.write(b"\0" * 1024)
        tmp.rename(path)
    return path


def best(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def refuse(path: Path, reason: str) -> None:
    try:
        with archive.extracted(path):
            pass
    except UnsafeArchiveError as e:
        if reason not in str(e):
            raise
    else:
        raise AssertionError(f"{path} was not refused")


def gzip_dc(path: Path) -> None:
    subprocess.run(["gzip", "-dc", str(path)], check=True, stdout=subprocess.DEVNULL)


def list_headers(path: Path, n: int) -> None:
    with tarfile.open(path, "r:gz") as tar:
        for i, _ in enumerate(tar):
            if i + 1 >= n:
                break


def main() -> bool:
    OUT.mkdir(parents=True, exist_ok=True)
    ok = True
    for name, path, reason, floor_fn, target in (
        ("archive_bomb_refusal_vs_gzip_dc", bomb(), "compression ratio above", gzip_dc, 1.0),
        (
            "archive_many_members_refusal_vs_listing",
            many_members(),
            "more than 100000 members",
            lambda p: list_headers(p, 100_001),
            3.0,
        ),
    ):
        floor = best(lambda: floor_fn(path))
        refused = best(lambda: refuse(path, reason))
        print(f"# {path.name}: refused in {refused:.2f} s, floor {floor:.2f} s")
        ok &= figure(name, refused / floor, target, against=f"floor {floor:.2f} s")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
