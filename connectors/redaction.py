"""What deskroute may show of outside text: no credentials (URLs, configured secrets), no control characters.

A helpdesk or database URL may carry a password in its userinfo (``https://user:SECRET@host``), a token as
its userinfo (``https://TOKEN@host``) or a credential as a query parameter (``?password=SECRET``,
``?access_token=SECRET``). :func:`mask_url` parses one URL and replaces those parts with ``***``;
:func:`redact` does the same for every URL inside a free text (an error message, a vendor's error body) and
also replaces the values registered with :func:`register_secret` (the credentials the configuration read
from environment variables), wherever they appear.

This module is the lowest layer that shows URLs, so every other one (the HTTP client's errors, the
configuration's ``masked()``, the store's errors, the command line) uses it rather than a check of its own.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import SplitResult, unquote, urlsplit

MASK = "***"

# Characters that drive a terminal or reorder what it shows instead of being shown: C0 controls but tab and
# newline, DEL, C1 controls (ESC and CSI among them: clear screen, window title, hyperlinks), the line and
# paragraph separators, and the bidirectional marks, overrides and isolates ("Trojan Source" names).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Query (and fragment) parameters whose value is a credential. Compared case-insensitively, with "-" read as
# "_"; a name that ends in one of the suffixes below counts too (x_api_key, db_password, refresh_token).
SECRET_PARAMETERS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "auth_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "sslpassword",
        "signature",
        "sig",
        "x_amz_signature",
        "x_amz_credential",
        "x_amz_security_token",
    }
)
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "api_key", "apikey")

# Schemes whose userinfo without a password is still a credential: APIs take tokens as the "user".
_TOKEN_USERINFO_SCHEMES = frozenset({"http", "https", "ws", "wss"})

# A URL in free text: a scheme, "://", then anything up to white space, a quote or a square bracket (an IPv6
# host in brackets is read whole). Passwords with "@", ":" or "/" in them stay inside the match; the parser
# decides where the userinfo ends (at the last "@").
_URL_IN_TEXT = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s'\"<>`\[\]@/]*@)?(?:\[[0-9A-Fa-f:.]+\])?[^\s'\"<>`\[\]]*"
)
# "password=SECRET" outside a URL (libpq connection strings, a vendor's error echoing a form).
_PAIR_IN_TEXT = re.compile(
    r"(?i)\b(password|passwd|pwd|sslpassword|client_secret|secret|access_token|api_key|apikey|token)"
    r"(\s*=\s*)(?!\*\*\*)([^\s&;,'\"]+)"
)

# Secrets shorter than this are not scrubbed from free text: replacing every "abc" would garble messages.
MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()
_lock = threading.Lock()


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter named ``name`` carries a credential."""
    key = unquote(name).strip().lower().replace("-", "_")
    return key in SECRET_PARAMETERS or key.endswith(_SECRET_SUFFIXES)


def _mask_pairs(part: str) -> str:
    """``a=1&password=x`` -> ``a=1&password=***``, keeping everything else as written."""
    pieces = re.split(r"([&;])", part)
    for i in range(0, len(pieces), 2):
        name, eq, value = pieces[i].partition("=")
        # Already masked text is left as it is, so masking twice changes nothing.
        if eq and value and not value.startswith(MASK) and is_secret_parameter(name):
            pieces[i] = f"{name}={MASK}"
    return "".join(pieces)


def _netloc(parts: SplitResult) -> str:
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return parts.netloc
    user, colon, _password = userinfo.partition(":")
    if colon:
        return f"{user}:{MASK}@{hostport}"
    if parts.scheme.lower() in _TOKEN_USERINFO_SCHEMES:
        return f"{MASK}@{hostport}"
    return parts.netloc


def mask_url(url: str) -> str:
    """``url`` with its userinfo password (or token) and credential query parameters replaced by ``***``.

    Everything else is kept exactly as written, so the result still says where the URL points.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        # Not parseable (e.g. a broken IPv6 host) yet it may hold a credential: show only the scheme.
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://{MASK}" if scheme else MASK
    if not parts.netloc and not parts.query and not parts.fragment:
        return url
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    out = f"{scheme}//{_netloc(parts)}" if parts.netloc or "//" in url else scheme
    out += parts.path
    if parts.query or url.split("#", 1)[0].endswith("?"):
        out += "?" + _mask_pairs(parts.query)
    if parts.fragment or url.endswith("#"):
        out += "#" + _mask_pairs(parts.fragment)
    return out


def url_secrets(url: str) -> list[str]:
    """The credentials written in ``url`` (as written and decoded): what :func:`mask_url` hides."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon:
            found.append(password)
        elif parts.scheme.lower() in _TOKEN_USERINFO_SCHEMES:
            found.append(user)
    for part in (parts.query, parts.fragment):
        for pair in re.split(r"[&;]", part):
            name, eq, value = pair.partition("=")
            if eq and value and is_secret_parameter(name):
                found.append(value)
    return [form for value in found for form in dict.fromkeys((value, unquote(value))) if form]


def register_secret(value: str | None) -> None:
    """Remember a credential's value so that :func:`redact` removes it from any text shown later."""
    if value is None or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(value)
        # The forms a value takes once it is in a URL or a form body.
        from urllib.parse import quote, quote_plus

        for form in (quote(value, safe=""), quote_plus(value)):
            if form != value:
                _secrets.add(form)


def registered_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def _mask_in_text(match: re.Match[str]) -> str:
    # Punctuation that ends the sentence around a URL ("... at http://h/?token=t: refused") is kept as written.
    url = match.group(0)
    trail = re.search(r"[.,;:!?)]+$", url)
    if trail is None:
        return mask_url(url)
    return mask_url(url[: trail.start()]) + trail.group(0)


def strip_control(text: str) -> str:
    """``text`` without :data:`CONTROL_CHARACTERS`: what a terminal or a log line may show of outside data."""
    return CONTROL_CHARACTERS.sub("", text)


def redact(text: str) -> str:
    """``text`` with every URL masked (:func:`mask_url`), ``password=...`` pairs and registered secrets removed."""
    if not text:
        return text
    out = _URL_IN_TEXT.sub(_mask_in_text, text)
    out = _PAIR_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    # Longest first, so a secret that contains another is removed whole.
    for secret in sorted(registered_secrets(), key=len, reverse=True):
        if secret in out:
            out = out.replace(secret, MASK)
    return out


__all__ = [
    "CONTROL_CHARACTERS",
    "MASK",
    "is_secret_parameter",
    "mask_url",
    "redact",
    "register_secret",
    "registered_secrets",
    "strip_control",
    "url_secrets",
]
