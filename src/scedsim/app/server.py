"""The Flask application: forms in, pages out.

Handlers parse the form, call :mod:`scedsim.app.compute`, and render; any
error becomes a message on the page (a ``ValueError`` is the user's to fix and
is shown as is, anything else is shown with its type so that the app keeps
serving).  Uploaded files and results live in memory for the life of the
process (this is a single-user app on the loopback address).
"""
from __future__ import annotations

import itertools
import pathlib
import secrets
import tempfile
import threading
from collections import OrderedDict

import pandas as pd

from . import compute

#: Largest upload accepted (bytes).
MAX_UPLOAD = 20 * 1024 * 1024
#: Uploads and results kept (the oldest are forgotten).
KEEP = 32
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ALLOWED = (".csv", ".tsv", ".tab", ".txt", ".xlsx", ".xlsm", ".xls")


class _Store:
    """Uploaded tables and computed results, by random token, oldest forgotten first."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="scedsim_app_")
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._count = itertools.count()

    def put(self, item: dict) -> str:
        token = secrets.token_hex(8)
        with self._lock:
            self._items[token] = item
            while len(self._items) > KEEP:
                self._items.popitem(last=False)
        return token

    def get(self, token: str):
        with self._lock:
            return self._items.get(token)

    def save_upload(self, filename: str, data: bytes) -> pathlib.Path:
        folder = pathlib.Path(self._dir.name) / str(next(self._count))
        folder.mkdir()
        path = folder / filename
        path.write_bytes(data)
        return path


def _safe_name(name: str) -> str:
    """A plain file name (no folders), keeping the extension that picks the reader."""
    base = pathlib.PurePath(name or "").name
    keep = "".join(c if c.isalnum() or c in "._- " else "_" for c in base).strip() or "data.csv"
    return keep


def _fmt(x, digits: int = 4) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    return "" if x != x else f"{x:.{digits}f}"


def create_app():
    """The Flask app, ready for ``app.test_client()`` or :func:`scedsim.app.serve`."""
    # Flask is imported here, not at the top: the package walk of the doctests
    # imports this module also where the app extra is not installed.
    import matplotlib
    from flask import Flask, Response, abort, redirect, render_template, request, url_for

    matplotlib.use("Agg")  # figures are drawn off screen, in any thread

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    store = _Store()
    app.extensions["scedsim_store"] = store
    app.jinja_env.filters["fmt"] = _fmt

    def page(template, status=200, **ctx):
        ctx.setdefault("errors", [])
        ctx.setdefault("messages", [])
        return render_template(template, **ctx), status

    def fail(template, exc, **ctx):
        """An error as a message on the page; the user's own mistakes (ValueError) as they are."""
        if isinstance(exc, ValueError):
            msg, status = " ".join(str(exc).split()), 400
        else:
            app.logger.exception("unexpected error")
            msg, status = f"Something went wrong ({type(exc).__name__}: {exc}). The app is still running.", 500
        return page(template, status=status, errors=[msg], **ctx)

    @app.before_request
    def loopback_only():
        # A page elsewhere on the web can point a browser at this port (DNS rebinding):
        # answer only requests addressed to the loopback names.
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in LOOPBACK_NAMES:
            abort(403)

    @app.errorhandler(403)
    def forbidden(_e):
        return page("message.html", status=403, title="Forbidden",
                    errors=["This app answers only on 127.0.0.1 (localhost)."])

    @app.errorhandler(413)
    def too_large(_e):
        return page("message.html", status=413, title="File too large",
                    errors=[f"The file is larger than {MAX_UPLOAD // 2**20} MB."])

    @app.errorhandler(404)
    def not_found(_e):
        return page("message.html", status=404, title="Not found",
                    errors=["No such page, or the results it pointed to were forgotten; compute them again."])

    @app.errorhandler(Exception)
    def unexpected(exc):
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc
        return fail("message.html", exc, title="Error")

    @app.route("/")
    def index():
        return redirect(url_for("single"))

    # ------------------------------------------------------------- single series
    @app.route("/single", methods=["GET", "POST"])
    def single():
        form = {"a": "", "b": "", "direction": "increase"}
        if request.method == "GET":
            return page("single.html", form=form, result=None)
        form = {"a": request.form.get("a", ""), "b": request.form.get("b", ""),
                "direction": request.form.get("direction", "increase")}
        try:
            result = compute.single_series(form["a"], form["b"], form["direction"])
        except Exception as exc:  # noqa: BLE001 - every error becomes a message
            return fail("single.html", exc, form=form, result=None)
        return page("single.html", form=form, result=result, messages=result["notes"])

    # ---------------------------------------------------------------- study data
    def _load(token, sheet=None, mapping=None):
        item = store.get(token) if token else None
        if item is None:
            raise ValueError("the uploaded table was forgotten (the app was restarted?): upload it again")
        text = compute._text_cols(mapping) if mapping else ("case", "phase", "outcome")
        df, sheets = compute.read_upload(item["path"], sheet=sheet, text=text)
        return item, df, sheets

    def _upload():
        """A new upload (or a bundled example): its token, or a ValueError."""
        example = request.form.get("example")
        if example:
            from .. import datasets

            frames = {"burnout": datasets.load_burnout_example, "pvd2011": datasets.load_pvd2011}
            if example not in frames:
                raise ValueError(f"no example {example!r}")
            path = store.save_upload(f"{example}.csv", frames[example]().to_csv(index=False).encode())
            return store.put({"path": path, "filename": f"<example:{example}>"})
        f = request.files.get("file")
        if f is None or not f.filename:
            raise ValueError("choose a file to upload (CSV, TSV or Excel)")
        name = _safe_name(f.filename)
        if pathlib.Path(name).suffix.lower() not in ALLOWED:
            raise ValueError(f"{name}: unknown file type; upload a .csv, .tsv or .xlsx file")
        data = f.read()
        if not data.strip():
            raise ValueError(f"{name} is empty")
        if pathlib.Path(name).suffix.lower() == ".txt":
            name = name[:-4] + ".tsv" if b"\t" in data.splitlines()[0] else name[:-4] + ".csv"
        path = store.save_upload(name, data)
        compute.read_upload(path)  # unreadable files are refused now, not at the analysis
        return store.put({"path": path, "filename": name})

    def _mapping_from_form(df) -> dict:
        f = request.form
        guess = compute.guess_mapping(df)
        if not f.get("case") or f.get("case") not in df.columns:
            mapping = dict(guess)
            mapping["outcomes"] = guess["wide_outcomes"]
            mapping["decrease"] = []
            mapping["contrasts"] = _default_contrasts(df, mapping)
            mapping["metrics"] = []
            return mapping
        mapping = {k: f.get(k, "") for k in ("case", "session", "phase", "outcome_column", "value")}
        mapping["layout"] = f.get("layout", "long")
        mapping["outcomes"] = f.getlist("outcomes")
        mapping["decrease"] = f.getlist("decrease")
        mapping["contrasts"] = [c.strip() for c in f.get("contrasts", "A:B").split(",") if c.strip()]
        mapping["metrics"] = f.getlist("metrics")
        mapping["tau2"] = f.get("tau2", "DL")
        mapping["weighting"] = f.getlist("weighting")
        mapping["trend"] = bool(f.get("trend"))
        mapping["missing"] = f.get("missing", "error")
        mapping["goal"] = f.get("goal", "")
        try:
            mapping["confidence"] = float(f.get("confidence", "0.95"))
        except ValueError:
            raise ValueError(f"the confidence level must be a number such as 0.95, got {f.get('confidence')!r}") \
                from None
        return mapping

    def _default_contrasts(df, mapping):
        phase = mapping.get("phase")
        if not phase or phase not in df.columns:
            return ["A:B"]
        labels = list(dict.fromkeys(str(p) for p in df[phase].dropna()))
        if len(labels) < 2:
            return ["A:B"]
        return [f"{labels[0]}:{p}" for p in labels[1:]]

    def _study_context(token, item, df, sheets, mapping, sheet):
        import scedsim as ss

        cols = [str(c) for c in df.columns]
        try:
            outs = compute.outcome_names(df, mapping)
        except Exception:  # noqa: BLE001 - only a list of choices
            outs = []
        shown = item["filename"]
        if shown in compute.EXAMPLES:
            shown = f"{compute.EXAMPLES[shown][0]} (bundled example)"
        return {"token": token, "filename": shown, "sheets": sheets, "sheet": sheet or "",
                "columns": cols, "numeric_columns": [c for c in cols if pd.api.types.is_numeric_dtype(df[c])],
                "mapping": mapping, "outcome_choices": outs, "head": df.head(8),
                "metric_choices": [(n, m.label) for n, m in ss.registry.metrics().items()
                                   if set(m.required) <= {"goal"}],
                "default_metrics": ss.registry.default_metrics(),
                "weighting_choices": ["equal", "nA", "nB", "nAnB", "1/nA+1/nB", "1/V"]}

    @app.route("/study", methods=["GET", "POST"])
    def study():
        return _table_page("study.html", analyse=_analyse)

    @app.route("/tests", methods=["GET", "POST"])
    def tests():
        return _table_page("tests.html", analyse=_run_tests)

    def _table_page(template, analyse):
        token = request.values.get("token", "")
        if request.method == "POST" and (request.files.get("file") or request.form.get("example")):
            try:
                token = _upload()
            except Exception as exc:  # noqa: BLE001
                return fail(template, exc, token="", data=None)
            return redirect(url_for(request.endpoint, token=token))
        if not token:
            return page(template, token="", data=None)
        sheet = request.values.get("sheet") or None
        try:
            item, df, sheets = _load(token, sheet)
            mapping = _mapping_from_form(df)  # a GET (no form) gets the guessed mapping
        except Exception as exc:  # noqa: BLE001
            return fail(template, exc, token="", data=None)
        ctx = _study_context(token, item, df, sheets, mapping, sheet)
        if request.method == "GET" or request.form.get("action") != "run":
            return page(template, token=token, data=ctx, result=None)
        try:
            # Labels read as text for the chosen columns, as the command line does.
            _, df, _ = _load(token, sheet, mapping)
            result = analyse(df, mapping, item["filename"], sheet)
        except Exception as exc:  # noqa: BLE001
            return fail(template, exc, token=token, data=ctx, result=None)
        return page(template, token=token, data=ctx, result=result, messages=result.get("messages", []))

    def _analyse(df, mapping, filename, sheet):
        res = compute.study_analysis(df, mapping, filename=filename, sheet=sheet)
        rid = store.put({"cases": res["cases"], "summary": res["summary"], "figure": res["figure_obj"]})
        res["rid"] = rid
        res["case_table"] = _case_table(res["cases"])
        return res

    def _run_tests(df, mapping, filename, sheet):
        f = request.form
        outs = compute.outcome_names(df, mapping)
        outcome = f.get("test_outcome") or (outs[0] if outs else "")
        try:
            min_phase = int(f.get("min_phase", "2"))
        except ValueError:
            raise ValueError(f"the minimum phase length must be a whole number, got {f.get('min_phase')!r}") \
                from None
        return compute.study_tests(df, mapping, outcome, statistic=f.get("statistic", "nap"),
                                   alternative=f.get("alternative", "greater"), min_phase=min_phase,
                                   filename=filename, sheet=sheet)

    @app.route("/download/<rid>/<name>")
    def download(rid, name):
        item = store.get(rid)
        if item is None or "cases" not in item:
            abort(404)
        if name == "results.csv":
            body, mime = item["cases"].to_csv(index=False), "text/csv"
        elif name == "results_summary.csv":
            body, mime = item["summary"].to_csv(index=False), "text/csv"
        elif name == "results.xlsx":
            body = compute.results_xlsx(item["cases"], item["summary"])
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        elif name.startswith("figure.") and name.split(".", 1)[1] in compute.FIGURE_TYPES:
            fmt = name.split(".", 1)[1]
            body, mime = compute.figure_bytes(item["figure"], fmt), compute.FIGURE_TYPES[fmt]
        else:
            abort(404)
        return Response(body, mimetype=mime, headers={"Content-Disposition": f"attachment; filename={name}"})

    # ---------------------------------------------------------------------- plan
    @app.route("/plan", methods=["GET", "POST"])
    def plan():
        ctx = {"designs": compute.PLAN_DESIGNS, "models": _model_names(), "rule_choices": compute.plan_rule_choices()}
        if request.method == "GET":
            return page("plan.html", form=dict(compute.PLAN_DEFAULTS), result=None, **ctx)
        form = compute.plan_form(request.form, request.form.getlist)
        try:
            result = compute.plan_study(form)
        except Exception as exc:  # noqa: BLE001 - every error becomes a message
            return fail("plan.html", exc, form=form, result=None, **ctx)
        result["rid"] = store.put({"plan_figures": result["figures"], "plan_json": result["json"]})
        return page("plan.html", form=form, result=result, messages=result["messages"], **ctx)

    @app.route("/plan/download/<rid>/<name>")
    def plan_download(rid, name):
        item = store.get(rid)
        if item is None or "plan_json" not in item:
            abort(404)
        if name == "plan.json":
            body, mime = item["plan_json"], "application/json"
        else:
            # plan_power_curve.png is the first rule's figure (as `scedsim plan --figure`
            # draws it), plan_power_curve_2.png the second rule's, ...
            stem, _, fmt = name.rpartition(".")
            figs = item["plan_figures"]
            names = {"plan_power_curve": 0, **{f"plan_power_curve_{i + 1}": i for i in range(1, len(figs))}}
            if stem not in names or fmt not in compute.FIGURE_TYPES:
                abort(404)
            body, mime = compute.figure_bytes(figs[names[stem]], fmt), compute.FIGURE_TYPES[fmt]
        return Response(body, mimetype=mime, headers={"Content-Disposition": f"attachment; filename={name}"})

    return app


def _case_table(cases: pd.DataFrame) -> dict:
    """Per-case estimates as rows (contrast, outcome, case) x metric columns, and the notes."""
    from ..registry import metrics

    reg = metrics()
    names = list(dict.fromkeys(cases["metric"]))
    head = [reg[n].label if n in reg else n for n in names]
    rows = []
    for (contrast, outcome, case), g in cases.groupby(["contrast", "outcome", "case"], sort=False):
        est = dict(zip(g["metric"], g["estimate"]))
        imp = g["improvement"].iloc[0]
        rows.append({"contrast": contrast, "outcome": outcome, "case": case,
                     "better": "lower" if imp == "decrease" else "higher",
                     "values": [est.get(n, float("nan")) for n in names]})
    notes = cases[cases["notes"] != ""]
    note_rows = [{"where": f"{r.case} {r.outcome} {r.contrast} {r.metric}", "note": r.notes}
                 for r in notes.itertuples()]
    return {"head": head, "names": names, "rows": rows, "notes": note_rows}


def _model_names() -> list:
    from ..simulate.models import MODELS

    return list(MODELS)
