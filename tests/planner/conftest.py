import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import planner_profiles as profiles  # noqa: E402


@pytest.fixture
def json_profile(tmp_path):
    return profiles.write_json_profile(tmp_path / "profile")


@pytest.fixture
def npz_profile(tmp_path):
    return profiles.write_npz_profile(tmp_path / "profile-npz")
