"""Model-based test of plan/apply: random sequences of edits, out-of-band changes,
ignoreChanges, secret rotations, applies (some crashed at a random write) and
plans, against the real emulator over loopback HTTP, with the real CLI run
in-process. After every step the invariants of DESIGN.md §3 must hold:

- a plan right after a successful apply is empty: no change, no drift;
- every live value of a managed field that differs from the manifest is in the plan;
- every out-of-band change is reported as drift, and nothing else is;
- no request body holds a key outside the PUT schema, nor (outside a crashed
  apply) a field whose value live already has;
- no two live personas or tools share a name;
- no secret value is in any output, plan file, state file or journal.

The model (what the manifest says, what was changed out of band since the last
apply) is kept here, independently of personactl's state file. The emulator
runs in the three behaviours a server may have: write-only fields returned or
hidden, text returned as sent or trimmed.

`benchmarks/model_check.py --examples 500` runs the same machine for longer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cli_support import EXAMPLE_LLM_KEY, Result, run_inprocess
from e2e_support import KEY, TOKEN, make_project
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from personactl.emulator.app import EmulatorApp
from personactl.emulator.errors import DropConnection
from personactl.emulator.server import create_server
from personactl.emulator.settings import EmulatorSettings

SUPPORT = "personas/support.yaml"
CARA = "t-support-cara"
TOOLS = ("order-lookup", "show-product", "end-call")
WRITES = ("POST", "PUT", "DELETE")
OPENAPI = Path(__file__).resolve().parent / "reference" / "anam-openapi.json"
# The modes a server may have: (write-only fields hidden, text trimmed on write).
MODES = [(False, False), (True, False), (False, True), (True, True)]
IGNORABLE = (
    "voiceDetection.speechEnhancementLevel",
    "voiceGeneration.speed",
    "description",
    "skipGreeting",
)
DESCRIPTIONS = ("Tier-1 support", "Tier-2 support", "  Tier-2 support\n", "Routers & more")
PROMPTS = ("You are Cara.", "You are Cara.\n", "You are Cara, tier 2.", " Be brief. ")
GREETINGS = ("Hi!", " Hello from Acme. ", None)  # None: removed from the manifest

# The manifest fields the model edits: manifest path -> response key it is read from.
MANAGED = {
    "description": "description",
    "prompt": "systemPrompt",
    "voiceGeneration": "voiceGenerationOptions",
    "voiceDetection": "voiceDetectionOptions",
    "tools": "toolIds",
    "skipGreeting": "skipGreeting",
    "initialMessage": "initialMessage",
}
TRIMMED = {"description", "systemPrompt", "initialMessage"}  # what normalize_text trims
COMPANIONS = {"voiceId": "voiceGenerationOptions", "avatarId": "avatarModel"}

# Two engine bugs this machine found are fixed (the regression tests below hold them):
# a field changed out of band to the manifest's value was reported as drift after
# every later apply, and a manifest edited to the value a normalising server keeps was
# sent again. The switches stay so the long run can relax them to hunt for others.
TOLERATE_STALE_DRIFT = False
TOLERATE_RESEND = False


def _put_keys() -> dict[str, frozenset[str]]:
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    out = {}
    for kind, path in (("personas", "/v1/personas/{id}"), ("tools", "/v1/tools/{id}")):
        schema = doc["paths"][path]["put"]["requestBody"]["content"]["application/json"]
        out[kind] = frozenset(schema["schema"]["properties"])
    return out


PUT_KEYS = _put_keys()


def view(resp: dict[str, Any]) -> dict[str, Any]:
    """A persona response in request-body vocabulary, for the fields the model edits
    (written here, not taken from personactl, so the check is independent)."""
    keys = ("description", "skipGreeting", "initialMessage")
    out: dict[str, Any] = {k: resp[k] for k in keys if k in resp}
    for key in ("voiceGenerationOptions", "voiceDetectionOptions"):
        if key in resp:
            out[key] = resp[key] or {}
    if isinstance(resp.get("brain"), dict):
        out["systemPrompt"] = resp["brain"].get("systemPrompt")
    if "tools" in resp:
        out["toolIds"] = sorted(t["id"] for t in resp["tools"] or [])
    return out


def same(a: Any, b: Any) -> bool:
    """Equal as the documented rule says: sets in any order, numbers within 1e-6, and
    white space around a text is no difference (a trimming server would undo it)."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b)) + 1e-9
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return bool(a == b)


