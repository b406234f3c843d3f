"""``scedsim app``: a point-and-click web app on the loopback address.

Pages: one AB series (every effect size, its null distribution, the graph),
a study table (upload, map the columns, effect sizes, summary, figure,
downloads), exact and randomization tests, and the design planner
(:func:`scedsim.plan` as a form, with its candidate table and power curve).
Every page shows the Python code and the ``scedsim`` command that give the
same numbers.

The app needs Flask (the ``app`` extra: ``pip install -e ".[app]"``); the rest
of scedsim does not import this package.
"""
from __future__ import annotations

__all__ = ["create_app", "serve", "missing_framework"]

HINT = 'the app needs Flask: pip install -e ".[app]" (or pip install flask)'


def missing_framework() -> str | None:
    """None when Flask can be imported, else a one-line installation hint."""
    try:
        import flask  # noqa: F401
    except ImportError:
        return HINT
    return None


def create_app():
    """The Flask application (see :mod:`scedsim.app.server`)."""
    from .server import create_app as _create

    return _create()


def make_server(port: int = 8765, host: str = "127.0.0.1"):
    """A threaded WSGI server for the app on ``host:port`` (port 0: any free port)."""
    from werkzeug.serving import make_server as _make

    return _make(host, port, create_app(), threaded=True)


def serve(port: int = 8765, open_browser: bool = True) -> None:
    """Serve the app on 127.0.0.1 until Ctrl-C, opening the browser unless told not to."""
    import threading
    import webbrowser

    try:
        server = make_server(port)
    except OSError as exc:
        raise OSError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror or exc}); choose another --port") from None
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"scedsim app: serving on {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
