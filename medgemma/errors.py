"""The errors a user can see. Each message says what went wrong and what to do about it."""


class MedGemmaError(Exception):
    """Base class for every error shown to a user."""


class InputError(MedGemmaError):
    """A message, file or setting given by the user is not acceptable."""


class IndexStoreError(MedGemmaError):
    """An index is missing, corrupt or was built with another embedder."""


class BackendError(MedGemmaError):
    """A model backend could not be loaded or failed while generating."""


class SafetyModelError(MedGemmaError):
    """The learned safety classifier's file is missing, corrupt or was trained for another embedder."""


class MissingDependency(MedGemmaError):
    """An optional package is not installed; the message carries the install line."""

    def __init__(self, package: str, feature: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package: pip install {package}")
        self.package = package


def require(module: str, package: str | None = None, feature: str = "This feature") -> object:
    """Import `module` or raise MissingDependency naming the pip package to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(package or module, feature) from exc
