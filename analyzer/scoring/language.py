"""Language detection per document or sentence (py3langid: small, offline, fast)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Japanese script blocks: kana are decisive, so a short Japanese text is never mistaken for Chinese.
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, *, default: str = "und") -> str:
    """ISO 639-1 code of the text's language, or ``default`` when it cannot be told.

    Only the first few thousand characters are read: enough to decide, and bounded in cost.
    """
    if not isinstance(text, str):
        return default
    sample = text[:4000]
    letters = sum(ch.isalpha() for ch in sample)
    if letters < 3:
        return default
    kana = len(_KANA.findall(sample))
    if kana >= 2 and kana / letters > 0.05:
        return "ja"
    code, probability = _identifier().classify(sample)
    if letters < 20 and probability < 0.5:
        return default
    return str(code)
