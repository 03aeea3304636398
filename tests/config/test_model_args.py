"""Configuring a model instance from settings: `model_args.<name>` keyword arguments."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from chaincrawler.app import load_models
from chaincrawler.config import ConfigError, Settings, load_settings

MODULE = '''
from chaincrawler import Model


class Deposits(Model):
    """Deposits to the watched addresses of at least `min_value` satoshis."""

    total: int = 0

    def __init__(self, watch: list[str], min_value: int = 0) -> None:
        if min_value < 0:
            raise ValueError(f"min_value must be >= 0, not {min_value}")
        self.watch = set(watch)
        self.min_value = min_value


class Plain(Model):
    seen: int = 0


plain = Plain()
'''


@pytest.fixture(autouse=True)
def shop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A user's model module `shop_models` on sys.path; no CHAINCRAWLER_* from outside."""
    for name in list(os.environ):
        if name.upper().startswith("CHAINCRAWLER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shop_models.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


def models_from(settings: Settings) -> list[object]:
    return list(load_models(settings.models, settings.model_args))


def test_a_toml_table_per_model_gives_its_constructor_arguments(tmp_path: Path) -> None:
    path = tmp_path / "chaincrawler.toml"
    path.write_text(textwrap.dedent("""
        models = ["shop_models:Deposits", "shop_models:Plain"]

        [model_args.deposits]
        watch = ["bcrt1qwatched"]
        min_value = 10000
    """), encoding="utf-8")
    deposits, plain = models_from(Settings.from_toml(path))
    assert (deposits.watch, deposits.min_value) == ({"bcrt1qwatched"}, 10000)
    assert type(plain).__name__ == "Plain"


@pytest.mark.parametrize(
    "env",
    [
        {"CHAINCRAWLER_MODEL_ARGS__DEPOSITS": '{"watch": ["a", "b"], "min_value": 5}'},
        {"CHAINCRAWLER_MODEL_ARGS__DEPOSITS__WATCH": '["a", "b"]',
         "CHAINCRAWLER_MODEL_ARGS__DEPOSITS__MIN_VALUE": "5"},
        {"CHAINCRAWLER_MODEL_ARGS": '{"deposits": {"watch": ["a", "b"], "min_value": 5}}'},
    ],
    ids=["json-per-model", "one-var-per-argument", "json-for-all"],
)
def test_env_vars_give_model_arguments(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CHAINCRAWLER_MODELS", "shop_models:Deposits")
    (deposits,) = models_from(load_settings())
    assert (deposits.watch, deposits.min_value) == ({"a", "b"}, 5)


def test_model_args_round_trip_through_describe(tmp_path: Path) -> None:
    original = load_settings(models=["shop_models:Deposits"],
                             model_args={"deposits": {"watch": ["a"], "min_value": 3}})
    path = tmp_path / "described.toml"
    path.write_text(original.describe(), encoding="utf-8")
    assert Settings.from_toml(path).model_args == original.model_args


@pytest.mark.parametrize(
    ("models", "args", "path", "reason"),
    [
        (["shop_models:Deposits"], {}, "models", "missing 1 required positional argument"),
        (["shop_models:Deposits"], {"deposits": {"watch": [], "colour": "red"}},
         "model_args.deposits", "unexpected keyword argument 'colour'"),
        (["shop_models:Deposits"], {"deposits": {"watch": [], "min_value": -1}},
         "model_args.deposits", "min_value must be >= 0"),
        (["shop_models:Plain"], {"deposit": {"watch": []}},
         "model_args", "arguments for deposit, but no such model is loaded (loaded: plain)"),
        (["shop_models:plain"], {"plain": {"seen": 1}}, "model_args", "is a model instance"),
    ],
    ids=["required-argument-missing", "unknown-argument", "model-refuses-value",
         "misspelt-model-name", "instance-takes-no-arguments"],
)
def test_bad_model_arguments_are_config_errors_naming_the_setting(
    models: list[str], args: dict[str, dict[str, object]], path: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_models(models, args)
    assert [p.path for p in info.value.problems] == [path]
    assert reason in str(info.value)
