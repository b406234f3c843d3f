"""Chunk reduction and vectorised measures: the same numbers, bit for bit, as adding
every block's statistics in block order and computing each condition's measures alone."""
import math

import numpy as np
import pytest

from scedsim.simulate.measures import (COLUMNS, Rule, StatsFolder, add_stats, block_stats, chunk_stats,
                                       fold_stats, measures_from_stats, measures_table)

RULES = (Rule.parse("m <= 0.25"), Rule.parse("count(m <= 0.25) >= 2"))


def _block(rng, reps=50, cases=3, ci=True, missing_key=False):
    x = rng.normal(size=(reps, cases)) * 10.0 ** rng.uniform(-3, 3)
    x[rng.random(x.shape) < 0.1] = np.nan
    d = np.round(rng.random((reps, cases)) * 4) / 4  # a discrete metric
    lo, hi = x - rng.random(x.shape), x + rng.random(x.shape)
    if not ci:
        lo[:] = np.nan
    values = {("A:B", "m", "case"): {"estimate": d},
              ("A:B", "x", "case"): {"estimate": x, "ci_lower": lo, "ci_upper": hi},
              ("A:B", "count(m <= 0.25)", "count"): {"estimate": (d <= 0.25).sum(axis=1).astype(float)}}
    if not missing_key:
        values[("A:B", "x", "mean")] = {"estimate": np.nanmedian(np.where(np.isnan(x), 0.0, x), axis=1)}
    est = {("A:B", "x", "case"): {"limit": 0.1, "design": 0.2, "limit_mcse": 0.01},
           ("A:B", "m", "case"): {"limit_by_case": [0.5, 0.25, 0.75]}}
    return block_stats(values, est, RULES, {"m"}, {"x"})  # x keeps an error histogram


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert list(a[key]) == list(b[key]) or set(a[key]) == set(b[key]), key
        for f, v in a[key].items():
            w = b[key][f]
            if f == "ehist":  # the fold gives (bins, counts) arrays, add_stats a dict
                v, w = (dict(zip(*(a.tolist() for a in h))) if isinstance(h, tuple) else h for h in (v, w))
                assert v == w, (key, f)
            elif isinstance(v, np.ndarray) or isinstance(w, np.ndarray):
                np.testing.assert_array_equal(v, w, err_msg=f"{key} {f}")
            else:
                assert v == w, (key, f, v, w)


@pytest.mark.parametrize("layout", ["same", "no_ci_in_one_block", "a_key_missing"])
def test_fold_equals_blockwise_add_for_any_chunking(layout):
    rng = np.random.default_rng(7)
    blocks = [(j, _block(rng, ci=not (layout == "no_ci_in_one_block" and j in (0, 3)),
                         missing_key=layout == "a_key_missing" and j == 2)) for j in range(7)]
    expected: dict = {}
    for _, st in blocks:
        add_stats(expected, st)
    for sizes in ((7,), (4, 3), (1, 1, 1, 1, 1, 1, 1), (3, 4)):
        chunks, start = [], 0
        for size in sizes:
            chunks.append(chunk_stats(blocks[start:start + size][::-1]))  # any order within a chunk
            start += size
        # Blocks with the same keys travel compact (a few vectors); others key by key.
        assert ("layout" in chunks[0]) == (layout != "a_key_missing" or sizes[0] < 3)
        for order in (chunks, chunks[::-1]):  # chunks arrive in any order
            got = fold_stats(order)
            _same(got, expected)


def test_folder_streams_and_skips_failed_blocks():
    """A failed block (here block 4) is missing from its chunk; the chunk's range still
    says where the next one starts.  Early chunks wait; nothing else is kept."""
    rng = np.random.default_rng(11)
    blocks = [(j, _block(rng)) for j in range(9) if j != 4]
    expected: dict = {}
    for _, st in blocks:
        add_stats(expected, st)
    chunks = [chunk_stats([b for b in blocks if lo <= b[0] < lo + 3], lo, min(lo + 3, 9)) for lo in (0, 3, 6)]
    folder = StatsFolder()
    folder.add(chunks[2])
    folder.add(chunks[1])
    assert sorted(folder.pending) == [3, 6] and folder.acc is None
    with pytest.raises(ValueError, match="wait for block 0"):
        folder.result()
    folder.add(chunks[0])
    assert not folder.pending and folder.next == 9
    _same(folder.result(), expected)


def test_measures_of_many_conditions_at_once_equal_each_alone():
    rng = np.random.default_rng(3)
    stats, ests = [], []
    for c in range(5):
        total: dict = {}
        for _ in range(3):
            add_stats(total, _block(rng, cases=3))
        stats.append(total)
        ests.append({("A:B", "x", "case"): {"limit": 0.1 * c, "design": 0.0 if c == 2 else 0.2,
                                            "design_mcse": math.nan}})
    stats.append({})  # a condition whose every block failed: no rows
    ests.append({})
    cols, owner = measures_table(stats, ests)
    rows = [dict(zip(COLUMNS, r)) for r in zip(*(cols[c] for c in COLUMNS))]
    alone = [(i, r) for i, (st, est) in enumerate(zip(stats, ests)) for r in measures_from_stats(st, est)]
    assert len(rows) == len(alone) and list(owner) == [i for i, _ in alone]
    for got, (_, want) in zip(rows, alone):
        assert got.keys() == want.keys()
        for k in got:
            g, w = got[k], want[k]
            assert g == w or (isinstance(g, float) and math.isnan(g) and math.isnan(w)), (k, g, w)
    measures = {r["measure"] for r in rows}
    assert {"mean", "empirical_se", "bias", "rmse", "coverage", "ci_width", "probability",
            "rejection_rate", "relative_bias", "estimand"} <= measures
    # theta = 0 (design target of condition 2) has no relative bias.
    assert not any(r["measure"] == "relative_bias" and o == 2 and r["estimand"] == "design"
                   for r, o in zip(rows, owner))


def test_resume_reads_checkpoints_of_per_block_statistics(tmp_path, monkeypatch):
    """A results folder whose chunk files hold per-block statistics (written before
    chunks were reduced) resumes to the numbers of a fresh run."""
    import pickle

    from scedsim.simulate import Study, run
    from scedsim.simulate import runner

    study = Study(design="A3 B4", grid={"phi": [0.0, 0.5]}, metrics=["nap", "ird"], n_cases=2, n_reps=500,
                  block_size=100, chunk_size=200, rules=["ird >= 0.7", "count(ird >= 0.7) >= 1"], seed=3,
                  estimands=False)
    fresh = run(study, out=tmp_path / "fresh", quiet=True)
    out = tmp_path / "old"
    run(study, out=out, quiet=True)
    conds = study.conditions.to_dict("records")
    with monkeypatch.context() as m:
        m.setattr(runner, "chunk_stats", lambda blocks, first=None, end=None: blocks)
        for path in sorted((out / "chunks").glob("*.pkl")):
            i, k = (int(part[1:]) for part in path.stem.split("_"))
            res = runner._chunk_work(study, i, conds[i], k, {})
            res["blocks"] = res.pop("stats")
            path.write_bytes(pickle.dumps(res))
    (out / "summary.csv").unlink()
    resumed = run(study, out=out, resume=True, quiet=True)
    assert resumed.summary.equals(fresh.summary)
    # Read, not recomputed: every chunk file still holds per-block statistics.
    files = sorted((out / "chunks").glob("*.pkl"))
    assert len(files) == 2 * 3 and all("blocks" in pickle.loads(f.read_bytes()) for f in files)
