"""Ticket text preparation: the one place that decides what text of a ticket gets embedded.

Subject and body become one line of plain text: HTML is turned into text, quoted replies and signatures are
trimmed where they are recognisable, whitespace is normalised. The result is what the embedding cache is keyed
on, so the same ticket always yields the same text.
"""

from __future__ import annotations

import html
import re

# A generous bound on characters per token: text beyond `window * CHARS_PER_TOKEN` characters can never reach
# the model, so it is cut before tokenisation (a pasted 100 kB log costs nothing).
CHARS_PER_TOKEN = 8
DEFAULT_MAX_CHARS = 4096

# Only real HTML tags count as markup: ticket bodies also carry placeholders such as "<tel_num>" or
# "<name>" that are text and must survive.
_HTML_TAGS = (
    "a|abbr|address|article|aside|b|big|blockquote|body|br|button|caption|center|cite|code|col|colgroup|dd|"
    "del|details|div|dl|dt|em|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|"
    "input|ins|kbd|label|li|link|main|mark|meta|nav|o:p|ol|p|pre|q|s|section|small|span|strike|strong|style|"
    "sub|summary|sup|table|tbody|td|tfoot|th|thead|title|tr|tt|u|ul|var|wbr|script|noscript|svg"
)
_TAG = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DROPPED_ELEMENTS = re.compile(r"<(script|style|head|title|noscript|svg)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# A quoted earlier message in an HTML reply (mail clients wrap it in a blockquote or a marked div).
_QUOTED_BLOCKS = re.compile(
    r"<blockquote\b[^>]*>.*</blockquote\s*>"
    r"|<div\b[^>]*class=\"?[^\">]*(?:gmail_quote|moz-cite-prefix|yahoo_quoted|OutlookMessageHeader)[^>]*>.*",
    re.IGNORECASE | re.DOTALL,
)
_BREAKS = re.compile(
    r"<(?:br|hr)\b[^>]*>|</(?:p|div|li|tr|h[1-6]|blockquote|pre|table|ul|ol|dd|dt|section|article)\s*>",
    re.IGNORECASE,
)

# Lines that open a quoted earlier message in plain-text replies: everything from them on is the old thread.
_REPLY_HEADER = re.compile(
    r"^(?:"
    r"on\b.{0,200}\bwrote:"  # en
    r"|am\b.{0,200}\bschrieb.{0,100}:"  # de
    r"|el\b.{0,200}\bescribió:"  # es
    r"|le\b.{0,200}\ba écrit\s?:"  # fr
    r"|em\b.{0,200}\bescreveu:"  # pt
    r"|-{2,}\s*(?:original message|ursprüngliche nachricht|mensaje original|message d'origine"
    r"|mensagem original|forwarded message|weitergeleitete nachricht)\s*-{2,}"
    r"|_{10,}"  # Outlook's rule above the quoted header
    r"|(?:from|von|de):\s.{1,200}\n\s*(?:sent|gesendet|enviado|envoyé|date|datum|fecha):"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$\n?", re.MULTILINE)
_FOOTER_WORDS = ("sent from", "gesendet", "enviado desde", "envoyé de")
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent from my \w+|von meinem \w+ gesendet|enviado desde mi \w+|envoyé de mon \w+).*$",
    re.IGNORECASE | re.MULTILINE,
)

# Sign-offs in the ticket languages we see. A sign-off followed only by a short tail (a name, a title,
# "[Your Name]") marks the start of the signature.
_SIGN_OFFS = (
    r"best regards|kind regards|warm regards|regards|best wishes|sincerely|yours sincerely|yours truly|"
    r"many thanks|thanks and regards|thanks in advance|thank you|thanks|cheers|best|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|beste grüße|"
    r"liebe grüße|herzliche grüße|schöne grüße|grüße|gruß|vielen dank|danke|"
    r"saludos cordiales|un saludo|saludos|atentamente|muchas gracias|gracias|"
    r"cordialement|bien cordialement|salutations|merci beaucoup|merci|"
    r"atenciosamente|cumprimentos|abraços|obrigado|obrigada"
)
# Anchored at the start of a line or after a sentence; the sign-off ends with a comma, "!" or a line break
# (so "Thanks. The server is still down" is content, not a signature) and the tail is at most four short
# lines without a sentence break.
_SIGN_OFF_TAIL = re.compile(
    rf"[ \t]*(?:{_SIGN_OFFS})[ \t]*(?:[,!]|(?=\n)|\Z)"
    r"(?:[^.!?\n]|\.(?![ \t])){0,80}(?:\n(?:[^.!?\n]|\.(?![ \t])){0,80}){0,3}\s*\Z",
    re.IGNORECASE,
)
# Where a sign-off may start: the text's start, a line's start or after a sentence.
_CLAUSE_END = re.compile(r"[.!?:;\n]")
# A signature is at most five lines of 80 characters: nothing earlier than this many trailing characters is.
_TAIL_CHARS = 480
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))


