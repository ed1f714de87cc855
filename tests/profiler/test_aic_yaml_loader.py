"""The LibYAML parser the AI Configurator adapter swaps in reads AI Configurator's own files identically."""

from pathlib import Path

import aiconfigurator_core
import yaml

from profiler.estimate.aic import _sdk


def test_libyaml_and_pure_python_loaders_agree_on_every_bundled_yaml_file():
    files = sorted(Path(aiconfigurator_core.__file__).parent.rglob("*.yaml"))
    assert len(files) > 100
    for path in files:
        text = path.read_bytes()
        assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader), path


def test_only_ai_configurators_database_module_sees_the_swap():
    database = _sdk()
    assert database.yaml.SafeLoader is yaml.CSafeLoader
    assert yaml.SafeLoader is not yaml.CSafeLoader
    assert yaml.safe_load("a: [1, 2]") == {"a": [1, 2]}
