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
- A persona's `updatedAt` moves on every change to it (each POST and PUT, even one
  that sends the values it has), in its GET and its list item alike. The spec says
  only "when the persona was last updated", so changes to what a persona uses do not
  move it: updating a tool leaves its personas' `updatedAt` as it was, and so does
  deleting one. That is the harder case for a client that trusts `updatedAt`
  (`plan --refresh=auto` reads a persona again when a tool it uses changed or is gone).
- Deleting a tool soft-deletes it: it is detached from every persona (their
  `updatedAt` is not touched, as the persona rows are unchanged) and 204 is sent.
- Duplicate persona and tool names are allowed, as in the real API (the spec
  calls tool names "unique", but nothing documents an error for duplicates).
- `--hide-write-only` hides the three fields from full Persona responses only;
  list items keep `languageCode`, which the PersonaSummary schema documents.
  `description`/`languageCode` are omitted from list items when unset, since
  PersonaSummary types them as non-null strings.
- `voiceGenerationOptions`/`voiceDetectionOptions`/`description` may not be
  null in a request (the request schemas do not allow it); `initialMessage` may.
- POST /v1/auth/session-token follows the spec: `{"personaConfig": {"personaId"}}`
  (400 for an unknown persona) or an ephemeral `personaConfig`; tokens are not stored.
- GET /v1/knowledge/groups answers a bare array, as the spec documents.
- `serve` stores its data in `.personactl/sandbox/` of the current directory by
  default, the same database the `sandbox` backend uses (safe to share).
- Unknown keys inside `voiceDetectionOptions`/`voiceGenerationOptions` are
  400s; unknown top-level keys are 400s on persona PUT (the schema says
  `additionalProperties: false`) and ignored on POST (the POST schema allows them).
- LLMs (`llms.py`): the stock catalog's LLMs are the "default LLMs (not owned by
  your organization)": PUT/DELETE answer 403. `GET /v1/llms` includes them unless
  `includeDefaults=false`. POST and PUT follow their own schemas (POST `urls` and
  its `llmFormat` enum, PUT one `url`, which replaces the list, and its enum);
  `temperature`, sent by both request examples, is accepted. The `secret` is kept
  only as a SHA-256 digest and never returned. Deleting an LLM leaves personas'
  `llmId` as it was.
- Knowledge documents (`knowledge.py`): uploads are multipart/form-data (`file`,
  `chunkSize`, `chunkOverlap`), 50 MB at most; the upload answers `PROCESSING`,
  and reads answer `READY` (or `FAILED` with `errorMessage`: empty file,
  unsupported type, no extractable text) once `--processing-ms` have passed since
  `createdAt`. Search is a keyword match over the chunks of READY documents,
  scored by the share of the query's words a chunk holds. The download answer's
  `downloadUrl` is a presigned URL on the emulator itself (no API key, an HMAC
  signature, valid one hour) that serves the stored bytes. Deleting a group deletes
  its documents. `X-Upload-Token` is not supported: no operation issues one.
"""
