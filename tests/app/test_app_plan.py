"""The app's Plan page through Flask's test client: the page's answer is
``scedsim.plan``'s for the same question, the shown Python code and ``scedsim
plan`` command give the same numbers (the command's --json is the page's
plan.json byte for byte), exact facts (smallest p = 1 / C(m + n, m)) are on the
page, and impossible or malformed questions become messages."""
import html
import json
import math
import re
import shlex
from fractions import Fraction

import pytest
from helpers_app import code_block, errors, need

import scedsim as ss
from scedsim.cli import main

# Small questions: each takes about a second on a loaded 2-core machine.
SMALL = {"design": "AB", "model": "normal_ar1", "phi": "0", "params": "", "effect": "2", "scale": "marginal",
         "rule": ["p_perm_nap <= 0.05"], "rules_text": "", "power": "0.6", "type1": "nominal", "cases": "1",
         "max_occasions": "8", "min_phase": "3", "reps": "100", "max_reps": "200", "type1_reps": "100",
         "seed": "7", "sensitivity": "1", "sens_m": "3", "sens_n": "4"}
SMALL_CALL = dict(design="AB", model="normal_ar1", params={"phi": 0.0}, effect=2.0, rules=["p_perm_nap <= 0.05"],
                  power=0.6, cases="1", max_occasions=8, min_phase=3, type1="nominal", reps=100, max_reps=200,
                  type1_reps=100, seed=7)


@pytest.fixture(scope="module")
def client():
    need("flask", "app")
    from scedsim.app import create_app

    return create_app().test_client()


def _post(client, **changes):
    return client.post("/plan", data=dict(SMALL, **changes))


def _best(page: str, i: int = 0) -> dict:
    m = re.search(rf'<p class="best" id="best-{i}">(.*?)</p>', page, re.S)
    assert m, f"no chosen design for rule {i}: {errors(page)}"
    return dict(re.findall(r'<(?:span|b) class="(design|m|n|cases|power|mcse|type1)">([^<]*)<', m.group(1)))


def _rows(page: str, i: int = 0) -> list:
    table = re.search(rf'<table class="candidates" id="candidates-{i}">(.*?)</table>', page, re.S).group(1)
    out = []
    for cls, body in re.findall(r'<tr data-m="\d+" data-n="\d+" data-cases="\d+" class="([^"]*)">(.*?)</tr>',
                                table, re.S):
        cells = dict(re.findall(r'<td class="([a-z0-9]+)">([^<]*)</td>', body))
        out.append(dict(cells, row_status=cls, reason=html.unescape(cells.get("reason", ""))))
    return out


@pytest.fixture(scope="module")
def small_page(client):
    r = _post(client)
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    return page


def test_plan_form_defaults_are_small_and_offer_the_registry_rules(client):
    page = client.get("/plan").get_data(as_text=True)
    assert 'id="max-occasions" size="4" value="12"' in page and 'id="reps" size="6" value="200"' in page
    for name, t in ss.registry.tests().items():
        assert f'value="{t.prefix}' in page, name  # every registered test has a rule to tick
    assert 'id="run-plan"' in page and 'id="running"' in page  # the "running" note the script shows
    assert "not available in this version" not in page


def test_plan_page_answer_is_the_planners(small_page):
    ref = ss.plan(**SMALL_CALL)
    best = _best(small_page)
    # The sensitivity analysis as `scedsim plan --sensitivity 3,4` runs it.
    from scedsim.plan import detectable_effect

    d = detectable_effect("AB", 3, 4, 1, model="normal_ar1", params={"phi": 0.0}, rule="p_perm_nap <= 0.05",
                          power=0.6, seed=7)
    assert re.search(r'id="detectable">.*?<span class="effect">([^<]*)<', small_page, re.S).group(1) == \
        f"{d.effect:.3f}"
    assert (int(best["m"]), int(best["n"]), int(best["cases"])) == (ref.best["m"], ref.best["n"], ref.best["cases"])
    assert best["power"] == f"{ref.best['power']:.3f}" and best["mcse"] == f"{ref.best['mcse']:.3f}"
    assert best["type1"] == f"{ref.best['type1']:.3f}"
    rows = _rows(small_page)
    assert len(rows) == len(ref.candidates)
    by = {(int(r["m"]), int(r["n"])): r for r in rows}
    for c in ref.candidates.to_dict("records"):
        r = by[(c["m"], c["n"])]
        assert r["status"] == c["status"] and r["reason"] == c["reason"]
        if c["status"] != "pruned":
            assert r["power"] == f"{c['power']:.3f}" and r["mcse"] == f"{c['mcse']:.3f}"
        # Exact fact, independently of the planner: the permutation test's smallest p.
        assert r["minp"] == f"{1 / math.comb(c['m'] + c['n'], c['m']):.4f}"
    # Exchangeable data: the Type I rate is exact, e.g. 3 + 3 points reject in 1 of C(6, 3) = 20.
    assert by[(3, 3)]["type1"] == f"{float(Fraction(1, 20)):.3f}"
    assert 'src="data:image/png;base64,' in small_page


