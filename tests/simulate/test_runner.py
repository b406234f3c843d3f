"""The runner: reproducibility, checkpoints and resume, errors, backends."""
import math
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import scedsim
from scedsim.simulate import Design, Study, run

SRC = str(pathlib.Path(scedsim.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def small_study(**kw):
    base = dict(design="A3 B4", grid={"phi": [0.0, 0.5], "level": [0.0, 1.0]},
                metrics=["nap", "ird", "pnd", "tau_bc"], n_cases=3, n_reps=900, seed=7, block_size=100,
                rules=["ird >= 0.7"], n_design=3000)
    base.update(kw)
    return Study(**base)


def assert_same(r1, r2):
    pd.testing.assert_frame_equal(r1.summary, r2.summary, check_exact=True)
    pd.testing.assert_frame_equal(r1.estimands, r2.estimands, check_exact=True)


def test_identical_for_n_jobs_chunks_and_backends():
    ref = run(small_study(chunk_size=100), quiet=True)
    assert_same(ref, run(small_study(chunk_size=400), n_jobs=2, quiet=True))
    assert_same(ref, run(small_study(chunk_size=900), n_jobs=2, backend="threading", quiet=True))
    assert_same(ref, run(small_study(chunk_size=300), n_jobs=2, backend="multiprocessing", quiet=True))
    # A different seed or block size gives different (but valid) numbers.
    other = run(small_study(seed=8), quiet=True)
    assert not other.summary.value.equals(ref.summary.value)


def test_seeds_and_conditions_are_reported():
    res = run(small_study(keep_raw=True), quiet=True)
    assert len(res.seeds) == 4 * 9 and res.seeds.spawn_key.str.endswith(",8").sum() == 4
    assert list(res.conditions.status) == ["ok"] * 4
    assert set(res.summary.columns[:2]) == {"phi", "level"}
    # Re-create one block's data from its stored seed and recompute its first NAP.
    key = tuple(int(v) for v in res.seeds.spawn_key[0].split(","))
    seq = np.random.SeedSequence(int(res.seeds.entropy[0]), spawn_key=key)
    y = scedsim.simulate.get_model("normal_ar1").generate(Design.parse("A3 B4", n_cases=3), {"phi": 0.0, "level": 0.0},
                                                          np.random.default_rng(seq), 100)
    first = res.raw[(res.raw.phi == 0.0) & (res.raw.level == 0.0) & (res.raw.metric == "nap")].iloc[0]
    assert scedsim.nap(y[0, 0, :3], y[0, 0, 3:]).estimate == first.estimate
    # Seeds follow a condition's parameters, not its position: filtering keeps them.
    sub = run(small_study(filter="level == 1.0"), quiet=True)
    a = res.summary[res.summary.level == 1.0].reset_index(drop=True)
    b = sub.summary.reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="value"), b.drop(columns="value"))
    np.testing.assert_array_equal(a.value.to_numpy(), b.value.to_numpy())


def test_resume_recomputes_only_missing_chunks(tmp_path):
    out = tmp_path / "res"
    study = small_study(chunk_size=200)
    full = run(study, out=out, quiet=True)
    chunks = sorted((out / "chunks").glob("*.pkl"))
    assert len(chunks) == 4 * 5
    for p in chunks[::3]:
        p.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / "chunks").glob("*.pkl")}
    again = run(study, out=out, resume=True, quiet=True)
    assert_same(full, again)
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # untouched
    assert len(list((out / "chunks").glob("*.pkl"))) == 20



