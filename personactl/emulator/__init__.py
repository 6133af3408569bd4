"""An Anam-API-compatible emulator (see DESIGN.md §4). Built in issue 3."""
