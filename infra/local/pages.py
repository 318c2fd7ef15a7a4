"""The local stack's own pages: the landing page (``GET /``) and the outbox (``GET /_local/outbox.html``).

Plain HTML built on the server, no script at all: every value that comes from outside this module
(outbox contents above all: what a handler put in an email is untrusted) goes through
:func:`html.escape`, links are made only of ``http``/``https`` URLs, and the pages are served with
a strict Content-Security-Policy (``default-src 'none'``; the stylesheet is a file of its own,
``/_local/pages.css``; forms may post only to this origin). The forms post form-encoded bodies to
the ``/_local`` routes, which answer them with a redirect back (or, for a job, a small page).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from infra.local.events import Response

if TYPE_CHECKING:
    from infra.local.server import Stack

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STYLESHEET = "/_local/pages.css"
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_CODE = re.compile(r"(?<![\w-])\d{6}(?![\w-])")
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r"""href\s*=\s*["']?(https?://[^"'\s>]+)""", re.IGNORECASE)

CSS = (Path(__file__).parent / "pages.css").read_bytes()


def e(value: Any) -> str:
    """Escaped for HTML text and attribute values (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, status: int = 200) -> Response:
    document = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{e(title)}</title>\n<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    return Response(status, [("Content-Type", "text/html; charset=utf-8"), *security_headers()], document.encode())


def security_headers() -> list[tuple[str, str]]:
    return [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]


def stylesheet() -> Response:
    headers = [("Content-Type", "text/css; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
    return Response(200, headers, CSS)


def _nav() -> str:
    return (
        '<nav><a href="/">Local stack</a><a href="/_local/outbox.html">Outbox</a>'
        '<a href="/_local/docs">API docs</a><a href="/_local/docs?spec=local">Local routes</a></nav>'
    )


def linkify(text: str) -> str:
    """``text`` escaped, its http(s) URLs made links (the URL is escaped in both places)."""
    parts, position = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        end = match.start() + len(url)
        parts.append(e(text[position : match.start()]))
        parts.append(f'<a href="{e(url)}" rel="noopener noreferrer">{e(url)}</a>')
        position = end
    parts.append(e(text[position:]))
    return "".join(parts)


def _html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h\d>|</li>", "\n", text)
    return html.unescape(_TAG.sub("", text)).strip()


def codes(*texts: str | None) -> list[str]:
    """Six-digit codes in the message (login and verification codes), in order, once each."""
    found: list[str] = []
    for text in texts:
        for code in _CODE.findall(text or ""):
            if code not in found:
                found.append(code)
    return found


def links(message: dict[str, Any]) -> list[str]:
    found: list[str] = []
    candidates = [m.group(0).rstrip(".,;:!?") for m in _URL.finditer(message.get("text") or "")]
    candidates += [html.unescape(m) for m in _HREF.findall(message.get("html") or "")]
    for url in candidates:
        if url not in found:
            found.append(url)
    return found


# ---------------------------------------------------------------------------------- outbox


def outbox_page(messages: Sequence[dict[str, Any]], to: str | None) -> Response:
    cards = [_message_card(message) for message in messages]
    filter_form = (
        '<form method="get" action="/_local/outbox.html"><label>Recipient '
        f'<input name="to" value="{e(to or "")}" placeholder="grace@example.com or +49…"></label> '
        '<button type="submit">Filter</button></form>'
    )
    if to:
        filter_form += ' <a href="/_local/outbox.html">all messages</a>'
    count = f"{len(messages)} message{'s' if len(messages) != 1 else ''}" + (f" to {e(to)}" if to else "")
    query = f"?to={quote(to, safe='')}" if to else ""
    json_link, refresh = "/_local/outbox" + query, "/_local/outbox.html" + query
    body = (
        f'{_nav()}\n<h1>Outbox</h1>\n<p class="muted">Emails and SMS the functions sent through the '
        f"emulated SES and SNS, newest first. {count}. "
        f'<a href="{e(json_link)}">As JSON</a> · <a href="{e(refresh)}">Refresh</a></p>\n'
        f"<p>{filter_form}</p>\n" + ("\n".join(cards) if cards else '<p class="muted">Nothing sent yet.</p>')
    )
    return page("Outbox · Portico local stack", body)


def _message_card(message: dict[str, Any]) -> str:
    channel = message.get("channel") or "?"
    text = message.get("text")
    shown_text = text if text is not None else _html_to_text(message.get("html") or "")
    found_codes = codes(message.get("subject"), shown_text)
    rows = [
        f"<dt>To</dt><dd>{e(', '.join(message.get('to') or []))}</dd>",
        f'<dt>Sent</dt><dd class="mono">{e(message.get("sent_at") or "unknown")}</dd>',
    ]
    if message.get("subject") is not None:
        rows.insert(0, f"<dt>Subject</dt><dd><strong>{e(message['subject'])}</strong></dd>")
    if found_codes:
        rows.append(
            "<dt>Code</dt><dd>" + " ".join(f'<span class="code secret">{e(c)}</span>' for c in found_codes) + "</dd>"
        )
    message_links = links(message)
    if message_links:
        rows.append(
            "<dt>Links</dt><dd>"
            + "<br>".join(f'<a href="{e(url)}" rel="noopener noreferrer">{e(url)}</a>' for url in message_links)
            + "</dd>"
        )
    attachments = message.get("attachments") or []
    if attachments:
        listed = ", ".join(
            f"{e(a.get('filename'))} ({e(a.get('content_type'))}, {e(a.get('size'))} bytes)" for a in attachments
        )
        rows.append(f"<dt>Attachments</dt><dd>{listed}</dd>")
    body = f"<pre>{linkify(shown_text)}</pre>" if shown_text else ""
    for attachment in attachments:  # a text attachment (a CSV export), readable here
        if isinstance(attachment.get("text"), str):
            body += (
                f"<details><summary>{e(attachment.get('filename') or 'attachment')}</summary>"
                f"<pre>{e(attachment['text'])}</pre></details>"
            )
    source = " (from the HTML part)" if text is None and message.get("html") else ""
    return (
        f'<article class="card"><span class="badge">{e(channel.upper())}</span>'
        f'<span class="muted mono">{e(message.get("message_id"))}</span>{e(source)}'
        f"<dl>{''.join(rows)}</dl>{body}</article>"
    )


# ---------------------------------------------------------------------------------- landing


def _curl(method: str, url: str, body: str | None = None) -> str:
    command = f"curl -s -X {method} {url}"
    if body is not None:
        command += f" -H 'Content-Type: application/json' -d '{body}'"
    return command


def landing_page(stack: Stack, now: str, offset: float) -> Response:
    url = stack.url
    template = stack.template
    stage = template.parameters.get("Stage", "")
    state = stack.state_description
    sections = [
        _nav(),
        "<h1>Portico local stack</h1>",
        f'<p class="muted">The HTTP API of <span class="mono">{e(stack.config.template.name)}</span>, '
        "served over an embedded AWS emulation (moto). Nothing here reaches real AWS.</p>",
        "<dl>"
        f'<dt>URL</dt><dd><a href="{e(url)}/">{e(url)}</a></dd>'
        f'<dt>Stage</dt><dd class="mono">{e(stage or "$default")}</dd>'
        f"<dt>Routes</dt><dd>{len(stack.router.routes)} routes, {len(stack.functions)} functions, "
        f"{len(stack.jobs)} scheduled jobs, {stack.config.workers} worker processes</dd>"
        f'<dt>Emulation</dt><dd class="mono">{e(stack.aws.endpoint_url if stack.aws else "")}</dd>'
        f"<dt>Local data</dt><dd>{e(state)}</dd>"
        "</dl>",
        '<p><a href="/_local/docs">API docs (Swagger UI)</a> · <a href="/_local/docs?spec=local">Local routes</a>'
        ' · <a href="/_local/openapi.json">openapi.json</a>'
        ' · <a href="/_local/local-openapi.json">local-openapi.json</a>'
        ' · <a href="/_local/outbox.html">Outbox</a></p>',
        _demo_section(stack),
        _clock_section(url, now, offset),
        _jobs_section(stack),
        _functions_section(stack),
    ]
    return page("Portico local stack", "\n".join(section for section in sections if section))


def _demo_section(stack: Stack) -> str:
    demo = stack.demo
    if not demo:
        return (
            '<h2 id="demo">Demo account</h2><p class="muted">No demo data in this stack '
            "(started with <code>SEED=0</code>, or with saved state made without it).</p>"
        )
    portal = f"{stack.url}/portal/{quote(demo['account_id'], safe='')}"
    grace = "/_local/outbox.html?" + urlencode({"to": "grace@example.com"})
    login = json.dumps({"email": demo["email"], "password": demo["password"]})
    return (
        '<h2 id="demo">Demo account</h2><dl>'
        f'<dt>Owner</dt><dd class="mono secret">{e(demo["email"])}</dd>'
        f'<dt>Password</dt><dd class="mono secret">{e(demo["password"])}</dd>'
        f'<dt>Account</dt><dd class="mono">{e(demo["account_id"])}</dd>'
        f'<dt>Portal</dt><dd><a href="{e(portal)}">{e(portal)}</a> (log in as grace@example.com; '
        f'the code is in <a href="{e(grace)}">her outbox</a>)</dd></dl>'
        f"<pre>{e(_curl('POST', stack.url + '/auth/login', login))}</pre>"
    )


def _clock_section(url: str, now: str, offset: float) -> str:
    buttons = "".join(
        '<form method="post" action="/_local/clock">'
        f'<input type="hidden" name="advance_seconds" value="{seconds}"><button type="submit">+{label}</button></form>'
        for seconds, label in ((3600, "1 hour"), (86400, "1 day"), (7 * 86400, "7 days"), (30 * 86400, "30 days"))
    )
    custom = (
        '<form method="post" action="/_local/clock"><label>seconds '
        '<input name="advance_seconds" type="number" min="0" step="any" required></label> '
        '<button type="submit">Advance</button></form>'
    )
    reset = (
        '<form method="post" action="/_local/clock"><input type="hidden" name="reset" value="1">'
        '<button type="submit">Reset to real time</button></form>'
    )
    shift = "real time" if abs(offset) < 0.5 else f"{_duration(offset)} ahead of real time"
    return (
        '<h2 id="clock">Clock</h2>'
        f'<p>Every function sees <strong class="mono">{e(now)}</strong> ({e(shift)}).</p>'
        f"<p>{buttons}{custom}{reset}</p>"
        f"<pre>{e(_curl('GET', url + '/_local/clock'))}\n"
        f"{e(_curl('POST', url + '/_local/clock', json.dumps({'advance_seconds': 86400})))}\n"
        f"{e(_curl('DELETE', url + '/_local/clock'))}</pre>"
    )


def _duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(round(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs and not days else []
    return sign + (" ".join(parts) or "0 s")


def _jobs_section(stack: Stack) -> str:
    if not stack.jobs:
        return '<h2 id="jobs">Scheduled jobs</h2><p class="muted">The template schedules no job.</p>'
    rows = []
    for name, job in sorted(stack.jobs.items()):
        action = "/_local/jobs/" + quote(name, safe="")
        rows.append(
            f'<tr><td class="mono">{e(name)}</td><td>{e(job.function_id)}</td>'
            f'<td><form method="post" action="{e(action)}"><button type="submit">Run now</button></form></td>'
            f"<td><code>{e(_curl('POST', stack.url + action))}</code></td></tr>"
        )
    return (
        '<h2 id="jobs">Scheduled jobs</h2><p class="muted">Nothing runs on a schedule locally: run a job '
        "when you need it (it sees the clock above).</p>"
        "<table><thead><tr><th>Job</th><th>Function</th><th></th><th>curl</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _functions_section(stack: Stack) -> str:
    routes: dict[str, list[str]] = {}
    for route in stack.router.routes:
        routes.setdefault(route.function_id, []).append(route.route_key)
    rows = []
    for function_id, function in stack.functions.items():
        served = routes.get(function_id, [])
        listed = "<br>".join(f"<code>{e(key)}</code>" for key in sorted(served))
        rows.append(
            f'<tr><td>{e(function_id)}</td><td class="mono">{e(function.name)}</td>'
            f'<td class="mono">{e(function.handler)}</td><td>{function.memory_mb} MB, {function.timeout_s:g} s</td>'
            f"<td><details><summary>{len(served)} route{'s' if len(served) != 1 else ''}</summary>"
            f"{listed}</details></td></tr>"
        )
    return (
        '<h2 id="functions">Functions</h2>'
        "<table><thead><tr><th>Function</th><th>Name</th><th>Handler</th><th>Limits</th><th>Routes</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def job_result_page(name: str, status: int, body: bytes) -> Response:
    try:
        shown = json.dumps(json.loads(body), indent=2)
    except ValueError:
        shown = body.decode(errors="replace")
    outcome = "ran" if status == 200 else f"failed ({status})"
    return page(
        f"Job {name} · Portico local stack",
        f'{_nav()}\n<h1>Job <span class="mono">{e(name)}</span> {e(outcome)}</h1>\n<pre>{e(shown)}</pre>\n'
        '<p><a href="/#jobs">Back to the jobs</a> · <a href="/_local/outbox.html">Outbox</a></p>',
        status,
    )


def redirect(location: str) -> Response:
    return Response(303, [("Location", location), ("Cache-Control", "no-store")], b"")


def form_fields(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def same_origin(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether a form post comes from a page of this stack (not from another site's form)."""
    values = {name.lower(): value for name, value in headers}
    if values.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = values.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == values.get("host", "")