def test_conditions_finished_in_workers_are_kept_and_resumed(tmp_path):
    """In parallel a condition wholly in one task comes back as its measures and is kept
    as one file; a resumed run (any n_jobs) reads those files and the chunk files of
    split conditions, and recomputes what is missing, to the same numbers."""
    from scedsim.simulate.runner import _batches, finished_chunks

    study = small_study(chunk_size=100, estimands=False, grid={"phi": [0.0, 0.3, 0.5, 0.7], "level": [0.0, 1.0]})
    ref = run(study, quiet=True)
    out = tmp_path / "res"
    assert_same(ref, run(study, n_jobs=2, backend="threading", out=out, quiet=True))
    conds = study.conditions.to_dict("records")
    pending = [(i, k) for i in range(len(conds)) for k in range(9)]
    # The tasks run, hence the files written: whole conditions and the chunks of split ones.
    whole = set(range(8)) - _split(_batches(study, conds, pending, 2))
    files = sorted(p.name for p in (out / "chunks").glob("*.pkl"))
    assert whole and len(whole) < 8
    assert [f for f in files if f.endswith("_all.pkl")] == [f"c{i:05d}_all.pkl" for i in sorted(whole)]
    assert len(files) == len(whole) + 9 * (8 - len(whole)) and finished_chunks(out, 9) == 72
    # Lose one whole condition and one chunk of a split one, and one damaged whole file.
    gone = sorted(whole)[0]
    (out / "chunks" / f"c{gone:05d}_all.pkl").unlink()
    split = min(set(range(8)) - whole)
    (out / "chunks" / f"c{split:05d}_k00004.pkl").unlink()
    assert finished_chunks(out, 9) == 72 - 9 - 1
    if len(whole) > 1:
        (out / "chunks" / f"c{sorted(whole)[1]:05d}_all.pkl").write_bytes(b"garbage")
    (out / "summary.csv").unlink()
    assert_same(ref, run(study, n_jobs=1, out=out, resume=True, quiet=True))
    assert finished_chunks(out, 9) == 72  # the damaged file replaced by its chunks
    # Damaged chunk files are removed and recomputed; a condition never counts more than
    # its chunks, whatever files it has.
    for k in range(9):
        (out / "chunks" / f"c{split:05d}_k{k:05d}.pkl").write_bytes(b"garbage")
    (out / "summary.csv").unlink()
    assert_same(ref, run(study, n_jobs=2, backend="threading", out=out, resume=True, quiet=True))
    assert finished_chunks(out, 9) == 72
    (out / "chunks" / f"c{split:05d}_k00000.pkl").write_bytes(b"x")
    (out / "chunks" / f"c{split:05d}_all.pkl").write_bytes(b"x")
    assert finished_chunks(out, 9) == 72
    (out / "summary.csv").unlink()
    assert_same(ref, run(study, n_jobs=2, backend="threading", out=out, resume=True, quiet=True))

def test_changed_or_existing_study_is_refused(tmp_path):
    out = tmp_path / "res"
    run(small_study(), out=out, quiet=True)
    with pytest.raises(ValueError, match="pass resume=True"):
        run(small_study(), out=out, quiet=True)
    with pytest.raises(ValueError, match="different study"):
        run(small_study(n_reps=1000), out=out, resume=True, quiet=True)



def test_resume_refuses_results_of_other_code(tmp_path, monkeypatch):
    """study.json keeps a fingerprint of the code behind the numbers; resuming with other
    code (another scedsim, an edited model or metric) is refused, since kept chunks and
    estimands would mix two sets of numbers.  A directory from before the check (no
    code recorded) resumes as before."""
    import json

    from scedsim.simulate import runner

    out = tmp_path / "res"
    study = small_study(estimands=False)
    full = run(study, out=out, quiet=True)
    meta = json.loads((out / "study.json").read_text())
    assert meta["code"] == runner._results_code(study)
    (out / "summary.csv").unlink()
    assert_same(full, run(study, out=out, resume=True, quiet=True))  # same code: fine
    monkeypatch.setattr(runner, "_results_code", lambda s: "0123456789abcdef")
    with pytest.raises(ValueError, match=r"computed by other code .* run the study afresh"):
        run(study, out=out, resume=True, quiet=True)
    # A fresh directory with the other code is fine; one without a recorded code resumes.
    run(study, out=tmp_path / "new", quiet=True)
    del meta["code"]
    (out / "study.json").write_text(json.dumps(meta))
    assert_same(full, run(study, out=out, resume=True, quiet=True))