def test_plan_page_code_and_command_reproduce_the_page(client, small_page, tmp_path, capsys, monkeypatch):
    best = _best(small_page)
    ns = {}
    exec(code_block(small_page, "python-code").replace("res.figure().savefig", "(lambda *a, **k: None)"), ns)
    res = ns["res"]
    assert (str(res.best["m"]), str(res.best["n"]), f"{res.best['power']:.3f}") == (best["m"], best["n"],
                                                                                    best["power"])
    capsys.readouterr()
    args = shlex.split(code_block(small_page, "cli-command"))
    assert args[:2] == ["scedsim", "plan"] and args[-4:] == ["--json", "plan.json", "--figure",
                                                             "plan_power_curve.png"]
    monkeypatch.chdir(tmp_path)
    assert main(args[1:]) == 0
    out = capsys.readouterr().out
    assert f"power {best['power']} (MCSE {best['mcse']})" in out
    effect = re.search(r'id="detectable">.*?<span class="effect">([^<]*)<', small_page, re.S).group(1)
    assert f"A3 B4 x1 at power 0.6: {effect} [" in out and f"{res.detectable.effect:.3f}" == effect
    rid = re.search(r'href="/plan/download/([0-9a-f]+)/plan.json"', small_page).group(1)
    got = client.get(f"/plan/download/{rid}/plan.json")
    assert got.status_code == 200
    assert got.get_data(as_text=True) == (tmp_path / "plan.json").read_text()
    assert json.loads(got.get_data(as_text=True))["best"]["m"] == int(best["m"])
    assert (tmp_path / "plan_power_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    heads = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
    for fmt_, head in heads.items():
        r = client.get(f"/plan/download/{rid}/plan_power_curve.{fmt_}")
        assert r.status_code == 200 and r.data[:len(head)] == head, fmt_
    assert client.get(f"/plan/download/{rid}/plan_power_curve_2.png").status_code == 404  # one rule only
    assert client.get("/plan/download/forgotten/plan.json").status_code == 404


def test_two_rules_and_another_model(client):
    """Counts (poisson, rate 5), a ticked rule and a typed one, four and five people: each
    rule's answer and candidates are the planner's, and each has its figure."""
    r = _post(client, model="poisson", params="rate=5", effect="0.6", cases="4-5", max_occasions="7",
              rule=["p_between_nap[method=sign_flip] <= 0.05"], rules_text="count(p_perm_nap <= 0.05) >= 2\n",
              power="0.5")
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    assert page.count('<section class="plan-rule"') == 2
    ref = ss.plan(design="AB", model="poisson", params={"rate": 5, "phi": 0.0}, effect=0.6,
                  rules=["p_between_nap[method=sign_flip] <= 0.05", "count(p_perm_nap <= 0.05) >= 2"], power=0.5,
                  cases="4-5", max_occasions=7, min_phase=3, type1="nominal", reps=100, max_reps=200, type1_reps=100,
                  seed=7)
    assert any(v is not None for v in ref.by_rule.values())
    for i, rule in enumerate(ref.settings["rules"]):
        want = ref.by_rule[rule]
        if want is None:
            assert re.search(rf'<p class="message none" id="best-{i}">No design reaches the target', page)
        else:
            got = _best(page, i)
            assert (int(got["m"]), int(got["n"]), int(got["cases"]), got["power"]) == (
                want["m"], want["n"], want["cases"], f"{want['power']:.3f}")
        powers = {(int(x["m"]), int(x["n"]), int(x["cases"])): x["power"] for x in _rows(page, i)}
        for c in ref.candidates[ref.candidates.rule == rule].to_dict("records"):
            assert powers[(c["m"], c["n"], c["cases"])] == ("" if c["power"] != c["power"] else f"{c['power']:.3f}")
    # Four people: a sign-flip test over 4 people cannot go below 2^-4 = .0625.
    four = [x for x in _rows(page, 0) if x["cases"] == "4"]
    assert four and all(x["status"] == "pruned" and "smallest attainable p = 0.0625" in x["reason"] for x in four)
    assert "--param rate=5" in code_block(page, "cli-command")
    assert "params={'rate': 5, 'phi': 0.0}" in code_block(page, "python-code")
    rid = re.search(r'href="/plan/download/([0-9a-f]+)/plan.json"', page).group(1)
    assert client.get(f"/plan/download/{rid}/plan_power_curve_2.svg").status_code == 200


def test_impossible_questions_say_why(client):
    # 3 + 3 points reach p = 1/20 at best: nothing can reject at .01, so nothing is simulated.
    r = _post(client, rule=[], rules_text="p_perm_nap <= 0.01", max_occasions="6")
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    # The sensitivity analysis (3 + 4 points) cannot detect anything either: said, and the plan still shown.
    assert ("Sensitivity analysis not done: A3 B4: the smallest attainable p of p_perm_nap is 0.02857 > 0.01"
            in html.unescape(page))
    assert "No design reaches the target" in page and "no design up to 6 occasions" in page
    rows = _rows(page)
    assert rows and all(x["status"] == "pruned" for x in rows)
    assert rows[0]["reason"] == "smallest attainable p = 0.05 > 0.01 (20 admissible assignments)"
    # Simulated, but a small effect does not reach the target within 7 occasions.
    page = _post(client, effect="0.5", power="0.9", max_occasions="7", sensitivity="").get_data(as_text=True)
    assert "No design reaches the target" in page and _rows(page)[0]["status"] in ("below", "tied")


def test_alternating_treatments_alpha_and_costs_as_the_cli_asks(client, tmp_path, capsys, monkeypatch):
    """An ATD question with run limits 2 and 3, an alpha and costs: the page's answer is
    the planner's, and its command (with --max-run, --alpha and the costs) writes the
    page's plan.json byte for byte."""
    r = _post(client, design="ATD", rule=["p_atd_mean_diff <= 0.05"], max_run="2-3", alpha="0.06",
              cost_occasion="1", cost_person="10", max_occasions="9", power="0.5", effect="2", sensitivity="")
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    ref = ss.plan("ATD", "normal_ar1", {"phi": 0.0}, effect=2.0, rules=["p_atd_mean_diff <= 0.05"], power=0.5,
                  cases="1", max_occasions=9, min_phase=3, type1="nominal", reps=100, max_reps=200,
                  type1_reps=100, seed=7, alpha=0.06, cost_occasion=1.0, cost_person=10.0, max_run="2-3")
    best = _best(page)
    assert best["design"] == ref.best["design"] and best["power"] == f"{ref.best['power']:.3f}"
    assert ref.best["cost"] == ref.best["occasions"] + 10
    assert '<th>longest run</th>' in page and len(_rows(page)) == len(ref.candidates)
    cmd = code_block(page, "cli-command")
    assert "--max-run 2-3" in cmd and "--alpha 0.06" in cmd and "--cost-person 10" in cmd
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(cmd)[1:]) == 0
    rid = re.search(r'href="/plan/download/([0-9a-f]+)/plan.json"', page).group(1)
    assert client.get(f"/plan/download/{rid}/plan.json").get_data(as_text=True) == \
        (tmp_path / "plan.json").read_text()


