"""Simian 2.5.10's plain-text line tokens and fingerprint (engine.clones.rules.simian)
against the worked examples of tests/data/simian/rules/README.md, values computed with
OpenJDK 17, and every place of every entry of the six reference logs."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from engine.clones.rules.simian import (
    fingerprint, java_lower, key_tokens, line_hash, line_key, split_lines, token_hash, tokens,
)
from engine.formats.simian import read_simian_log

SIMIAN = Path(__file__).resolve().parent / "data" / "simian"
RULES, REALISTIC = SIMIAN / "rules", SIMIAN / "realistic"
M64 = (1 << 64) - 1


def signed64(x: int) -> int:
    x &= M64
    return x - (1 << 64) if x >= 1 << 63 else x


def window(hashes) -> int:
    w = 0
    for h in hashes:
        w = 31 * w + h
    return signed64(w)


# --- split_lines --------------------------------------------------------------------

@pytest.mark.parametrize("text, lines", [
    ("", []),
    ("a", ["a"]),
    ("a\nb\n", ["a", "b"]),
    ("a\nb", ["a", "b"]),
    ("a\r\n\r\nb", ["a", "", "b"]),
    ("a\r\nb\r\n", ["a", "b"]),
    ("a\rb", ["a", "b"]),
    ("a\r", ["a"]),
    ("\r", [""]),
    ("\n", [""]),
    ("\n\n", ["", ""]),
    ("a\r\rb", ["a", "", "b"]),
    ("a\n\rb", ["a", "", "b"]),
    ("a\x0cb\x0bc\x85d\u2028e\x1cf", ["a\x0cb\x0bc\x85d\u2028e\x1cf"]),
])
def test_split_lines(text, lines):
    assert split_lines(text) == lines


def test_split_lines_lone_cr_in_document():
    # rules README: Simian counts 582 lines in corpus/0 although it has 581 newlines
    text = (RULES / "corpus" / "0").read_bytes().decode("utf-8")
    assert text.count("\n") == 581 and text.endswith("\n")
    assert len(split_lines(text)) == 582


# --- tokens and keys ----------------------------------------------------------------

def test_readme_line_example():
    line = "    if total_six > 10:"
    assert tokens(line) == ["if", " ", "total", "_", "six", ">", "10"]
    assert line_key(line) == b"if total_six>10"
    assert line_hash(line_key(line)) == 105075465976261


@pytest.mark.parametrize("line", ["", "   ", "\t \t", '"""', "'''", ";", ":", "...", "\x0c", "\x00",
                                  "\x0b\x1f", "!?", '" , . : ; ? !'])
def test_lines_without_tokens_are_ignored(line):
    assert tokens(line) == []
    assert line_key(line) is None


@pytest.mark.parametrize("line, key", [
    ("{", b"{"), ("}", b"}"), ("    }", b"}"), ("#", b"#"), ("\x7f", b"\x7f"), ("_", b"_"),
    ("\u00a0", b"\x01\xc2\xa0"), ("\u3000", "\u3000".encode()), ("\ufeffimport os", "\ufeffimport os".encode()),
])
def test_significant_lines(line, key):
    assert line_key(line) == key


def same(a: str, b: str) -> bool:
    return line_key(a) == line_key(b)


def test_case_upper():
    assert same('        RETURN "BIG CASE"', '        return "big case"')
    assert same("DEF FUNC_CASE(ALPHA, BETA):", "def func_case(alpha, beta):")


def test_word_space_removed():
    assert not same("    return total_wj", "    returntotal_wj")
    assert same("    print(v,total_wj)", "    print(v, total_wj)")
    assert same("a.b", "a b") and same("a b", "a,b") and not same("a,b", "ab")
    assert tokens("a.b") == ["a", " ", "b"]