def html_to_text(text: str) -> str:
    """Turn an HTML body into plain text with line breaks where blocks ended; plain text passes unchanged."""
    if not _TAG.search(text) and "<!--" not in text:
        return text
    text = _COMMENT.sub("", text)
    text = _DROPPED_ELEMENTS.sub("", text)
    text = _QUOTED_BLOCKS.sub("", text)
    text = _BREAKS.sub("\n", text)
    text = _TAG.sub("", text)
    return html.unescape(text)


def trim_reply(text: str) -> str:
    """Drop the quoted earlier thread, signature and mobile footer of a plain-text message.

    Trimming never empties a message: if what remains is blank, the text is returned untrimmed.
    """
    trimmed = text.replace("\r\n", "\n").replace("\r", "\n")
    header = _REPLY_HEADER.search(trimmed)
    if header:
        trimmed = trimmed[: header.start()]
    if ">" in trimmed:
        trimmed = _QUOTED_LINE.sub("", trimmed)
    # Cheap substring tests first: Python's regex engine costs ~0.3 µs per position on case-insensitive
    # alternations, which would dominate preparation of long bodies.
    delimiter = _SIGNATURE_DELIMITER.search(trimmed) if "\n--" in trimmed else None
    if delimiter:
        trimmed = trimmed[: delimiter.start()]
    # Footers and sign-offs live at the end: searching only the last few lines keeps long bodies cheap.
    tail_start = max(0, len(trimmed) - _TAIL_CHARS)
    tail = trimmed[tail_start:].lower()
    footer = _MOBILE_FOOTER.search(trimmed, tail_start) if any(w in tail for w in _FOOTER_WORDS) else None
    if footer:
        trimmed = trimmed[: footer.start()] + trimmed[footer.end() :]
    trimmed = trimmed.rstrip()
    sign_off = _sign_off_start(trimmed, max(0, len(trimmed) - _TAIL_CHARS))
    if sign_off:
        trimmed = trimmed[:sign_off]
    return trimmed if trimmed.strip() else text


def _sign_off_start(text: str, start: int) -> int | None:
    """Where the closing sign-off and signature begin, if the text ends with one (never at position 0)."""
    # Trying the pattern only where a clause can begin is far cheaper than a regex scan of every position.
    for clause_end in _CLAUSE_END.finditer(text, start):
        pos = clause_end.end()
        if text[clause_end.start()] != "\n" and (pos >= len(text) or text[pos] not in " \t"):
            continue  # "3.5" or "e.g.x" is not a sentence end
        if _SIGN_OFF_TAIL.match(text, pos):
            return pos
    return None


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and drop invisible characters."""
    if any(char in text for char in _INVISIBLE_CHARS):
        text = text.translate(_INVISIBLE)
    return " ".join(text.split())


# A ticket's (subject, body): what every encoder and classifier reads of it.
TicketText = tuple[str | None, str | None]


def prepare_ticket_text(subject: str | None, body: str | None, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """One line of text to embed for a ticket: subject first, then its body without quotes and signature.

    ``max_chars`` cuts text that could never fit the model's token window anyway (the Encoder passes a bound
    derived from its window); None keeps everything.
    """
    subject_text = normalise_whitespace(html_to_text(subject or ""))
    body_text = normalise_whitespace(trim_reply(html_to_text(body or "")))
    if subject_text and body_text.lower().startswith(subject_text.lower()):
        # Some helpdesks repeat the subject as the first line of the body.
        subject_text = ""
    if subject_text and body_text:
        separator = " " if subject_text[-1] in ".!?:" else ". "
        text = subject_text + separator + body_text
    else:
        text = subject_text or body_text
    if max_chars is not None and len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    return text
