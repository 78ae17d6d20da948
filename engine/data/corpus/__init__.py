"""A model's training corpus, read document by document and never whole: :func:`open_corpus`
(whose docstring says what it accepts and how each kind is cut into documents and shards)
over the kinds of :mod:`~engine.data.corpus.files`, :mod:`~engine.data.corpus.records`
and :mod:`~engine.data.corpus.hf`, on the base of :mod:`~engine.data.corpus.base`.
"""
from __future__ import annotations

from pathlib import Path

from engine.data.corpus.base import Corpus, Document, Shard, human_size, is_record_file, read_document
from engine.data.corpus.files import SourceFiles, walk
from engine.data.corpus.hf import open_hf
from engine.data.corpus import urls
from engine.data.corpus.records import RecordFiles
from engine.errors import InputError

__all__ = ["Corpus", "Document", "Shard", "human_size", "is_record_file", "open_corpus", "read_document", "walk"]


def open_corpus(source: str, *, glob: str | None = None, text_field: str = "content",
                split: str = "train", shard_bytes: int = 64 << 20) -> Corpus:
    """The corpus at ``source``: a directory, a file, or ``hf:NAME[:CONFIG]``. Record
    corpora are checked early: the first record must have a string ``text_field``.

    - a directory of source files: the regular files under it whose NAME matches ``glob``
      (fnmatch; default every file), not in hidden folders or
      :data:`~engine.data.sources.SKIPPED_DIRS`, hidden files left out too, in sorted
      order of their relative POSIX paths, which are the document ids. A document is the
      file's bytes without a UTF-8 BOM, not validated (the consumer skips non-UTF-8).
      Shards group consecutive files into about ``shard_bytes``; a bigger file is a shard
      alone;
    - record files: one ``.jsonl``/``.json`` (JSON lines), ``.jsonl.gz``/``.json.gz``
      (gzip JSON lines, as codeparrot-clean ships) or ``.parquet`` file, or a directory
      whose matched files all are record files. Each record's ``text_field`` is a
      document, id ``<relative path>:<row>`` (1-based; for JSON lines the line number,
      blank lines skipped but counted). A JSON lines file is one shard, sized on disk
      (progress in compressed bytes for gzip); a Parquet file is one shard per row group,
      sized by its compressed column chunks, rows numbered across row groups. A text that
      cannot be UTF-8 (a lone surrogate) gives ``data=None``; a Parquet binary column is
      passed through raw;
    - ``hf:NAME`` or ``hf:NAME:CONFIG``: a Hugging Face dataset streamed with
      ``datasets.load_dataset`` (NAME may be a local folder), one shard per
      ``IterableDataset.n_shards``, id ``<shard index>:<row>`` (0-based shard, 1-based
      row), sizes unknown (progress counts document bytes);
    - any other single file: one source document, id its name.

    A corpus rebuilds from its JSON-serializable :attr:`Corpus.spec` in another process
    (:meth:`Corpus.from_spec`) with the same shards; a directory re-walked there must still
    hold the same number of files and bytes, else :class:`InputError`.
    """
    if shard_bytes < 1:
        raise InputError(f"shard size must be positive, not {shard_bytes}")
    if source.startswith("hf:"):
        return open_hf(source[3:], text_field, split)
    if urls.is_url(source):
        return _open_url(source, glob, text_field, shard_bytes)
    path = Path(source)
    if not path.exists():
        raise InputError("no such file or directory", path)
    root = path.absolute()
    if path.is_dir():
        files = walk(root, glob, readable=True)
        if not files:
            raise InputError(f"no file matches {glob or '*'}", path, field="glob" if glob else None)
        if all(is_record_file(rel) for rel, _ in files):
            corpus = RecordFiles({"kind": "records", "root": str(root), "files": [rel for rel, _ in files],
                                  "text_field": text_field})
        else:
            spec = {"kind": "files", "root": str(root), "glob": glob, "shard_bytes": shard_bytes,
                    "count": len(files), "bytes": sum(size for _, size in files)}
            return SourceFiles(spec, files)
    elif path.is_file():
        if not is_record_file(path.name):
            return SourceFiles({"kind": "files", "root": str(root.parent), "files": [path.name],
                                "shard_bytes": shard_bytes})
        corpus = RecordFiles({"kind": "records", "root": str(root.parent), "files": [path.name],
                              "text_field": text_field, "single": True})
    else:
        raise InputError("not a file or directory", path)
    corpus.first_document()
    return corpus


def _open_url(source: str, glob: str | None, text_field: str, shard_bytes: int) -> Corpus:
    """A corpus at a URL (:mod:`~engine.data.corpus.urls`): a folder or one file, cut into
    documents and shards as a local one is; its spec keeps the URL, so every process (a
    Ray node) reads it itself."""
    kind = urls.kind_of(source)
    if kind == "missing":
        raise InputError("no such file or folder", source)
    if kind == "dir":
        root = source.rstrip("/")
        files = urls.list_files(root, glob)
        if not files:
            raise InputError(f"no file matches {glob or '*'}", source, field="glob" if glob else None)
        if all(is_record_file(rel) for rel, _ in files):
            corpus = RecordFiles({"kind": "records", "root": root, "files": [rel for rel, _ in files],
                                  "text_field": text_field})
        else:
            return SourceFiles({"kind": "files", "root": root, "glob": glob, "shard_bytes": shard_bytes,
                                "count": len(files), "bytes": sum(size for _, size in files)}, files)
    else:
        root, _, name = source.rpartition("/")
        if not is_record_file(name):
            return SourceFiles({"kind": "files", "root": root, "files": [name], "shard_bytes": shard_bytes})
        corpus = RecordFiles({"kind": "records", "root": root, "files": [name], "text_field": text_field,
                              "single": True})
    corpus.first_document()
    return corpus
