"""Simian 2.5.10's plain-text mode: its lines, its line tokens and its block fingerprint.

The definitions follow Simian 2.5.10 as the extraction study (Yang et al., ICSE 2024) ran
it: ``java -jar simian-2.5.10.jar <shard> <all>``, default options, files without an
extension (so plain-text mode), OpenJDK 17 with ``LANG=C.UTF-8``. The rules were observed
from Simian's logs and black-box experiments; each is cited by number from
tests/data/simian/rules/README.md ("Observed rules", "Simian's fingerprint"), and every
place of every entry of the reference logs there and in tests/data/simian/realistic/ is
reproduced by this module (tests/test_simian_rules.py). Each function's docstring holds
the detail of its definition.
"""
from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence

__all__ = ["split_lines", "java_lower", "tokens", "line_key", "key_tokens", "token_hash",
           "line_hash", "fingerprint"]

_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1

# Character classes of rule 3. Word characters: ASCII letters and digits and every
# character from U+0100 up (Simian looks at UTF-16 code units; the two halves of a
# supplementary character are >= U+D800, so a Python code point >= U+0100 is a word
# character too). Separators: U+0000..U+0020 and ! " ' , . : ; ? (dropped). Symbols:
# everything else, i.e. the other ASCII characters (DEL included) and U+0080..U+00FF.
_W = "A-Za-z0-9\u0100-\U0010ffff"
_S = "\x00-\x20!\"',.:;?"
_SEP_RUN = re.compile(f"[{_S}]+")
# After separator runs became one space: a space not between two word characters goes
# (written to start with the space, so that the search can skip to it).
_LONE_SPACE = re.compile(f" (?:(?<![{_W}] )|(?![{_W}]))")
_WORD = re.compile(f"[{_W}]+")
# What the key marks with 0x01: the U+0080..U+00FF symbols, and the one-character words
# that lower-case into that range (Ÿ U+0178 → ÿ, ẞ U+1E9E → ß, Å U+212B → å; no other
# character does, in Java 17 or Python), so that a token reads the same in the key
# whether it was a symbol or a word.
_LATIN1 = re.compile("[\x80-\xff]")
_INTO_LATIN1 = re.compile(f"(?<![{_W}])[\u0178\u1e9e\u212b](?![{_W}])")
# A marked text back into tokens: a marked character, a word (lower-casing can put
# U+0080..U+00FF letters into a word, unmarked), or one other character (0x01 skipped).
_KEY_TOKEN = re.compile(f"(?<=\x01)[\x80-\xff]|[{_W}\x80-\xff]+|[^\x01]")
# Upper-case letters of Unicode 14 that Java 17 does not know (so does not fold).
_JAVA_KEEPS = "\u2c2f\ua7c0\ua7d0\ua7d6\ua7d8\U00010570-\U00010595"
# Texts whose words str.lower would fold differently from Java (a sigma, a letter Java
# 17 does not know), or whose Latin-1 symbols it would fold (capital Latin-1 letters):
# these take the per-word path.
_SLOW_LOWER = re.compile(f"[\u03a3\xc0-\xd6\xd8-\xde{_JAVA_KEEPS}]")
_JAVA_KEEPS_RE = re.compile(f"[{_JAVA_KEEPS}]")
_LATIN1_CAPITAL = re.compile("([\xc0-\xd6\xd8-\xde])")

