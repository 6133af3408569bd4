"""personactl: persona-as-code for Anam AI personas."""

__version__ = "0.1.0"

import sys as _sys

# httpx imports its own command line (click, rich, pygments) whenever those are
# installed, and rich is ours (progress bars): 60-90 ms of every run for a CLI we
# never call. A None entry makes that import fail, which httpx handles by design.
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
