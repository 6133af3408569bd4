"""personactl benchmarks: whole processes, medians, results in RESULTS.md.

    python benchmarks/run.py            # everything (under 10 minutes); writes RESULTS.md
    python benchmarks/run.py --quick    # fewer sizes and repetitions (about a minute)

Needs check-jsonschema for the comparison and matplotlib for the chart
(pip install -e '.[bench]'). Each section shows the figures of the run before
issue #15 (`baseline.json`) beside the new ones, and the new budgets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402


def timed(argv: list[str], cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB, exit code) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed ({code}): {err[:500]}")
    return elapsed, usage.ru_maxrss // 1024, code


BASELINE = json.loads((HERE / "baseline.json").read_text(encoding="utf-8"))
CHART = "plan-time.png"


def bench_validate(runs: int, quick: bool) -> list[str]:
    """validate of one file: benchmarks/validate_one.py's `run` where it exists (it also
    measures a 10,000-persona project), else this module's comparison."""
    before = BASELINE["validate"]
    was = (
        f"Before ({BASELINE['measured']}): `personactl validate` {before['personactl_ms']} ms, "
        f"check-jsonschema {before['check_jsonschema_ms']} ms: **{before['ratio']:.2f}x** "
        "(budget then: below 1). Budget now (issue #15): under 0.45x check-jsonschema, and a "
        "10,000-persona project within 1.5x of the example."
    )
    if importlib.util.find_spec("validate_one") is not None:
        from validate_one import run as validate_one

        lines = validate_one(runs, WORK / "validate_one", 1000 if quick else 10_000)
    else:
        lines = bench_validate_vs_check_jsonschema(runs)
    return [*lines, "", was]


def bench_validate_vs_check_jsonschema(runs: int) -> list[str]:
    exe = Path(sys.executable).parent
    cj = shutil.which("check-jsonschema", path=str(exe)) or shutil.which("check-jsonschema")
    if not cj:
        return ["check-jsonschema is not installed: `pip install -e '.[bench]'`; skipped."]
    root = generate(WORK / "one", 1)
    persona = "personas/persona-00000.yaml"
    schema = str(REPO / "schemas" / "persona.schema.json")
    mine = [str(exe / "personactl"), "validate", persona]
    other = [cj, "--schemafile", schema, persona]
    timed(mine, root)  # warm the page cache and .pyc files
    timed(other, root)
    # Interleaved, so machine noise falls on both alike.
    pairs = [(timed(mine, root)[0], timed(other, root)[0]) for _ in range(runs)]
    ours = statistics.median(a for a, _ in pairs)
    theirs = statistics.median(b for _, b in pairs)
    return [
        "| command (one persona file, whole process) | median |",
        "|---|---|",
        f"| `personactl validate {persona}` | {ours * 1000:.0f} ms |",
        f"| `check-jsonschema --schemafile schemas/persona.schema.json {persona}` "
        f"| {theirs * 1000:.0f} ms |",
        "",
        f"Ratio personactl / check-jsonschema: **{ours / theirs:.2f}** (budget: below 1; "
        f"median of {runs} runs each, the two commands alternating). personactl also "
        "checks templates, references and every environment, which check-jsonschema does not.",
    ]


STAGES = ("load", "validate+render", "resolve", "normalize", "diff+plan")


