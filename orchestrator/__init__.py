"""The orchestrator service: owns runs, drives phases, evaluates gates."""
