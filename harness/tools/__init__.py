"""Tools that answer themselves (``impl:`` / ``results:`` on a tool): read, loaded, answering."""

from .spec import DEFAULT_MAX_STEPS, HARNESS_KEYS, Scripted, ToolSpec, answering_tools, api_tools

__all__ = ["DEFAULT_MAX_STEPS", "HARNESS_KEYS", "Scripted", "ToolSpec", "answering_tools", "api_tools"]
