"""LineTable (C kernel and pure-Python path) against the definition in engine.clones.rules.lines."""
from __future__ import annotations

import random

import numpy as np
import pytest

from engine.clones import linekeys
from engine.clones.rules.lines import IGNORED_KEYS, fold, line_keys
from engine.clones.linekeys import LineTable, unknown_symbol

PATHS = [pytest.param(True, id="compiled"), pytest.param(False, id="python")]

INDENTS = ["", " ", "  ", "\t", "\t ", " \t\t", "\x0b", "\x0c", "\r", " \x0b\x0c\t"]
TRAILS = ["", " ", "\r", "\t", " \r", "\x0c", "\t \r\x0b"]
BODIES = [
    "", "{", "}", "{}", "{ }", "} else {", "(", ")", "x", "X", "i", "I", "k",
    "return x", "Return X", "RETURN x", "def f(self):", "DEF F(SELF):", "pass",
    "import os", "IMPORT OS", "a = b + c", "A = B + C", "@AtZz[`{", "@atzz[`{",
    "ABCDEFG", "abcdefg", "ABCDEFGH", "abcdefgh", "ABCDEFGHI", "abcdefghi",
    "x" * 15, "X" * 16, "Xy" * 9, "z" * 200, "Q" * 1000,
    "a\x00b", "\x00", "A\x00B\x00C\x00D\x00E", "\x1c", "a\x1f", "\x7f", "#\x01\x02",
    "ÄÖÜ", "äöü", "Ärger", "ärger", "İ", "i̇", "ß", "SS", "ss", "ẞ",
    "Σ", "σ", "ς", "ΑΣ", "ας", "ΑΣ'", "ΟΔΟΣ ΣΟΦΟΣ", "σΣσ", "Σ ", "ΑΣ x",
    "\u212a", "\u212A elvin", "kelvin", "Ǆ", "ǅ", "ǆ", "ﬁ", "ΐ",
    "漢字", "中文注释 Comment", "def 函数(): return X", "😀", "# 😀 Emoji OK", "\u0085x\u0085",
    "\u00a0nbsp\u00a0", "\u2028", "\u3000x", "é" * 9, "É" * 10,
]
INVALID = [
    b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xc3 ", b"\xe2\x82",
    b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82\xac\x80", b"a\xc3\x28b", b"\xf0\x9f\x98",
]


def make_line(rng: random.Random) -> str:
    return rng.choice(INDENTS) + rng.choice(BODIES) + rng.choice(TRAILS)


def make_document(rng: random.Random) -> bytes:
    lines = [make_line(rng) for _ in range(rng.randrange(0, 40))]
    text = "\n".join(lines)
    if rng.random() < 0.3:
        text += "\n"
    return text.encode("utf-8")


def folded_keys(data: bytes, case_sensitive: bool) -> list[bytes]:
    folded = fold(data, case_sensitive)
    assert folded is not None
    return line_keys(folded)


def make_vocabulary(rng: random.Random, case_sensitive: bool) -> list[bytes]:
    """Keys of a random part of the alphabet (folded as the mode folds), a few keys that
    can never match (upper case in a case-insensitive scan, white space at the ends)."""
    keys: dict[bytes, None] = {}
    for body in BODIES:
        if rng.random() < 0.6:
            for key in folded_keys(body.encode("utf-8"), case_sensitive):
                if key not in IGNORED_KEYS:
                    keys[key] = None
    for extra in (b"RETURN X", b"K", b" x", b"x ", b"\tpass", b"\x1c ", b"{ }"):
        if rng.random() < 0.5:
            keys[extra] = None
    out = list(keys)
    rng.shuffle(out)
    return out


def reference(data: bytes, keys: list[bytes], case_sensitive: bool) -> np.ndarray | None:
    """Straight from the definition: fold, line_keys, a dict lookup."""
    folded = fold(data, case_sensitive)
    if folded is None:
        return None
    vocab = {key: i for i, key in enumerate(keys, 1)}
    return np.array([-1 if key in IGNORED_KEYS else vocab.get(key, 0) for key in line_keys(folded)], np.int64)


def check(table: LineTable, keys: list[bytes], data: bytes, case_sensitive: bool) -> None:
    got = table.ids(data, case_sensitive)
    want = reference(data, keys, case_sensitive)
    if want is None:
        assert got is None, data
        return
    assert got is not None, data
    assert got.dtype == np.int64
    assert got.tolist() == want.tolist(), (data, case_sensitive)


