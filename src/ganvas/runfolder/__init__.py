"""The run folder: one place that knows what a run directory holds and how it is written and
read. Training writes through it; the report, eval, the app, search and the API read through
it, so nothing imports `training` to read a run.

    runs/00007-dcgan-emoji/
        config.json         the resolved RunConfig (rewritten atomically by each resume)
        log.txt             the console lines, time-stamped
        stats.jsonl         one line per tick (losses, health "flags") and per rollback
        metrics.jsonl       one line per measurement
        lock                held by the one process that writes (train or resume)
        samples/            kimg-NNNNNN.png grids from the fixed latents
        checkpoints/        kimg-NNNNNN[.NNN]/ snapshots and best/: model.json,
                            G/G_ema/D.safetensors, trainer.pt
        report.html, report/, tensorboard/   written by report/ (not read back here)

Modules (import from them; this package re-exports nothing):
    layout      the names above and the numbering of new run folders
    log         RunLog (log.txt and jsonl records) and the jsonl append/read rules
    lock        RunLock: one writer per run
    snapshots   snapshot folders: naming, atomic write/copy, .old-NAME, list, prune, read back
    locate      which folder a MODEL argument means (run, snapshot, exported model)
    hints       the one-line hints of the health flags training records
    read        RunData / read_run: a whole run read for the report and others

Files inside a snapshot folder (weights, trainer.pt, model.json) are read and written by
ganvas.checkpoint, which this package uses.
"""
