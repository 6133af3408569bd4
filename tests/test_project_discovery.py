"""Which project a path belongs to, and errors that name only their root cause."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_support import EXAMPLE, WriteFiles, run_inprocess


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".personactl"))
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


# -- projects below the repository root ------------------------------------------------


def test_a_path_finds_its_project_by_walking_up(tmp_path: Path) -> None:
    copy_example(tmp_path / "infra" / "personas")
    # From the repository root: the persona's vars, partials and tools all resolve.
    r = run_inprocess(["validate", "infra/personas/personas/support.yaml"], tmp_path)
    assert (r.code, r.out, r.err) == (0, "1 file checked: no errors\n", "")
    r = run_inprocess(["validate", "infra/personas/personactl.yaml"], tmp_path)
    assert (r.code, r.out) == (0, "1 file checked: no errors\n")
    # And from a folder inside the project, as `validate` with no paths does.
    r = run_inprocess(["validate", "support.yaml"], tmp_path / "infra" / "personas" / "personas")
    assert (r.code, r.out) == (0, "1 file checked: no errors\n")


def test_two_projects_in_one_run_each_against_its_own(tmp_path: Path) -> None:
    billing = copy_example(tmp_path / "billing")
    support = copy_example(tmp_path / "support")
    # Each project defines a tool the other lacks, and its own vars.
    edit(billing / "tools" / "orders.yaml", "name: order-lookup", "name: invoice-lookup")
    edit(billing / "personas" / "support.yaml", "- order-lookup", "- invoice-lookup")
    edit(support / "personactl.yaml", "company: Acme Networks", "firm: Acme Networks")
    r = run_inprocess(
        [
            "validate",
            "billing/personas/support.yaml",
            "billing/tools/orders.yaml",
            "support/personas/support.yaml",
            "support/tools",
        ],
        tmp_path,
    )
    undefined = (
        "undefined variable 'company' in the template for Persona 'support-cara'; define it in "
        "spec.prompt.vars, the environment's vars or the project's vars in personactl.yaml"
    )
    # billing's persona finds billing's tool; support's templates miss support's var only.
    assert r.lines == [
        f"support/personas/support.yaml:10:16: {undefined}",
        f"support/personas/support.yaml:24:19: {undefined}",
        f"support/prompts/partials/company.md.j2:1:13: {undefined}",
        "3 errors in 2 files",
    ]


# -- one mistake, one error ------------------------------------------------------------


def test_a_yaml_error_in_a_persona_is_the_only_error(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "personas" / "support.yaml", "  name: support-cara", "  name: [support-cara")
    r = run_inprocess(["validate"], project)
    assert r.lines == [
        "personas/support.yaml:6:9: invalid YAML: did not find expected ',' or ']' while "
        "parsing a flow sequence",
        "1 error in 1 file",
    ]


def test_a_tool_with_an_unknown_api_version_is_the_only_error(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "tools" / "orders.yaml", "apiVersion: personactl/v1", "apiVersion: v1")
    root_cause = "tools/orders.yaml:2:13: unknown apiVersion 'v1' (expected personactl/v1)"
    r = run_inprocess(["validate"], project)
    assert r.lines == [root_cause, "1 error in 1 file"]
    # Checking only the persona that uses the tool names the root cause, not the symptom.
    r = run_inprocess(["validate", "personas/support.yaml"], project)
    assert r.lines == [root_cause, "1 error in 1 file"]


def test_a_broken_tool_file_is_the_cause_not_an_undefined_tool(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "tools" / "orders.yaml", "method: POST", "method: POST\n  - x")
    r = run_inprocess(["validate", "personas/support.yaml"], project)
    assert r.lines == [
        "tools/orders.yaml:12:3: invalid YAML: did not find expected key while parsing a block "
        "mapping",
        "1 error in 1 file",
    ]


def test_a_broken_project_file_hides_no_root_cause_behind_undefined_vars(
    tmp_path: Path,
) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "personactl.yaml", "  vars:", "  vars: [")
    r = run_inprocess(["validate"], project)
    assert r.lines == [
        "personactl.yaml:16:18: invalid YAML: did not find expected ',' or ']' while parsing a "
        "flow sequence",
        "1 error in 1 file",
    ]


def test_a_real_undefined_tool_is_still_reported(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    edit(project / "tools" / "orders.yaml", "apiVersion: personactl/v1", "apiVersion: v1")
    edit(project / "personas" / "support.yaml", "- order-lookup", "- order-lookpu")
    r = run_inprocess(["validate", "personas/support.yaml"], project)
    assert r.lines == [
        "personas/support.yaml:36:7: tool 'order-lookpu' is not defined by any Tool manifest; "
        "name a Tool manifest or use {id: <tool id>}",
        "1 error in 1 file",
    ]


# -- messages that fit the command -----------------------------------------------------


def test_plan_with_no_manifests_does_not_suggest_paths(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: empty}
            spec:
              environments: {sandbox: {backend: sandbox}}
            """
        }
    )
    r = run_inprocess(["plan"], root)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        "error: no manifests found by personas/**/*.yaml, tools/**/*.yaml, llms/**/*.yaml, "
        "knowledge-groups/**/*.yaml in personactl.yaml; "
        "check spec.manifests in personactl.yaml\n"
    )
    r = run_inprocess(["plan"], root / "..")
    assert r.err.endswith(
        "in the current directory (no personactl.yaml found); run personactl in the project's "
        "directory, point -C at it or start one with `personactl init`\n"
    )
    r = run_inprocess(["validate"], root)
    assert r.err.endswith("; check spec.manifests in personactl.yaml or pass paths\n")
