"""Contract tests: the proto API, its generated code and its mirror of the Python enums."""