# Characters that Python 3.11's unicodedata (Unicode 14.0) knows but Java 17 (Unicode 13.0)
# does not (OpenJDK 17.0.15's Character.getType: unassigned, so toLowerCase leaves them,
# among them 40 upper-case letters Python folds); U+1734 is Mn in Java 17, Mc in Python.
_UNICODE_14_NEW = (
    (0x61D, 0x61D), (0x870, 0x89F), (0x8B5, 0x8B5), (0x8C8, 0x8D2), (0xC3C, 0xC3C),
    (0xC5D, 0xC5D), (0xCDD, 0xCDD), (0x170D, 0x170D), (0x1715, 0x171F), (0x180F, 0x180F),
    (0x1AC1, 0x1ACE), (0x1B4C, 0x1B4C), (0x1B7D, 0x1B7E), (0x1DFA, 0x1DFA), (0x20C0, 0x20C0),
    (0x2C2F, 0x2C2F), (0x2C5F, 0x2C5F), (0x2E53, 0x2E5D), (0x9FFD, 0x9FFF), (0xA7C0, 0xA7C1),
    (0xA7D0, 0xA7F4), (0xFBC2, 0xFBC2), (0xFD40, 0xFD4F), (0xFDCF, 0xFDCF), (0xFDFE, 0xFDFF),
    (0x10570, 0x105BC), (0x10780, 0x107BA), (0x10F70, 0x10F89), (0x11070, 0x11075),
    (0x110C2, 0x110C2), (0x116B9, 0x116B9), (0x11740, 0x11746), (0x11AB0, 0x11ABF),
    (0x12F90, 0x12FF2), (0x16A70, 0x16AC9), (0x1AFF0, 0x1AFFE), (0x1B11F, 0x1B122),
    (0x1CF00, 0x1CFC3), (0x1D1E9, 0x1D1EA), (0x1DF00, 0x1DF1E), (0x1E290, 0x1E2AE),
    (0x1E7E0, 0x1E7FE), (0x1F6DD, 0x1F6DF), (0x1F7F0, 0x1F7F0), (0x1F979, 0x1F979),
    (0x1F9CC, 0x1F9CC), (0x1FA7B, 0x1FA7C), (0x1FAA9, 0x1FAAC), (0x1FAB7, 0x1FABA),
    (0x1FAC3, 0x1FAC5), (0x1FAD7, 0x1FAF6), (0x2A6DE, 0x2A6DF), (0x2B735, 0x2B738),
)
_NEW_IN_UNICODE_14 = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _UNICODE_14_NEW) + "]")


def _java_category(c: str) -> str:
    """Java 17's ``Character.getType`` of ``c`` as a Unicode category name."""
    if c == "\u1734":
        return "Mn"
    if _NEW_IN_UNICODE_14.match(c):
        return "Cn"
    return unicodedata.category(c)


