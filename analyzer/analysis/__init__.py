"""Analysis: pure functions over DataFrames, from stories to flags.

:mod:`.periods` (calendar periods), :mod:`.standardise` (robust z-scores), :mod:`.dedup`
(near-duplicate clusters), :mod:`.heat` (narrative heat), :mod:`.divergence` (fundamental
growth against heat), :mod:`.flags`, :mod:`.statistics` (lead-lag, Granger) and
:mod:`.explosiveness` (GSADF); :mod:`.run` reads the inputs from storage and writes the results.
"""
