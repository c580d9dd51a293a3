"""Scoring: sentences in, calibrated hype / growth / evidence probabilities out.

:mod:`.sentences` splits text, :mod:`.language` routes it, :mod:`.encoder` embeds it,
:mod:`.scorer` holds :class:`HypeScorer` (the one entry point), :mod:`.backends` computes the
same logits faster, :mod:`.files` streams record files and :mod:`.distributed` runs on Ray.
"""