def test_whitespace_and_separators():
    assert same("total _ us = alpha + beta", "    total_us = alpha + beta")  # spaces_around_underscore
    assert same("os.path.join(path,f)", "os.path.join(path, f)")
    assert same("x = 'a'", 'x = "a"')  # quotes_swapped
    assert same("if a:\tb\t=\t1", "if a: b = 1")  # tabs_inside_line
    assert same("a!b?c", "a b c")  # punct_bang_question_dot
    assert same("\x0c\tx\x0c", "x")
    assert not same("a = b", "a == b")
    assert tokens("  x  +  y  ") == ["x", "+", "y"]
    assert tokens("x y\tz") == ["x", " ", "y", " ", "z"]


def test_latin1_case_not_folded():
    assert not same("CAFÉ_LAT", "café_lat")
    assert tokens("CAFÉ_LAT") == ["caf", "É", "_", "lat"]
    assert tokens("NAÏVE_LAT") == ["na", "Ï", "ve", "_", "lat"]
    assert same("élan", "é lan") and not same("naïve", "na ve")  # é is a symbol, no space token
    assert tokens("a\u00a0b×c\u00ffd") == ["a", "\u00a0", "b", "×", "c", "\u00ff", "d"]


def test_nonascii_case_folded():
    assert same("ФУНКЦИЯ_CY(АЛЬФА, БЕТА)", "функция_cy(альфа, бета)")
    assert same("[ΑΛΦΑ, ΩΜΈΓΑ]", "[αλφα, ωμέγα]")
    assert tokens("ΩΜΈΓΑ 中文 😀x") == ["ωμέγα", " ", "中文", " ", "😀x"]
    assert tokens("a\u2003b") == ["a\u2003b"]  # U+2003 is a word character, not white space


def test_final_sigma():
    assert tokens("Y1Σ") == ["y1ς"]  # Java; Python's str.lower gives y1σ
    assert "Y1Σ".lower() == "y1σ"
    assert not same("Y1Σ", "y1σ") and same("Y1Σ", "y1ς")
    assert tokens("ΟΔΟΣ ΣΟΦΟΣ") == ["οδος", " ", "σοφος"]


@pytest.mark.parametrize("word, lower", [  # OpenJDK 17.0.15's String.toLowerCase()
    ("Y1\u03a3", "y1\u03c2"),
    ("\u039f\u0394\u039f\u03a3", "\u03bf\u03b4\u03bf\u03c2"),
    ("\u03a3\u039f\u03a6\u039f\u03a3", "\u03c3\u03bf\u03c6\u03bf\u03c2"),
    ("\u0391\u03a31", "\u03b1\u03c21"),
    ("A\u2014\u03a3", "a\u2014\u03c2"),  # a dash inside a word
    ("A\u2014\u2014\u03a3", "a\u2014\u2014\u03c3"),  # two break it
    ("\u03a3", "\u03c3"),
    ("1\u03a3", "1\u03c3"),
    ("\u0391\u03a3\u0391", "\u03b1\u03c3\u03b1"),
    ("A\u03a3\u4e2d", "a\u03c2\u4e2d"),
    ("A\U00010400\u03a3", "a\U00010428\u03c3"),  # Java's iterator stumbles after a surrogate pair
    ("\U00010400\u03a3", "\U00010428\u03c2"),
    ("A\u03a3\U00010400B", "a\u03c3\U00010428b"),
    ("A\u200b\u03a3", "a\u200b\u03c2"),  # format characters are transparent
    ("A\u0301\u03a3", "a\u0301\u03c2"),
    ("A\u03a3\u2003B", "a\u03c2\u2003b"),  # U+2003: a word boundary inside the token
    ("\u0391\u03a3\u2019\u0391", "\u03b1\u03c2\u2019\u03b1"),
    ("A\u03a3\xadB", "a\u03c3\xadb"),
    ("ABC123\u03a3", "abc123\u03c2"),
    ("12\u03a3", "12\u03c3"),
    ("\u03a3\u03a3", "\u03c3\u03c2"),
    ("\u0130", "i\u0307"),
    ("\u212b", "\xe5"),
    ("\u2c2f", "\u2c2f"),  # new in Unicode 14, unknown to Java 17
    ("\U00010570", "\U00010570"),
    ("HELLO\u0416", "hello\u0436"),
])
def test_java_lower(word, lower):
    assert java_lower(word) == lower


