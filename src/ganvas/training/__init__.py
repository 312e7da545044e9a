"""Training: the loop, its state, EMA, run directories and snapshots."""
