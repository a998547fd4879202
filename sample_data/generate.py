"""Writes sample_data/kvm-sample: a seeded, realistic week of a KVM host in the capture format.

128 GiB RAM, 16 GiB swap, 30 VMs of mixed sizes (164 GiB allocated), one week at 60 s, KSM
active, three swap-thrash episodes, and an Inactive peak of 19.5 GiB, above the swap size. Past
days are gzip'd as a collector's rotation leaves them. Run with `make sample-data`; the output is
committed, and the same seed always writes the same bytes.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memreport.synthetic import HostSpec, write_capture  # noqa: E402

HERE = Path(__file__).resolve().parent
SAMPLE = HostSpec()  # the defaults are the sample host


def main(out: Path = HERE / "kvm-sample") -> None:
    shutil.rmtree(out, ignore_errors=True)
    write_capture(SAMPLE, out)
    days = sorted({p.name.split(".")[1] for p in out.glob("meminfo.*.tsv")})
    for p in sorted(out.glob("*.tsv")):  # every day but the last was rotated
        if p.name.split(".")[1] != days[-1]:
            p.with_name(p.name + ".gz").write_bytes(gzip.compress(p.read_bytes(), compresslevel=9, mtime=0))
            p.unlink()
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{out}: {SAMPLE.samples} samples, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
