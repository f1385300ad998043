"""TrainConfig checks every value when it is built, i.e. before any crop is prepared."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.config import load_config
from facetrust.errors import ConfigError, UnknownNameError
from facetrust.training import TrainConfig

BAD_VALUES = [
    ("epochs", "0", ">= 1"),
    ("batch_size", "0", ">= 1"),
    ("lr", "0", "> 0"),
    ("lr", "-1e-4", "> 0"),
    ("lr", ".nan", "> 0"),
    ("weight_decay", "-0.1", ">= 0"),
    ("holdout_fraction", "0", "in \\(0, 1\\)"),
    ("holdout_fraction", "1", "in \\(0, 1\\)"),
    ("input_size", "31", ">= 32"),
    ("crop_store_size", "200", ">= input_size \\(224\\)"),
    ("crop_margin", "0.9", ">= 1"),
    ("frozen_blocks", "-1", ">= 0"),
    ("image_limit_per_source", "-1", ">= 0"),
    ("video_frames_per_clip", "0", "in 1..300"),
    ("video_frames_per_clip", "301", "in 1..300"),
    ("max_minutes", "-1", ">= 0"),
    ("eval_pairs", "1", ">= 2"),
    ("num_workers", "-1", ">= 0"),
    ("threads", "-1", ">= 0"),
    ("animate_share", "1.5", "in \\[0, 1\\]"),
    ("animate_photo_share", "-0.1", "in \\[0, 1\\]"),
    ("sbi_restore_share", "1.5", "in \\[0, 1\\]"),
    ("rerender_share", "-0.2", "in \\[0, 1\\]"),
    ("clip_steps", "[0]", "a non-empty list of frame steps >= 1"),
    ("train_seed", "-1", ">= 0 or null"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_out_of_range_values_name_the_key_and_the_allowed_range(key: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key} must be {allowed}.*, got "):
        load_config(TrainConfig, None, [f"{key}={value}"])


@pytest.mark.parametrize(
    "override",
    ["epochs=1", "batch_size=1", "weight_decay=0", "holdout_fraction=0.5", "input_size=32", "crop_store_size=224",
     "crop_margin=1", "frozen_blocks=0", "image_limit_per_source=0", "video_frames_per_clip=300", "max_minutes=0",
     "eval_pairs=2", "num_workers=0", "threads=0", "architecture=efficientnet_lite2"],
)
def test_values_at_the_edge_of_their_range_are_accepted(override: str) -> None:
    load_config(TrainConfig, None, [override])


def test_crop_store_size_is_checked_against_the_input_size() -> None:
    assert TrainConfig(input_size=64, crop_store_size=80).crop_store_size == 80
    with pytest.raises(ConfigError, match="crop_store_size must be >= input_size \\(64\\)"):
        TrainConfig(input_size=64, crop_store_size=63)


def test_animated_stills_need_a_clip_model_and_the_real_media() -> None:
    clip = ["architecture=efficientnet_lite0_lstm", "frozen_blocks=0"]
    cfg = load_config(TrainConfig, None, [*clip, "animate_share=0.5", "clip_steps=[1,2,3]"])
    assert cfg.animate_share == 0.5 and cfg.clip_steps == (1, 2, 3) and cfg.is_clip
    with pytest.raises(ConfigError, match="animate_share trains clip models"):
        load_config(TrainConfig, None, ["animate_share=0.5"])
    with pytest.raises(ConfigError, match="animate_share needs sbi: true"):
        load_config(TrainConfig, None, [*clip, "animate_share=0.5", "sbi=false", "real_fakes=[x]"])


def test_rerendered_clips_need_a_clip_model_their_auto_encoders_and_room_among_the_shares(tmp_path: Path) -> None:
    clip = ["architecture=efficientnet_lite0_diff_lstm", "frozen_blocks=0"]
    cfg = load_config(TrainConfig, None, [*clip, "animate_share=0.4", "rerender_share=0.3",
                                          f"rerender_decoders={tmp_path}"])
    assert cfg.rerender_share == 0.3 and cfg.rerender_decoders == tmp_path and cfg.clip_renderer is not None
    assert TrainConfig().clip_renderer is None  # off by default: earlier recipes keep their draws
    with pytest.raises(ConfigError, match="rerender_share > 0 needs rerender_decoders"):
        load_config(TrainConfig, None, [*clip, "rerender_share=0.3"])
    with pytest.raises(ConfigError, match="rerender_share trains clip models"):
        load_config(TrainConfig, None, ["rerender_share=0.3", f"rerender_decoders={tmp_path}"])
    with pytest.raises(ConfigError, match="at most 1"):
        load_config(TrainConfig, None, [*clip, "animate_share=0.8", "rerender_share=0.3",
                                        f"rerender_decoders={tmp_path}"])


def test_the_decoder_family_needs_its_auto_encoders_and_a_frame_model(tmp_path: Path) -> None:
    cfg = load_config(TrainConfig, None, ["sbi_decoder_share=0.3", f"sbi_decoders={tmp_path}", "h264_inter_share=0.5"])
    assert cfg.degrade_config.h264_inter_share == 0.5 and TrainConfig().degrade_config.h264_inter_share == 0
    assert cfg.sbi_config.decoder_share == 0.3 and cfg.sbi_decoders == tmp_path
    assert load_config(TrainConfig, None, ["sbi_restore_share=0.3"]).sbi_config.restore_share == 0.3
    assert TrainConfig().sbi_config.restore_share == 0.0  # off by default: earlier recipes keep their draws
    assert cfg.sbi_renderer is not None and TrainConfig().sbi_renderer is None
    with pytest.raises(ConfigError, match="needs sbi_decoders"):
        load_config(TrainConfig, None, ["sbi_decoder_share=0.3"])
    with pytest.raises(ConfigError, match="applies to frame models"):
        load_config(TrainConfig, None, ["architecture=efficientnet_lite0_lstm", "frozen_blocks=0",
                                        "sbi_decoder_share=0.3", f"sbi_decoders={tmp_path}"])


def test_unknown_architecture_suggests_a_close_name() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean .*'efficientnet_lite0'") as info:
        load_config(TrainConfig, None, ["architecture=efficientnet_lite"])
    assert isinstance(info.value, ConfigError) and "efficientnet_lite0" in info.value.close_matches


def test_removed_dev_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown key 'dev_dir'"):
        load_config(TrainConfig, None, ["dev_dir=somewhere"])


def test_bad_values_stop_train_before_any_data_is_read(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(f"data_root: {tmp_path / 'no data here'}\ncache_dir: {tmp_path / 'cache'}\nepochs: 0\n")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2 and "epochs must be >= 1" in result.output
    result = CliRunner().invoke(app, ["train", str(config), "epochs=1", "architecture=effnet_lite0"])
    assert result.exit_code == 2 and "efficientnet_lite0" in result.output
    assert not (tmp_path / "cache").exists()


def test_train_seed_draws_the_training_stream_but_keeps_the_split_seed() -> None:
    assert TrainConfig().stream_seed == 0
    config = TrainConfig(seed=3, train_seed=7)
    assert (config.seed, config.stream_seed) == (3, 7)


def test_the_resize_degradation_reaches_down_to_small_faces_when_asked() -> None:
    from facetrust.synthesis.degrade import DegradeConfig

    assert TrainConfig().degrade_config == DegradeConfig()  # the defaults keep earlier recipes' streams
    cfg = load_config(TrainConfig, None, ["downscale_p=0.45", "downscale_min=0.2"])
    assert cfg.degrade_config.downscale_p == 0.45 and cfg.degrade_config.downscale_range == (0.2, 0.9)
    with pytest.raises(ConfigError, match="downscale_min"):
        load_config(TrainConfig, None, ["downscale_min=0.01"])


def test_the_time_shifted_mouth_family_is_for_frame_models_and_a_share() -> None:
    assert load_config(TrainConfig, None, ["sbi_time_shift_share=0.5"]).sbi_time_shift_share == 0.5
    with pytest.raises(ConfigError, match="sbi_time_shift_share must be in"):
        load_config(TrainConfig, None, ["sbi_time_shift_share=1.5"])
    with pytest.raises(ConfigError, match="applies to frame models"):
        load_config(TrainConfig, None, ["architecture=efficientnet_lite0_lstm", "frozen_blocks=0",
                                        "sbi_time_shift_share=0.5"])
