"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime. ``async`` on purpose: FastAPI runs a plain ``def`` dependency
    in a worker thread, which costs a thread hop on every request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
