"""The reconcile engine: state, diff, plan, apply. Knows no HTTP."""