def test_compiled_here():
    """`pip install -e .` builds the kernel wherever a C compiler is present (make test)."""
    assert linekeys.compiled
    assert LineTable([b"x"]).compiled
    assert not LineTable([b"x"], use_compiled=False).compiled


@pytest.mark.parametrize("use_compiled", PATHS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_random_documents_match_the_definition(use_compiled, case_sensitive):
    rng = random.Random(1234 + case_sensitive)
    for _ in range(40):
        keys = make_vocabulary(rng, case_sensitive)
        table = LineTable(keys, use_compiled=use_compiled)
        for _ in range(25):
            check(table, keys, make_document(rng), case_sensitive)


@pytest.mark.parametrize("use_compiled", PATHS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_every_key_length_and_case(use_compiled, case_sensitive):
    """Keys of 1..80 bytes (every short-word and tail shape), lines in random case."""
    rng = random.Random(99)
    alphabet = "abcxyzABCXYZ@[`{0189_ .()=\x00"
    keys, lines = [], []
    for n in range(1, 81):
        for _ in range(3):
            body = "".join(rng.choice(alphabet) for _ in range(n)).strip(" ")
            if not body or body in ("{", "}"):
                continue
            key = body.encode() if case_sensitive else body.lower().encode()
            if key not in keys:
                keys.append(key)
            variant = "".join(c.upper() if rng.random() < 0.5 else c for c in body)
            lines += [body, variant, body[:-1] + "#", "\t" + variant + " \r"]
    table = LineTable(keys, use_compiled=use_compiled)
    for _ in range(20):
        rng.shuffle(lines)
        check(table, keys, "\n".join(lines).encode(), case_sensitive)


@pytest.mark.parametrize("use_compiled", PATHS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_edge_documents(use_compiled, case_sensitive):
    keys = [b"{}", b"x", b"k", b"i\xcc\x87", b"\xc3\xa4", b"\xc3\x84", b"a\x00b", b"ss", b"\xc3\x9f"]
    table = LineTable(keys, use_compiled=use_compiled)
    docs = [
        b"", b"\n", b"\n\n", b"x", b"x\n", b"\nx", b"\r\n", b"x\r\n", b"  {  ", b"{}", b"{\n}\n{}",
        b" \t\x0b\x0c\r", b"\x00", b"a\x00b", b"A\x00B\n", b"X" * 100000, b"x" * 100000 + b"\nx",
        "\u212a".encode(), "İ\nÄ\nä\nß\nẞ".encode(), "ΑΣ\nx".encode(), b"\xc2\x85x\xc2\x85",
    ]
    for data in docs:
        check(table, keys, data, case_sensitive)


@pytest.mark.parametrize("use_compiled", PATHS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_invalid_utf8_is_none(use_compiled, case_sensitive):
    rng = random.Random(7)
    table = LineTable([b"x", b"\xc3\xa4"], use_compiled=use_compiled)
    for bad in INVALID:
        assert table.ids(bad, case_sensitive) is None, bad
        for _ in range(5):
            lines = make_document(rng).split(b"\n")
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(INDENTS).encode() + bad)
            data = b"\n".join(lines)
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            assert table.ids(data, case_sensitive) is None, data


def test_utf8_validation_matches_python():
    """The kernel's validator against Python's strict decoder: every 1- and 2-byte string,
    every lead byte with every second byte, and random 3- and 4-byte strings."""
    table = LineTable([b"x"])
    cases = [bytes([a]) for a in range(256)] + [bytes([a, b]) for a in range(128, 256) for b in range(256)]
    conts = (0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF)
    for a in range(0xC0, 0x100):
        for b in range(256):
            for c in conts:
                cases.append(bytes([a, b, c]))
                cases.append(bytes([a, b, c, 0x80]))
                cases.append(bytes([a, b, 0x80, c]))
    rng = random.Random(3)
    for _ in range(20000):
        cases.append(bytes(rng.choice((rng.randrange(256), rng.randrange(0x80, 0xC0))) for _ in range(rng.randrange(3, 9))))
    for data in cases:
        try:
            data.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        for case_sensitive in (False, True):
            assert (table.ids(data, case_sensitive) is not None) == valid, data


@pytest.mark.parametrize("use_compiled", PATHS)
@pytest.mark.parametrize("sep", [b"\0", b"\n"])
def test_a_table_of_joined_keys_is_the_table_of_their_list(use_compiled, sep):
    """A worker loads the saved vocabulary as one buffer (``sep``): the same ids for every
    key as the table of the split list, repeated and empty keys included."""
    if use_compiled and not linekeys.compiled:
        pytest.skip("the compiled kernel is not built")
    rng = random.Random(5)
    alphabet = [bytes([c]) for c in b"abcXYZ {}=\t\xc3\xa4"]
    cases = [[b"a"], [b"a", b"", b"b"], [b"x", b"x", b"y"], [b"", b""], [b"ab", b"cd", b""]]
    cases += [[b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6))) for _ in range(rng.randrange(1, 300))]
              for _ in range(20)]
    for keys in cases:
        probes = sorted(set(keys) | {b"zz", b"{", b""})
        joined = LineTable(sep.join(keys), use_compiled, sep=sep)
        assert joined.find(probes).tolist() == LineTable(keys, use_compiled).find(probes).tolist(), keys
    assert LineTable(b"", use_compiled, sep=sep).find([b"", b"a"]).tolist() == [-1, 0]  # no key at all


