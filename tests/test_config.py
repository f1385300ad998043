import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from facetrust.config import load_config, parse_overrides
from facetrust.errors import ConfigError
from facetrust.training import TrainConfig


@dataclass(frozen=True)
class Small:
    epochs: int = 1
    lr: float = 0.1
    name: str = "x"
    band: tuple[float, float] = (0.4, 0.6)
    out: Path | None = None
    flag: bool = False


def test_yaml_then_overrides_highest_priority_right(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("epochs: 3\nlr: 0.5\nband: [0.3, 0.7]\n")
    cfg = load_config(Small, file, ["lr=1e-3", "flag=true", "out=runs/a"])
    assert cfg == Small(epochs=3, lr=0.001, band=(0.3, 0.7), out=Path("runs/a"), flag=True)


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'epochs'|Did you mean 'epochs'"):
        load_config(Small, None, ["epoch=2"])


@pytest.mark.parametrize("override", ["epochs=two", "lr=[1,2]", "flag=maybe", "band=[1,2,3]"])
def test_bad_values_are_config_errors(override: str) -> None:
    with pytest.raises(ConfigError):
        load_config(Small, None, [override])


def test_malformed_override_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_overrides(["noequals"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(Small, tmp_path / "missing.yaml")


def test_shipped_training_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(TrainConfig, root / "configs" / "default_detector.yaml")
    assert cfg.architecture == "efficientnet_lite0" and cfg.input_size == 224


@pytest.mark.parametrize("name", sorted(p.relative_to(Path(__file__).resolve().parents[1] / "configs").as_posix()
                                        for p in (Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml")))
def test_every_shipped_config_is_a_valid_training_config(name: str) -> None:
    cfg = load_config(TrainConfig, Path(__file__).resolve().parents[1] / "configs" / name)
    assert cfg.name and cfg.output_dir.parts[0] == "runs"


@pytest.mark.parametrize("override", ["name=[a", "name={a", "lr=: :", "name=*alias"])
def test_override_that_is_not_yaml_is_a_config_error(override: str) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Small, None, [override])
    assert load_config(Small, None, ["name='[a'"]).name == "[a"


def test_config_file_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(Small, tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(Small, latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("epochs: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Small, broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- epochs\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Small, listing)
    numbered = tmp_path / "numbered.yaml"
    numbered.write_text("1: 2\n")
    with pytest.raises(ConfigError, match="keys must be names"):
        load_config(Small, numbered)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "secret.yaml"
    file.write_text("epochs: 2\n")
    file.chmod(0)
    try:
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(Small, file)
    finally:
        file.chmod(0o600)


@pytest.mark.parametrize("override", ["out=[a, b]", "epochs=true", "name=[a, b]", "name=~"])
def test_empty_or_mistyped_values_are_config_errors(override: str) -> None:
    with pytest.raises(ConfigError):
        load_config(Small, None, [override])
