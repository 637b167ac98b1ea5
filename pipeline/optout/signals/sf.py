"""RFC 9651 Structured Field Dictionary parsing (section 4.2.2), as AIPREF's vocabulary requires.

The AIPREF vocabulary draft reads a preference string as an RFC 9651 Dictionary: "If the parsing
of the Dictionary fails, no preferences are expressed. This includes where keys include uppercase
characters". A hand-rolled "split on commas" reading accepts what the draft rejects
(`Train-AI=n`, `train-ai = n`), so this module follows the RFC's algorithms step by step and
returns None whenever they fail. Only what a preference reader needs is kept: the member values
(Tokens as `Token`, other types as Python values) and whether parameters were present.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["Token", "parse_dictionary"]


class Token(str):
    """An sf-token (RFC 9651 section 3.3.4); `y` and `n` are the AIPREF preference values."""

    __slots__ = ()


class _Fail(Exception):
    pass


_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_OWS = " \t"


class _Parser:
    __slots__ = ("s", "i")

    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def key(self) -> str:
        m = _KEY.match(self.s, self.i)
        if m is None:
            raise _Fail("key")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> object:
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or ("a" <= c.lower() <= "z" and c.isascii()):
            m = _TOKEN.match(self.s, self.i)
            assert m is not None
            self.i = m.end()
            return Token(m.group())
        if c == ":":
            end = self.s.find(":", self.i + 1)
            if end < 0 or _BASE64.fullmatch(self.s, self.i + 1, end) is None:
                raise _Fail("byte sequence")
            self.i = end + 1
            return self.s[self.i - 1 : end].encode()
        if c == "?":
            v = self.s[self.i + 1 : self.i + 2]
            if v not in ("0", "1"):
                raise _Fail("boolean")
            self.i += 2
            return v == "1"
        if c == "@":
            self.i += 1
            n = self.number()
            if not isinstance(n, int):
                raise _Fail("date")
            return ("date", n)
        if c == "%":
            return self.display_string()
        raise _Fail("bare item")

    def number(self) -> int | Decimal:
        m = _NUMBER.match(self.s, self.i)
        if m is None:
            raise _Fail("number")
        text = m.group()
        digits = text.lstrip("-")
        if "." in digits:
            whole, frac = digits.split(".")
            if len(whole) > 12 or not 1 <= len(frac) <= 3:
                raise _Fail("decimal")
            self.i = m.end()
            return Decimal(text)
        if len(digits) > 15:
            raise _Fail("integer")
        self.i = m.end()
        return int(text)

    def string(self) -> str:
        out = []
        i = self.i + 1
        s = self.s
        while i < len(s):
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '"\\':
                    raise _Fail("escape")
                out.append(s[i + 1])
                i += 2
            elif c == '"':
                self.i = i + 1
                return "".join(out)
            elif not " " <= c <= "~":
                raise _Fail("string character")
            else:
                out.append(c)
                i += 1
        raise _Fail("unterminated string")

    def display_string(self) -> str:
        if self.s[self.i : self.i + 2] != '%"':
            raise _Fail("display string")
        out = bytearray()
        i = self.i + 2
        s = self.s
        while i < len(s):
            c = s[i]
            if c == "%":
                hexa = s[i + 1 : i + 3]
                if len(hexa) != 2 or not all(h in "0123456789abcdef" for h in hexa):
                    raise _Fail("display string escape")
                out.append(int(hexa, 16))
                i += 3
            elif c == '"':
                self.i = i + 1
                try:
                    return out.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _Fail("display string utf-8") from exc
            elif not " " <= c <= "~":
                raise _Fail("display string character")
            else:
                out.append(ord(c))
                i += 1
        raise _Fail("unterminated display string")

    def parameters(self) -> bool:
        """Parse parameters (values are read and validated, then dropped); True when any."""
        seen = False
        while self.peek() == ";":
            self.i += 1
            while self.peek() == " ":
                self.i += 1
            self.key()
            if self.peek() == "=":
                self.i += 1
                self.bare_item()
            seen = True
        return seen

    def item_or_inner_list(self) -> tuple[object, bool]:
        if self.peek() == "(":
            self.i += 1
            items: list[object] = []
            while self.i < len(self.s):
                while self.peek() == " ":
                    self.i += 1
                if self.peek() == ")":
                    self.i += 1
                    self.parameters()
                    return items, False
                items.append(self.bare_item())
                self.parameters()
                if self.peek() not in (" ", ")"):
                    raise _Fail("inner list")
            raise _Fail("unterminated inner list")
        value = self.bare_item()
        return value, self.parameters()


def parse_dictionary(text: str) -> dict[str, tuple[object, bool]] | None:
    """RFC 9651 section 4.2.2: key -> (value, has parameters), or None when parsing fails.

    A repeated key keeps its last value ("overwrite its value"), as the RFC says. Leading and
    trailing SP are discarded (section 4.2); anything outside visible ASCII fails the parse.
    """
    s = text.strip(" ")
    if any(not (" " <= c <= "~" or c == "\t") for c in s):
        return None
    p = _Parser(s)
    out: dict[str, tuple[object, bool]] = {}
    try:
        while p.i < len(s):
            key = p.key()
            if p.peek() == "=":
                p.i += 1
                out[key] = p.item_or_inner_list()
            else:
                out[key] = (True, p.parameters())
            while p.peek() in (" ", "\t") and p.peek():
                p.i += 1
            if p.i >= len(s):
                return out
            if p.peek() != ",":
                raise _Fail("expected comma")
            p.i += 1
            while p.peek() in (" ", "\t") and p.peek():
                p.i += 1
            if p.i >= len(s):
                raise _Fail("trailing comma")
    except _Fail:
        return None
    return out
