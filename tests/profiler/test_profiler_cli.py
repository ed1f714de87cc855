"""`python -m profiler` on the quick-start's DGDRs and on bare profile configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from profiler import profile
from profiler.__main__ import main
from profiler.pipeline import BASE_CONFIGS
from profiler.render.schema import schema_errors
from profiler.request_file import request_from_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "gitops_sla/examples"
AIC_SAMPLE = EXAMPLES / "dynamo-samples/profile_sla_aic_dgdr.yaml"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_quick_start_aic_sample_writes_everything_and_matches_the_api(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "profiler", "--config", str(AIC_SAMPLE), "--output", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0] == "SLA met: default/sla-aic"
    assert "prefill: TP=" in completed.stdout and "decode: TP=" in completed.stdout
    written = _tree(tmp_path / "out")
    # a fresh process gives the same bytes as this one: the output is deterministic across runs
    expected = profile(request_from_file(AIC_SAMPLE, base_config=None, name=None, namespace=None)).files
    assert written == expected
    dgd = yaml.safe_load(written["dgd.yaml"])
    assert schema_errors(dgd) == []
    images = {s["extraPodSpec"]["mainContainer"]["image"] for k, s in dgd["spec"]["services"].items() if k != "Planner"}
    assert images == {"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"}
    assert dgd["metadata"]["labels"]["dgdr.nvidia.com/name"] == "sla-aic"


def test_quick_start_with_an_unbundled_trtllm_version_warns_and_profiles(tmp_path, capsys):
    assert main(["--config", str(EXAMPLES / "quickstart-aic.yaml"), "--output", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "no trtllm 0.20.0 data for h200_sxm" in err and "closest bundled version 1.3.0rc20" in err
    assert "0.20.0" in (tmp_path / "report.md").read_text()


def test_configmap_ref_needs_the_base_file_and_uses_it(tmp_path, capsys):
    request = EXAMPLES / "quickstart-deepseek-r1-configmapref.yaml"
    assert main(["--config", str(request), "--output", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "configMapRef" in err and "deepseek-r1-config" in err and "--base-config FILE" in err
    base = BASE_CONFIGS / "sglang/disagg.yaml"
    assert main(["--config", str(request), "--output", str(tmp_path / "b"), "--base-config", str(base)]) == 0
    out = capsys.readouterr()
    dgd = yaml.safe_load((tmp_path / "b/dgd.yaml").read_text())
    decode_args = dgd["spec"]["services"]["decode"]["extraPodSpec"]["mainContainer"]["args"]
    assert "deepseek-ai/DeepSeek-R1" in decode_args  # served model: spec.model; estimates: aic.model_name
    assert "deepseek-ai/DeepSeek-V3" in (tmp_path / "b/profile.json").read_text()
    assert out.out.startswith(("SLA met", "SLA not attainable"))


def test_bare_profile_config_with_a_relative_base_config(tmp_path, capsys):
    base = yaml.safe_load((BASE_CONFIGS / "vllm/disagg.yaml").read_text())
    base["spec"]["services"]["VllmDecodeWorker"]["replicas"] = 3
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases/mine.yaml").write_text(yaml.safe_dump(base))
    config = {
        "deployment": {"model": "Qwen/Qwen3-8B", "namespace": "ml"},
        "engine": {"backend": "vllm", "config": "bases/mine.yaml"},
        "sweep": {"use_ai_configurator": True, "aic_system": "h100_sxm"},
        "sla": {"isl": 2000, "osl": 200, "ttft": 300, "itl": 25},
        "hardware": {"minNumGpusPerEngine": 1, "maxNumGpusPerEngine": 2},
    }
    (tmp_path / "qwen8b.yaml").write_text(yaml.safe_dump(config))
    assert main(["--config", str(tmp_path / "qwen8b.yaml"), "--output", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.startswith("SLA met: ml/qwen8b")
    dgd = yaml.safe_load((tmp_path / "out/dgd.yaml").read_text())
    assert dgd["spec"]["services"]["VllmDecodeWorker"]["replicas"] == 3  # the user's base config is used
    assert int(dgd["spec"]["services"]["VllmDecodeWorker"]["resources"]["limits"]["gpu"]) <= 2


def test_bad_input_fails_with_the_file_and_field(tmp_path, capsys):
    (tmp_path / "typo.yaml").write_text("deployment: {model: Qwen/Qwen3-8B}\nsla: {ttfd: 3}\nsweep: {zzz: 1}\n")
    assert main(["--config", str(tmp_path / "typo.yaml"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'typo.yaml'}: sla.ttfd: unknown key 'ttfd'; did you mean 'ttft'?" in err
    assert f"{tmp_path / 'typo.yaml'}: sweep.zzz: unknown key 'zzz'; allowed here: aicBackend, " in err
    (tmp_path / "dgdr.yaml").write_text((EXAMPLES / "quickstart-aic.yaml").read_text().replace(
        "aic_system: h200_sxm", "aic_sytem: h200_sxm"))
    assert main(["--config", str(tmp_path / "dgdr.yaml"), "--output", str(tmp_path / "out")]) == 2
    assert ("spec.profilingConfig.config.sweep.aic_sytem: unknown key 'aic_sytem'; did you mean 'aic_system'?"
            in capsys.readouterr().err)
    online = EXAMPLES / "dynamo-samples/profile_sla_dgdr.yaml"
    assert main(["--config", str(online), "--output", str(tmp_path / "out")]) == 2
    assert "set sweep.aicSystem" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_api_version_and_kind_are_checked_not_ignored(tmp_path, capsys):
    text = (EXAMPLES / "quickstart-aic.yaml").read_text()
    for old, new, expected in (
        ("apiVersion: nvidia.com/v1alpha1", "apiVersion: nvidia.com/v9", "apiVersion: 'nvidia.com/v9' is neither nvidia.com/v1alpha1"),
        ("kind: DynamoGraphDeploymentRequest", "kind: DynamoGraphDeployment", "kind: 'DynamoGraphDeployment' (apiVersion"),
    ):
        (tmp_path / "request.yaml").write_text(text.replace(old, new))
        assert main(["--config", str(tmp_path / "request.yaml"), "--output", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'request.yaml'}: {expected}" in err
        assert not (tmp_path / "out").exists()
