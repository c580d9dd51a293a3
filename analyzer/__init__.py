"""analyzer: narrative-vs-fundamentals analysis."""
