"""The agent host: consumes tasks, runs agent plugins, commits their artifacts."""
