"""Exceptions raised by the library; the CLI turns them into one clean line."""


class AnalyzerError(Exception):
    """Base class for every error the library raises on purpose."""


class InputError(AnalyzerError):
    """Bad input from the user: a missing file, an unreadable format, an invalid option."""


class FetchError(AnalyzerError):
    """A network fetch failed or was refused."""


class ModelError(AnalyzerError):
    """A model could not be loaded, trained or run."""