def test_lowercasing_into_latin1():
    # Å (U+212B) lower-cases to å (U+00E5): inside a longer word it is a word character,
    # unlike the Latin-1 symbol å; alone it is the same token text as the symbol.
    assert tokens("X\u212b") == ["x\xe5"]
    assert tokens("X\xe5") == ["x", "\xe5"]
    assert line_key("X\u212b") == "x\xe5".encode() != line_key("X\xe5")
    assert key_tokens(line_key("X\u212b")) == ["x\xe5"]
    assert key_tokens(line_key("X\xe5")) == ["x", "\xe5"]
    for word, symbol in (("\u212b", "\xe5"), ("\u0178", "\xff"), ("\u1e9e", "\xdf")):
        assert tokens(f"({word})") == tokens(f"({symbol})") == ["(", symbol, ")"]
        assert line_key(f"({word})") == line_key(f"({symbol})") == b"(\x01" + symbol.encode() + b")"
        assert tokens(f"{word} a") == [symbol, " ", "a"]  # a word: a space token follows
        assert tokens(f"{symbol} a") == [symbol, "a"]  # a symbol: none
        assert line_key(f"{word} a") != line_key(f"{symbol} a")


@pytest.mark.parametrize("token, value", [  # OpenJDK 17's String.hashCode()
    ("if", 3357), ("hello", 99162322), ("\U0001F600", 1772899),
    ("polygenelubricants", -2147483648), ("\u03c3", 963), (" ", 32), ("\xe9", 233), ("", 0),
])
def test_token_hash(token, value):
    assert token_hash(token) == value


# --- a reference written from the definition, character by character ----------------

SEPARATORS = set("!\"',.:;?")


def reference_tokens(line: str) -> list[str]:
    out: list[str] = []
    word = ""
    gap = False  # separators since the last token
    last_was_word = False
    for c in line + "\x00":
        o = ord(c)
        if (c.isascii() and c.isalnum()) or o >= 0x100:
            word += c
            continue
        if word:
            if last_was_word and gap:
                out.append(" ")
            out.append(java_lower(word))
            word, gap, last_was_word = "", False, True
        if o <= 0x20 or c in SEPARATORS:
            gap = True
        else:
            out.append(c)
            gap, last_was_word = False, False
    return out


def reference_key(line: str) -> bytes | None:
    toks = reference_tokens(line)
    if not toks:
        return None
    return b"".join((b"\x01" if len(t) == 1 and 0x80 <= ord(t) <= 0xFF else b"") + t.encode("utf-8")
                    for t in toks)


PIECES = (
    list("aAzZ09bB") + ["if", "IF", "total", "TOTAL", "return"]
    + list(" \t\x0c\x00\x0b\x1f") + list("!\"',.:;?")
    + list("_$#{}()[]=+-*/%<>&|^~@\\`\x7f")
    + ["\x80", "\x85", "\xa0", "\xb5", "\xc0", "\xc9", "\xd7", "\xdf", "\xe9", "\xff"]
    + list("ФфЖжΣσςΩωΆά") + ["ФУНКЦИЯ", "функция", "ΟΔΟΣ", "οδος", "ΑΣ"]
    + list("中文字") + ["\U0001F600", "\U00010400", "\U00010428", "\U0001D400", "\U00020000"]
    + ["\u0130", "\u212a", "\u212b", "\u1e9e", "\u0178", "\u2003", "\u3000", "\u2028", "\ufeff",
       "\u200b", "\u0301", "\u2014", "\u2c2f", "\uffff"]
)


def random_line(rng: random.Random, pieces=PIECES, longest: int = 12) -> str:
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(longest + 1)))


def test_tokens_and_keys_against_reference():
    rng = random.Random(20240521)
    for _ in range(20000):
        line = random_line(rng)
        toks = tokens(line)
        assert toks == reference_tokens(line), ascii(line)
        key = line_key(line)
        assert key == reference_key(line), ascii(line)
        if key is None:
            assert toks == []
        else:
            assert key_tokens(key) == toks, ascii(line)
            assert line_hash(key) == signed64_fold(toks)


