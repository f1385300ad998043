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
