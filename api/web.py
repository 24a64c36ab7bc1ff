"""The web app's pages."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the pages, and the answer to a page asked for without a live session."""
