"""`personactl validate FILE`: independent of the project's size, and against check-jsonschema.

    python benchmarks/validate_one.py [--runs N]     # prints a Markdown table

The same persona file (a generated one: 4 KB prompt, `{{ company }}` templates,
one tool) is validated, as a whole process, in three projects: the 7-file
example with the file added, a 1-persona project, and a 10,000-persona one;
and check-jsonschema checks it against the persona schema. The commands run in
turn, round after round, so the machine's noise (it is shared) falls on all
alike; the figures are medians and the ratios are of those medians.

Budgets (issue #15): 10,000 personas within 1.5x of the example, and under
0.45x check-jsonschema. `run.py` calls `run()`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from generate import PERSONA, generate, prompt  # noqa: E402

FILE = "personas/persona-00000.yaml"


def _whole(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}: {proc.stderr.decode()[:500]}")
    return elapsed


def projects(work: Path, big: int = 10_000) -> dict[str, Path]:
    """The three projects, generated under `work` (the big one is kept between runs)."""
    work.mkdir(parents=True, exist_ok=True)
    example = work / "example"
    if example.exists():
        shutil.rmtree(example)
    shutil.copytree(REPO / "examples" / "acme-personas", example)
    (example / FILE).write_text(PERSONA.format(i=0, team=0))
    (example / "prompts" / "persona-00000.md.j2").write_text(prompt(0))
    one = generate(work / "one", 1)
    large = work / f"n{big}"
    if not (large / "personas" / f"persona-{big - 1:05d}.yaml").exists():
        generate(large, big)
    return {"example (7 files + this one)": example, "1 persona": one, f"{big:,} personas": large}


def run(runs: int, work: Path, big: int = 10_000) -> list[str]:
    exe = Path(sys.executable).parent
    personactl = str(exe / "personactl")
    cj = shutil.which("check-jsonschema", path=str(exe)) or shutil.which("check-jsonschema")
    where = projects(work, big)
    commands: dict[str, tuple[list[str], Path]] = {
        f"personactl validate, {name}": ([personactl, "validate", FILE], root)
        for name, root in where.items()
    }
    if cj:
        schema = str(REPO / "schemas" / "persona.schema.json")
        commands["check-jsonschema --schemafile persona.schema.json"] = (
            [cj, "--schemafile", schema, FILE],
            where["1 persona"],
        )
    # Files written in the last two seconds are never trusted to the index (manifest/index.py):
    # let the generated ones age, then warm the page cache, the .pyc files and the index.
    time.sleep(2.1)
    for argv, cwd in commands.values():
        _whole(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (argv, cwd) in commands.items():
            times[name].append(_whole(argv, cwd))
    med = {name: statistics.median(t) for name, t in times.items()}
    lines = ["| command (one persona file, whole process) | median |", "|---|---|"]
    lines += [f"| {name} | {m * 1000:.0f} ms |" for name, m in med.items()]
    names = list(where)
    example = med[f"personactl validate, {names[0]}"]
    large = med[f"personactl validate, {names[2]}"]
    lines += [
        "",
        f"- {names[2]} / example: **{large / example:.2f}x** (budget: within 1.5x).",
    ]
    if cj:
        theirs = med["check-jsonschema --schemafile persona.schema.json"]
        small = med[f"personactl validate, {names[1]}"]
        lines.append(
            f"- personactl / check-jsonschema on the 1-persona project: **{small / theirs:.2f}x**; "
            f"in the example: {example / theirs:.2f}x; with {names[2]}: {large / theirs:.2f}x "
            "(budget: under 0.45x)."
        )
    else:
        lines.append("- check-jsonschema is not installed (`pip install -e '.[bench]'`): skipped.")
    lines.append(
        f"- Medians of {runs} rounds, the commands alternating within each round, on a "
        f"machine with {os.cpu_count()} cores shared with other work: compare the ratios."
    )
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--size", type=int, default=10_000)
    args = ap.parse_args()
    print("\n".join(run(args.runs, HERE / ".work" / "validate_one", args.size)))
