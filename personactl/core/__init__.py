"""The bottom layer: types and pure rules every other layer shares (records, secrets,
errors, equality, file writes). It imports nothing else of personactl."""
