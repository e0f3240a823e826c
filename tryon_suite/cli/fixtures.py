"""`tryon-suite fixtures DIR [--limits PROFILE]`: write the fixture images to a folder, to host
them where a remote target can fetch them (then pass --tryon-image-base-url)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tryon_suite.errors import ConfigError, ExitCode, UsageParser
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.schemas import limit_profile


def parser() -> UsageParser:
    parser = UsageParser(
        prog="tryon-suite fixtures",
        description="Write the fixture images to a folder, to host them where a remote target "
        "can fetch them (then pass --tryon-image-base-url).",
    )
    parser.add_argument("folder", type=Path, help="where the images go (created if missing)")
    parser.add_argument("--limits", default=None, help="limit profile (default reference)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        profile = limit_profile(args.limits)
    except ConfigError as exc:
        print(f"tryon-suite fixtures: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    written = FixtureImages(profile).export(args.folder)
    print(f"wrote {len(written)} images to {args.folder}")
    return ExitCode.PASS
