"""The Markdown view of a Plan, for pull-request comments (`plan -o markdown`)."""

from __future__ import annotations

import html

from personactl.engine import plan as p
from personactl.output import values as v

_ICON = {"create": "➕", "update": "✏️", "replace": "🔁", "delete": "🗑️"}


def _code(text: str, *, cell: bool = False) -> str:
    """Inline code that survives backticks in the text (and pipes, in a table cell)."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    code = f"{fence}{pad}{text}{pad}{fence}"
    # Only GitHub's table parser needs the escape; elsewhere it would show.
    return code.replace("|", "\\|") if cell else code


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return ticks


def _details(summary: str, lang: str, body: list[str]) -> list[str]:
    text = "\n".join(body)
    fence = _fence(text)
    return [
        f"<details><summary>{html.escape(summary)}</summary>",
        "",
        f"{fence}{lang}",
        text,
        fence,
        "",
        "</details>",
    ]


def render_markdown(plan: p.Plan, *, color: bool = False, show_requests: bool = False) -> str:
    """`color` is accepted for a uniform signature; Markdown has no colour."""
    out = [
        f"### personactl plan: {_code(plan.environment)} ({v.backend_label(plan)})",
        "",
    ]
    if not plan.three_way:
        out += [f"> {v.two_way_line(plan)}", ""]

    # Warnings go first: a reviewer may not scroll to the end of a long comment.
    for w in plan.warnings:
        out += [f"> ⚠️ **Warning:** {v.masked_text(w)}", ""]

    if unread := v.unread_line(plan):
        out += [f"> {unread}", ""]

    changing = [rc for rc in plan.changes if rc.action != "no-op"]
    if not changing:
        out.append(f"{v.NO_CHANGES} {v.summary_line(plan)}")
    else:
        out += [f"**{v.summary_line(plan)}**", ""]
        out += ["| | Kind | Name | Changes |", "|---|---|---|---|"]
        for rc in changing:
            name = _code(rc.name, cell=True)
            out.append(f"| {_ICON[rc.action]} | {rc.kind} | {name} | {_changes_cell(rc)} |")
        for rc in changing:
            out += ["", *_resource_section(rc, show_requests)]

    drifted = [rc for rc in plan.changes if rc.drift]
    if drifted:
        out += ["", "#### Changed outside personactl since the last apply", ""]
        drift_details: list[str] = []
        for rc in drifted:
            for fc in rc.drift:
                line, more = _drift(rc, fc)
                out.append(line)
                drift_details += more
        out += drift_details
    return "\n".join(out) + "\n"


def _changes_cell(rc: p.ResourceChange) -> str:
    if rc.action == "create":
        return f"new ({len(rc.fields)} fields)"
    if rc.action == "delete":
        return "deleted"
    docs = [f"{symbol} {_code(text, cell=True)}" for symbol, text in v.document_lines(rc)]
    return ", ".join([_code(fc.path, cell=True) for fc in rc.fields] + docs)


def _resource_section(rc: p.ResourceChange, show_requests: bool) -> list[str]:
    label = v.resource_label(rc)
    out = [f"#### {_ICON[rc.action]} {rc.kind} {_code(rc.name)}{label}", ""]
    details: list[str] = []
    for fc in rc.fields:
        before, after = v.shown_pair(fc)
        note = v.reason_note(fc)
        tail = f" _({note})_" if note else ""
        if v.is_multiline(before, after):
            if rc.action in ("update", "replace"):
                out.append(f"- {_code(fc.path)}: diff below{tail}")
                diff = v.unified_diff(before, after, "live", "desired")
                details += ["", *_details(f"{fc.path} diff for {rc.name}", "diff", diff)]
            else:
                # A whole new (or deleted) text reads better without a + on every line.
                text = str(after if rc.action == "create" else before)
                count = v.lines_label(text)
                out.append(f"- {_code(fc.path)}: {count}, below{tail}")
                title = f"{fc.path} of {rc.name} ({count})"
                details += ["", *_details(title, "text", text.splitlines())]
        elif rc.action == "create" or (before is None and fc.reason != p.Reason.RESET):
            out.append(f"- {_code(fc.path)} = {_code(v.fmt(after))}{tail}")
        elif rc.action == "delete":
            out.append(f"- {_code(fc.path)} = {_code(v.fmt(before))} (deleted){tail}")
        elif before == after and fc.reason == p.Reason.RESENT:
            out.append(f"- {_code(fc.path)} = {_code(v.fmt(after))}{tail}")
        else:
            out.append(f"- {_code(fc.path)}: {_code(v.fmt(before))} → {_code(v.fmt(after))}{tail}")
    out += [f"- {symbol} {_code(text)}" for symbol, text in v.document_lines(rc)]
    out += [f"- _note: {v.masked_text(n)}_" for n in rc.notes]
    out += details
    if show_requests and rc.request is not None:
        body = v.request_body_json(rc.request)
        lines = [f"{rc.request.method} {rc.request.path}"]
        if body is not None:
            lines += ["", body]
        out += ["", *_details(f"request for {rc.name}", "http", lines)]
    return out


def _drift(rc: p.ResourceChange, fc: p.FieldChange) -> tuple[str, list[str]]:
    """The list line for one drifted field, and a collapsible diff to put after the list."""
    before, after = v.shown_pair(fc)
    who = f"{rc.kind} {_code(rc.name)}"
    if v.is_document_drift(fc):
        return f"- {who}: {_code(fc.path)} {after}", []
    if v.is_multiline(before, after):
        diff = v.unified_diff(before, after, "last applied", "live")
        return f"- {who}: {_code(fc.path)} (diff below)", [
            "",
            *_details(f"{fc.path} drift for {rc.name}", "diff", diff),
        ]
    return f"- {who}: {_code(fc.path)} {_code(v.fmt(before))} → {_code(v.fmt(after))}", []