def _flaky(design, params, rng, n_reps):
    if params.get("boom") and rng.random() < 0.5:
        raise RuntimeError("injected failure")
    return rng.normal(size=(n_reps, design.n_cases, design.n_time))


def test_errors_are_counted_logged_and_not_fatal():
    study = Study(design="A3 B4", model=_flaky, grid={"boom": [0, 1]}, metrics=["nap"], n_reps=2000,
                  block_size=100, seed=3, estimands=False, max_error_rate=0.2)
    res = run(study, n_jobs=2, quiet=True)
    conds = res.conditions.set_index("boom")
    assert conds.loc[0, "n_errors"] == 0 and conds.loc[0, "status"] == "ok"
    assert 3 <= conds.loc[1, "n_errors"] <= 17 and conds.loc[1, "status"] == "failed"
    assert set(res.errors.error) == {"RuntimeError"} and set(res.errors.condition) == {1}
    assert res.errors.message.str.contains("injected failure").all()
    n = res.measure("n", boom=1, metric="nap", scope="case").value.iloc[0]
    assert n == 100 * (20 - conds.loc[1, "n_errors"])
    assert set(res.summary[res.summary.boom == 1].status) == {"failed"}


def test_killed_run_resumes_to_identical_results(tmp_path):
    study_file = tmp_path / "s.toml"
    study_file.write_text(textwrap.dedent("""
        name = "killme"
        design = "A3 B4"
        n_cases = 6
        n_reps = 6000
        block_size = 200
        chunk_size = 200
        seed = 11
        n_design = 2000
        metrics = ["nap", "ird", "tau_u"]
        [grid]
        phi = [0.0, 0.3, 0.6]
        level = [0.0, 1.0]
        """))
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "scedsim.cli", "simulate", str(study_file), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if len(list((out / "chunks").glob("*.pkl"))) >= 5 or proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list((out / "chunks").glob("*.pkl")))
    assert 0 < done < 6 * 30, "the run was not interrupted mid-way"
    subprocess.run(cmd + ["--resume"], env=env, check=True, capture_output=True)
    fresh = tmp_path / "fresh"
    subprocess.run(cmd[:5] + ["--out", str(fresh), "--quiet"], env=env, check=True, capture_output=True)
    a = pd.read_csv(out / "summary.csv")
    b = pd.read_csv(fresh / "summary.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_dask_localcluster_equals_local():
    distributed = pytest.importorskip("distributed")
    ref = run(small_study(), quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        res = run(small_study(), n_jobs=2, backend="dask", quiet=True)
    assert_same(ref, res)


def test_study_validation():
    with pytest.raises(ValueError, match="unknown metric or test 'napp'"):
        Study(metrics=["napp"])
    with pytest.raises(ValueError, match="has no parameter"):
        Study(grid={"rho": [0.1]})
    with pytest.raises(ValueError, match="names metric 'tau'"):
        Study(metrics=["nap"], rules=["tau > 0.5"])
    with pytest.raises(ValueError, match="cannot read decision rule"):
        Study(metrics=["nap"], rules=["nap is big"])
    with pytest.raises(ValueError, match="leave no condition"):
        Study(grid={"phi": [0.1]}, filter="phi > 0.5")
    s = Study(grid={"phi": [0.0, 0.3], "level": [0, 1]}, filter=lambda r: not (r["phi"] > 0 and r["level"] == 0))
    assert len(s.conditions) == 3


def test_cli_simulate_and_report(tmp_path):
    study_file = tmp_path / "tiny.toml"
    study_file.write_text(textwrap.dedent("""
        design = "A3 B4"
        n_cases = 2
        n_reps = 400
        block_size = 100
        seed = 1
        n_design = 2000
        metrics = ["nap", "ird"]
        rules = ["ird >= 0.7"]
        [grid]
        phi = [0.0, 0.5]
        level = [0.0, 1.0]
        [report]
        distributions = ["ird"]
        [[check]]
        name = "E[IRD] = 11/30"
        where = { phi = 0.0, level = 0.0 }
        metric = "ird"
        measure = "mean"
        expected = "11/30"
        [[check]]
        name = "a fact that is false"
        where = { phi = 0.0, level = 0.0 }
        metric = "ird"
        measure = "mean"
        expected = 0.9
        """))
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "res"
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "simulate", str(study_file), "--out", str(out)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "4 condition(s), 0 failed block(s)" in r.stdout
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "report", str(out)], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    report = (out / "report.md").read_text()
    assert "Rejection rates" in report and "means.png" in report
    assert (out / "means.png").stat().st_size > 5000 and (out / "ird_distribution.png").exists()
    # The declared facts are checked: the true one agrees, the false one is flagged.
    assert "| E[IRD] = 11/30 | 0.3667 |" in report and "yes" in report.split("E[IRD] = 11/30")[1].split("\n")[0]
    assert "NO" in report.split("a fact that is false")[1].split("\n")[0]
    bad = tmp_path / "bad.toml"
    bad.write_text('design = "A3 B4"\nmetricz = ["nap"]\n')
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "simulate", str(bad)], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 2 and "unknown key(s) metricz" in r.stderr and "Traceback" not in r.stderr


