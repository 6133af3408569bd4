"""Generate a synthetic personactl project with N personas and 4 KB prompts."""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

PROJECT = """\
apiVersion: personactl/v1
kind: Project
metadata: {name: bench}
spec:
  manifests: [personas/*.yaml, tools/*.yaml]
  vars: {company: Acme Networks}
  environments:
    sandbox: {backend: sandbox, namePrefix: "bench-"}
"""

TOOL = """\
apiVersion: personactl/v1
kind: Tool
metadata: {name: end-call}
spec: {type: SYSTEM, description: End the call., config: {action: end_call}}
"""

PERSONA = """\
apiVersion: personactl/v1
kind: Persona
metadata:
  name: persona-{i:05d}
  labels: {{team: team-{team}}}
spec:
  description: Synthetic persona {i} for {{{{ company }}}}
  avatar: {{name: Liv, variant: home}}
  avatarModel: cara-3
  voice: {{name: Lucy - Fresh & Casual}}
  llm: {{name: GPT-4o mini}}
  languageCode: en
  prompt:
    file: ../prompts/persona-{i:05d}.md.j2
    vars: {{product: Router {i}}}
  initialMessage: Hi, I'm persona {i} from {{{{ company }}}}.
  voiceGeneration: {{stability: 0.5, similarityBoost: 0.8, speed: 1.05}}
  voiceDetection: {{endOfSpeechSensitivity: 0.6}}
  tools: [end-call]
"""

WORDS = [
    "router",
    "signal",
    "wifi",
    "mesh",
    "channel",
    "firmware",
    "reboot",
    "cable",
    "modem",
    "support",
    "network",
]


def prompt(i: int, size: int = 4096) -> str:
    rng = random.Random(i)
    head = f"You are persona {i} for {{{{ company }}}}, helping with the {{{{ product }}}}.\n"
    body = []
    length = len(head)
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + ".\n"
        body.append(line)
        length += len(line)
    return head + "".join(body)[: size - len(head)]


def generate(root: Path, n: int) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "personas").mkdir(parents=True)
    (root / "prompts").mkdir()
    (root / "tools").mkdir()
    (root / "personactl.yaml").write_text(PROJECT)
    (root / "tools" / "end-call.yaml").write_text(TOOL)
    for i in range(n):
        (root / "personas" / f"persona-{i:05d}.yaml").write_text(PERSONA.format(i=i, team=i % 7))
        (root / "prompts" / f"persona-{i:05d}.md.j2").write_text(prompt(i))
    return root


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]), int(sys.argv[2])))
