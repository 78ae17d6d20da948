"""Personal data and secrets in memorized snippets (Yang et al.'s ``PII/`` pass, adapted
there from BigScience's and BigCode's PII detection).

Kinds, in the order a snippet lists them:

- ``email``: the study's e-mail rule: a local part of characters that are not white
  space, ``@``, quotes, brackets or ``?!;,:<``; ``@``; a domain without white space, ``/``
  or those marks, ending in ``.`` and a letter followed by word characters; the whole
  delimited by the text's start or end, white space, punctuation, ``<>``, or CJK. (As
  in the study, a ``/`` may be in the local part: ``https://host/user@2x.png`` counts.)
- ``ip``: the study's rule: an IPv4 or IPv6 address delimited the same way, kept when it
  holds a digit, is not a date (``yyyy-yyyy``, ``yyyy-mm-dd``, ``dd/mm/yy``, ...), is not
  a 7-character ``x.x.x.x`` (a version) unless "dns" or "server" is within 100 characters,
  and parses as an address. The IPv6 alternatives are tried in the study's order, so a
  long address may be found as its first groups (``2001:db8::8a2e`` of
  ``2001:db8::8a2e:370:7334``): still an address, counted once.
- ``key``: the token formats of the detect-secrets plugins the study's ``main.py`` enables
  (AWS, GitHub, Slack, Stripe, Google API, JSON web tokens, private-key blocks), and
  quoted strings of 20 characters or more whose Shannon entropy passes detect-secrets'
  limits (base64 alphabet: 4.5 bits a character, hexadecimal: 3.0). The study's regex
  mode instead screens a generic key pattern with a gibberish model trained on a text it
  ships; byrote does not use that model, so its ``key`` counts are its own.
- ``credential_url``: a URL with a user and a password (``scheme://user:secret@host``),
  byrote's own (the study does not look for them).

Patterns here find spans in text; no code is parsed with them.
"""
from __future__ import annotations

import ipaddress
import math
from collections import Counter
from dataclasses import dataclass

import regex

KINDS = ("email", "ip", "key", "credential_url")

_BEFORE = r"""(?:^|[\b\s@?,!;:'")(.\p{Han}])"""
_AFTER = r"""(?:$|[\s@,?!;:'"(.\p{Han}])"""
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9a-fA-F]{1,4}"
_V4_TAIL = r"(?:(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])\.){3}(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])"
_IPV6 = "|".join((
    rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{1,7}}:", rf"(?:{_H}:){{1,6}}:{_H}", rf"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}",
    rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}", rf"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}", rf"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
    rf"{_H}:(?::{_H}){{1,6}}", rf":(?:(?::{_H}){{1,7}}|:)", r"fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+",
    rf"::(?:ffff(?::0{{1,4}})?:)?{_V4_TAIL}", rf"(?:{_H}:){{1,4}}:{_V4_TAIL}",
))
IP = regex.compile(rf"{_BEFORE}({_IPV4}|{_IPV6}){_AFTER}", regex.MULTILINE)
# what every match of IP holds (an IPv4 "d.d"; an IPv6 "h:h", "::" or "fe80:"): texts
# without it are not searched (IP costs 80 % of the pass otherwise)
MAYBE_IP = regex.compile(r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F]|::|fe80:")
EMAIL = regex.compile(r"""
    (?<= ^ | [\b\s@,?!;:)('".\p{Han}<] )
    ( [^\b\s@?!;,:)('"<]+ @ [^\b\s@!?;,/]* [^\b\s@?!;,/:)('">.] \. \p{L} \w+ )
    (?= $ | [\b\s@,?!;:)('".\p{Han}>] )
""", regex.MULTILINE | regex.VERBOSE)
_DATES = [regex.compile(rf"{_BEFORE}({body}){_AFTER}") for body in (
    r"[1-2][0-9]{3}[\p{Pd}/][1-2][0-9]{3}",  # yyyy-yyyy
    r"[1-2][0-9]{3}[\p{Pd}/.][0-3][0-9][\p{Pd}/.][0-3][0-9]",  # yyyy-mm-dd
    r"[0-3][0-9][\p{Pd}/.][0-3][0-9][\p{Pd}/.](?:[0-9]{2}|[1-2][0-9]{3})",  # dd-mm-yyyy, dd.mm.yy
    r"[0-3][0-9][\p{Pd}/](?:[0-9]{2}|[1-2][0-9]{3})",  # mm-yyyy, mm/yy
    r"[1-2][0-9]{3}-[0-3][0-9]",  # yyyy-mm
)]
TOKENS = regex.compile("|".join((
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b",  # GitHub
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"\b[rs]k_live_[A-Za-z0-9]{20,}\b",  # Stripe
    r"\bAIza[0-9A-Za-z_\-]{35}\b",  # Google API
    r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JSON web token
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----",  # a private key
)))
QUOTED = regex.compile(r"""(["'])([A-Za-z0-9+/=_\-]{20,})\1""")
CREDENTIAL_URL = regex.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://([^\s:/@'\"]+):([^\s/@'\"]+)@[^\s'\"]+")
BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
HEX = frozenset("0123456789abcdefABCDEF")
BASE64_LIMIT, HEX_LIMIT = 4.5, 3.0  # detect-secrets' default entropy limits (bits per character)


@dataclass(frozen=True)
class Found:
    kind: str
    value: str
    start: int  # character offset in the text


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values()) if text else 0.0


