"""The public API is an explicit, tested ``__all__`` (as httpx does): every name in it
exists, is documented, and nothing public goes unlisted."""

import inspect

import rca
import rca.api


def test_rca_all_is_exactly_the_public_api():
    assert set(rca.__all__) == {"IncidentView", "Session", "__version__", "open", "select"}
    for name in rca.__all__:
        assert getattr(rca, name) is not None
    assert set(rca.__all__) - {"__version__"} == set(rca.api.__all__)


def test_every_exported_name_is_documented():
    for name in rca.api.__all__:
        obj = getattr(rca, name)
        assert inspect.getdoc(obj), f"rca.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"rca.{name}.{attr} has no docstring"


def test_star_import_gives_the_api_and_unknown_names_fail():
    ns: dict = {}
    exec("from rca import *", ns)  # noqa: S102
    assert {"open", "Session", "IncidentView"} <= set(ns)
    try:
        rca.nosuch  # noqa: B018
    except AttributeError as exc:
        assert "nosuch" in str(exc)
    else:
        raise AssertionError("rca.nosuch should not exist")
