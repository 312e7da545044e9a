"""End-to-end runs: whole trainings through the CLI and the API, distributed runs, the demo."""
