"""The state document (version 3 stores `observed` only where it differs from `applied`)
and the lock info's holder (user, host, CI job)."""

from __future__ import annotations

import json
from pathlib import Path

from personactl.backends import ci_job_url, new_lock
from personactl.core.records import StateEntry
from personactl.engine.state import State, load_state


def test_observed_is_stored_only_where_it_differs_and_read_back_whole(tmp_path: Path) -> None:
    entry = StateEntry(
        "Persona",
        "cara",
        "t-cara",
        "p-1",
        applied={"name": "t-cara", "description": "Tier-1 \n", "flag": True, "secret": "x"},
        observed={"name": "t-cara", "description": "Tier-1", "flag": 1, "extra": [1]},
    )
    state = State("emu", [entry], lineage="L", serial=4)
    stored = json.loads(state.document())["resources"][0]
    # the name came back as sent; True is not 1; the secret was not returned
    assert stored["observed"] == {"description": "Tier-1", "flag": 1, "extra": [1]}
    assert stored["unobserved"] == ["secret"]
    path = tmp_path / "emu.json"
    path.write_text(state.document())
    back = load_state(path, "emu.json")
    assert back is not None and back.find("Persona", "cara") == entry


def test_a_version_2_state_keeps_its_observed_as_written(tmp_path: Path) -> None:
    doc = {
        "version": 2,
        "environment": "emu",
        "lineage": "L",
        "serial": 3,
        "resources": [
            {
                "kind": "Tool",
                "name": "end",
                "anamName": "end",
                "id": "t-1",
                "applied": {"name": "end", "description": "x"},
                "observed": {"name": "end"},
                "fingerprint": {},
            }
        ],
    }
    path = tmp_path / "emu.json"
    path.write_text(json.dumps(doc))
    state = load_state(path, "emu.json")
    assert state is not None
    found = state.find("Tool", "end")
    assert found is not None and found.observed == {"name": "end"}  # not filled from applied


def test_the_holder_names_the_ci_job() -> None:
    assert ci_job_url({"CI_JOB_URL": "https://gitlab.example.com/a/b/-/jobs/7"}) == (
        "https://gitlab.example.com/a/b/-/jobs/7"
    )
    github = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/personas",
        "GITHUB_RUN_ID": "991",
    }
    assert ci_job_url(github) == "https://github.com/acme/personas/actions/runs/991"
    assert ci_job_url({}) == ""
    lock = new_lock("apply", 60.0)
    assert lock.describe().startswith(f"{lock.who} (apply since {lock.created}")


def test_a_first_apply_killed_before_its_end_keeps_its_lineage_in_the_journal(
    tmp_path: Path,
) -> None:
    # The lineage salts the secret sentinels: a journal read back with another one would
    # show every secret the killed run sent as changed (and send it again).
    from personactl.engine.state import StateStore

    path = tmp_path / "emu.json"
    store = StateStore(path, "emu.json", "emu")
    store.lock()
    store.record(StateEntry("LLM", "gw", "t-gw", "l-1", applied={"secret": "⟦secret:K:ab⟧"}))
    # killed here: no state file, only the journal
    assert not path.exists() and (tmp_path / "emu.json.journal").exists()
    back = load_state(path, "emu.json", "emu")
    assert back is not None and back.lineage == store.state.lineage is not None
    assert back.find("LLM", "gw") is not None