def split_lines(text: str) -> list[str]:
    """The lines of a file as ``java.io.BufferedReader.readLine`` returns them (rule 2).

    ``\\n``, ``\\r\\n`` and a lone ``\\r`` each end a line, and the terminator is not part
    of the line; a final terminator does not start another (empty) line, so ``"a\\nb\\n"``
    and ``"a\\nb"`` both give ``["a", "b"]``, ``"a\\r\\n\\r\\nb"`` gives ``["a", "", "b"]``
    and ``""`` gives ``[]``. No other character ends a line (``\\f``, ``\\x0b``, U+0085,
    U+2028 stay inside it, unlike ``str.splitlines``). Simian's line numbers are the
    1-based positions in this list: a lone ``\\r`` puts them one ahead of ``\\n`` counting
    (``lone_cr_in_document``).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def java_lower(word: str) -> str:
    """Java 17's ``String.toLowerCase()`` (root or English locale) of ``word``.

    Per code point this is ``Character.toLowerCase`` (Unicode 13 simple mappings), except
    U+0130 (``İ``), which becomes ``i`` + U+0307, as Python's ``str.lower`` does. Python's
    Unicode 14 folds 40 letters more (U+2C2F, U+A7C0, U+A7D0, U+A7D6, U+A7D8 and
    Vithkuqi U+10570..U+10595), which Java 17 leaves unchanged, and so does this function.

    Capital sigma (U+03A3) is Java's conditional case (``ConditionalSpecialCasing``,
    "Final_Cased"): it becomes final ``ς`` when, within the closest word boundaries of
    ``java.text.BreakIterator.getWordInstance()`` containing it, a cased letter precedes
    it and none follows; otherwise ``σ``. A sigma right at a word boundary is never final.
    Java's "cased" is Lu, Ll or Lt, or one of U+02B0..02B8, 02C0..02C1, 02E0..02E4, 0345,
    037A, 1D2C..1D61, 2160..217F, 24B6..24E9. Java's word boundaries come from its legacy
    rule-based word iterator (:class:`_JavaWordIterator`). Python's ``str.lower``
    differs: it asks for the cased letter right before the sigma, skipping only
    case-ignorable characters, and for no cased letter right after it, so ``Y1Σ``
    becomes ``y1ς`` in Java and ``y1σ`` in Python (rules README, "Simian's fingerprint").
    Checked against OpenJDK 17.0.15's own ``toLowerCase``: every code point alone, and
    about a million random words (with and without sigma) mixing letters, digits, marks,
    format characters, dashes, spaces, CJK and supplementary characters; the cases in
    tests/test_simian_rules.py were computed with it.
    """
    if "\u03a3" not in word and not _JAVA_KEEPS_RE.search(word):
        return word.lower()
    out = []
    for i, c in enumerate(word):
        if c == "\u03a3":
            out.append("\u03c2" if _JavaWordIterator(word).final_cased(i) else "\u03c3")
        elif _JAVA_KEEPS_RE.match(c):
            out.append(c)  # unassigned in Java 17: left as it is
        else:
            out.append(c.lower())
    return "".join(out)


def _java_cased(c: str) -> bool:
    """``ConditionalSpecialCasing.isCased`` of Java 17 (with Java 17's categories)."""
    if _java_category(c) in ("Lu", "Ll", "Lt"):
        return True
    o = ord(c)
    return (0x02B0 <= o <= 0x02B8 or 0x02C0 <= o <= 0x02C1 or 0x02E0 <= o <= 0x02E4
            or o == 0x0345 or o == 0x037A or 0x1D2C <= o <= 0x1D61 or 0x2160 <= o <= 0x217F
            or 0x24B6 <= o <= 0x24E9)


# Where OpenJDK 17.0.15's word-break table for supplementary characters departs from the
# character categories (found by probing every code point): format characters it ignores
# (the others, e.g. U+110BD, U+1D17A, U+E0001, stand alone), and unassigned or new code
# points at the ends of CJK and Khitan blocks that it reads as letters.
_JAVA_WB_IGNORED = ((0x13430, 0x13437), (0x1BCA0, 0x1BCA2), (0x1D173, 0x1D179), (0xE0020, 0xE007E))
_JAVA_WB_LETTERS = ((0x18CD6, 0x18CFF), (0x2A6DE, 0x2A6FF), (0x2B735, 0x2B73F), (0x2B81E, 0x2B81F),
                    (0x2CEA2, 0x2CEAF), (0x2FA1E, 0x2FFFF))


def _wb_class(c: str) -> str:
    """The character's class in Java 17's legacy word-break rules (``sun.text.resources.
    BreakIteratorRules``, "WordBreakRules"), one letter; ``""`` for ignored (BMP format
    characters except the soft hyphen). L letter, E enclosing (Mn, Me), C both enclosing
    and CJK diacritic, c CJK diacritic, D digit, d danda, K kanji, k katakana, h hiragana,
    w mid-word, W mid-word but no base (soft hyphen), n mid-number, q mid-word and
    mid-number (quotes), p the period (those and number prefix), P number prefix, o number
    suffix, l line separator, r CR, t tab, s other white space, z control (no base), x
    any other character."""
    o = ord(c)
    if c == "\xad":
        return "W"  # soft hyphen: a mid-word character (not ignored), not a base
    if c == "\uffff":
        return "z"  # CharacterIterator.DONE: the iterator stops there
    if o >= 0x10000:  # Java's table for supplementary characters has its own ranges
        if any(a <= o <= b for a, b in _JAVA_WB_IGNORED):
            return ""
        if any(a <= o <= b for a, b in _JAVA_WB_LETTERS):
            return "L"
    cat = _java_category(c)
    if cat == "Cf":
        return "" if o < 0x10000 else "z"
    if o in (0x3099, 0x309A):
        return "C"  # enclosing mark and CJK diacritic
    if cat in ("Mn", "Me"):
        return "E"
    if o in (0x0964, 0x0965):
        return "d"
    if o == 0x3005 or 0x4E00 <= o <= 0x9FA5 or 0xF900 <= o <= 0xFA2D:
        return "K"
    if 0x30A1 <= o <= 0x30FA or o in (0x30FD, 0x30FE):
        return "k"
    if 0x3041 <= o <= 0x3094 or o in (0x309D, 0x309E):
        return "h"
    if o in (0x309B, 0x309C, 0x30FB, 0x30FC):
        return "c"
    if cat[0] == "L" or cat == "Mc":
        return "L"
    if cat[0] == "N":
        return "D"
    if c in "\"'":
        return "q"  # mid-word and mid-number
    if c == ".":
        return "p"  # mid-word, mid-number, number prefix
    if cat in ("Pd", "Pc") or o == 0x2027:
        return "w"
    if c == "," or o == 0x066B:
        return "n"
    if (cat == "Sc" and o != 0xA2) or c == "#":
        return "P"
    if c in "%&" or o in (0xA2, 0x066A, 0x2030, 0x2031):
        return "o"
    if c in "\n\x0c\u2028\u2029":
        return "l"
    if c == "\r":
        return "r"
    if c == "\t":
        return "t"
    if cat == "Zs":
        return "s"
    if cat == "Cc":
        return "z"
    return "x"


_WB_WORD = "L[LEC]*(?:[wqpW]L[LEC]*)*d?"
_WB_NUM = "D[DEC]*(?:[nqp]D[DEC]*)*"
_WB_RULES = [re.compile(r) for r in (
    f"(?:{_WB_WORD})?(?:{_WB_NUM}{_WB_WORD})*(?:{_WB_NUM}o?)?",
    f"[Pp](?:{_WB_NUM}{_WB_WORD})*(?:{_WB_NUM}o?)?",
    "(?:[ts][EC]*)*r?l?",
    "[kcC]*",
    "[hcC]*",
    "K*",
    "[LDdKkhcwnqpPosx][EC]+",
    ".",
)]


class _JavaWordIterator:
    """Java 17's ``BreakIterator.getWordInstance()`` on one text, as
    ``ConditionalSpecialCasing.isFinalCased`` uses it (``sun.util.locale.provider.
    RuleBasedBreakIterator``), positions being UTF-16 offsets.

    Forward (``handleNext``): from a position, the longest match of the word rules
    (:data:`_WB_RULES`: a word, i.e. letters with single dashes, connectors, quotes or
    periods between them; words and numbers glued together; a number prefix; white space
    runs; katakana, hiragana or kanji runs; a character with its enclosing marks; else one
    character), format characters (Cf) being transparent: a run of them ends the unit
    before it, or at the start belongs to the first unit; at least one character.

    ``isBoundary(u)`` is ``following(u - 1) == u``, and ``following`` starts from the
    last break it returned when that lies before its offset, else from a safe position
    found backwards (``handlePrevious``), then steps forward. That is the true boundary
    set, except next to a supplementary character: ``following`` inside its surrogate
    pair reads the low surrogate alone, backs up to just after the pair (to the pair when
    it ends the text, to 0 when it starts it), and a position right after a
    supplementary character passes for a boundary; the remembered break then shifts later
    answers. This class reproduces that, checked against OpenJDK 17.0.15.
    """

    def __init__(self, text: str):
        self.text = text
        self.units = units = [0]  # UTF-16 offset of each code point, and of the end
        for c in text:
            units.append(units[-1] + (2 if c > "\uffff" else 1))
        self.end = units[-1]
        self.point = {u: j for j, u in enumerate(units)}  # UTF-16 offset -> code point
        self.at: list[int] = []  # code point of each character that is not Cf
        self.before: list[int] = []  # per code point: how many non-Cf characters precede
        classes = []
        for j, c in enumerate(text):
            self.before.append(len(self.at))
            k = _wb_class(c)
            if k:
                self.at.append(j)
                classes.append(k)
        self.before.append(len(self.at))
        self.codes = "".join(classes)
        self.cache = -1  # cachedLastKnownBreak (DONE)
        self.true: list[int] | None = None

    def handle_next(self, u: int) -> int:
        if u == self.end:
            return -1
        j = self.point[u]
        f = self.before[j]
        if f == len(self.codes):
            return self.end  # only Cf left: one unit
        e = max(m.end() for r in _WB_RULES if (m := r.match(self.codes, f)))
        return self.units[self.at[e]] if e < len(self.codes) else self.end

    def handle_previous(self, o: int) -> int:
        if o not in self.point:  # inside a surrogate pair
            high = o - 1
            if high == 0:
                return 0
            return high if o + 1 == self.end else o + 1
        if self.true is None:
            self.true, u = [0], 0
            while (u := self.handle_next(u)) != -1:
                self.true.append(u)
        return max(b for b in self.true if b <= o)  # a safe break at or before o

    def following(self, o: int) -> int:
        if o == 0:
            self.cache = self.handle_next(0)
            return self.cache
        r = self.cache
        if r >= o or r <= -1:
            r = self.handle_previous(o)
        while r != -1 and r <= o:
            r = self.handle_next(r)
        self.cache = r
        return r

    def is_boundary(self, u: int) -> bool:
        return u == 0 or self.following(u - 1) == u

    def final_cased(self, k: int) -> bool:
        """``isFinalCased`` for the sigma at code point ``k`` (a fresh iterator each
        time, as Java makes one per call)."""
        text, index = self.text, self.units[k]
        i = index
        while i >= 0 and not self.is_boundary(i):
            c = text[self.point[i] - 1]
            if _java_cased(c):
                i = index + 1
                while i < self.end and not self.is_boundary(i):
                    c = text[self.point[i]]
                    if _java_cased(c):
                        return False
                    i += 2 if c > "\uffff" else 1
                return True
            i -= 2 if c > "\uffff" else 1
        return False


def tokens(line: str) -> list[str]:
    """The tokens of one line (no line terminator in it), rules 3-5 of the rules README.

    - *Separators* are dropped: every character up to U+0020 and ``! " ' , . : ; ?``.
    - *Words*: maximal runs of ASCII letters and digits and of characters from U+0100 up
      (Simian works on UTF-16 code units; both halves of a supplementary character are
      >= U+D800, so it is a word character too), lower-cased with :func:`java_lower`.
    - *Symbols*, one character each, not lower-cased: every other ASCII character
      (``_ $ # { } ( ) [ ] = + - * / % < > & | ^ ~ @ \\``, the backtick, DEL) and every
      character U+0080..U+00FF (so ``É`` stays ``É``: ``latin1_case_not_folded``).
    - A space token ``" "`` stands between two words with separators between them (and
      only there: ``return total`` ≠ ``returntotal``, ``total _ us`` ≡ ``total_us``).

    ``"    if total_six > 10:"`` gives ``["if", " ", "total", "_", "six", ">", "10"]``.
    """
    marked = _marked(line)
    return _KEY_TOKEN.findall(marked) if marked else []


def _marked(line: str) -> str:
    """The line's tokens side by side, words lower-cased, marks in: its key, decoded."""
    text = _LONE_SPACE.sub("", _SEP_RUN.sub(" ", line))
    if text.isascii():
        return text.lower()
    if _LATIN1.search(text):  # before lower-casing, which can fold a word into Latin-1
        text = _LATIN1.sub("\x01\\g<0>", text)
    if "\u0178" in text or "\u1e9e" in text or "\u212b" in text:
        text = _INTO_LATIN1.sub("\x01\\g<0>", text)
    if not _SLOW_LOWER.search(text):
        return text.lower()  # str.lower folds per character here, as Java does
    if "\u03a3" in text or _JAVA_KEEPS_RE.search(text):
        return _WORD.sub(lambda m: java_lower(m.group()), text)
    parts = _LATIN1_CAPITAL.split(text)  # capital Latin-1 symbols at the odd places
    parts[::2] = [part.lower() for part in parts[::2]]
    return "".join(parts)


def line_key(line: str) -> bytes | None:
    """The comparison key of one line (no terminator in it); None if it has no token.

    A line without a token (empty, white space only, ``\"\"\"``, ``;``, ``...``, a form
    feed) is not significant (rule 6). Otherwise the key is the UTF-8 text of the
    :func:`tokens` concatenated, every token that is a single character in U+0080..U+00FF
    preceded by the byte 0x01: the symbols (``É``, NBSP, ``×``, …) and the three
    one-letter words that lower-case into that range (``Ÿ`` → ``ÿ``, ``ẞ`` → ``ß``,
    ``Å`` U+212B → ``å``), so the key depends on the token texts only. An ASCII line's
    key is its tokens side by side: ``"    if total_six > 10:"`` → ``b"if total_six>10"``.

    Two lines have equal keys exactly when their token lists are equal, because the
    concatenation can be cut back into tokens in one way only (:func:`key_tokens`):
    - two words are never adjacent in a token list (a space token stands between them),
      so a word is a maximal run of word characters in the key;
    - a lower-cased word never contains ASCII punctuation, a space, a control character
      or 0x01 (no lower-case mapping produces them), so every such byte outside a marked
      token is a one-character token of its own (a symbol, or the space token);
    - 0x01 occurs only as a mark, and a marked token is the one character after it;
      unmarked characters U+0080..U+00FF lie inside words of two or more characters
      (``XÅ`` → the word ``xå``, while ``Xå`` is ``x``, ``å``).
    Lines are encoded with ``surrogatepass``, so even a lone surrogate has a key.
    """
    marked = _marked(line)
    return marked.encode("utf-8", "surrogatepass") if marked else None


def key_tokens(key: bytes) -> list[str]:
    """The tokens of a line back from its :func:`line_key` (the inverse of line_key)."""
    return _KEY_TOKEN.findall(key.decode("utf-8", "surrogatepass"))


_TOKEN_HASHES: dict[str, int] = {}


def token_hash(token: str) -> int:
    """Java's ``String.hashCode`` of a token: ``h = 31*h + u`` over its UTF-16 code units
    (a supplementary character counts as its two surrogates), as a signed 32-bit int
    (fingerprint step 2)."""
    h = _TOKEN_HASHES.get(token)
    if h is not None:
        return h
    if token.isascii() or max(token) < "\U00010000":
        units = map(ord, token)
    else:
        data = token.encode("utf-16-le", "surrogatepass")
        units = struct.unpack(f"<{len(data) // 2}H", data)
    h = 0
    for u in units:
        h = (31 * h + u) & _M32
    h = h - (1 << 32) if h >= 1 << 31 else h
    if len(_TOKEN_HASHES) < 1 << 20:
        _TOKEN_HASHES[token] = h
    return h


def _signed64(x: int) -> int:
    x &= _M64
    return x - (1 << 64) if x >= 1 << 63 else x


_LINE_HASHES: dict[bytes, int] = {}


def line_hash(key: bytes) -> int:
    """A line's hash (fingerprint step 3): ``L = 0; L = 31*L + token_hash(t)`` over its
    tokens, in signed 64-bit arithmetic that wraps (a negative token hash is added as
    the negative number it is)."""
    h = _LINE_HASHES.get(key)
    if h is not None:
        return h
    h = 0
    for t in key_tokens(key):
        h = (31 * h + token_hash(t)) & _M64
    h = _signed64(h)
    if len(_LINE_HASHES) < 1 << 20:  # the lines of nested and repeated blocks recur
        _LINE_HASHES[key] = h
    return h


def fingerprint(keys: Sequence[bytes], threshold: int = 6) -> str:
    """Simian's fingerprint of a block from the keys of its n >= ``threshold``
    significant lines, in order (rules README, "Simian's fingerprint", steps 4-6).

    With ``L(i)`` the :func:`line_hash` of line i, the window values are
    ``W(i) = sum_k 31**(threshold-1-k) * L(i+k)`` over the ``threshold`` lines from i
    (``W = 31*W + L``), and the block value is ``F_threshold(i) = W(i)``,
    ``F_{k+1}(i) = 31*F_k(i) + F_k(i+1)``, i.e. with m = n - threshold
    ``F_n(0) = sum_j C(m, j) * 31**(m-j) * W(j)``, all modulo 2**64. The fingerprint
    is the lower-case hex MD5 of the decimal ASCII text of ``F_n(0)`` read as a signed
    64-bit number (with a leading ``-`` when negative). Linear in n (the binomial form,
    exact binomials reduced modulo 2**64).
    """
    return fingerprint_of_hashes([line_hash(k) for k in keys], threshold)


def fingerprints_of_hashes(hashes, threshold: int = 6) -> list[str]:
    """:func:`fingerprint_of_hashes` of many blocks of one length at once: ``hashes`` is a
    (blocks, n) array of their line hashes as unsigned 64-bit numbers. The same sums in
    NumPy's wrapping ``uint64`` arithmetic: the windows W(j) = sum_k 31**(threshold-1-k) *
    L(j+k), then sum_j C(m, j) * 31**(m-j) * W(j), the coefficients reduced modulo 2**64
    from exact integers."""
    import numpy as np

    blocks, n = hashes.shape
    if threshold < 1 or n < threshold:
        raise ValueError(f"a block needs at least {threshold} lines, got {n}")
    m = n - threshold
    with np.errstate(over="ignore"):
        windows = np.zeros((blocks, m + 1), np.uint64)
        for k in range(threshold):
            windows += np.uint64(pow(31, threshold - 1 - k, 1 << 64)) * hashes[:, k:k + m + 1]
        coef, comb = [], 1
        for j in range(m + 1):
            coef.append((comb * pow(31, m - j, 1 << 64)) & _M64)
            comb = comb * (m - j) // (j + 1)
        totals = (windows * np.array(coef, np.uint64)).sum(axis=1, dtype=np.uint64)
    return [hashlib.md5(str(t).encode("ascii")).hexdigest() for t in totals.view(np.int64).tolist()]


def fingerprint_of_hashes(hashes: Sequence[int], threshold: int = 6) -> str:
    """:func:`fingerprint` from the blocks' line hashes (:func:`line_hash`, or the
    kernel's, :func:`engine.clones.linekeys.line_hashes`)."""
    n = len(hashes)
    if threshold < 1 or n < threshold:
        raise ValueError(f"a block needs at least {threshold} lines, got {n}")
    m = n - threshold
    top = 31 ** (threshold - 1)
    w = 0
    for h in hashes[:threshold]:
        w = (31 * w + h) & _M64
    windows = [w]
    for i in range(threshold, n):  # slide: drop L(i-threshold), add L(i)
        w = (31 * (w - top * hashes[i - threshold]) + hashes[i]) & _M64
        windows.append(w)
    total, comb, power = 0, 1, pow(31, m, 1 << 64)
    inverse31 = pow(31, -1, 1 << 64)
    for j in range(m + 1):
        total = (total + (comb & _M64) * power * windows[j]) & _M64
        comb = comb * (m - j) // (j + 1)
        power = power * inverse31 & _M64
    return hashlib.md5(str(_signed64(total)).encode("ascii")).hexdigest()
