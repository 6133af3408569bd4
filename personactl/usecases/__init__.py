"""Use cases: what each command does, as plain typed functions.

Each takes its collaborators as arguments (the way to reach the API, the sink
for warnings, what to do at the points where a person decides) and returns
plain data; `personactl.commands` parses the options and prints. Nothing here
imports click.
"""