def test_buffers_and_errors():
    from engine.clones import _linekeys

    table = LineTable([b"ab", b"cd"])
    assert table.ids(b"AB\ncd", False).tolist() == [1, 2]
    assert table.ids(b"AB\ncd", True).tolist() == [0, 2]
    assert LineTable([b"ab", b"ab"]).ids(b"ab", False).tolist() == [2]  # last id wins, as in a dict
    assert LineTable([]).ids(b"ab\n{", False).tolist() == [0, -1]
    raw = _linekeys.Table([b"ab"])
    with pytest.raises(TypeError):
        _linekeys.Table(["ab"])
    with pytest.raises(TypeError):
        _linekeys.Table(b"ab", sep=b"--")  # one byte
    with pytest.raises(TypeError):
        _linekeys.Table("ab", sep=b"\0")  # a buffer
    with pytest.raises(RuntimeError):
        raw.__init__([b"cd"])
    ids, back, text = raw.lookup(b"AB\nab", False)
    assert np.frombuffer(ids, np.int64).tolist() == [1, 1] and back is None and text is None
    ids, back, text = raw.lookup("Ä\n ab \n\t\u212a ".encode(), False)
    assert np.frombuffer(ids, np.int64).tolist() == [-2, 1, -2]
    assert np.frombuffer(back, np.int64).tolist() == [0, 2] and text == "Ä\n\u212a".encode()
    ids, back, text = raw.lookup(bytearray(b"ab\n{"), True)
    assert np.frombuffer(ids, np.int64).tolist() == [1, -1] and back is None
    assert raw.lookup(memoryview(b"ab\n\xff"), True) is None
    out = LineTable([b"ab"]).ids(b"ab\ncd", False)
    out[0] = 5  # the result is an ordinary writable array
    assert out.flags.writeable and out.dtype == np.int64


# -- the Simian rules --------------------------------------------------------------------------
SIMIAN_BODIES = BODIES + ["return total", "returntotal", "a.b", "a b", "a,b", "ab", "x ; y", "total _ us",
                          "total_us", "'quoted'", '"quoted"', "a!b?c:d", "\x7f", "~`^", "CAFÉ_LAT", "café_lat",
                          "ФУНКЦИЯ_CY", "функция_cy", "naïve", "na ve", "élan", "é lan",
                          # caseless characters the kernel keys itself, and mixes with cased ones
                          "x → Y", "# 日本語のコメント", "print('✓ Done')", "A—b", "Emoji 🎉 OK", "NBSP\u00a0X",
                          "“Quoted” … text", "\u3000Full\u3000width", "한국어 Text", "Ωmega → Σ", "ÄRGER — ärger",
                          "x\u2028y", "DONE✓", "✓DONE", "Ÿ → ÿ"]
TERMINATORS = ["\n", "\r\n", "\r"]


def simian_reference(data: bytes, keys: list[bytes]) -> tuple[list[int], list[int]] | None:
    """Straight from the definition: Simian's lines, line_key, a dict lookup."""
    from engine.clones.rules import segments
    from engine.clones.rules.simian import line_key

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    vocab = {key: i for i, key in enumerate(keys, 1)}
    lines = segments(text)
    ids = [-1 if (key := line_key(line)) is None else vocab.get(key) or unknown_symbol(key) for _, line in lines]
    return ids, [number for number, _ in lines]


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_unknown_symbols_are_the_kernels_hash_in_python():
    """The reference above numbers unknown lines with the Python mirror of the kernel's hash."""
    from engine.clones import _linekeys

    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in list(range(1, 41)) * 20]
    keys += [b"x", b"if total_six>10", "caf\x01É".encode(), b"\xff" * 64]
    for key in keys:
        assert unknown_symbol(key) == _linekeys.unknown_symbol(key) <= -3, key
    assert len({unknown_symbol(key) for key in set(keys)}) == len(set(keys))


