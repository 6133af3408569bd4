"""Reliability soak: seeded fault schedules and SIGKILLs against applies.

    python benchmarks/soak.py                 # 24 schedules + 24 kills, ~100 personas
    python benchmarks/soak.py --quick         # the short form CI runs (tests/test_soak.py)
    python benchmarks/soak.py --state postgres  # the state in a throwaway PostgreSQL

The example project scaled to 100 personas is applied to a fresh emulator
under each fault schedule (429 storms with Retry-After, 5xx, connections
dropped after commit, latency spikes, mixed), or killed with SIGKILL at a
seeded moment. After each: no duplicate persona or tool name, a valid state
file, and a second run without faults converging to zero changes. Bounded:
it stops starting new runs once `--seconds` are spent, and says so.

personactl runs in this process (tests/cli_support.py `run_cli`), against
the emulator over real HTTP; the runs that are killed, and the one that times
an apply for them, are separate processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from cli_support import EXAMPLE, Result, run_cli, spawn  # noqa: E402  (the tests' harness)
from e2e_support import KEY, emulator  # noqa: E402

TOKEN = "soak-orders-token"

SCHEDULES: list[tuple[str, dict[str, Any]]] = [
    ("429 storm", {"fail_rates": {429: 0.5}, "retry_after_seconds": 0}),
    ("5xx", {"fail_rates": {500: 0.05, 502: 0.1, 503: 0.1, 504: 0.05}}),
    ("dropped after commit", {"drop_after_commit": 0.3}),
    ("latency spikes", {"spike_rate": 0.05, "spike_ms": 300.0}),
    (
        "mixed",
        {
            "fail_rates": {429: 0.2, 503: 0.1, 502: 0.05},
            "drop_after_commit": 0.15,
            "spike_rate": 0.03,
            "spike_ms": 200.0,
            "retry_after_seconds": 0,
        },
    ),
]


# With --state postgres: each run's state in its own schema of one server.
STATE: dict[str, str] = {}
LEASE = 1.0


def scaled_example(dest: Path, url: str, personas: int) -> Path:
    """The example project with generated copies of its support persona, up to `personas`."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".personactl"))
    config = yaml.safe_load((dest / "personactl.yaml").read_text())
    config["spec"]["environments"] = {
        "soak": {"backend": "anam", "apiUrl": url, "apiKeyEnv": "SOAK_KEY", "namePrefix": "s-"}
    }
    if STATE:
        schema = "soak_" + re.sub(r"\W", "_", dest.parent.name.lower())
        config["spec"]["environments"]["soak"]["state"] = {**STATE, "schema": schema}
    config["spec"]["defaultEnvironment"] = "soak"
    (dest / "personactl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    template = (dest / "personas" / "support.yaml").read_text()
    docs = []
    for i in range(personas - 4):  # the example has 4
        docs.append(
            template.replace("name: support-cara", f"name: support-{i:03d}").replace(
                "speed: 1.05", f"speed: {1.0 + (i % 10) / 100:.2f}"
            )
        )
    (dest / "personas" / "scaled.yaml").write_text("---\n".join(docs))
    return dest


ENV = {"SOAK_KEY": KEY, "ACME_ORDERS_TOKEN": TOKEN}


def personactl(root: Path, *args: str) -> Result:
    """personactl ARGS in `root`, in this process (the runs that are killed are not)."""
    return run_cli(list(args), root, ENV)


def live_names(url: str) -> list[str]:
    """Every persona and tool name, all pages, read without faults."""
    names = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        for path in ("/v1/personas", "/v1/tools"):
            page: int | None = 1
            while page:
                body = c.get(path, params={"page": page, "perPage": 100}).json()
                names += [f"{path}:{item['name']}" for item in body["data"]]
                page = body["meta"]["next"]
    return names


def check_invariants(root: Path, url: str) -> list[str]:
    problems = []
    dupes = [n for n, count in Counter(live_names(url)).items() if count > 1]
    if dupes:
        problems.append(f"duplicates: {dupes[:5]}")
    state = root / ".personactl" / "soak.json"
    text = None
    if STATE:
        pulled = personactl(root, "state", "pull")
        text = pulled.out if pulled.code == 0 else None
        if pulled.code != 0 and "has no state yet" not in pulled.err:
            problems.append(f"state pull exited {pulled.code}: {pulled.err[-300:]}")
    elif state.exists():
        text = state.read_text()
    if text is not None:
        try:
            data = json.loads(text)
            assert data["version"] == 3 and isinstance(data["resources"], list)
        except (ValueError, KeyError, AssertionError) as exc:
            problems.append(f"state invalid: {exc!r}")
    return problems


def converge(root: Path, url: str) -> list[str]:
    """A second run without faults: apply succeeds, then plan shows nothing."""
    problems = []
    r = personactl(root, "apply", "--auto-approve", "--parallelism", "8")
    if r.code != 0:
        problems.append(f"re-apply exited {r.code}: {r.err[-300:]}")
    r = personactl(root, "plan", "--detailed-exitcode")
    if r.code != 0:
        problems.append(f"plan after re-apply exited {r.code}")
    return problems + check_invariants(root, url)


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str


def run_schedule(
    work: Path, name: str, settings: dict[str, Any], seed: int, personas: int
) -> Outcome:
    base = Path(tempfile.mkdtemp(dir=work))
    try:
        # The faulty run, then a clean server over the same data for the second run.
        with emulator(base / "data", **{**settings, "seed": seed, "latency_ms": 2.0}) as emu:
            root = scaled_example(base / "proj", emu.url, personas)
            first = personactl(root, "apply", "--auto-approve", "--parallelism", "8")
        # Check and converge through a server without faults, over the same data.
        with emulator(base / "data") as emu:
            url = emu.url
            config = root / "personactl.yaml"
            config.write_text(
                re.sub(r"apiUrl: http://127\.0\.0\.1:\d+", f"apiUrl: {url}", config.read_text())
            )
            problems = check_invariants(root, url) + converge(root, url)
        detail = f"first run exit {first.code}"
        return Outcome(f"{name} (seed {seed})", not problems, "; ".join(problems) or detail)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def apply_duration(work: Path, personas: int) -> float:
    """How long an uninterrupted apply takes here, so kills land inside one."""
    base = Path(tempfile.mkdtemp(dir=work))
    try:
        with emulator(base / "data", latency_ms=10.0) as emu:
            root = scaled_example(base / "proj", emu.url, personas)
            # In a separate process, from its start-up on, as the runs that are killed.
            start = time.monotonic()
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            spawn(["apply", "--auto-approve", "--parallelism", "4"], root, ENV, **quiet).wait()
            return time.monotonic() - start
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_kill(work: Path, seed: int, personas: int, duration: float) -> Outcome:
    base = Path(tempfile.mkdtemp(dir=work))
    rng = random.Random(seed)
    try:
        with emulator(base / "data", latency_ms=10.0) as emu:
            root = scaled_example(base / "proj", emu.url, personas)
            proc = spawn(
                ["apply", "--auto-approve", "--parallelism", "4"],
                root,
                ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Anywhere from start-up to just after the end of an uninterrupted apply.
            delay = rng.uniform(0.1, duration * 1.05)
            try:
                proc.wait(timeout=delay)
                when = "after it finished"
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                when = f"at {delay:.2f} s"
            emu.wait_idle()  # a request the killed process sent still lands
            if STATE and when != "after it finished":
                time.sleep(LEASE + 0.1)  # its lock is taken over once its lease ran out
            problems = check_invariants(root, emu.url) + converge(root, emu.url)
        return Outcome(
            f"SIGKILL {when} (seed {seed})", not problems, "; ".join(problems) or "converged"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the short form (CI)")
    ap.add_argument("--schedules", type=int, default=None)
    ap.add_argument("--kills", type=int, default=None)
    ap.add_argument("--personas", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=None, help="stop starting runs after this")
    ap.add_argument(
        "--state",
        choices=["file", "postgres"],
        default="file",
        help="where the state lives: a file, or a throwaway PostgreSQL (falls back to a "
        "file when its binaries are missing, unless PERSONACTL_REQUIRE_POSTGRES is set)",
    )
    args = ap.parse_args(argv)
    server = None
    if args.state == "postgres":
        from state_servers import REQUIRE_ENV, PgUnavailable, start_postgres

        try:
            server = start_postgres()
        except PgUnavailable as exc:
            if os.environ.get(REQUIRE_ENV):
                raise
            print(f"state in a file: {exc}", file=sys.stderr)
    if server is not None:
        STATE.update(backend="postgres", urlEnv="SOAK_STATE_URL")
        # A killed run's lock is taken over after its lease: a short one here.
        ENV.update(SOAK_STATE_URL=server.url, PERSONACTL_LOCK_LEASE=str(LEASE))
    try:
        return _soak(args)
    finally:
        if server is not None:
            server.stop()


def _soak(args: argparse.Namespace) -> int:
    n_schedules = args.schedules if args.schedules is not None else (5 if args.quick else 25)
    n_kills = args.kills if args.kills is not None else (3 if args.quick else 24)
    seconds = args.seconds if args.seconds is not None else (240.0 if args.quick else 1800.0)
    personas = 20 if args.quick and args.personas == 100 else args.personas
    work = REPO / "benchmarks" / ".work" / "soak"
    work.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + seconds
    outcomes: list[Outcome] = []
    jobs: list[tuple[str, Any]] = []
    for i in range(n_schedules):
        name, settings = SCHEDULES[i % len(SCHEDULES)]
        jobs.append(("schedule", (name, settings, 1000 + i)))
    for i in range(n_kills):
        jobs.append(("kill", 2000 + i))
    skipped = 0
    duration = apply_duration(work, personas) if n_kills else 0.0
    for kind, job in jobs:
        if time.monotonic() > deadline:
            skipped += 1
            continue
        outcome = (
            run_schedule(work, *job, personas)
            if kind == "schedule"
            else run_kill(work, job, personas, duration)
        )
        outcomes.append(outcome)
        print(f"{'ok  ' if outcome.ok else 'FAIL'} {outcome.name}: {outcome.detail}", flush=True)
    schedules = [o for o in outcomes if not o.name.startswith("SIGKILL")]
    kills = [o for o in outcomes if o.name.startswith("SIGKILL")]
    where = ", state in PostgreSQL" if STATE else ""
    print(
        f"Soak ({personas} personas{where}): {sum(o.ok for o in schedules)}/{len(schedules)} fault "
        f"schedules and {sum(o.ok for o in kills)}/{len(kills)} SIGKILLs survived"
        + (f"; {skipped} runs not started (time bound)" if skipped else "")
        + "."
    )
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
