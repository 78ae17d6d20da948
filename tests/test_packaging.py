"""The wheel ``python -m build`` makes is the whole program: every module, the presets and
the styles, and a ``byrote`` entry point; unpacked away from the checkout, it loads its
presets and its command line without the source tree. (Installed in a fresh virtual
environment it also runs ``byrote demo --headless --limit 200 --epochs 1``; that takes
minutes, so it is checked by hand, not here.)"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "cli", "tui", "assets")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [built] = out.glob("byrote-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(REPO).as_posix() for package in PACKAGES for p in (REPO / package).rglob("*")
               if p.suffix in (".py", ".json", ".tcss") and "__pycache__" not in p.parts}
    assert sources and sources <= names, sorted(sources - names)
    assert {"assets/presets/varmisuse.json", "assets/presets/methodname.json", "assets/presets/lm.json"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "byrote = cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


@pytest.mark.slow
def test_the_unpacked_wheel_runs_without_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import assets, cli.main, engine, tui.app\n"
        f"assert all(m.__file__.startswith({str(site)!r}) for m in (assets, cli.main, engine, tui.app))\n"
        "from engine.presets import load_preset\n"
        "assert load_preset('paper', 'varmisuse')['vocab_size'] == 14281\n"
        "assert load_preset('quick', 'lm')['n_layer'] == 2 and load_preset('quick', 'methodname')\n"
        "from tui.app import ByroteApp\n"
        "from pathlib import Path\n"
        "assert Path(ByroteApp.CSS_PATH).is_file()\n"
        "sys.exit(cli.main.main(['--help']))\n"
    )
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: byrote" in proc.stdout
