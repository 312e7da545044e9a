"""A run's configuration, built in one direction (each module imports only those above it):

    options.py     the option machinery: a field declared once gives keyword, flag and help
    schema.py      the frozen dataclasses (config.json's sections) and the checks each makes
                   alone
    (the registries: models, losses, augment, metrics; each family declares the fields it
    reads, their rules and whether it runs float16 layers of its own)
    presets.py     named recipes (and `ganvas demo`'s) as layers over the schema's defaults
    validation.py  the one check across the registries
    resolve.py     defaults + preset + config file + options -> a settled, validated
                   `Resolved` with the source of every value; everything downstream trusts it

This package's __init__ holds nothing: import from the module that owns a name.
"""