def bench_local_pipeline(sizes: list[int], runs: int) -> list[str]:
    """load+validate+render+resolve+normalize+diff+plan, as one whole process each."""

    script = HERE / "local_pipeline.py"
    rows = [
        "| personas (4 KB prompts) | whole process | load | validate+render | resolve | "
        f"normalize | diff+plan | peak RSS | per persona | before ({BASELINE['measured']}) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    per: dict[int, float] = {}
    for n in sizes:
        root = generate(WORK / f"n{n}", n)
        best: tuple[float, int, dict[str, float]] | None = None
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, str(script), str(root)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert proc.stdout is not None
            out = proc.stdout.read()  # small: one JSON line
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - start
            if proc.returncode:
                raise SystemExit("local_pipeline failed: run it by hand to see why")
            stages = json.loads(out).get("seconds", {})
            rss = usage.ru_maxrss // 1024
            if best is None or wall < best[0]:
                best = (wall, rss, stages)
        assert best is not None
        wall, rss, st = best
        per[n] = wall / n
        stage = {k: f"{st[k]:.2f} s" if k in st else "" for k in STAGES}
        was = BASELINE["local_pipeline"].get(str(n))
        before = f"{was['wall_s']:.2f} s, {was['rss_mb']} MB" if was else ""
        rows.append(
            f"| {n:,} | {wall:.2f} s | "
            + " | ".join(stage[k] for k in STAGES)
            + f" | {rss} MB | {wall / n * 1e6:.0f} µs | {before} |"
        )
    rows.append("")
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        rows.append(
            f"Growth: {b:,} personas cost {per[b] / per[a]:.2f}x per persona what {a:,} do "
            "(1.0 is linear; start-up is spread over more personas, so below 1 is expected)."
        )
    rows.append(
        "Budget (issue #15): 1,000 personas under 0.6 s, 10,000 under 5 s and 250 MB, on 2 "
        "cores (before: 1,000 under 1 s and 200 MB). Peak RSS is the whole process's "
        "(getrusage of the child). Best of the runs."
    )
    return rows


def bench_network(
    sizes: list[int], parallelism: list[int], latency_ms: float, naive_writes: tuple[int, ...]
) -> list[str]:
    """The network table, and the chart of plan time against N beside RESULTS.md."""
    from network import chart, run_all, table

    results = run_all(sizes, parallelism, latency_ms, WORK, naive_writes=naive_writes)
    lines = table(results, BASELINE["network_phase_s"], latency_ms)
    if chart(results, HERE / CHART, latency_ms):
        lines += [
            "",
            f"![plan time against N: auto, full, the floor and the naive client]({CHART})",
            "",
            f"The chart: the network phase of `plan` at P = {results.chart_p} against the "
            "number of personas, on a log scale: the naive client (sequential, a new "
            "connection per request), `--refresh=full`, its floor, `--refresh=auto` with "
            "10% of the personas changed outside personactl, and with none changed (the "
            "list pages alone).",
        ]
    else:
        lines += ["", "(No chart: matplotlib is not installed; `pip install -e '.[bench]'`.)"]
    return lines


def compile_bytecode() -> None:
    """Compile personactl's modules first, as pip does when it installs a wheel: an
    editable install under PYTHONDONTWRITEBYTECODE=1 (set on this machine) would
    otherwise compile every module from source in every measured process."""
    import compileall

    compileall.compile_dir(REPO / "personactl", quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    runs = 3 if args.quick else 9
    WORK.mkdir(exist_ok=True)
    compile_bytecode()
    sections = {
        "Startup: validate one file vs check-jsonschema": bench_validate(runs * 2, args.quick),
        "Local pipeline": bench_local_pipeline(
            [1000] if args.quick else [1000, 10000], 1 if args.quick else 3
        ),
        "Network: plan and apply against the emulator": bench_network(
            [200] if args.quick else [200, 500, 1000],
            [8, 16] if args.quick else [1, 8, 16],
            20.0,
            () if args.quick else (200, 1000),
        ),
    }
    cpu = platform.processor() or platform.machine()
    lines = [
        "# personactl benchmark results",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.system()} {platform.machine()} "
        f"({cpu}), {os.cpu_count()} cores, Python {platform.python_version()}, by "
        f"`python benchmarks/run.py{' --quick' if args.quick else ''}`. Beside each figure: "
        f"the one measured {BASELINE['measured']}, before issue #15.",
        "",
    ]
    for title, body in sections.items():
        lines += [f"## {title}", "", *body, ""]
    text = "\n".join(lines)
    (HERE / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
