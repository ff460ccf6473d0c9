# syntax=docker/dockerfile:1
# pico-tls-operator image: kopf runs the pico_tls package as a non-root user.
#   docker build -t pico-tls-operator:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: a virtualenv with the locked dependencies and the package -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# A C compiler for the dependencies that ship no wheel (twofish, via pyjks).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-virtualenv -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --require-virtualenv --no-deps . \
 && pip check

# --- runtime: the virtualenv only, no compiler, no sources ----------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="pico-tls-operator" \
      org.opencontainers.image.description="TLS and client authentication for the pico RCP protocol" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 pico \
 && useradd --system --uid 10001 --gid pico --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pico
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PICO_TLS_HEALTH_ADDRESS=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080
CMD ["kopf", "run", "-m", "pico_tls", "--all-namespaces", "--standalone"]
