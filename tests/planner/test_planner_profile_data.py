import json

import numpy as np
import pytest

import planner_profiles as profiles
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.profile_data import ProfileDataError, load_profile_data


def test_json_and_npz_forms_load_the_same_arrays(json_profile, npz_profile):
    from_json, from_npz = load_profile_data(json_profile), load_profile_data(npz_profile)
    assert from_json.sources[0].endswith("prefill_raw_data.json")
    assert from_npz.sources[1].endswith("selected_decode_interpolation/raw_data.npz")
    np.testing.assert_array_equal(from_json.prefill.isl, from_npz.prefill.isl)
    np.testing.assert_array_equal(from_json.decode.itl_ms, from_npz.decode.itl_ms)
    assert from_json.decode.max_kv_tokens == from_npz.decode.max_kv_tokens == profiles.MAX_KV_TOKENS


def test_npz_wins_over_json_as_in_dynamo(json_profile):
    profiles.write_npz_profile(json_profile)
    (json_profile / "prefill_raw_data.json").write_text("not json at all")
    assert load_profile_data(json_profile).sources[0].endswith("raw_data.npz")


def test_missing_directory_names_both_files(tmp_path):
    with pytest.raises(ProfileDataError) as error:
        load_profile_data(tmp_path / "nowhere")
    message = str(error.value)
    assert "selected_prefill_interpolation/raw_data.npz" in message and "prefill_raw_data.json" in message
    assert "--profile-results-dir" in message


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d.pop("prefill_ttft"), "prefill_ttft", "missing"),
    (lambda d: d.__setitem__("prefill_ttft", d["prefill_ttft"][:-1]), "prefill_ttft", "same number"),
    (lambda d: d.__setitem__("prefill_thpt_per_gpu", ["x"] * 6), "prefill_thpt_per_gpu", "list of numbers"),
    (lambda d: d.__setitem__("prefill_isl", [1, 2]), "prefill_isl", "at least 4"),
    (lambda d: d.__setitem__("prefill_isl", [1, 1, 2, 3, 4, 5]), "prefill_isl", "repeated"),
])
def test_bad_prefill_file_names_file_and_field(json_profile, mutate, field, words):
    path = json_profile / "prefill_raw_data.json"
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileDataError) as error:
        load_profile_data(json_profile)
    assert str(path) in str(error.value) and field in str(error.value) and words in str(error.value)


def test_nan_and_bad_max_kv_tokens_in_decode_file(json_profile):
    path = json_profile / "decode_raw_data.json"
    data = json.loads(path.read_text())
    data["z_itl"][3] = float("nan")
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileDataError, match="z_itl.*NaN"):
        load_profile_data(json_profile)
    data["z_itl"][3] = 1.0
    data["max_kv_tokens"] = -5
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileDataError, match="max_kv_tokens.*positive"):
        load_profile_data(json_profile)


def test_prefill_interpolation_hits_profiled_points_and_clamps(json_profile):
    prefill = PrefillInterpolator(load_profile_data(json_profile).prefill)
    assert prefill.ttft_ms(2048) == pytest.approx(profiles.prefill_ttft(2048))
    assert prefill.thpt_per_gpu(1024) == pytest.approx(profiles.prefill_thpt(1024))
    # TTFT is linear in ISL, and a not-a-knot cubic spline reproduces it between the points too
    assert prefill.ttft_ms(3000) == pytest.approx(profiles.prefill_ttft(3000))
    # outside the profiled range the ISL is clamped to it (Dynamo)
    assert prefill.ttft_ms(50_000) == pytest.approx(profiles.prefill_ttft(8192))
    assert prefill.ttft_ms(1) == pytest.approx(profiles.prefill_ttft(128))


def test_decode_grid_lookup_by_hand(json_profile):
    decode = DecodeInterpolator(load_profile_data(json_profile).decode)
    step_y = profiles.MAX_CONTEXT / 99
    # 16 requests of 2500 tokens: kv = 0.4 -> ix = round(0.4 * 99) = 40; iy = round(2500 / (8000 / 99)) = 31
    ix, iy = decode.compute_idx(16, 2500)
    assert (ix, iy) == (40, 31)
    assert decode.itl_ms(16, 2500) == pytest.approx(profiles.decode_itl(ix / 99), abs=1e-5)
    # best throughput at ITL <= 13 ms: 5 + 20 kv <= 13 -> kv <= 0.4 -> ix = floor(0.4 * 99) = 39
    best = decode.find_best_throughput_per_gpu(13.0, 4000)
    assert best.kv_usage == pytest.approx(39 / 99)
    assert best.thpt_per_gpu == pytest.approx(profiles.decode_thpt(39 / 99, round(4000 / step_y) * step_y), abs=1e-4)
    # a target no cell meets falls back to the lowest-usage cell (Dynamo)
    worst = decode.find_best_throughput_per_gpu(1.0, 4000)
    assert worst.kv_usage == 0.0 and worst.itl_ms == pytest.approx(5.0, abs=1e-5)