def line_starts(data: bytes) -> list[int]:
    """Where each of Simian's lines begins: after every \\n, \\r\\n or lone \\r, byte by byte."""
    starts, i = [0], 0
    while i < len(data):
        if data[i:i + 2] == b"\r\n":
            i += 2
            starts.append(i)
        elif data[i] in b"\r\n":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts


def simian_check(table: LineTable, keys: list[bytes], data: bytes, min_run: int = 1) -> None:
    got = table.simian_ids(data, min_run)
    want = simian_reference(data, keys)
    if want is None:
        assert got is None, data
        return
    ids, numbers, starts = got
    assert starts.tolist() == line_starts(data), data
    ids, want_ids = ids.tolist(), want[0]
    # an unknown line may keep 0 (its symbol never computed) unless it is next to a known one
    assert [w if g == 0 and w <= -3 else g for g, w in zip(ids, want_ids)] == want_ids, data
    # ... the lines just before and after a run of min_run known lines: a region's neighbours
    kept = [i for i, v in enumerate(want_ids) if v != -1]
    run: list[int] = []
    for at, i in enumerate(kept + [None]):
        if i is not None and want_ids[i] > 0:
            run.append(at)
            continue
        if len(run) >= min_run:
            for side in (run[0] - 1, run[-1] + 1):
                if 0 <= side < len(kept):
                    assert ids[kept[side]] != 0, (data, kept[side])
        run = []
    assert (list(range(1, len(ids) + 1)) if numbers is None else numbers.tolist()) == want[1], data


@pytest.mark.parametrize("use_compiled", PATHS)
def test_window_hits_are_the_known_windows_in_the_set(use_compiled):
    """window_hits (the kernel's loop, or numpy) against a plain loop over every window;
    window_hits_at also gives each hit's place in the set."""
    from engine.clones.index import window_hashes, window_hits, window_hits_at

    if use_compiled and not linekeys.compiled:
        pytest.skip("needs the compiled kernel")
    rng = np.random.default_rng(5)
    for trial in range(30):
        k = int(rng.integers(1, 8))
        ids = rng.integers(-4, 6, int(rng.integers(0, 400))).astype(np.int64)
        ids[rng.random(len(ids)) < 0.5] = rng.integers(1, 4)  # long known runs
        if trial % 2:  # large ids: the kernel's rolling hash wraps around as the products do
            ids[ids > 0] *= 2**40 + 3
        every = window_hashes(ids, k)
        chosen = every[rng.random(len(every)) < 0.6]
        windows = np.unique(np.concatenate([chosen, rng.integers(0, 2**63, 50, dtype=np.int64).astype(np.uint64)]))
        want = [p for p in range(len(ids) - k + 1) if (ids[p:p + k] > 0).all() and every[p] in set(windows.tolist())]
        assert window_hits(ids, k, windows, use_compiled=use_compiled).tolist() == want, trial
        where = {h: at for at, h in enumerate(windows.tolist())}
        starts, at = window_hits_at(ids, k, windows, use_compiled=use_compiled)
        assert (starts.tolist(), at.tolist()) == (want, [where[h] for h in every[want].tolist()]), trial


@pytest.mark.parametrize("use_compiled", PATHS)
def test_simian_keys_match_the_definition(use_compiled):
    from engine.clones.rules.simian import line_key

    rng = random.Random(2026)
    for _ in range(40):
        bodies = rng.sample(SIMIAN_BODIES, 30)
        keys = list(dict.fromkeys(key for body in bodies if (key := line_key(body)) is not None))
        table = LineTable(keys, use_compiled=use_compiled, rules="simian")
        for _ in range(25):
            lines = [rng.choice(INDENTS) + rng.choice(SIMIAN_BODIES) + rng.choice(TRAILS)
                     for _ in range(rng.randrange(0, 30))]
            text = "".join(line + rng.choice(TERMINATORS) for line in lines)
            if rng.random() < 0.5:
                text = text[:-1] if text.endswith(("\n", "\r")) else text
            simian_check(table, keys, text.encode("utf-8"), rng.choice((1, 2, 3, 6)))


