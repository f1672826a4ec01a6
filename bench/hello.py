"""The ceiling: a bare Sanic JSON hello-world, served the way `gongxin serve` serves (Sanic's worker
manager with one worker process), with the access log off.

    python bench/hello.py --port 8100

`GET /` -> {"hello": "world"}. bench/run.py measures it in the same run as the real endpoints, so the
ratios it reports compare like with like on whatever machine runs it.
"""

from __future__ import annotations

import argparse
from typing import Any

from sanic import Request, Sanic
from sanic.log import LOGGING_CONFIG_DEFAULTS
from sanic.response import HTTPResponse, json


def _quiet_logging() -> dict[str, Any]:
    """Sanic's default logging, at WARNING: no start-up chatter, no per-request lines."""
    config = {**LOGGING_CONFIG_DEFAULTS, "loggers": dict(LOGGING_CONFIG_DEFAULTS["loggers"])}
    for name, logger in config["loggers"].items():
        config["loggers"][name] = {**logger, "level": "WARNING"}
    return config


app = Sanic("bench_hello", log_config=_quiet_logging())


@app.get("/")
async def hello(request: Request) -> HTTPResponse:
    return json({"hello": "world"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
