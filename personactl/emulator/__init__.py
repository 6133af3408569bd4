"""An Anam-API-compatible emulator ("LocalStack for Anam", DESIGN.md §4).

One WSGI application (`app.EmulatorApp`) backed by SQLite (`store.Store`),
served over HTTP/1.1 keep-alive by `personactl emulator serve` (`server.py`)
or mounted in-process for the `sandbox` backend (`inprocess.py`).

Authentication: every request needs `Authorization: Bearer <key>`. The key is
`sandbox-key` (`settings.DEFAULT_API_KEY`) unless `--api-key` or the
`PERSONACTL_EMULATOR_API_KEY` environment variable sets another one. The
emulator deliberately does not read `ANAM_API_KEY`: that variable holds a real
Anam key, which should never be needed by (or handed to) a local fake.

Behaviour where the spec is silent (see also the module docstrings):
- Changing `avatarId` to an avatar that does not support the persona's current
  `avatarModel` resets it to the new avatar's `activeVersion`; a POST without
  `avatarModel` gets the avatar's `activeVersion`.
- Deleting a tool soft-deletes it: it is detached from every persona (their
  `updatedAt` is not touched, as the persona rows are unchanged) and 204 is sent.
- Duplicate persona and tool names are allowed, as in the real API.
- Unknown keys inside `voiceDetectionOptions`/`voiceGenerationOptions` are
  400s; unknown top-level keys are 400s on persona PUT (the schema says
  `additionalProperties: false`) and ignored on POST (the POST schema allows them).
"""