def test_missing_occasions_and_multiple_baseline():
    """Missing occasions keep every metric batched (grouped by pattern); a phase left
    empty gives NaN and lowers valid_share; multiple-baseline cases use their own phases."""
    study = Study(design="A3 B6 | A4 B5 | A5 B4", grid={"missing_rate": [0.0, 0.3]}, metrics=["nap", "ird", "pet"],
                  n_reps=600, block_size=200, seed=4, n_design=2000)
    res = run(study, quiet=True)
    vs = res.measure("valid_share", metric="pet", scope="case").set_index("missing_rate").value
    assert vs.loc[0.0] == 1.0 and 0.8 < vs.loc[0.3] < 1.0   # PET needs 2 baseline points
    n = res.measure("n", metric="nap", scope="case").set_index("missing_rate").value
    assert n.loc[0.0] == 1800
    with pytest.raises(ValueError, match="has no standard error"):
        Study(metrics=["pnd"], rules=["pnd.ci_lower > 0.5"])


def test_raw_estimates_and_saved_tables(tmp_path):
    from scedsim.simulate import load_result

    study = Study(design="A3 B4", grid={"level": [0.0, 1.0]}, metrics=["nap", "ird"], n_cases=2, n_reps=300,
                  block_size=100, seed=2, keep_raw=True, estimands=False)
    res = run(study, out=tmp_path / "r", quiet=True)
    raw = res.raw
    assert len(raw) == 2 * 2 * 300 * 2 and set(raw.columns) >= {"level", "metric", "rep", "case", "estimate"}
    # The raw values reproduce the summary's means exactly.
    mean = raw[(raw.level == 1.0) & (raw.metric == "ird")].estimate.mean()
    s = res.measure("mean", level=1.0, metric="ird", scope="case").value.iloc[0]
    assert mean == pytest.approx(s, rel=1e-12)
    back = load_result(tmp_path / "r")
    pd.testing.assert_frame_equal(back.summary.drop(columns=["estimand", "rule"]),
                                  res.summary.drop(columns=["estimand", "rule"]), check_dtype=False)
    assert back.raw is not None and len(back.raw) == len(raw)


