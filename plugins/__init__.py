"""Built-in IdeaMine plugins: the 13 phase agents and the artifact JSON Schemas (``plugins/schemas/``)."""
