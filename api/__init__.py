"""The HTTP API (/api/v1, bearer tokens) and the web app (server-rendered pages, session cookie), one process."""