def test_review_fixes(tmp_path):
    """Direction in the estimands, per-case targets in multiple baselines, refused grid
    names, wrong metric options caught early, fingerprints that see the design."""
    inc = run(Study(design="A3 B4", grid={"level": [1.0]}, metrics=["nap"], n_reps=500, seed=1, n_design=4000),
              quiet=True)
    dec = run(Study(design="A3 B4", grid={"level": [-1.0]}, metrics=["nap"], n_reps=500, seed=1, n_design=4000,
                    improvement="decrease"), quiet=True)
    lim = lambda r: float(r.measure("estimand", metric="nap", scope="case", estimand="limit").value.iloc[0])  # noqa
    assert lim(inc) == pytest.approx(lim(dec))  # a drop of 1 SD is an improvement of 1 SD for "decrease"
    mb = run(Study(design="A3 B9 | A9 B3", metrics=[{"name": "tau_bc", "kendall": True}], n_reps=400, seed=2,
                   block_size=200, n_design=4000), quiet=True)
    est = mb.estimands[mb.estimands.scope == "case"].iloc[0]
    assert len(est.limit_by_case) == 2 and est.limit_by_case[0] == est.limit_by_case[1] == 0.0
    with pytest.raises(ValueError, match="clash with output column"):
        Study(model=_flaky, grid={"value": [1, 2]}, metrics=["nap"])
    with pytest.raises(ValueError, match="unknown ties 'hlaf'"):
        Study(metrics=[{"name": "pem", "ties": "hlaf"}])
    s6 = Study(design=Design.parse("A3 B4", n_cases=6), metrics=["nap"])
    s2 = Study(design=Design.parse("A3 B4", n_cases=2), metrics=["nap"])
    assert s6.fingerprint() != s2.fingerprint()
    assert Study(name="x").fingerprint() == Study(name="y").fingerprint()
    with pytest.raises(ValueError, match="cannot read phase"):
        Design.parse("A3 B4", contrasts=["A:B-1"])


def _always_fails(design, params, rng, n_reps):
    raise RuntimeError("nothing works")


def test_all_blocks_failing_still_reports():
    res = run(Study(model=_always_fails, metrics=["nap"], n_reps=200, block_size=100, estimands=False), quiet=True)
    assert list(res.conditions.status) == ["failed"]
    assert res.summary.measure.tolist() == ["n"] and res.summary.value.tolist() == [0.0]
    assert res.errors["location"].str.contains("test_runner.py:").all()


def test_stacked_grids_models_and_per_design_contrasts():
    study = Study(
        grid=[{"model": ["normal_ar1"], "design": ["A3 B4"], "phi": [0.0, 0.5], "level": [1.0]},
              {"model": ["bounded_scale"], "design": ["A3 B2 C2"], "level": [1.0], "improvement": ["decrease"],
               "center": [40.0]},
              {"model": ["poisson"], "design": ["A3 B4"], "rate": [3.0], "level": [0.5]}],
        contrasts={"A3 B2 C2": ["A:B", "A:C", "A:B+C"]}, metrics=["nap", "ird"], n_cases=2, n_reps=300,
        block_size=100, seed=5, n_design=2000)
    assert len(study.conditions) == 4
    res = run(study, quiet=True)
    assert set(res.conditions.status) == {"ok"}
    bounded = res.summary[res.summary.model == "bounded_scale"]
    assert set(bounded.contrast) == {"A:B", "A:C", "A:B+C"}
    assert set(res.summary[res.summary.model == "poisson"].contrast) == {"A:B"}
    # The bounded scale improves by decreasing: its NAP is oriented so that the effect shows as > .5.
    nap = bounded[(bounded.metric == "nap") & (bounded.measure == "mean") & (bounded.scope == "case")]
    assert (nap.value > 0.6).all()
    # Stacking does not change a condition's seeds: the normal rows equal a run of that grid alone.
    alone = run(Study(grid={"model": ["normal_ar1"], "design": ["A3 B4"], "phi": [0.0, 0.5], "level": [1.0]},
                      metrics=["nap", "ird"], n_cases=2, n_reps=300, block_size=100, seed=5, n_design=2000),
                quiet=True)
    a = res.summary[res.summary.model == "normal_ar1"]
    assert np.array_equal(a.value.to_numpy(), alone.summary.value.to_numpy(), equal_nan=True)


