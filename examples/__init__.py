"""Worked examples of plug-ins (docs/plugins.md): importable from the repository root."""
