"""Job-file validation: every error names the file, the line and the fix."""

import pytest

from hpcmicro.config import load_job
from hpcmicro.errors import ConfigError

GOOD = """\
[job]
workload = "synthetic"
output = "out.h5"
scheduler = "steal"

[synthetic]
n_tasks = 10
distribution = "pareto"
"""


def _err(text, tmp_path, **kw):
    p = tmp_path / "j.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_job(p, environ={}, **kw)
    return str(e.value)


def test_good_file_and_defaults(tmp_path):
    p = tmp_path / "j.toml"
    p.write_text(GOOD)
    cfg = load_job(p, environ={})
    assert cfg.job.scheduler == "steal" and cfg.job.max_attempts == 3
    assert cfg.params.n_tasks == 10 and cfg.params.distribution == "pareto"
    assert cfg.params.mean_ms == 5.0
    assert cfg.base_dir == tmp_path


def test_bad_choice_names_line_and_choices(tmp_path):
    msg = _err(GOOD.replace('"pareto"', '"zipf"'), tmp_path)
    assert "j.toml:8:" in msg and "[synthetic.distribution]" in msg
    assert "choose from constant, uniform, lognormal, pareto" in msg


def test_unknown_key_and_table(tmp_path):
    msg = _err(GOOD + "n_task = 3\n", tmp_path)
    assert "j.toml:9:" in msg and "unknown key 'n_task'" in msg and "n_tasks" in msg
    msg = _err(GOOD + "[align]\nx = 1\n", tmp_path)
    assert "j.toml:9:" in msg and "unknown table [align]" in msg


def test_types_ranges_nan(tmp_path):
    assert "wrong type: expected a int" in _err(GOOD.replace("n_tasks = 10", 'n_tasks = "10"'), tmp_path)
    assert ">= 1" in _err(GOOD.replace("n_tasks = 10", "n_tasks = 0"), tmp_path)
    assert "not a finite number" in _err(GOOD + "mean_ms = nan\n", tmp_path)
    assert "must be > 1" in _err(GOOD + "alpha = 1.0\n", tmp_path)
    assert "wrong type" in _err(GOOD.replace("n_tasks = 10", "n_tasks = true"), tmp_path)


def test_toml_syntax_error_has_line(tmp_path):
    msg = _err(GOOD + "mean_ms = = 3\n", tmp_path)
    assert "invalid TOML" in msg and "line 9" in msg


def test_missing_job_table_and_workload(tmp_path):
    assert "no [job] table" in _err("[synthetic]\nn_tasks = 1\n", tmp_path)
    assert "unknown workload 'nope'" in _err(GOOD.replace('"synthetic"\noutput', '"nope"\noutput'), tmp_path)


def test_layering_env_then_set(tmp_path):
    p = tmp_path / "j.toml"
    p.write_text(GOOD)
    cfg = load_job(p, environ={"HPCMICRO_JOB_SCHEDULER": "dynamic", "HPCMICRO_SYNTHETIC_N_TASKS": "7"})
    assert cfg.job.scheduler == "dynamic" and cfg.params.n_tasks == 7
    cfg = load_job(p, environ={"HPCMICRO_JOB_SCHEDULER": "dynamic"},
                   overrides=("job.scheduler=static",), output="o2.h5")
    assert cfg.job.scheduler == "static" and cfg.job.output == "o2.h5"
    with pytest.raises(ConfigError, match="--set job.scheduler=fifo"):
        load_job(p, environ={}, overrides=("job.scheduler=fifo",))
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_job(p, environ={}, overrides=("scheduler",))


def test_cost_noise_accepts_none_literal(tmp_path):
    p = tmp_path / "j.toml"
    p.write_text(GOOD + 'cost_noise = "none"\n')
    assert load_job(p, environ={}).params.cost_noise == "none"
    assert "wrong type" in _err(GOOD + 'cost_noise = "some"\n', tmp_path)


def test_effective_config_ignores_output_and_comments(tmp_path):
    from hpcmicro.store import config_sha256
    p = tmp_path / "j.toml"
    p.write_text(GOOD)
    a = config_sha256(load_job(p, environ={}).effective())
    p.write_text("# comment\n" + GOOD.replace("out.h5", "other.h5"))
    assert config_sha256(load_job(p, environ={}).effective()) == a
    p.write_text(GOOD.replace("n_tasks = 10", "n_tasks = 11"))
    assert config_sha256(load_job(p, environ={}).effective()) != a


def test_check_hook_errors_point_at_key(tmp_path):
    msg = _err(GOOD + "fail_tasks = [99]\n", tmp_path)
    assert "j.toml:9:" in msg and "fail_tasks" in msg
