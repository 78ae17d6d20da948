"""The faces read the store and enqueue jobs without importing torch (fast start)."""
from __future__ import annotations

import pytest
from conftest import run_light


@pytest.mark.slow
def test_command_line_and_store_do_not_import_torch(tmp_path):
    run_light(
        "import cli.main, cli.follow, engine.store, engine.jobs, engine.study, engine.export, engine.metrics\n"
        "from cli.main import main\n"
        f"assert main(['--db', {str(tmp_path / 'x.db')!r}, 'worker', '--idle-exit', '0.1']) == 0\n"
        f"assert main(['--db', {str(tmp_path / 'x.db')!r}, 'jobs']) == 0\n"
    )
