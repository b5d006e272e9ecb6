"""The installed package carries every file Docket reads at run time: a wheel built from this
tree holds each data file under src/docket (templates, static files, jurisdiction profiles,
word lists, the checklist, migrations), so ``scripts/start.sh`` (a normal, non-editable
install) works as the README says."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("docket-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    wanted = {
        str(p.relative_to(src))
        for p in (src / "docket").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    missing = sorted(wanted - inside)
    assert not missing, f"not in the wheel: {missing}"
