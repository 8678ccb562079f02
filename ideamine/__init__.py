"""IdeaMine: the shared kernel and the one import surface for plugin authors."""