@dataclass
class Exchange:
    method: str
    path: str
    body: Any
    status: int | None  # None: the connection was dropped, no answer
    answer: Any = None


class Server:
    """The emulator on a loopback port behind a WSGI wrapper that records every
    request personactl sends and the status it got, and can fail the n-th write
    from now: answer 500, drop the connection before committing, or commit then drop."""

    def __init__(self, data_dir: Path, hide_write_only: bool, normalize_text: bool) -> None:
        self.app = EmulatorApp(
            data_dir,
            EmulatorSettings(
                api_key=KEY, hide_write_only=hide_write_only, normalize_text=normalize_text
            ),
        )
        self.log: list[Exchange] = []
        self.fault: tuple[int, str] | None = None  # (writes left before it, how)
        self._lock = threading.Lock()
        self._server = create_server(self._wsgi, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = self._server.url
        # Out of band: straight into the app, never through the recording wrapper.
        self.lab = httpx.Client(
            transport=httpx.WSGITransport(app=self.app),
            base_url="http://lab",
            headers={"Authorization": f"Bearer {KEY}"},
        )

    def close(self) -> None:
        self.lab.close()
        self._server.shutdown()
        self._server.server_close()
        self.app.close()

    def _fault_now(self, method: str) -> str | None:
        with self._lock:
            if self.fault is None or method not in WRITES:
                return None
            left, how = self.fault
            if left > 1:
                self.fault = (left - 1, how)
                return None
            self.fault = None
            return how

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        # a document upload is multipart, not JSON: the model keeps no body for it
        is_json = raw and not (environ.get("CONTENT_TYPE") or "").startswith("multipart/")
        exchange = Exchange(method, path, json.loads(raw) if is_json else None, None)
        with self._lock:
            self.log.append(exchange)
        how = self._fault_now(method)
        if how == "drop":
            raise DropConnection("dropped before the write")
        if how == "500":
            exchange.status = 500
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [b'{"message":"Injected failure","statusCode":500}']
        got: dict[str, Any] = {}

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            got["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        payload = b"".join(self.app(environ, capture))
        if how == "commit-drop":
            raise DropConnection("committed, then dropped")
        exchange.status = got["status"]
        exchange.answer = json.loads(payload) if payload else None
        return [payload]

    def persona(self, name: str) -> dict[str, Any] | None:
        listed = self.lab.get("/v1/personas", params={"perPage": 100}).json()["data"]
        found = [p for p in listed if p["name"] == name]
        if not found:
            return None
        return dict(self.lab.get(f"/v1/personas/{found[0]['id']}").json())

    def names(self) -> list[str]:
        out = []
        for path in ("/v1/personas", "/v1/tools"):
            out += [i["name"] for i in self.lab.get(path, params={"perPage": 100}).json()["data"]]
        return out

    def tool_ids(self) -> dict[str, str]:
        listed = self.lab.get("/v1/tools", params={"perPage": 100}).json()["data"]
        return {t["name"].removeprefix("t-"): t["id"] for t in listed}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fast_tls() -> dict[str, str]:
    """SSL_CERT_FILE with one CA: every run builds TLS contexts even for http URLs, and
    loading the whole bundle costs ~0.1 s a run; nothing here speaks TLS."""
    import certifi

    path = Path(tempfile.gettempdir()) / "personactl-model-one-ca.pem"
    if not path.exists():
        bundle = Path(certifi.where()).read_text(encoding="ascii")
        end = "-----END CERTIFICATE-----\n"
        part = path.with_name(f"{path.name}.{os.getpid()}")
        part.write_text(bundle[: bundle.index(end) + len(end)], encoding="ascii")
        part.replace(path)  # whole or absent, for a run that reads it at the same time
    return {"SSL_CERT_FILE": str(path)}


@dataclass
class Manifest:
    """What support-cara's manifest says, for the fields the model edits."""

    description: str = "Tier-1 support"
    prompt: str = "You are Cara."
    speed: float = 1.05
    stability: float = 0.5
    tools: list[str] = field(default_factory=lambda: list(TOOLS))
    skip_greeting: bool | None = False
    greeting: str | None = "Hi!"
    ignore: list[str] = field(default_factory=lambda: [IGNORABLE[0]])

    def write(self, project: Path) -> None:
        path = project / SUPPORT
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = doc["spec"]
        spec["description"] = self.description
        spec["prompt"] = {"text": self.prompt}
        spec["voiceGeneration"] = {**spec["voiceGeneration"], "speed": self.speed}
        spec["voiceGeneration"]["stability"] = self.stability
        spec["tools"] = list(self.tools)
        for key, value in (("skipGreeting", self.skip_greeting), ("initialMessage", self.greeting)):
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        doc["lifecycle"] = {"preventDestroy": True, "ignoreChanges": list(self.ignore)}
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")

    def desired(self, tool_ids: dict[str, str]) -> dict[str, Any]:
        """The body keys the manifest sets, in request vocabulary (None: not set)."""
        return {
            "description": self.description,
            "systemPrompt": self.prompt,
            "voiceGenerationOptions": {"speed": self.speed, "stability": self.stability},
            "toolIds": sorted(tool_ids.get(t, f"missing:{t}") for t in self.tools),
            "skipGreeting": self.skip_greeting,
            "initialMessage": self.greeting,
        }

    def ignored(self, body_key: str, sub: str | None = None) -> bool:
        manifest = next(m for m, b in MANAGED.items() if b == body_key)
        return manifest in self.ignore or (sub is not None and f"{manifest}.{sub}" in self.ignore)


def _paths(key: str, before: Any, after: Any, manifest: Manifest) -> list[str]:
    """The manifest paths at which `before` and `after` of body key `key` differ."""
    shown = next(m for m, b in MANAGED.items() if b == key)
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            f"{shown}.{k}"
            for k in sorted(set(before) | set(after))
            if not same(before.get(k), after.get(k)) and not manifest.ignored(key, k)
        ]
    return [] if same(before, after) or manifest.ignored(key) else [shown]


class PlanApplyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="personactl-model-"))
        self.server: Server | None = None
        self.manifest = Manifest()
        self.token = TOKEN
        self.tokens = {TOKEN}
        self.after_apply = False  # the last step was a successful apply
        # What live held right after the last successful apply (the drift baseline),
        # and the last value personactl wrote and read back, per body key.
        self.baseline: dict[str, Any] = {}
        self.written: dict[str, Any] = {}
        self.sent: dict[str, Any] = {}  # the last value personactl sent, per body key
        # The example's LLM key is set here too: the long run (benchmarks/model_check.py)
        # has no conftest to set it.
        self.env = environment(
            {"EMU_KEY": KEY, "NO_COLOR": "1", "ACME_LLM_KEY": EXAMPLE_LLM_KEY, **fast_tls()}
        )
        self.env.__enter__()

    def teardown(self) -> None:
        if self.server is not None:
            self.server.close()
        self.env.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- running personactl ----------------------------------------------------------

    @property
    def emu(self) -> Server:
        assert self.server is not None
        return self.server

    def cli(self, *args: str) -> Result:
        os.environ["ACME_ORDERS_TOKEN"] = self.token
        result = run_inprocess(list(args), self.project)
        for secret in self.tokens:
            assert secret not in result.out + result.err, f"secret in the output of {args}"
        return result

    def live(self) -> dict[str, Any]:
        found = self.emu.persona(CARA)
        return view(found) if found is not None else {}

    def apply(self, fault: tuple[int, str] | None) -> Result:
        before = self.live()
        self.emu.log.clear()
        self.emu.fault = fault
        r = self.cli("apply", "--auto-approve")
        fired = fault is not None and self.emu.fault is None
        self.emu.fault = None
        assert "Traceback" not in r.err, r.err
        assert r.code in ((0, 1) if fired else (0,)), r.err
        self.check_requests(before, strict=not fired)
        self.record_writes()
        self.after_apply = r.code == 0
        if self.after_apply:
            self.baseline = self.live()
        return r

    def record_writes(self) -> None:
        """What personactl wrote to support-cara and got an answer for."""
        for x in self.emu.log:
            if x.method not in ("POST", "PUT") or x.status is None or x.status >= 300:
                continue
            answer = x.answer if isinstance(x.answer, dict) else {}
            if answer.get("name") != CARA:
                continue
            if x.method == "POST":
                self.written, self.sent = {}, {}
            got = view(answer)
            self.sent.update(x.body)
            for key in x.body:
                if key in got:
                    self.written[key] = got[key]
                    self.baseline[key] = got[key]

    def check_requests(self, before: dict[str, Any], strict: bool) -> None:
        for x in self.emu.log:
            if x.method == "PUT":
                kind = x.path.split("/")[2]
                assert set(x.body) <= PUT_KEYS[kind], f"PUT {x.path} holds {set(x.body)}"
        if not strict:
            return
        now = self.emu.persona(CARA)
        for x in self.emu.log:
            if x.method != "PUT" or now is None or x.path != f"/v1/personas/{now['id']}":
                continue
            for key, value in x.body.items():
                companion_of = [t for t, c in COMPANIONS.items() if c == key and t in x.body]
                if key in before and not companion_of and not self.known_resend(key, value):
                    assert not same(before[key], value), f"unchanged {key} sent: {value!r}"
                self.check_ignored_kept(key, value, before)

    def known_resend(self, key: str, value: Any) -> bool:
        """The second known bug's signature (see TOLERATE_RESEND)."""
        return (
            TOLERATE_RESEND
            and self.trimmed
            and key in TRIMMED
            and key in self.sent
            and not same(self.sent[key], value)
        )

    def check_ignored_kept(self, key: str, value: Any, before: dict[str, Any]) -> None:
        """An apply never overwrites a value lifecycle.ignoreChanges names."""
        if key not in before or key not in MANAGED.values():
            return
        if self.manifest.ignored(key):
            raise AssertionError(f"{key} is ignored, but was sent: {value!r}")
        if isinstance(value, dict) and isinstance(before[key], dict):
            for sub, was in before[key].items():
                if self.manifest.ignored(key, sub) and sub in value:
                    assert same(value[sub], was), f"ignored {key}.{sub} {was!r} -> {value[sub]!r}"

    # -- set-up ----------------------------------------------------------------------

    @initialize(mode=st.sampled_from(MODES))
    def start(self, mode: tuple[bool, bool]) -> None:
        self.hidden, self.trimmed = mode
        self.server = Server(self.tmp / "emu-data", *mode)
        self.project = make_project(self.tmp / "proj", self.emu.url)
        self.manifest.write(self.project)
        self.apply(None)
        assert self.after_apply

    # -- rules -----------------------------------------------------------------------

    @rule(value=st.sampled_from(DESCRIPTIONS))
    def edit_description(self, value: str) -> None:
        self.manifest.description = value
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(value=st.sampled_from(PROMPTS))
    def edit_prompt(self, value: str) -> None:
        self.manifest.prompt = value
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(speed=st.sampled_from((0.9, 1.05, 1.2)), stability=st.sampled_from((0.5, 0.7)))
    def edit_voice_generation(self, speed: float, stability: float) -> None:
        self.manifest.speed, self.manifest.stability = speed, stability
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(tools=st.lists(st.sampled_from(TOOLS), unique=True))
    def edit_tools(self, tools: list[str]) -> None:
        self.manifest.tools = tools
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(skip=st.sampled_from((True, False, None)), greeting=st.sampled_from(GREETINGS))
    def edit_greeting(self, skip: bool | None, greeting: str | None) -> None:
        self.manifest.skip_greeting, self.manifest.greeting = skip, greeting
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(path=st.sampled_from(IGNORABLE))
    def toggle_ignore(self, path: str) -> None:
        ignore = self.manifest.ignore
        self.manifest.ignore = (
            [p for p in ignore if p != path] if path in ignore else [*ignore, path]
        )
        self.manifest.write(self.project)
        self.after_apply = False

    @rule(n=st.integers(1, 10**6))
    def rotate_secret(self, n: int) -> None:
        self.token = f"rotated-token-{n:07d}-unique"
        self.tokens.add(self.token)
        self.after_apply = False

    @rule(
        key=st.sampled_from(
            ("description", "systemPrompt", "speed", "enhancement", "skipGreeting", "toolIds")
        ),
        pick=st.integers(0, 3),
    )
    def edit_live_out_of_band(self, key: str, pick: int) -> None:
        cara = self.emu.persona(CARA)
        if cara is None:
            return
        tool_ids = sorted(self.emu.tool_ids().values())
        # pick 3: the value the manifest has (a Lab edit that matches it)
        m = self.manifest
        edits: dict[str, dict[str, Any]] = {
            "description": {"description": (*DESCRIPTIONS[:3], m.description)[pick]},
            "systemPrompt": {"systemPrompt": (*PROMPTS[:3], m.prompt)[pick]},
            "speed": {
                "voiceGenerationOptions": {
                    **(cara.get("voiceGenerationOptions") or {}),
                    "speed": (0.8, 1.05, 1.1, m.speed)[pick],
                }
            },
            "enhancement": {
                "voiceDetectionOptions": {
                    **(cara.get("voiceDetectionOptions") or {}),
                    "speechEnhancementLevel": (0.0, 0.25, 0.5, 1.0)[pick],
                }
            },
            "skipGreeting": {"skipGreeting": pick % 2 == 0},
            "toolIds": {"toolIds": tool_ids[: pick % (len(tool_ids) + 1)]},
        }
        body = edits[key]
        answer = self.emu.lab.put(f"/v1/personas/{cara['id']}", json=body)
        assert answer.status_code == 200, answer.text
        self.after_apply = False

    @rule(key=st.sampled_from(("description", "systemPrompt", "skipGreeting")))
    def match_live_to_the_manifest_out_of_band(self, key: str) -> None:
        """Someone copies the manifest's value into the Lab before personactl applies it."""
        cara = self.emu.persona(CARA)
        value = self.manifest.desired({})[key]
        if cara is None or value is None:
            return
        answer = self.emu.lab.put(f"/v1/personas/{cara['id']}", json={key: value})
        assert answer.status_code == 200, answer.text
        self.after_apply = False

    @rule()
    def delete_live_out_of_band(self) -> None:
        cara = self.emu.persona(CARA)
        if cara is not None:
            assert self.emu.lab.delete(f"/v1/personas/{cara['id']}").status_code == 200
            self.baseline, self.written, self.sent = {}, {}, {}
        self.after_apply = False

    @rule()
    def apply_ok(self) -> None:
        self.apply(None)
        assert self.after_apply

    @rule(n=st.integers(1, 4), how=st.sampled_from(("500", "drop", "commit-drop")))
    def apply_crashed(self, n: int, how: str) -> None:
        self.apply((n, how))

    @precondition(lambda self: self.server is not None)
    @rule()
    def plan_saved(self) -> None:
        out = self.tmp / "saved.plan"
        r = self.cli("plan", "--out", str(out))
        assert r.code == 0, r.err
        text = out.read_text(encoding="utf-8")
        assert not any(secret in text for secret in self.tokens)

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if self.server is None:
            return
        r = self.cli("plan", "-o", "json")
        assert r.code == 0, r.err
        plan = json.loads(r.out)
        self.auto_plans_as_full_does(plan)
        self.no_secret_on_disk()
        names = self.emu.names()
        assert len(names) == len(set(names)), f"duplicate names live: {sorted(names)}"
        cara = next((c for c in plan["changes"] if c["name"] == "support-cara"), None)
        assert cara is not None
        others = [c for c in plan["changes"] if c is not cara]
        assert all(c["drift"] == [] for c in others), others
        live = self.live()
        if self.after_apply:
            assert [c["action"] for c in plan["changes"]] == ["no-op"] * len(plan["changes"])
        if cara["action"] == "create":
            return
        self.differences_are_planned(cara, live)
        self.drift_is_exactly_out_of_band(cara, live)

    def auto_plans_as_full_does(self, plan: dict[str, Any]) -> None:
        """--refresh=auto (the default) takes unchanged personas from the state unread:
        its plan must be the one reading every persona makes, after every step (each
        out-of-band change included)."""
        r = self.cli("plan", "-o", "json", "--refresh=full")
        assert r.code == 0, r.err
        full = json.loads(r.out)
        assert full["unread"] == []
        for key in ("changes", "summary", "warnings", "forget", "keepFingerprint"):
            assert plan[key] == full[key], f"auto and full plans differ in {key}"

    def no_secret_on_disk(self) -> None:
        for path in (self.project / ".personactl").glob("emu.json*"):
            text = path.read_text(encoding="utf-8")
            assert not any(secret in text for secret in self.tokens), path

    def differences_are_planned(self, cara: dict[str, Any], live: dict[str, Any]) -> None:
        desired = self.manifest.desired(self.emu.tool_ids())
        planned = [f["path"] for f in cara["fields"]]
        for key, want in desired.items():
            if want is None or key not in live:
                continue  # not in the manifest, or write-only and hidden
            have = live[key]
            if self.trimmed and key in TRIMMED and isinstance(want, str):
                want = want.strip()
            if isinstance(want, dict):
                have = {k: v for k, v in (have or {}).items() if k in want}
            for path in _paths(key, have, want, self.manifest):
                top = path.split(".")[0]
                assert any(p in (path, top) for p in planned), (
                    f"live {key}={have!r} differs from the manifest's {want!r}, "
                    f"but the plan has only {planned}"
                )

    def drift_is_exactly_out_of_band(self, cara: dict[str, Any], live: dict[str, Any]) -> None:
        desired = self.manifest.desired(self.emu.tool_ids())
        expected = []
        for key in MANAGED.values():
            if key in live and key in self.baseline and desired.get(key) is not None:
                expected += _paths(key, self.baseline[key], live[key], self.manifest)
        reported = [d["path"] for d in cara["drift"]]
        if TOLERATE_STALE_DRIFT:
            reported = [p for p in reported if p in expected or not self.stale(p, live)]
        assert sorted(reported) == sorted(expected), (
            f"drift reported {reported}, out-of-band changes {expected}"
        )

    def stale(self, path: str, live: dict[str, Any]) -> bool:
        """The known bug's signature: live as after the last apply, not as last written."""
        key = MANAGED[path.split(".")[0]]
        sub = path.split(".")[1] if "." in path else None

        def at(d: dict[str, Any]) -> Any:
            value = d.get(key)
            return value.get(sub) if sub and isinstance(value, dict) else value

        return same(at(live), at(self.baseline)) and not same(at(live), at(self.written))


