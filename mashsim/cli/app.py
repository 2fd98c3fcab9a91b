"""`mashsim app`: the what-if web page (optional extra `mashsim[app]`)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from mashsim.errors import InputError

__all__ = ["register"]

DEFAULT_PORT = 8501
MAX_PORT = 65535


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning any free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to {MAX_PORT}, got {port}")
    return port


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app", help="start the what-if web page on 127.0.0.1",
        description="Start the what-if web page on this computer (127.0.0.1 only) and print "
                    "its address. Needs the app extra: pip install 'mashsim[app]'.")
    p.add_argument("scenario", nargs="?", type=Path,
                   help="scenario TOML to open (default: the bundled thames_valley.toml)")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    p.set_defaults(handler=_app)


def _app(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None:
        raise InputError(["app: the web page needs the app extra: "
                          "pip install 'mashsim[app]' (or '.[app]' in a clone)"])
    if args.scenario is not None:  # refuse a bad file here, with its key paths, not later
        from mashsim.scenario import load_scenario

        load_scenario(args.scenario)
    from mashsim.app.launch import free_port, serve

    return serve(args.scenario, args.port or free_port())