def test_cli_simulate_prints_every_grid_of_a_stack(tmp_path, capsys):
    """A parameter set in one stacked grid only is blank in the other; its rows still print."""
    from scedsim import cli

    study_file = tmp_path / "stack.toml"
    study_file.write_text(textwrap.dedent("""
        design = "A3 B4"
        n_reps = 200
        seed = 3
        n_design = 1000
        metrics = ["nap"]
        [[grid]]
        level = [0.0]
        [[grid]]
        level = [1.0]
        slope = [0.5]
        """))
    assert cli.main(["simulate", str(study_file), "--out", str(tmp_path / "res"), "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "Empty DataFrame" not in out
    lines = [ln for ln in out.splitlines() if " nap " in f" {ln} "]
    assert len(lines) == 2, out


def _split(batches):
    """Conditions whose chunks are in more than one batch."""
    seen: dict = {}
    for n, b in enumerate(batches):
        for i, _ in b:
            seen.setdefault(i, set()).add(n)
    return {i for i, ns in seen.items() if len(ns) > 1}


def test_parallel_tasks_batch_chunks_largest_conditions_first():
    """Every pending chunk in exactly one task, each condition's chunks in order and the
    costliest conditions first; conditions costing at most 1 / (4 x workers) of the
    whole are never split; the batches shrink (guided self-scheduling), so that the
    last ones are single chunks where conditions must be split; one chunk per task
    when the workers outnumber the chunks."""
    from scedsim.simulate.runner import _MAX_BATCH_COST, _batches

    study = small_study(n_cases=2, chunk_size=100, grid={"phi": [0.0, 0.5], "level": [0.0, 1.0, 2.0]})
    conds = study.conditions.to_dict("records")
    pending = [(i, k) for i in range(len(conds)) for k in range(9)]
    pending.remove((2, 4))  # a chunk done before (a resumed run): condition 2 is the cheapest
    lpt = [c for c in pending if c[0] != 2] + [c for c in pending if c[0] == 2]
    for workers in (1, 2, 16):
        batches = _batches(study, conds, pending, workers)
        assert [c for b in batches for c in b] == lpt
        sizes = [len(b) for b in batches]
        assert sizes[0] == max(sizes)
        assert len(batches) < len(pending) or workers == 16
        # Each chunk: 100 replications x (2 cases x 1 contrast + 2) = 400 units; a whole
        # condition 9 x 400, the whole 53 x 400.  Split: conditions above 1 / (4 x
        # workers) of the whole, and the last one per worker.
        big = set(range(6)) if 9 > 53 / (4 * workers) else set()
        last = set(list(dict.fromkeys(i for i, _ in lpt))[-workers:]) if workers > 1 else set()
        assert _split(batches) <= big | last and (workers == 1) == (not _split(batches))
    assert sizes[-1] == 1
    assert all(len(b) == 1 for b in _batches(study, conds, pending, 100))
    # One worker: a first target of 53 / 4 = 13.25 chunks; the batch stops at the end
    # of a condition within [0.5, 1.5] x target, so two whole ones.
    assert _batches(study, conds, pending, 1)[0] == pending[:18]
    big = small_study(n_reps=1_000_000, block_size=1000, chunk_size=1000, n_cases=6)
    rows = big.conditions.to_dict("records")
    cost = 1000 * (6 + 2)
    todo = [(i, k) for i in range(len(rows)) for k in range(1000)]
    capped = _batches(big, rows, todo, 1)
    assert max(len(b) for b in capped) * cost <= _MAX_BATCH_COST + cost and len(capped[0]) == len(capped[1])


def test_batches_keep_conditions_whole_and_put_cheap_ones_last():
    """Conditions of different costs: the costly ones first (Graham's LPT order), the
    cheap ones last, where they balance the workers' ends; small conditions whole;
    a batch ends at a condition's end where that keeps it near its target."""
    from scedsim.simulate.runner import _batches

    study = small_study(chunk_size=100, grid={"n_cases": [1, 6, 3], "phi": [0.0, 0.5, 0.9, 0.95]})
    conds = study.conditions.to_dict("records")
    pending = [(i, k) for i in range(len(conds)) for k in range(9)]
    cost = {i: 9 * 100 * (row["n_cases"] + 2) for i, row in enumerate(conds)}
    total = sum(cost.values())
    for workers in (1, 2, 3, 8):
        batches = _batches(study, conds, pending, workers)
        flat = [c for b in batches for c in b]
        assert sorted(flat) == pending
        order = list(dict.fromkeys(i for i, _ in flat))
        assert [cost[i] for i in order] == sorted(cost.values(), reverse=True)
        assert order == sorted(order, key=lambda i: -cost[i])  # stable: ties in condition order
        assert all([k for j, k in flat if j == i] == list(range(9)) for i in order)
        big = {i for i in cost if cost[i] > total / (4 * workers)}
        last = set(order[-workers:]) if workers > 1 else set()
        assert _split(batches) <= big | last and (workers == 1) == (not _split(batches))


def test_simulated_schedule_of_the_batches_is_near_ideal():
    """With each chunk's time its cost, list scheduling of the batches (each task to
    the first free worker) ends within a few per cent of the perfect balance: the
    largest conditions first, the small ones and the chunks of split ones last."""
    import heapq

    from scedsim.simulate.runner import _batches

    study = small_study(chunk_size=100, grid={"n_cases": [1, 6, 3, 2], "phi": [0.0, 0.3, 0.5, 0.7, 0.9]})
    conds = study.conditions.to_dict("records")
    pending = [(i, k) for i in range(len(conds)) for k in range(9)]
    time = {(i, k): 100 * (conds[i]["n_cases"] + 2) for i, k in pending}
    total = sum(time.values())
    for workers in (2, 4, 8, 16):
        free = [0.0] * workers
        for b in _batches(study, conds, pending, workers):
            heapq.heappush(free, heapq.heappop(free) + sum(time[c] for c in b))
        assert max(free) <= total / workers * 1.06, workers


def test_warm_estimands_are_read_in_the_parent(monkeypatch):
    """A warm cache is read in the parent process, one file per condition, and
    sends no task; a cold one is computed in tasks (once per condition)."""
    from scedsim.simulate import runner

    calls = []
    real = runner.compute_estimands

    def spy(*a, **kw):
        calls.append(kw.get("only_cached", False))
        return real(*a, **kw)

    monkeypatch.setattr(runner, "compute_estimands", spy)
    cold = run(small_study(), n_jobs=1, quiet=True)
    assert calls == [True] * 4 + [False] * 4
    calls.clear()
    warm = run(small_study(), n_jobs=1, quiet=True)
    assert calls == [True] * 4
    assert_same(cold, warm)


def test_progress_estimates_the_time_left_from_the_cost_left(monkeypatch, capsys):
    """Costly conditions run first, so the time left is the estimated cost left at the
    rate so far, not the count of chunks left: after the first chunk (start-up), one of
    cost 8 in 2 s leaves 4 chunks of cost 3 (12 units) = 3 s, where counting chunks
    would say 8 s."""
    from scedsim.simulate import runner

    clock = iter([0.0, 10.0, 12.0, 13.0])
    monkeypatch.setattr(runner.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(runner._Progress, "MIN_LEFT_SECONDS", 0.0)
    bar = runner._Progress(6, "s", quiet=False, weight=8 + 8 + 4 * 3)
    bar.update(1, 8.0)   # t = 10: the first chunk (start-up before it is not work)
    bar.update(1, 8.0)   # t = 12: the rate, 8 units in 2 s
    assert bar._left(12.0) == 3.0
    assert "about 3 s left" in capsys.readouterr().err
    # Without weights, items count alike (the old estimate).
    plain = runner._Progress(6, "s", quiet=True)
    plain.done, plain.w_done, plain.w_first, plain.first = 2, 2.0, 1.0, 10.0
    assert plain._left(12.0) == 8.0
    bar.close()
    plain.close()