def signed64_fold(toks: list[str]) -> int:
    h = 0
    for t in toks:
        h = 31 * h + token_hash(t)
    return signed64(h)


def test_keys_equal_exactly_when_tokens_equal():
    rng = random.Random(7)
    small = ["a", "A", "b", "1", " ", "\t", ".", ",", "_", "\xc9", "\xe9", "\u212b", "\xe5", "\u03a3", "\u03c3",
             "\u03c2", "\u0416", "\u0436", "\U0001F600", "\u0130", "i\u0307", "{", "\x01"]
    by_key: dict[bytes | None, set] = {}
    by_tokens: dict[tuple, set] = {}
    for _ in range(30000):
        line = random_line(rng, small, 6)
        key, toks = line_key(line), tuple(tokens(line))
        by_key.setdefault(key, set()).add(toks)
        by_tokens.setdefault(toks, set()).add(key)
    assert all(len(v) == 1 for v in by_key.values())
    assert all(len(v) == 1 for v in by_tokens.values())
    assert len(by_key) == len(by_tokens) > 1000


# --- the fingerprint ----------------------------------------------------------------

def reference_fingerprint(keys, threshold: int = 6) -> str:
    """Steps 4-6 of "Simian's fingerprint", with the pairwise recursion."""
    hashes = [line_hash(k) for k in keys]
    f = [window(hashes[i:i + threshold]) for i in range(len(hashes) - threshold + 1)]
    while len(f) > 1:
        f = [signed64(31 * f[i] + f[i + 1]) for i in range(len(f) - 1)]
    return hashlib.md5(str(f[0]).encode()).hexdigest()


def block_keys(log: Path, fingerprint_prefix: str, files: dict) -> list[bytes]:
    for block in read_simian_log(log).blocks:
        if block.fingerprint.startswith(fingerprint_prefix):
            loc = block.locations[0]
            lines = files[file_of(loc.path)][loc.start - 1:loc.end]
            return [k for line in lines if (k := line_key(line)) is not None]
    raise AssertionError(f"no block {fingerprint_prefix} in {log}")


def test_readme_fingerprint_examples():
    files = read_files(RULES)
    keys = block_keys(RULES / "simian_single.log", "68cc145e947d68603009df89f55dfa4a", files)
    assert len(keys) == 6 and b"if total_six>10" in keys
    assert window([line_hash(k) for k in keys]) == 2797563105029872538
    assert fingerprint(keys) == "68cc145e947d68603009df89f55dfa4a"

    keys = block_keys(RULES / "simian_single.log", "14d58f8c", files)
    hashes = [line_hash(k) for k in keys]
    assert len(keys) == 7
    w0, w1 = window(hashes[:6]), window(hashes[1:])
    assert (w0, w1) == (1612552668380139836, -8312537306277442924)
    assert signed64(31 * w0 + w1) == 4783107266087788760
    assert fingerprint(keys) == hashlib.md5(b"4783107266087788760").hexdigest()
    assert fingerprint(keys).startswith("14d58f8c")


def test_fingerprint_matches_pairwise_recursion():
    rng = random.Random(3)
    keys = [k for _ in range(400) if (k := line_key(random_line(rng))) is not None]
    for n in (6, 7, 8, 9, 13, 40, 150):
        start = rng.randrange(len(keys) - n)
        assert fingerprint(keys[start:start + n]) == reference_fingerprint(keys[start:start + n])
    for threshold, n in ((3, 3), (3, 10), (1, 5), (10, 25)):
        assert fingerprint(keys[:n], threshold) == reference_fingerprint(keys[:n], threshold)
    with pytest.raises(ValueError):
        fingerprint(keys[:5])


