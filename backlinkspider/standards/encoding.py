"""A page's character encoding, found as browsers find it, and URL queries encoded in it.

Decoding follows the HTML Standard's encoding sniffing algorithm, in its order: a byte order mark, the
Content-Type charset, then the ``<meta>`` prescan of the first 1024 bytes (where ``utf-16`` and
``utf-32`` mean UTF-8, as they must for a page the prescan could read as ASCII). With no label, the
standard lets a browser look at the bytes: a page that is valid UTF-8 is read as UTF-8 (what Chrome's and
Firefox's detectors conclude), anything else as windows-1252, the default for most locales, never a
statistical guess (that reads a Portuguese ``Ação`` as cp1250 ``Açăo``). Labels are the Encoding
Standard's (``latin1`` and ``iso-8859-1`` name windows-1252), via webencodings.

A link's query is percent-encoded in the page's encoding, as the URL Standard says browsers do
(``?q=café`` on a windows-1252 page is ``?q=caf%E9``); a character the encoding lacks becomes
``%26%23NNN%3B`` (``&#NNN;``). Python's codecs stand in for the Encoding Standard's; where they differ
(tests/unit/test_standards.py lists the code points), Python's answer is taken, except for windows-1252's five
unassigned bytes, which are mapped as the standard maps them.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

import webencodings

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
_BOMS = ((codecs.BOM_UTF8, UTF8), (codecs.BOM_UTF16_BE, "utf-16be"), (codecs.BOM_UTF16_LE, "utf-16le"))
# Encodings whose URL queries are UTF-8 (the URL Standard's "get an output encoding").
_UTF8_QUERIES = frozenset({UTF8, "utf-16be", "utf-16le", "replacement"})
_WS = b"\t\n\x0c\r "
_WS_OR_SLASH = _WS + b"/"
_WS_OR_GT = _WS + b">"
_WS_OR_SLASH_BYTES = tuple(bytes([b]) for b in _WS_OR_SLASH)
_ASCII_WS = "\t\n\x0c\r "
# The bytes cp1252 leaves unassigned; the Encoding Standard maps each to the C1 control of that value.
_CP1252_GAPS = frozenset(b"\x81\x8d\x8f\x90\x9d")
# A <meta> that may declare an encoding (the prescan decides).
_META_CHARSET = re.compile(rb"<meta[\t\n\x0c\r /][^>]*?charset", re.IGNORECASE)
# Code points the Encoding Standard's encoders encode though Python's codecs lack them: windows-1252's
# five unassigned bytes, and gbk's euro sign.
_ENCODER_EXTRAS = {"windows-1252": {b: bytes([b]) for b in _CP1252_GAPS}, "gbk": {0x20AC: b"\x80"}}
# Code points the Encoding Standard's encoders refuse though Python's codecs encode them, and the code
# point the error reports (ISO-2022-JP's shift and escape controls; the GB18030-2005 mapping of U+E5E5,
# which GB18030-2022 and the standard dropped).
_ENCODER_ERRORS = {"iso-2022-jp": {0x0E: 0xFFFD, 0x0F: 0xFFFD, 0x1B: 0xFFFD}, "gb18030": {0xE5E5: 0xE5E5}}
# Encodings where even an ASCII query may change (ISO-2022-JP refuses three ASCII controls).
ASCII_UNSAFE = frozenset({"iso-2022-jp"})
# The special-query percent-encode set, beyond the bytes above 0x7E.
_QUERY_ESCAPED = frozenset(range(0x21)) | frozenset(b"\"#<>'")


def _cp1252_gaps(exc: UnicodeError) -> tuple[str, int]:
    """Decoding windows-1252: the bytes cp1252 leaves unassigned are C1 controls (the standard's map)."""
    if isinstance(exc, UnicodeDecodeError) and exc.object[exc.start] in _CP1252_GAPS:
        return chr(exc.object[exc.start]), exc.start + 1
    raise exc


codecs.register_error("backlinkspider-cp1252", _cp1252_gaps)


def label_to_encoding(label: str | bytes | None) -> str | None:
    """The Encoding Standard's name for an encoding label (``latin1`` -> ``windows-1252``), or None."""
    if isinstance(label, bytes):
        label = label.decode("latin-1")
    found = webencodings.lookup(label) if label else None
    return found.name if found else None


def sniff(body: bytes, content_type: str | bytes | None = None) -> str:
    """The encoding of an HTML document: BOM, Content-Type charset, meta prescan, then the bytes."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if content_type:
        if isinstance(content_type, bytes):
            content_type = content_type.decode("latin-1")
        declared = charset_in(content_type)
        if declared:
            return declared
    declared = prescan(body[:1024]) or _later_meta(body)
    if declared:
        return declared
    try:
        body.decode(UTF8)
    except UnicodeDecodeError:
        return WINDOWS_1252
    return UTF8


def decode_html(body: bytes, content_type: str | bytes | None = None) -> tuple[str, str]:
    """An HTML document's text and the name of the encoding it was read in."""
    encoding = sniff(body, content_type)
    for bom, name in _BOMS:
        if body.startswith(bom) and name == encoding:
            body = body[len(bom) :]
            break
    if encoding == "replacement":  # encodings browsers refuse to decode (ISO-2022-KR, HZ ...)
        return ("\ufffd" if body else ""), encoding
    if encoding == WINDOWS_1252:
        return body.decode("cp1252", "backlinkspider-cp1252"), encoding
    if encoding == "gbk":  # the standard decodes gbk with gb18030's decoder (a superset)
        return body.decode("gb18030", "replace"), encoding
    return _codec(encoding).decode(body, "replace")[0], encoding


@lru_cache(maxsize=64)
def _codec(encoding: str) -> codecs.CodecInfo:
    found = webencodings.lookup(encoding)
    assert found is not None, encoding
    info: codecs.CodecInfo = found.codec_info
    return info


def encode_query(query: str, encoding: str) -> str:
    """``query`` percent-encoded in ``encoding`` by the URL Standard (its special-query set): the bytes
    above 0x7E, controls, space, ``"#<>'`` escaped as ``%XX``, characters the encoding lacks as
    ``%26%23NNN%3B``. Pages in UTF-8 (and UTF-16) have UTF-8 queries: the query comes back as it is.
    """
    if encoding in _UTF8_QUERIES:
        return query
    codec = _codec(encoding)
    refused = _ENCODER_ERRORS.get(encoding, {})
    extras = _ENCODER_EXTRAS.get(encoding, {})
    out: list[str] = []
    rest = query
    while rest:
        # Encode up to the first character the codec lacks (a stateful encoder such as ISO-2022-JP
        # returns to ASCII there, as the standard's does), then that one on its own.
        cut = next((i for i, c in enumerate(rest) if ord(c) in refused), len(rest)) if refused else len(rest)
        try:
            encoded = codec.encode(rest[:cut])[0]
        except UnicodeEncodeError as exc:
            cut = exc.start
            encoded = codec.encode(rest[:cut])[0]
        if cut < len(rest):
            code_point = ord(rest[cut])
            encoded += extras.get(code_point, b"")
        out.extend(f"%{b:02X}" if b > 0x7E or b in _QUERY_ESCAPED else chr(b) for b in encoded)
        if cut < len(rest) and code_point not in extras:
            out.append(f"%26%23{refused.get(code_point, code_point)}%3B")
        rest = rest[cut + 1 :]
    return "".join(out)


def charset_in(content: str) -> str | None:
    """The encoding a ``charset=`` names in a Content-Type value (the HTML Standard's "extract a
    character encoding from a meta element", which browsers also apply to the header), or None."""
    lower = content.lower()
    pos = 0
    while True:
        found = lower.find("charset", pos)
        if found < 0:
            return None
        pos = found + 7
        while pos < len(content) and content[pos] in _ASCII_WS:
            pos += 1
        if pos < len(content) and content[pos] == "=":
            break
    pos += 1
    while pos < len(content) and content[pos] in _ASCII_WS:
        pos += 1
    if pos >= len(content):
        return None
    if content[pos] in "\"'":
        end = content.find(content[pos], pos + 1)
        return label_to_encoding(content[pos + 1 : end]) if end > 0 else None
    end = pos
    while end < len(content) and content[end] not in _ASCII_WS + ";":
        end += 1
    return label_to_encoding(content[pos:end])


def prescan(head: bytes) -> str | None:
    """The encoding a ``<meta>`` in these first bytes declares: the HTML Standard's prescan."""
    lower = head.lower()
    pos = 0
    while pos < len(head):
        if lower.startswith(b"<meta", pos) and head[pos + 5 : pos + 6] in _WS_OR_SLASH_BYTES:
            charset, pos = _meta_charset(head, pos + 5)
            if pos >= len(head):
                return None
            if charset is not None:
                return charset
        else:
            pos = _past_markup(head, pos)
            if pos < 0:
                return None
        pos = head.find(b"<", pos + 1)  # every markup the prescan reads starts at a '<'
        if pos < 0:
            return None
    return None


def _meta_charset(head: bytes, pos: int) -> tuple[str | None, int]:
    """The encoding the attributes of a ``<meta>`` from ``pos`` declare (or None), and where they end."""
    names: set[str] = set()
    got_pragma, need_pragma, charset = False, None, None
    name, value, pos = _attribute(head, pos)
    while name is not None:
        if name not in names:
            names.add(name)
            if name == "http-equiv":
                got_pragma = got_pragma or value == "content-type"
            elif name == "content" and charset is None:
                charset = charset_in(value)
                need_pragma = True if charset is not None else need_pragma
            elif name == "charset" and charset is None:
                charset, need_pragma = label_to_encoding(value), False
        name, value, pos = _attribute(head, pos)
    if charset is None or need_pragma is None or (need_pragma and not got_pragma):
        return None, pos
    if charset in ("utf-16be", "utf-16le"):
        return UTF8, pos
    return (WINDOWS_1252 if charset == "x-user-defined" else charset), pos


def _past_markup(head: bytes, pos: int) -> int:
    """Where the comment, tag or other markup at ``pos`` ends (``pos`` itself for text); -1 when it
    runs past the end of the bytes, which ends the prescan."""
    if head.startswith(b"<!--", pos):
        end = head.find(b"-->", pos + 4)
        return end + 2 if end >= 0 else -1
    if head[pos] == 0x3C and (
        head[pos + 1 : pos + 2].isalpha()
        or (head[pos + 1 : pos + 2] == b"/" and head[pos + 2 : pos + 3].isalpha())
    ):
        pos = _skip(head, pos, _WS_OR_GT, until=True)
        name, _, pos = _attribute(head, pos)
        while name is not None:
            name, _, pos = _attribute(head, pos)
        return pos if pos < len(head) else -1
    if head.startswith((b"<!", b"</", b"<?"), pos):
        return head.find(b">", pos + 2)
    return pos


def _later_meta(body: bytes) -> str | None:
    """The encoding a ``<meta>`` past the first 1024 bytes declares. A browser that read the page in a
    guessed encoding reads it again in the one a ``<meta>`` declares when the parser meets it (the HTML
    Standard's "change the encoding"); the same prescan, run from each such tag, finds it."""
    for found in _META_CHARSET.finditer(body):
        declared = prescan(body[found.start() : found.end() + 1024])
        if declared:
            return declared
    return None


def _attribute(s: bytes, pos: int) -> tuple[str | None, str, int]:
    """The HTML Standard's "get an attribute" from ``pos``: (name, value, position after); the name is
    None at a ``>`` (the position there) or at the end of the bytes (the position is their length)."""
    pos = _skip(s, pos, _WS_OR_SLASH)
    if pos >= len(s) or s[pos] == 0x3E:
        return None, "", pos
    name, pos, has_value = _attribute_name(s, pos)
    if name is None:
        return None, "", len(s)
    if not has_value:
        return name, "", pos
    return _attribute_value(s, _skip(s, pos, _WS), name)


def _attribute_name(s: bytes, start: int) -> tuple[str | None, int, bool]:
    """An attribute's name from ``start``: (name, position after, whether a value follows, past its
    ``=``); the name is None when the bytes end first."""
    n = len(s)
    for pos in range(start, n):
        c = s[pos]
        if c == 0x3D and pos > start:  # '=' after a name
            return _text(s[start:pos]), pos + 1, True
        if c in _WS:
            after = _skip(s, pos, _WS)
            if after >= n:
                return None, n, False
            has_value = s[after] == 0x3D
            return _text(s[start:pos]), after + has_value, has_value
        if c == 0x2F or c == 0x3E:
            return _text(s[start:pos]), pos, False
    return None, n, False


def _attribute_value(s: bytes, pos: int, name: str) -> tuple[str | None, str, int]:
    """The attribute ``name`` with its value from ``pos``, as ``_attribute`` returns it."""
    n = len(s)
    if pos >= n:
        return None, "", n
    quote = s[pos]
    if quote == 0x22 or quote == 0x27:
        end = s.find(bytes([quote]), pos + 1)
        if end < 0:
            return None, "", n
        return name, _text(s[pos + 1 : end]), end + 1
    if quote == 0x3E:
        return name, "", pos
    end = _skip(s, pos, _WS_OR_GT, until=True)
    if end >= n:
        return None, "", n
    return name, _text(s[pos:end]), end


def _skip(s: bytes, pos: int, chars: bytes, until: bool = False) -> int:
    """The first position from ``pos`` whose byte is not in ``chars`` (``until``: is in them), or the
    length of ``s``."""
    while pos < len(s) and (s[pos] in chars) != until:
        pos += 1
    return pos


def _text(raw: bytes) -> str:
    """Bytes as the prescan reads them: one character each, A-Z lower-cased."""
    return raw.lower().decode("latin-1")
