"""The faces read the store and enqueue jobs without importing torch (fast start)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_command_line_and_store_do_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "import cli.main, cli.follow, engine.store, engine.jobs, engine.study, engine.export, engine.metrics\n"
        "from cli.main import main\n"
        f"assert main(['--db', {str(tmp_path / 'x.db')!r}, 'jobs']) == 0\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