def test_fingerprints_of_many_blocks_at_once_are_each_blocks_fingerprint(monkeypatch):
    import numpy as np

    from engine.clones.index import OutputIndex
    from engine.clones.rules.simian import fingerprints_of_hashes

    rng = random.Random(5)
    keys = [k for _ in range(600) if (k := line_key(random_line(rng))) is not None]
    for threshold, n in ((6, 6), (6, 7), (6, 40), (3, 12), (1, 4)):
        blocks = [keys[s:s + n] for s in rng.sample(range(len(keys) - n), 12)]
        hashes = np.array([[line_hash(k) for k in b] for b in blocks], np.int64).view(np.uint64)
        assert fingerprints_of_hashes(hashes, threshold) == [reference_fingerprint(b, threshold) for b in blocks]
    with pytest.raises(ValueError):
        fingerprints_of_hashes(np.zeros((2, 5), np.uint64))
    # the index's spans, of mixed lengths, end to end
    index = OutputIndex(6, rules="simian")
    index.add(1, "\n".join(random_line(rng) for _ in range(300)))
    ids = index.outputs[0][1]
    spans = [(s, n) for s, n in ((0, 6), (10, 9), (3, 6), (50, 31), (7, 9))]
    flat = np.concatenate([ids[s:s + n] for s, n in spans])
    assert index.fingerprints(flat, np.array([n for _, n in spans])) == [
        index.fingerprint(ids[s:s + n].tolist()) for s, n in spans] == [
        reference_fingerprint([index.keys[v] for v in ids[s:s + n].tolist()], 6) for s, n in spans]
    from engine.clones import linekeys

    with monkeypatch.context() as patched:  # the same in NumPy, without the kernel
        patched.setattr(linekeys, "compiled", False)
        assert index.fingerprints(flat, np.array([n for _, n in spans])) == [
            index.fingerprint(ids[s:s + n].tolist()) for s, n in spans]
    # the line hashes are made for the lines asked for, and for keys added after
    index.add(2, "\n".join(random_line(rng) for _ in range(40)))
    later = index.outputs[1][1]
    assert len(later) >= 12 and later[:12].max() >= len(index._hashed)  # keys the hashes have not seen
    assert index.fingerprints(later[:12], np.array([12])) == [reference_fingerprint([index.keys[v] for v in later[:12]], 6)]


def test_fingerprint_of_a_long_block_is_quick():
    rng = random.Random(4)
    keys = [k for _ in range(4000) if (k := line_key(random_line(rng))) is not None][:3000]
    assert len(fingerprint(keys)) == 32  # linear: well under a second


# --- every place of every entry of the reference logs -------------------------------

def file_of(path: str) -> str:
    """The file behind a path in the logs (see the READMEs' path tables)."""
    name = path.rsplit("/", 1)[-1]
    if name == "all" or name.startswith("all_"):
        return "all"
    assert name in ("0", "1", "both"), path
    return name


def read_files(root: Path) -> dict[str, list[str]]:
    shard0, shard1 = (root / "corpus" / "0").read_bytes(), (root / "corpus" / "1").read_bytes()
    raw = {"all": (root / "all").read_bytes(), "0": shard0, "1": shard1, "both": shard0 + shard1}
    return {name: split_lines(data.decode("utf-8")) for name, data in raw.items()}


@pytest.mark.parametrize("root, log, places", [
    (RULES, "simian/0.log", 82), (RULES, "simian/1.log", 21), (RULES, "simian_single.log", 92),
    (REALISTIC, "simian/0.log", 1068), (REALISTIC, "simian/1.log", 1030), (REALISTIC, "simian_single.log", 1492),
], ids=["rules-0", "rules-1", "rules-single", "realistic-0", "realistic-1", "realistic-single"])
def test_every_place_of_the_logs(root, log, places):
    files = read_files(root)
    checked, bad = 0, []
    for block in read_simian_log(root / log).blocks:
        for loc in block.locations:
            lines = files[file_of(loc.path)][loc.start - 1:loc.end]
            keys = [k for line in lines if (k := line_key(line)) is not None]
            checked += 1
            if (len(keys) != block.lines or fingerprint(keys) != block.fingerprint
                    or line_key(lines[0]) is None or line_key(lines[-1]) is None):
                bad.append((block.fingerprint, loc.path, loc.start, loc.end, len(keys), block.lines))
    assert bad == []
    assert checked == places