# Bounded for CI (10-15 s): no shrinking there, since replaying sequences to shrink
# one takes minutes; the failing sequence is printed as found (10 steps at most).
SETTINGS = settings(
    max_examples=6,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    database=None,
)


def run(examples: int, steps: int) -> None:
    """The machine with a bigger budget, shrinking what it finds (benchmarks/model_check.py)."""
    long_run = settings(
        SETTINGS, max_examples=examples, stateful_step_count=steps, phases=list(Phase)
    )
    run_state_machine_as_test(PlanApplyMachine, settings=long_run)


def test_plan_apply_model() -> None:
    run_state_machine_as_test(PlanApplyMachine, settings=SETTINGS)


def _replay(steps: list[tuple[str, tuple[Any, ...]]], mode: tuple[bool, bool]) -> None:
    """Run one fixed sequence through the machine, checking the invariants after each step."""
    machine = PlanApplyMachine()
    try:
        machine.start(mode)
        machine.invariants_hold()
        for name, args in steps:
            getattr(machine, name)(*args)
            machine.invariants_hold()
    finally:
        machine.teardown()


@pytest.fixture
def strict_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.TOLERATE_STALE_DRIFT", False)


@pytest.mark.usefixtures("strict_drift")
def test_regression_drift_equal_to_the_manifest_is_reported_after_every_apply() -> None:
    _replay(
        [
            ("edit_description", ("Tier-2 support",)),
            ("edit_live_out_of_band", ("description", 1)),  # the same value, in the Lab
            ("apply_ok", ()),  # nothing to send: then the plan must be empty
        ],
        (False, False),
    )


@pytest.fixture
def strict_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.TOLERATE_RESEND", False)


@pytest.mark.usefixtures("strict_requests")
def test_regression_a_value_live_already_has_is_sent_again() -> None:
    _replay(
        [
            ("edit_description", ("  Tier-2 support\n",)),
            ("apply_ok", ()),  # the server keeps "Tier-2 support"
            ("edit_description", ("Tier-2 support",)),  # what live has
            ("apply_ok", ()),  # PUT {"description": "Tier-2 support"}: nothing changes
        ],
        (False, True),
    )


def test_regression_white_space_around_a_text_is_no_difference_to_plan() -> None:
    # Found by the long run: the model counted a trailing newline as a difference the
    # plan must show; the documented rule (core.equality) says it is none.
    _replay([("edit_prompt", ("You are Cara.\n",))], (False, False))