@pytest.mark.parametrize("use_compiled", PATHS)
def test_simian_edge_documents(use_compiled):
    keys = [b"if total_six>10", b"{", b"}", b"x", b"caf\x01\xc3\x89_lat"]
    table = LineTable(keys, use_compiled=use_compiled, rules="simian")
    for data in [b"", b"\r", b"\r\r", b"\r\n", b"x\r", b"x\ry\nx", b"{\n}", b"  if  total_six  >  10 :\r\n",
                 b"IF Total_Six>10;", "CAFÉ_LAT".encode(), "\u2028x".encode(), b"x" * 100000,
                 "é".encode() * 100000, "x\né".encode() * 50000, "é日".encode() * 50000]:  # keys longer than lines
        simian_check(table, keys, data)
    for bad in INVALID:
        assert table.simian_ids(b"x\r" + bad) is None


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_the_kernels_sieve_sets_the_bits_numpy_sets():
    from engine.clones import _linekeys

    rng = np.random.default_rng(3)
    for n, words in ((0, 16), (1, 16), (1000, 256), (5000, 1024)):
        windows = np.unique(rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(3))
        bits = np.zeros(words, np.uint64)
        _linekeys.sieve_bits(windows, bits)
        slots = windows & np.uint64(64 * words - 1)
        want = np.zeros(words, np.uint64)
        np.bitwise_or.at(want, (slots >> np.uint64(6)).astype(np.int64), np.uint64(1) << (slots & np.uint64(63)))
        assert np.array_equal(bits, want)
    with pytest.raises(ValueError, match="power of two"):
        _linekeys.sieve_bits(np.zeros(1, np.uint64), np.zeros(3, np.uint64))


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_the_kernels_keys_of_output_lines_are_the_definition():
    """The outputs' side of a Simian scan keys whole texts in the kernel
    (``simian_line_keys``): the same keys and line numbers as the Python definition, on
    random texts of every indent, body (ASCII, Latin-1, Greek sigma, CJK, emoji) and line end."""
    from engine.clones.linekeys import simian_line_keys

    rng = random.Random(5)
    texts = ["", "\r", "\r\n", "x\r", "x\ry\nx", "a\n", "a\r\n", "\u2028x", "\ud800 lone surrogate\nx", "é" * 9000]
    for _ in range(300):
        lines = [rng.choice(INDENTS) + rng.choice(SIMIAN_BODIES) + rng.choice(TRAILS) for _ in range(rng.randrange(40))]
        texts.append("".join(line + rng.choice(TERMINATORS) for line in lines))
    for text in texts:
        assert simian_line_keys(text) == simian_line_keys(text, use_compiled=False), repr(text)


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
@pytest.mark.parametrize("rules, case_sensitive", [("simian", False), ("lines", False), ("lines", True)])
def test_the_outputs_index_keyed_by_the_kernel_is_the_definitions(monkeypatch, rules, case_sensitive):
    """An output index built with the kernel interning each text's keys (``simian_intern``,
    ``lines_intern``) equals one built the Python way: the same vocabulary, ids in the
    same order, the same ids and line numbers per output; texts the kernel hands back
    (lone surrogate, characters only Python lower-cases) fall back, with nothing interned
    twice."""
    from engine.clones.index import OutputIndex

    rng = random.Random(11)
    texts = ["", "\r", "x\ry\nx", "\ud800 lone surrogate\nx", "İSTANBUL = 1\nx", "é" * 300, " { \n}\t\n{}\n\x0b\x0c\n",
             "\u00a0x\u00a0\n\u2028y"]
    for _ in range(200):
        lines = [rng.choice(INDENTS) + rng.choice(SIMIAN_BODIES) + rng.choice(TRAILS) for _ in range(rng.randrange(40))]
        texts.append("".join(line + rng.choice(TERMINATORS) for line in lines))
    if rules == "lines":  # its Python keying encodes the text: a store's texts hold no lone surrogate
        texts.remove("\ud800 lone surrogate\nx")
    built = []
    for kernel in (True, False):
        monkeypatch.setattr(linekeys, "compiled", kernel)
        index = OutputIndex(6, case_sensitive, rules=rules)
        for n, text in enumerate(texts, 1):
            index.add(n, text)
        built.append(index)
    fast, slow = built
    assert fast.vocab == slow.vocab and fast.keys == slow.keys and len(fast.keys) == len(fast.vocab) + 1
    for (a, ids, lines), (b, want_ids, want_lines) in zip(fast.outputs, slow.outputs, strict=True):
        assert a == b and ids.tolist() == want_ids.tolist() and lines.tolist() == want_lines.tolist(), a
    monkeypatch.setattr(linekeys, "compiled", True)
    vocab, keys = {}, [b""]
    assert linekeys.interned("İSTANBUL = 1\nx", rules, False, vocab, keys) is None and (vocab, keys) == ({}, [b""])
    if case_sensitive:  # kept as it is: the kernel keys it
        assert linekeys.interned("İSTANBUL = 1\nx", rules, True, vocab, keys) is not None


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_the_kernels_line_hashes_are_simians():
    """Fingerprints hash each key's tokens in the kernel where the key is ASCII
    (``line_hashes``): the same numbers as the definition, for keys of every body, and
    Python's for the others (marked Latin-1 symbols, words from U+0100 up)."""
    from engine.clones.linekeys import line_hashes
    from engine.clones.rules.simian import line_hash, line_key

    keys = [key for body in SIMIAN_BODIES if (key := line_key(body)) is not None]
    rng = random.Random(3)
    alphabet = "abcXYZ019_ (){}=+-*/#$@\\`~|^&<>[]!'\"\x7f"
    keys += [key for _ in range(5000) if (key := line_key("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 60)))))]
    assert any(not key.isascii() for key in keys)
    assert line_hashes(keys).tolist() == line_hashes(keys, use_compiled=False).tolist() == [line_hash(key) for key in keys]


@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_the_kernels_fingerprints_are_simians():
    """The kernel's fingerprints of many blocks at once (its own MD5, the binomial
    coefficients carried modulo 2**64) are the definition's and NumPy's, for thresholds
    from 1, blocks of the threshold's length up to 2,000 lines, and any 64-bit hashes;
    blocks shorter than the threshold or lengths that miss the hashes are refused."""
    from engine.clones.rules.simian import fingerprint_of_hashes, fingerprints_of_hashes

    rng = np.random.default_rng(11)
    for threshold in (1, 2, 6, 7):
        lengths = rng.integers(threshold, threshold + 80, 150)
        lengths[:3] = (threshold, threshold + 1, 2000)
        hashes = rng.integers(-2**63, 2**63, int(lengths.sum()), dtype=np.int64)
        hashes[:threshold] = 0
        starts = np.cumsum(lengths) - lengths
        got = linekeys.simian_fingerprints(hashes, lengths, threshold)
        assert got == [fingerprint_of_hashes(hashes[a:a + n].tolist(), threshold)
                       for a, n in zip(starts.tolist(), lengths.tolist())]
        same = np.flatnonzero(lengths == threshold + 1)
        spans = hashes[starts[same][:, None] + np.arange(threshold + 1)].view(np.uint64)
        assert [got[i] for i in same.tolist()] == fingerprints_of_hashes(spans, threshold)
    assert linekeys.simian_fingerprints(np.zeros(0, np.int64), np.zeros(0, np.int64), 6) == []
    # no block: nothing to do, whatever the threshold (not 10**12 steps towards it)
    assert linekeys.simian_fingerprints(np.zeros(0, np.int64), np.zeros(0, np.int64), 10**12) == []
    for lengths, size, threshold in (([5], 5, 6), ([6, 6], 11, 6), ([6], 7, 6), ([-1], 0, 6), ([], 0, 0)):
        with pytest.raises(ValueError):
            linekeys.simian_fingerprints(np.zeros(size, np.int64), np.array(lengths, np.int64), threshold)


def test_the_kernels_lcp_intervals_are_the_stack_walks():
    """Simian's blocks come from the lcp-intervals of a suffix array: the kernel's
    (``lcp_intervals``) are the Python stack walk's (``intervals``), in the same order, on
    random lcp arrays of every shape (runs, plateaus, the ends) and thresholds; and on the
    suffix array of a real text, the intervals are its repeats."""
    import itertools

    from engine.clones.blocks import intervals, lcp_array, suffix_array
    from engine.clones.linekeys import lcp_intervals

    def walk(lcp, k):
        return np.fromiter(itertools.chain.from_iterable(intervals(lcp, k)), np.int64).reshape(-1, 3)

    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(0, 80))
        lcp = np.zeros(n + 1, np.int64)
        if n > 1:
            lcp[1:n] = rng.integers(0, 12, n - 1)
        k = int(rng.integers(1, 9))
        assert np.array_equal(lcp_intervals(lcp, k), walk(lcp, k))
    text = np.array([1, 2, 3, 1, 2, 3, 1, 2, 0], np.int64)  # "abcabcab$"
    sa, levels = suffix_array(text)
    lcp = lcp_array(sa, levels)
    rows = lcp_intervals(lcp, 2)
    assert np.array_equal(rows, walk(lcp, 2))
    found = {tuple(text[sa[lb]:sa[lb] + length].tolist()): rb - lb + 1 for length, lb, rb in rows.tolist()}
    # the right-maximal repeats of 2+ symbols: "ab" (before c, c, $), "abcab", "bcab", "cab";
    # "abc" and "bc" always go on with "ab": they are no interval of their own
    assert found == {(1, 2): 3, (1, 2, 3, 1, 2): 2, (2, 3, 1, 2): 2, (3, 1, 2): 2}
    with pytest.raises(ValueError):
        lcp_intervals(np.zeros(3, np.int64), 0)


def test_the_kernels_suffix_array_and_lcp_are_the_doubling_ones():
    """The blocks' suffix array and lcp array from the kernel (SA-IS, Kasai) equal
    NumPy's prefix doubling on random dense texts of small alphabets with copied
    stretches (long repeats), down to a text of the sentinel alone; the kernel refuses a
    text that does not end with its only 0."""
    from engine.clones.blocks import lcp_array, suffix_array
    from engine.clones.linekeys import suffix_and_lcp

    rng = np.random.default_rng(11)
    for trial in range(4000):
        n = int(rng.integers(1, 90))
        raw = rng.integers(1, int(rng.integers(2, 8)), n)
        if n > 8 and trial % 2:
            size = int(rng.integers(1, n // 2))
            start, to = int(rng.integers(0, n - size)), int(rng.integers(0, n - size))
            raw[to:to + size] = raw[start:start + size].copy()
        raw[-1] = 0
        text = np.unique(raw, return_inverse=True)[1].astype(np.int64)
        sa, lcp = suffix_and_lcp(text)
        want, levels = suffix_array(text)
        assert np.array_equal(sa, want) and np.array_equal(lcp, lcp_array(want, levels))
    for bad in ([1, 0, 0], [2, 1], [0, 1, 0], [-1, 0]):
        with pytest.raises(ValueError):
            suffix_and_lcp(np.array(bad, np.int64))
    # an alphabet whose buckets no memory holds (2**61 of 8 bytes wrapped to 0 bytes once)
    for top in (2**61, 2**62 + 2, 2**63 - 2):
        with pytest.raises(MemoryError):
            suffix_and_lcp(np.array([top, 0], np.int64))



@pytest.mark.skipif(not linekeys.compiled, reason="needs the compiled kernel")
def test_the_kernels_witnesses_refuse_what_lies_outside():
    """An interval outside the suffix array, a place outside the text, a place on a
    neighbour (no piece) or columns of disagreeing sizes are refused, not read."""
    sa, lcp, dense = np.array([2, 0, 1]), np.array([0, 0, 0, 0]), np.array([3, 2, 0])
    piece_of, pieces = np.array([0, 0, -1]), dict(whole_of=np.zeros(1, bool), starts=np.array([0]),
                                                   sizes=np.array([2]), weight_of=np.array([1]))

    def ask(rows, sa=sa, piece_of=piece_of, **changed):
        return linekeys.witnessed(np.array(rows), sa, lcp, dense, piece_of, **{**pieces, **changed})

    assert ask([[1, 1, 2]]).tolist() == [True]  # places 0 and 1: their left symbols differ
    for rows, kwargs in (([[1, 1, 3]], {}), ([[1, 2, 1]], {}), ([[1, 0, 0]], {}),
                         ([[1, 1, 2]], {"sa": np.array([2, 0, 7])}), ([[1, 1, 2]], {"sizes": np.array([2, 2])})):
        with pytest.raises(ValueError):
            ask(rows, **kwargs)
    with pytest.raises(ValueError):  # a negative symbol could pass for the text's start, unique
        linekeys.witnessed(np.array([[1, 1, 2]]), sa, lcp, np.array([-3, 2, 0]), piece_of, **pieces)
