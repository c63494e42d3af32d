"""Which build of the `loco` extension a bench script measures: a debug build is refused (exit 3,
`UNAVAILABLE: ...`, so the row says why it is not measured) unless LOCO_BENCH_ALLOW_DEBUG is set,
as `./scripts/bench --quick` does for its smoke run. Scripts add `build=PROFILE` to their RESULT
lines so the table names the build it measured."""

from __future__ import annotations

import os
import sys
from types import ModuleType


def checked_profile(loco: ModuleType) -> str:
    """The extension's build profile, once it may be measured."""
    profile = str(getattr(loco, "BUILD_PROFILE", "unknown"))
    if profile != "release" and not os.environ.get("LOCO_BENCH_ALLOW_DEBUG"):
        print(
            f"UNAVAILABLE: {getattr(loco, '_loco', loco).__file__} is a {profile} build, which the bench does not time "
            "(./scripts/bench builds a release wheel; LOCO_BENCH_ALLOW_DEBUG=1 measures it anyway)"
        )
        sys.exit(3)
    return profile
