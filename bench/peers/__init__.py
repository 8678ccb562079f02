"""Peer systems measured on the same box in the same run, each in its own virtualenv."""