@pytest.mark.parametrize("changes,message", [
    ({"phi": "high"}, "phi (the lag-1 autocorrelation) must be a number, got 'high'"),
    ({"phi": "1"}, "phi must lie strictly between -1 and 1"),
    ({"rule": [], "rules_text": ""}, "choose at least one decision rule"),
    ({"rule": [], "rules_text": "p_nonsense <= 0.05"}, "p_nonsense"),
    ({"design": "MB", "cases": "1"}, "a multiple-baseline design needs at least 2 people"),
    ({"design": "ATD", "rule": ["p_rand_mean_diff[min_phase=3] <= 0.05"]},
     "does not fit an alternating treatments design"),
    ({"design": "ATD", "rule": ["p_atd_mean_diff <= 0.05"], "max_run": "two"}, "cannot read max_run 'two'"),
    ({"cost_occasion": "cheap"}, "the cost per occasion must be a number"),
    ({"alpha": "x"}, "alpha (the Type I level) must be a number"),
    ({"params": "rate5"}, "model parameters are key=value"),
    ({"model": "poisson", "scale": "innovation"}, "is a normal_ar1 setting"),
    ({"power": "1.2"}, "power must lie strictly between 0 and 1"),
    ({"max_occasions": "5"}, "must allow two phases"),
    ({"cases": "two"}, "cannot read cases 'two'"),
    ({"reps": "5"}, "reps must be an integer of at least 10"),
])
def test_malformed_questions_are_messages(client, changes, message):
    r = _post(client, **changes)
    assert r.status_code == 400
    errs = errors(r.get_data(as_text=True))
    assert errs and message in errs[0], errs
    # The form keeps what was typed.
    assert 'id="plan-form"' in r.get_data(as_text=True)