def _is_ip(value: str, text: str, start: int, end: int) -> bool:
    if not any(ch.isdigit() for ch in value) or any(d.match(value) for d in _DATES):
        return False
    if value.count(".") == 3 and len(value) == 7:  # x.x.x.x: a version, unless the context says otherwise
        context = text[max(start - 100, 0):end + 100].lower()
        if "dns" not in context and "server" not in context:
            return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _high_entropy(value: str) -> bool:
    if set(value) <= HEX:
        return entropy(value) > HEX_LIMIT
    return set(value) <= BASE64 and entropy(value) > BASE64_LIMIT


def find_pii(text: str, ip: bool | None = None) -> list[Found]:
    """Every span of ``text`` of the kinds above, by kind then place. ``ip``: whether an
    address can be in it, where the caller knows (:func:`find_pii_many`); else MAYBE_IP says."""
    found = [Found("email", m.group(1), m.start(1)) for m in EMAIL.finditer(text)] if "@" in text else []
    if MAYBE_IP.search(text) if ip is None else ip:
        found += [Found("ip", m.group(1), m.start(1)) for m in IP.finditer(text)
                  if _is_ip(m.group(1), text, m.start(1), m.end(1))]
    keys = [Found("key", m.group(0), m.start(0)) for m in TOKENS.finditer(text)]
    taken = {(k.start, k.start + len(k.value)) for k in keys}
    keys += [Found("key", m.group(2), m.start(2)) for m in QUOTED.finditer(text)
             if _high_entropy(m.group(2)) and not any(a <= m.start(2) < b for a, b in taken)]
    found += sorted(keys, key=lambda f: f.start)
    found += [Found("credential_url", m.group(0), m.start(0)) for m in CREDENTIAL_URL.finditer(text)]
    return found


# Literals a text holds if TOKENS matches in it (each alternative starts with one of them)
TOKEN_LITERALS = ("AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xoxa-", "xoxb-",
                  "xoxp-", "xoxo-", "xoxs-", "xoxr-", "k_live_", "AIza", "eyJ", "-----BEGIN ")
PASS_TEXTS = 4096  # texts screened at once by find_pii_many: bounds its memory


def find_pii_many(texts: list[str]) -> list[list[Found]]:
    """:func:`find_pii` of each text, the texts that cannot hold a find skipped, and the
    address pattern tried only where an address can be, after a few passes over all the
    texts (:func:`_screen`). A find needs ``@`` (``email``, ``credential_url``), a literal
    of TOKEN_LITERALS (``key`` tokens), a quoted string of 20 base64 characters (``key``),
    or what every match of IP holds (``ip``): ``::``, ``fe80:``, a run of digits and dots
    with three dots and four digits (IPv4, also at the end of an IPv6 address), or a run
    of hex digits and colons with seven colons (the one IPv6 form without ``::``). Every
    character of these is ASCII. The rest goes through :func:`find_pii` itself, so the
    finds are its finds."""
    out: list[list[Found]] = []
    for first in range(0, len(texts), PASS_TEXTS):
        part = texts[first:first + PASS_TEXTS]
        maybe, ip = _screen(part)
        out += [find_pii(text, ip=address) if hit else []
                for text, hit, address in zip(part, maybe.tolist(), ip.tolist())]
    return out


QUOTED_BYTES = regex.compile(QUOTED.pattern.encode("ascii"))  # ASCII: the same quotes in UTF-8


def _screen(texts: list[str]):
    """``(maybe, ip)``: which of ``texts`` may hold a find, and an address (see
    :func:`find_pii_many`), from their UTF-8 bytes end to end, where every character these
    tests look for is one ASCII byte."""
    import numpy as np

    raw = [t.encode("utf-8", "surrogatepass") for t in texts]
    data = b"\n".join(raw)
    widths = np.array([len(r) for r in raw], np.int64) + 1
    starts = np.cumsum(widths) - widths
    del raw

    def owners(positions) -> np.ndarray:
        return np.searchsorted(starts, np.fromiter(positions, np.int64), side="right") - 1

    def occurrences(literal: str):
        literal = literal.encode("ascii")
        at = data.find(literal)
        while at >= 0:
            yield at
            at = data.find(literal, at + 1)

    array = np.frombuffer(data, np.uint8)
    digit = (array >= 48) & (array <= 57)
    lower = array | 32
    hexa = digit | ((lower >= 97) & (lower <= 102))
    dot, colon = array == 46, array == 58
    ip = np.zeros(len(texts), bool)
    numeric = digit | dot
    ipv4 = _runs_with(numeric, dot, 3)
    ip[owners(ipv4[np.isin(ipv4, _runs_with(numeric, digit, 4))])] = True
    ip[owners(_runs_with(hexa | colon, colon, 7))] = True
    for literal in ("::", "fe80:"):
        ip[owners(occurrences(literal))] = True
    maybe = ip.copy()
    for literal in ("@", *TOKEN_LITERALS):
        maybe[owners(occurrences(literal))] = True
    maybe[owners(m.start() for m in QUOTED_BYTES.finditer(data))] = True
    return maybe, ip


def _runs_with(inside, marks, at_least: int):
    """Where the runs of ``inside`` start that hold ``at_least`` of ``marks`` (a subset)."""
    import numpy as np

    edges = np.flatnonzero(np.diff(np.concatenate(([0], inside.view(np.int8), [0]))))
    begin, end = edges[::2], edges[1::2]
    counts = np.concatenate(([0], np.cumsum(marks)))
    return begin[counts[end] - counts[begin] >= at_least]
