"""Recipes: a JSON file of ``train`` option values (``--config``), checked like the command line.

A recipe's values fill every option not written on the command line; each value must have the
option's type (and be one of its choices). Its ``model`` section replaces values of the preset the
run trains, each of the type the preset holds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_options import train_options
from .errors import DigitError


def given_train_options(argv: list[str]) -> set[str]:
    """The train options written on the command line: a second parse in which nothing defaults."""
    q = argparse.ArgumentParser(add_help=False)
    train_options(q)
    for act in q._actions:
        act.default = argparse.SUPPRESS
    return set(vars(q.parse_args(argv)))


def apply_recipe(a: argparse.Namespace, path: Path, given: set[str]) -> None:
    """Fill the options not given on the command line from a JSON recipe, checking each value."""
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DigitError(f"{path}: cannot read the recipe ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DigitError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(recipe, dict):
        raise DigitError(f"{path}: a recipe must be a JSON object of option names and values")
    q = argparse.ArgumentParser(add_help=False)
    train_options(q)
    options = {act.dest: act for act in q._actions if act.dest not in ("config",)}
    for k, v in recipe.items():
        if k == "model":  # checked below, against the preset the run ends up with
            continue
        key = k.replace("-", "_")
        act = options.get(key)
        if act is None:
            raise DigitError(f"{path}: unknown option {k!r}")
        value = _recipe_value(path, k, v, act)
        if key not in given:
            setattr(a, key, value)
    if "model" in recipe:
        a.overrides = _model_overrides(path, recipe["model"], a.preset)


def _model_overrides(path: Path, section, preset: str) -> dict:
    """A recipe's ``model`` section: preset values to replace, each of the type the preset holds.

    A dict value replaces only the keys it names (``{"sampling": {"box_detections_per_img": 50}}``).
    """
    from .presets import get_preset

    base = get_preset(preset)
    if not isinstance(section, dict):
        raise DigitError(f"{path}: 'model' must be a JSON object of {preset!r} preset values")
    for name, v in section.items():
        if name not in base or name in ("arch", "preset"):
            known = ", ".join(k for k in base if k not in ("arch", "preset"))
            raise DigitError(f"{path}: the {preset!r} preset has no value {name!r} to set (it has: {known})")
        old = base[name]
        if not _like(v, old):
            raise DigitError(
                f"{path}: model value {name!r} must look like the preset's {json.dumps(old)}, not {json.dumps(v)}"
            )
    return dict(section)


def _like(v, old) -> bool:
    """Whether a recipe value ``v`` may replace the preset value ``old``."""
    if isinstance(old, dict):
        return isinstance(v, dict) and set(v) <= set(old)
    if isinstance(old, list | bool):
        return isinstance(v, type(old))
    if isinstance(old, int | float):
        return isinstance(v, int | float) and not isinstance(v, bool)
    return not isinstance(v, list | dict | bool)  # a string, or a value the preset leaves unset


def _recipe_value(path: Path, name: str, v, act: argparse.Action):
    def bad(want: str):
        return DigitError(f"{path}: option {name!r} must be {want}, not {json.dumps(v)}")

    if act.nargs == 0:  # a flag
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if isinstance(act, argparse._AppendAction):
        if act.type is int:
            if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise bad("a list of whole numbers")
        elif not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise bad("a list of strings")
        return v
    if v is None:
        return None
    kind = act.type or str
    if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise bad("a whole number")
    if kind is float and (isinstance(v, bool) or not isinstance(v, int | float)):
        raise bad("a number")
    if kind in (str, Path) and not isinstance(v, str):
        raise bad("a string")
    value = kind(v)
    if act.choices is not None and value not in act.choices:
        raise bad("one of " + ", ".join(map(str, act.choices)))
    return value
