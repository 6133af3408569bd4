"""Render stage: Jinja for string values, in a sandbox, with secrets tracked.

Only strings under `spec` (and a Persona's export overrides under `targets`)
are templates (prompts, messages, descriptions, tool config strings); numbers
and structure come from YAML and patches. The
environment is `ImmutableSandboxedEnvironment` with StrictUndefined, and its
loader refuses any file outside the project. `{{ secret("NAME") }}` reads an
environment variable; every value it produced is remembered so that outputs
can show `(sensitive)` instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from personactl.core.errors import Diagnostic, Location
from personactl.manifest.model import Environment, Project, Resource
from personactl.manifest.schemas import fmt_path
from personactl.manifest.templatefiles import (
    MAX_OUTPUT,
    TemplateLimitError,
    read_template,
    stat_problem,
)
from personactl.manifest.yamlsource import KeyPath

if TYPE_CHECKING:  # Jinja is imported only when a template needs more than substitution
    import jinja2

    from personactl.manifest.sandbox import BoundedSandbox

SENSITIVE = "(sensitive)"
SOURCE_CACHE_BYTES = 8 * 1024 * 1024
_MARKERS = ("{{", "{%", "{#")
# Sent verbatim: Anam's own webhook body template and the tool's JSON Schema.
_VERBATIM = {("config", "bodyTemplate"), ("config", "parameters")}
_VERBATIM_KEYS = {key for _, key in _VERBATIM}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIMPLE_EXPR = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) *\}\}")
_PLAIN_TYPES = (str, int, float)


def substitute_simple(source: str, ctx: dict[str, Any]) -> str | None:
    """Render a template that is only text and `{{ name }}` / `{{ a.b }}`
    substitutions of plain values, exactly as Jinja would, without compiling it.

    Compiling costs about a millisecond per distinct template, which dominates
    a run over a thousand personas. Anything else (tags, filters, calls, a
    missing name, a dict method) returns None and goes to Jinja, so errors and
    the sandbox behave as before. A property test checks this against Jinja.
    """
    if "{%" in source or "{#" in source:
        return None
    out: list[str] = []
    pos = 0
    size = len(source)
    for m in _SIMPLE_EXPR.finditer(source):
        literal = source[pos : m.start()]
        if "{{" in literal or literal.endswith("{"):
            return None  # Jinja's `{{` starts earlier than the match: `{{{name}}`
        value: Any = ctx
        for i, part in enumerate(m.group(1).split(".")):
            if not isinstance(value, dict) or part not in value:
                return None
            if i and hasattr(value, part):  # Jinja would find the dict's method first
                return None
            value = value[part]
        if type(value) not in _PLAIN_TYPES:
            return None
        text = str(value)
        size += len(text)
        if size > MAX_OUTPUT:
            return None  # Jinja renders it and reports the limit where it is passed
        out.append(literal)
        out.append(text)
        pos = m.end()
    if source.find("{{", pos) != -1:
        return None
    out.append(source[pos:])
    text = "".join(out)
    # Jinja normalises line endings in template data.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


# require: real values (render); placeholder: `<secret:X>` (validate, offline);
# sentinel: `⟦secret:X:hash⟧` (plan/apply: plans and state never hold values).
SecretMode = Literal["require", "placeholder", "sentinel"]


class MissingSecret(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class BadSecretName(Exception):
    pass


@dataclass
class Rendered:
    """A resource with its strings rendered, ready to diff."""

    resource: Resource  # as composed for the environment
    anam_name: str
    data: dict[str, Any]  # the document with rendered strings
    prompt: str | None  # the rendered system prompt (Personas)
    sensitive: set[KeyPath] = field(default_factory=set)  # paths under `spec`

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def name(self) -> str:
        return self.resource.name

    def desired_spec(self, mask: bool = True) -> dict[str, Any]:
        """The final spec in manifest vocabulary, the prompt as text."""
        spec = dict(self.data.get("spec") or {})
        if self.prompt is not None:
            spec["prompt"] = self.prompt  # replaces {file|text, vars} in place
        if mask:
            for path in sorted(self.sensitive, key=len):
                spec = _set_path(spec, path, SENSITIVE)
        return spec


def _set_path(obj: Any, path: KeyPath, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict) and isinstance(head, str) and head in obj:
        return {**obj, head: _set_path(obj[head], rest, value)}
    if isinstance(obj, list) and isinstance(head, int) and head < len(obj):
        copy = list(obj)
        copy[head] = _set_path(obj[head], rest, value)
        return copy
    return obj


class Renderer:
    """Renders resources for any environment of one project; caches templates."""

    def __init__(self, project: Project, secrets: SecretMode = "require", salt: str = "") -> None:
        self.project = project
        self.mode = secrets
        self.salt = salt  # for sentinels: the lineage of the state they will be compared in
        self._jinja: BoundedSandbox | None = None
        self._used: list[str] = []
        self.secret_values: set[str] = set()  # every secret value read, for redaction
        self._file_cache: dict[str, jinja2.Template | Diagnostic] = {}
        self._inline_cache: dict[str, jinja2.Template] = {}
        self._sources: dict[str, str | None] = {}  # oldest first
        self._source_bytes = 0
        self._real_dirs: dict[str, str] = {}
        self._cwd: str | None = None

    @property
    def jinja(self) -> BoundedSandbox:
        """The sandboxed Jinja environment, built (and Jinja imported) on first use."""
        if self._jinja is None:
            import jinja2

            from personactl.manifest.sandbox import BoundedSandbox, ProjectLoader

            self._jinja = BoundedSandbox(
                loader=ProjectLoader(self.project.root, self.project.template_dirs),
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                keep_trailing_newline=True,
                # `{% include %}` on its own line should not leave a blank line behind.
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
            )
            self._jinja.globals["secret"] = self._secret
        return self._jinja

    def _secret(self, name: Any) -> str:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise BadSecretName(f"secret() takes an environment variable name, got {name!r}")
        if self.mode == "placeholder":
            value = f"<secret:{name}>"
        else:
            got = os.environ.get(name)
            if got is None:
                raise MissingSecret(name)
            value = got
            if value:
                self.secret_values.add(value)
            if self.mode == "sentinel":
                from personactl.core.secrets import sentinel

                value = sentinel(name, got, self.salt)
        self._used.append(name)
        return value

    # -- context -----------------------------------------------------------------

    def context(self, res: Resource, env: Environment | None, anam_name: str) -> dict[str, Any]:
        ctx: dict[str, Any] = dict(self.project.vars)
        if env is not None:
            ctx.update(env.vars)
        ctx["environment"] = env.name if env else ""
        ctx["resource"] = {"name": res.name, "anamName": anam_name, "labels": res.labels}
        return ctx

    # -- errors --------------------------------------------------------------------

    def _error(
        self,
        exc: BaseException,
        res: Resource,
        at: Location,
        filename: str | None,
        what: str = "value",
    ) -> Diagnostic:
        """One diagnostic for a template failure, at the best location we can find."""
        import jinja2
        from jinja2.exceptions import SecurityError

        if isinstance(exc, TemplateLimitError):
            return self._limit_error(exc, at, filename, what)
        if isinstance(exc, jinja2.TemplateSyntaxError):
            if exc.filename and exc.filename != "<template>" and exc.lineno:
                path = os.path.relpath(exc.filename)
                return Diagnostic(
                    path, exc.lineno, 1, f"template syntax error: {exc.message}", "template-syntax"
                )
            return Diagnostic.at(at, f"template syntax error: {exc.message}", "template-syntax")
        if isinstance(exc, jinja2.TemplateNotFound):
            return Diagnostic.at(at, str(exc.message), "template-include")
        if isinstance(exc, MissingSecret):
            return Diagnostic.at(
                at,
                f"secret {exc.name!r} is not set: export {exc.name} in the environment that "
                "runs personactl",
                "secret-missing",
            )
        if isinstance(exc, BadSecretName):
            return Diagnostic.at(at, str(exc), "secret-name")
        if isinstance(exc, SecurityError):
            return Diagnostic.at(at, f"unsafe template refused: {exc}", "template-sandbox")
        message = str(getattr(exc, "message", None) or exc)
        rule = "template-error"
        if isinstance(exc, jinja2.UndefinedError):
            rule = "template-undefined"
            m = re.match(r"^'([A-Za-z_][A-Za-z0-9_]*)' is undefined$", message)
            if m:
                var = m.group(1)
                where = "spec.prompt.vars, " if res.kind == "Persona" else ""
                message = (
                    f"undefined variable {var!r} in the template for {res.ref}; define it in "
                    f"{where}the environment's vars or the project's vars in personactl.yaml"
                )
            else:
                message = f"template error in {res.ref}: {message}"
        else:
            message = f"template error in {res.ref}: {message}"
        # Point into the template file when the failure happened there.
        frame = _template_frame(exc, filename)
        if frame:
            fn, line = frame
            col = 1
            try:
                text = Path(fn).read_text(encoding="utf-8").splitlines()[line - 1]
                var_m = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)'", message)
                if var_m:
                    found = re.search(rf"\b{re.escape(var_m.group(1))}\b", text)
                    col = found.start() + 1 if found else 1
            except (OSError, IndexError):
                pass
            return Diagnostic(os.path.relpath(fn), line, col, message, rule)
        return Diagnostic.at(at, message, rule)

    @staticmethod
    def _limit_error(
        exc: TemplateLimitError, at: Location, filename: str | None, what: str
    ) -> Diagnostic:
        message = exc.message
        if exc.sized:
            detail = f" ({exc.message})" if exc.message else ""
            message = (
                f"the rendered {what} is over 1 MiB{detail}; a rendered value may be at most "
                f"{MAX_OUTPUT:,} bytes, so make the template produce less"
            )
        found = _template_frame(exc, filename)
        if found:
            return Diagnostic(os.path.relpath(found[0]), found[1], 1, message, "template-limit")
        return Diagnostic.at(at, message, "template-limit")

    # -- rendering -----------------------------------------------------------------------

    def _render_string(
        self, source: str, ctx: dict[str, Any], res: Resource, path: KeyPath
    ) -> tuple[str, bool, Diagnostic | None]:
        """(rendered, used a secret, error)."""
        if "{" not in source or not any(m in source for m in _MARKERS):
            return source, False, self._too_long(source, res, path)
        fast = substitute_simple(source, ctx)
        if fast is not None:
            return fast, False, None
        self._used = []
        try:
            tmpl = self._inline_cache.get(source)
            if tmpl is None:
                tmpl = self.jinja.from_string(source)
                self._inline_cache[source] = tmpl
            out = self.jinja.render_bounded(tmpl, ctx)
        except Exception as exc:  # every template failure becomes a diagnostic
            return source, False, self._error(exc, res, res.loc(path), None, _value_name(path))
        return out, bool(self._used), None

    def _too_long(self, text: str, res: Resource, path: KeyPath) -> Diagnostic | None:
        """A plain string is a rendered value too: the same limit applies."""
        if len(text) <= MAX_OUTPUT // 4 or len(text.encode("utf-8", "replace")) <= MAX_OUTPUT:
            return None
        too_long = TemplateLimitError("", sized=True)
        return self._limit_error(too_long, res.loc(path), None, _value_name(path))

    def _prompt_path(self, manifest: str, file: str) -> str:
        """The real path of a prompt file named in `manifest` (os.path.realpath, with
        each directory resolved once per run): strings, not Paths, on this hot path."""
        if self._cwd is None:
            self._cwd = os.getcwd()
        parent, name = os.path.split(
            os.path.normpath(os.path.join(self._cwd, os.path.dirname(manifest), file))
        )
        real = self._real_dirs.get(parent)
        if real is None:
            real = self._real_dirs[parent] = os.path.realpath(parent)
        candidate = os.path.join(real, name)
        return os.path.realpath(candidate) if os.path.islink(candidate) else candidate

    def _source(self, path: str) -> str | None:
        """A template file's text; the last SOURCE_CACHE_BYTES of them are kept (a prompt
        shared by personas, or rendered for each environment, is read once), not all:
        10,000 prompts of 4 KB would hold 40 MB to the end of the run."""
        if path in self._sources:
            return self._sources[path]
        try:
            text: str | None = read_template(path).decode("utf-8")
        except (UnicodeDecodeError, OSError, TemplateLimitError):
            text = None
        self._sources[path] = text
        self._source_bytes += len(text or "")
        while self._source_bytes > SOURCE_CACHE_BYTES and len(self._sources) > 1:
            oldest = next(iter(self._sources))
            self._source_bytes -= len(self._sources.pop(oldest) or "")
        return text

    def _load_prompt_file(self, path: str) -> jinja2.Template | Diagnostic | None:
        import jinja2

        cached = self._file_cache.get(path)
        if cached is not None:
            return cached
        source = self._source(path)
        if source is None:
            return Diagnostic(
                os.path.relpath(path), 1, 1, "prompt file is not valid UTF-8", "encoding"
            )
        try:
            code = self.jinja.compile(source, name=os.path.relpath(path), filename=str(path))
            result: jinja2.Template | Diagnostic = self.jinja.template_class.from_code(
                self.jinja, code, self.jinja.make_globals(None)
            )
        except jinja2.TemplateSyntaxError as exc:
            line = exc.lineno or 1
            shown = os.path.relpath(exc.filename) if exc.filename else os.path.relpath(path)
            result = Diagnostic(
                shown, line, 1, f"template syntax error: {exc.message}", "template-syntax"
            )
        except (RecursionError, SyntaxError):  # Jinja's parser and Python's compiler recurse
            result = Diagnostic(
                os.path.relpath(path),
                1,
                1,
                "template nests expressions too deeply to compile; simplify it",
                "template-syntax",
            )
        self._file_cache[path] = result
        return result

    def _prompt(
        self, res: Resource, prompt: dict[str, Any], ctx: dict[str, Any]
    ) -> tuple[str | None, bool, list[Diagnostic]]:
        pvars = prompt.get("vars")
        pctx = {**ctx, **pvars} if isinstance(pvars, dict) else ctx
        if isinstance(prompt.get("text"), str):
            out, secret, err = self._render_string(
                prompt["text"], pctx, res, ("spec", "prompt", "text")
            )
            return out, secret, [err] if err else []
        file = prompt.get("file")
        if not isinstance(file, str):
            return None, False, []
        path = self._prompt_path(res.path, file)
        root = str(self.project.root)
        if path != root and not path.startswith(os.path.join(root, "")):
            return (
                None,
                False,
                [
                    Diagnostic.at(
                        res.loc(("spec", "prompt", "file")),
                        f"prompt file {file!r} is outside the project "
                        f"({os.path.relpath(root) or '.'}); keep prompts inside the project",
                        "prompt-outside",
                    )
                ],
            )
        try:
            st = os.stat(path)  # stat only: never open a FIFO
        except OSError:
            return (
                None,
                False,
                [
                    Diagnostic.at(
                        res.loc(("spec", "prompt", "file")),
                        f"prompt file {file!r} not found (looked for {os.path.relpath(path)}; "
                        "the path is relative to the manifest)",
                        "prompt-missing",
                    )
                ],
            )
        problem = stat_problem(st, f"prompt file {file!r}")
        if problem:
            at = res.loc(("spec", "prompt", "file"))
            return None, False, [Diagnostic.at(at, problem, "prompt-file")]
        source = self._source(path)
        if source is not None:
            fast = substitute_simple(source, pctx)
            if fast is not None:
                return fast, False, []
        tmpl = self._load_prompt_file(path)
        if isinstance(tmpl, Diagnostic):
            return None, False, [tmpl]
        assert tmpl is not None
        self._used = []
        try:
            return self.jinja.render_bounded(tmpl, pctx), bool(self._used), []
        except Exception as exc:  # every template failure becomes a diagnostic
            at = res.loc(("spec", "prompt", "file"))
            return None, False, [self._error(exc, res, at, path, "prompt")]

    def _walk(
        self,
        value: Any,
        path: KeyPath,
        ctx: dict[str, Any],
        res: Resource,
        sensitive: set[KeyPath],
        diags: list[Diagnostic],
    ) -> Any:
        if isinstance(value, str):
            if "{" not in value and len(value) <= MAX_OUTPUT // 4:
                return value  # no template, not too long: what _render_string says, sooner
            out, secret, err = self._render_string(value, ctx, res, path)
            if err:
                diags.append(err)
            if secret:
                sensitive.add(path[1:])  # relative to spec
            return out
        if isinstance(value, dict):
            return {
                k: v
                if k in _VERBATIM_KEYS and path[1:] + (k,) in _VERBATIM
                else self._walk(v, path + (k,), ctx, res, sensitive, diags)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self._walk(v, path + (i,), ctx, res, sensitive, diags) for i, v in enumerate(value)
            ]
        return value

    def render(self, res: Resource, env: Environment | None) -> tuple[Rendered, list[Diagnostic]]:
        anam_name = env.anam_name(res.name) if env else res.name
        ctx = self.context(res, env, anam_name)
        diags: list[Diagnostic] = []
        sensitive: set[KeyPath] = set()
        data = dict(res.data)
        spec = res.data.get("spec")
        prompt_text: str | None = None
        if isinstance(spec, dict):
            # The prompt is rendered on its own (with its vars); other keys keep their order.
            new_spec = {
                k: v if k == "prompt" else self._walk(v, ("spec", k), ctx, res, sensitive, diags)
                for k, v in spec.items()
            }
            prompt = spec.get("prompt")
            if res.kind == "Persona" and isinstance(prompt, dict):
                prompt_text, secret, errs = self._prompt(res, prompt, ctx)
                diags.extend(errs)
                if secret:
                    sensitive.add(("prompt",))
            data["spec"] = new_spec
        targets = res.data.get("targets")
        if res.kind == "Persona" and isinstance(targets, dict):
            # Export overrides (`personactl export --target ...`) are templates too;
            # their secrets are tracked by the exporter, not in `sensitive` (spec paths).
            data["targets"] = self._walk(targets, ("targets",), ctx, res, set(), diags)
        return Rendered(res, anam_name, data, prompt_text, sensitive), diags


def _template_frame(exc: BaseException, filename: str | None) -> tuple[str, int] | None:
    """The innermost template file and line in the traceback (Jinja rewrites
    tracebacks so that template frames carry the template's own line numbers)."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if fn.endswith((".j2", ".jinja", ".md", ".txt")) or (filename and fn == filename):
            found = (fn, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _value_name(path: KeyPath) -> str:
    """How a limit message names the value: 'prompt' or its path, e.g. spec.initialMessage."""
    return "prompt" if path[:2] == ("spec", "prompt") else fmt_path(path)


def redact(text: str, secrets: set[str]) -> str:
    """Belt and braces: no secret value leaves through any output."""
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, SENSITIVE)
    return text
