import pytest
from pydantic import Field, ValidationError

from collapselab.core.params import ParamError, Params, parse_assignment, resolve_params


class P(Params):
    n: int = Field(10, ge=1)
    lam: float = 0.1
    ns: list[int] = [1, 2]
    name: str = "x"
    flag: bool = False
    maybe: float | None = None


PRESETS = {"smoke": {"n": 2}, "quick": {"n": 5}, "full": {"n": 100}}


def test_layers_defaults_preset_overrides_seeds():
    p = resolve_params(P, PRESETS, "quick", ["lam=0.5", "ns=3,4,5", "flag=true", "maybe=none"], seeds=3)
    assert (p.n, p.lam, p.ns, p.flag, p.maybe, p.seeds) == (5, 0.5, [3, 4, 5], True, None, 3)


def test_unknown_key_suggests_closest_and_lists_valid():
    with pytest.raises(ParamError) as err:
        resolve_params(P, PRESETS, "smoke", ["lamb=1"])
    msg = str(err.value)
    assert "'lamb'" in msg and "did you mean 'lam'" in msg and "valid keys" in msg and "\n" not in msg


@pytest.mark.parametrize("text, key", [("n=abc", "n"), ("n=0", "n"), ("ns=1,x", "ns"), ("lam=", "lam")])
def test_bad_value_names_key(text, key):
    with pytest.raises(ParamError, match=f"'{key}"):
        resolve_params(P, PRESETS, "smoke", [text])


def test_missing_equals_and_unknown_preset():
    with pytest.raises(ParamError, match="key=value"):
        parse_assignment("n", P)
    with pytest.raises(ParamError, match="valid presets"):
        resolve_params(P, PRESETS, "huge")


def test_params_are_frozen_and_forbid_extra():
    p = resolve_params(P, PRESETS, "smoke")
    with pytest.raises(ValidationError, match="frozen"):
        p.n = 3
    with pytest.raises(ParamError, match="unknown parameter 'bogus'"):
        resolve_params(P, {**PRESETS, "smoke": {"bogus": 1}}, "smoke")
