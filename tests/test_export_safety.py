"""An export writes only inside its folder, whatever names a crafted database holds."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.export import export_curves
from engine.store import Store

REFERENCE_GREAT = Path(__file__).parent / "data" / "great" / "dev__VARIABLE_MISUSE__SStuB.txt-00038-of-00300.first3.jsonl"


@pytest.mark.parametrize("metric", ["../../evil", "/tmp/evil", "a/../../evil", "acc\x1b]52;c;x\x07"])
def test_a_metric_name_that_is_no_plain_file_name_is_refused(tmp_path, metric):
    store = Store(tmp_path / "s.db")
    sid = store.add_study(name="s", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0, device="cpu",
                          train_path="/d/train.jsonl", valid_path="/d/valid.jsonl", levels=[0.0], config={})
    run = store.add_run(study_id=sid, level=0.0, seed=0, epochs=1, epochs_done=0, train_path="t", changed_path="c")
    store.commit_epoch(run, 1, {"train": {metric: 0.5, "loc_accuracy": 0.4}}, {})
    out = tmp_path / "out" / "deep"
    with pytest.raises(InputError, match="not a plain file name"):
        export_curves(store, sid, out)
    assert not (tmp_path / "evil").exists() and not list(tmp_path.glob("out/**/*.csv"))


def test_no_output_replaces_the_open_database_or_a_commands_input(tmp_path):
    """An export or a noisy copy aimed at the database (its journal, a link to it) or at
    the file it reads is refused before anything is written; so is a folder's name."""
    from engine.fsutil import atomic_open, check_output
    from engine.noise import noisy_copy

    store = Store(tmp_path / "s.db")
    sid = store.add_study(name="s", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0, device="cpu",
                          train_path="/d/train.jsonl", valid_path="/d/valid.jsonl", levels=[0.0], config={})
    before = (tmp_path / "s.db").read_bytes()
    (tmp_path / "link.db").symlink_to(tmp_path / "s.db")
    for target in (tmp_path / "s.db", tmp_path / "s.db-wal", tmp_path / "link.db"):
        with pytest.raises(InputError, match="is the database"):
            with atomic_open(target) as fh:
                fh.write("x")
    assert (tmp_path / "s.db").read_bytes() == before and store.study(sid)["name"] == "s"
    for folder in ("", ".", "..", "/"):
        with pytest.raises(InputError, match="names a folder"):
            check_output(folder)

    data = tmp_path / "g.jsonl"
    data.write_bytes(REFERENCE_GREAT.read_bytes())
    with pytest.raises(InputError, match="is the input file"):
        noisy_copy("varmisuse", data, data, 50.0, 0)
    assert data.read_bytes() == REFERENCE_GREAT.read_bytes()
    assert not list(tmp_path.glob("*.changed.json"))


def test_an_output_onto_a_link_replaces_the_link_never_what_it_names(tmp_path):
    """A folder an export writes into may hold links to other files (the study's own
    data): the export never writes through them."""
    from engine.fsutil import atomic_open

    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    (tmp_path / "dangling.json").symlink_to("made.json")
    for name in ("link.json", "dangling.json"):
        with atomic_open(tmp_path / name) as fh:
            fh.write(f"new {name}")
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).read_text() == f"new {name}"
    assert (tmp_path / "real.json").read_text() == "old" and not (tmp_path / "made.json").exists()
    assert not list(tmp_path.glob(".*.tmp*"))


def test_an_output_to_a_pipe_or_a_device_is_written_into_it_never_replacing_it(tmp_path):
    """A FIFO (and a character device such as /dev/null, where this process may make one)
    gets the whole content once it is complete and stays what it was."""
    import contextlib
    import os
    import stat
    import threading

    from engine.fsutil import atomic_open

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        with atomic_open(fifo) as fh:
            fh.write("line 1\nline 2\n")
    finally:  # a writer for the reader, whatever happened (else it would wait for ever)
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(10)
    assert got == [b"line 1\nline 2\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)

    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this process may not make a device node")
    with atomic_open(null) as fh:
        fh.write("gone")
    assert stat.S_ISCHR(os.stat(null).st_mode) and not list(tmp_path.glob(".*.tmp*"))


def test_an_output_to_a_socket_is_refused(tmp_path):
    import socket

    from engine.fsutil import atomic_open

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(InputError, match="not a regular file"):
            with atomic_open(path) as fh:
                fh.write("x")
        assert path.is_socket()


def test_an_output_onto_a_terminal_is_refused(tmp_path):
    """Exports hold untrusted text (snippets, names): never written raw to a terminal."""
    import os
    import pty

    from engine.fsutil import atomic_open

    master, slave = pty.openpty()
    try:
        with pytest.raises(InputError, match="is a terminal"):
            with atomic_open(os.ttyname(slave)) as fh:
                fh.write("\x1b]52;c;eA==\x07")
    finally:
        os.close(master)
        os.close(slave)
