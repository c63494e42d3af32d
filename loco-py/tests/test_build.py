"""``loco.BUILD_PROFILE`` says how the extension was compiled, so a benchmark can refuse a debug
build instead of timing it. ``scripts/test-python`` builds a debug extension and says so in
``LOCO_EXPECT_BUILD_PROFILE``."""

from __future__ import annotations

import os

import loco


def test_the_build_profile_names_how_the_extension_was_compiled() -> None:
    assert loco.BUILD_PROFILE in ("debug", "release")
    assert "BUILD_PROFILE" in loco.__all__
    expected = os.environ.get("LOCO_EXPECT_BUILD_PROFILE")
    if expected is not None:
        assert loco.BUILD_PROFILE == expected
