"""Canonical article URLs and source domains. Pure functions, table-tested.

``canonical_url`` is what article ids are derived from, so the same story reached through a newsletter
link (``?utm_source=...``), a social share (``?fbclid=...``) or with a ``#comments`` fragment gets one id:

* relative links are resolved against the base (the feed URL);
* scheme and host are lower-cased, the host IDNA-encoded (``bücher.example`` → ``xn--bcher-kva.example``),
  a trailing dot dropped, and the default port (80 for http, 443 for https) removed;
* an empty path becomes ``/``; characters that are not allowed in a URL (spaces, non-ASCII) are
  percent-encoded, existing escapes are kept as they are;
* tracking parameters (``utm_*`` and the names in ``TRACKING_PARAMS``, case-insensitive) are removed;
  the remaining parameters keep their original order and spelling (the order can matter to the site,
  and feeds repeat the same order, so sorting would buy nothing and could break links);
* the fragment is dropped.

Non-http(s) URLs (``tag:``, ``urn:``, ``mailto:``) are returned stripped, without a fragment, and
otherwise untouched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "yclid",
        "ysclid",
        "_ga",
        "_gl",
        "igshid",
        "igsh",
        "ref_src",
        "ref_url",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wickedid",
        "rb_clickid",
        "s_kwcid",
        "ef_id",
        "srsltid",
        "xtor",
        "ncid",
        "sr_share",
        "cmpid",
        "campaign_id",
        "spm",
        "_openstat",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/%:@!$&'()*+,;=~-._"
_QUERY_SAFE = "/%:@!$&'()*+,;=~-._?"

# An absolute http(s) URL whose netloc is a plain host name: only characters that ``urlsplit`` keeps
# as they are and ``hostname`` only lower-cases (no userinfo "@", port ":", IPv6 "[]", zone "%", no
# tab or line break, which ``urlsplit`` deletes), up to the first "/", "?" or "#". For such a URL the
# scheme and netloc are read off the match instead of calling ``urlsplit`` (what ``_split``,
# ``is_web_url`` and ``host_of`` do); tests compare them with ``urlsplit`` on tricky URLs.
_SIMPLE_WEB = re.compile(r"(https?)://([A-Za-z0-9._~!$&'()*+,;=-]+)(?=[/?#]|\Z)")
_WEB_PREFIXES = ("http://", "https://")


def _split(url: str) -> tuple[str, str, str, str]:
    """``(scheme, netloc, path, query)`` of ``urlsplit(url)``; may raise ``ValueError`` as it does."""
    if "\t" not in url and "\r" not in url and "\n" not in url:
        m = _SIMPLE_WEB.match(url)
        if m is not None:
            path, _, query = url[m.end() :].partition("#")[0].partition("?")
            return m.group(1), m.group(2), path, query
    parts = urlsplit(url)
    return parts.scheme, parts.netloc, parts.path, parts.query


def _joins_to_itself(url: str) -> bool:
    """Whether ``urljoin(base, url) == url`` for every ``base`` (or ``urljoin`` raises ``ValueError``),
    for a ``url`` starting with ``http://`` or ``https://``: with another scheme than the base's,
    ``urljoin`` returns ``url``; with the same one and a netloc, ``urlunparse(urlparse(url))``, which
    is ``url`` unless a delimiter with nothing after it is dropped (``?`` or ``#`` or the ``;`` of
    empty parameters) or ``urlsplit`` deletes a tab or line break. Conservative: ``False`` may still
    join to itself.
    """
    if "\t" in url or "\r" in url or "\n" in url:
        return False
    first = url[8:9] if url[4] == "s" else url[7:8]  # the netloc's first character
    if not first or first in "/?#":
        return False
    return not url.endswith(("#", "?", ";")) and "?#" not in url and ";?" not in url and ";#" not in url


def joins_to_itself(url: str) -> bool:
    """Whether ``urllib.parse.urljoin(base, url)`` is ``url`` for every ``base`` that ``urlsplit`` can
    parse, and ``urlsplit(url)`` raises nothing: an absolute http(s) URL with a plain host name
    (``_SIMPLE_WEB``) and no delimiter that a parse and unparse would drop (``_joins_to_itself``).
    Conservative (``False`` does not mean it changes). Lets callers skip joining article links, which
    feeds nearly always give absolute."""
    return _SIMPLE_WEB.match(url) is not None and _joins_to_itself(url)


# Second-level labels under which a country code TLD sells names (bbc.co.uk, abc.net.au, pravda.com.ua).
_SECOND_LEVEL = frozenset(
    {"co", "com", "net", "org", "gov", "ac", "edu", "gouv", "govt", "mil", "or", "ne", "go", "nic", "in"}
)


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter name is a known tracking parameter (case-insensitive)."""
    lowered = unquote(name).strip().lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _idna_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        # Labels the IDNA 2003 codec refuses (too long, forbidden characters): percent-encode instead.
        return quote(host, safe=".-")


