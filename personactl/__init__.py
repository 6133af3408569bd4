"""personactl: persona-as-code for Anam AI personas."""

__version__ = "0.1.0"