def _netloc(scheme: str, netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
        host = host.lower()
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
        host = _idna_host(host)
    else:
        host = _idna_host(host)
    if port:
        if port.isdigit() and int(port) == DEFAULT_PORTS.get(scheme):
            port = ""
        elif not port.isdigit():
            port = quote(port, safe="")
    out = host + (f":{port}" if port else "")
    return f"{userinfo}@{out}" if userinfo else out


def clean_query(query: str) -> str:
    """Drop tracking parameters and empty segments; keep the others in order, as they were written."""
    if not query:
        return ""
    kept = [
        segment
        for segment in query.split("&")
        if segment and not is_tracking_param(segment.partition("=")[0])
    ]
    return quote("&".join(kept), safe=_QUERY_SAFE)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of ``url`` (see the module docstring). ``""`` for an empty URL."""
    url = url.strip()
    if not url:
        return ""
    if base:
        with contextlib.suppress(ValueError):
            url = urljoin(base.strip(), url)
    try:
        scheme, raw_netloc, raw_path, query = _split(url)
    except ValueError:
        return url.partition("#")[0]
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return url.partition("#")[0]
    try:
        netloc = _netloc(scheme, raw_netloc)
    except ValueError:
        netloc = raw_netloc.lower()
    path = quote(raw_path, safe=_PATH_SAFE) or "/"
    return urlunsplit((scheme, netloc, path, clean_query(query), ""))


def resolve_url(url: str, base: str | None) -> str:
    """``url`` made absolute against ``base`` (no other change); ``""`` if empty or unparseable."""
    url = url.strip()
    if not url:
        return ""
    if not base or (url.startswith(_WEB_PREFIXES) and _joins_to_itself(url)):
        return url
    try:
        return urljoin(base.strip(), url)
    except ValueError:
        return url


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host."""
    if _SIMPLE_WEB.match(url) is not None:  # a tab or line break after the netloc changes neither
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in DEFAULT_PORTS and bool(parts.hostname)


def host_of(url: str) -> str:
    """Lower-case, IDNA-encoded host of ``url`` without ``www.``; ``""`` when there is none."""
    url = url.strip()
    simple = _SIMPLE_WEB.match(url)
    if simple is not None:  # ``hostname`` is the netloc lower-cased, and _idna_host lower-cases
        host = _idna_host(simple.group(2))
    else:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return ""
        host = _idna_host(host)
    return host[4:] if host.startswith("www.") else host


def registrable_domain(url: str) -> str:
    """An approximation of the registrable domain of ``url``'s host, without a public-suffix list.

    ``news.bbc.co.uk`` → ``bbc.co.uk``, ``www.lemonde.fr`` → ``lemonde.fr``, ``edition.cnn.com`` →
    ``cnn.com``; IP addresses and single-label hosts are returned as they are.
    """
    host = host_of(url)
    if not host:
        return ""
    literal = host.strip("[]")
    # An IP address has a ":" (IPv6) or only digits and dots (IPv4); skip the exception otherwise.
    if ":" in literal or literal.replace(".", "").isdigit():
        try:
            ipaddress.ip_address(literal)
            return host
        except ValueError:
            pass
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])
