# The one image for every Python part of gatemesh: gateway, sidecar, control plane, the
# sample services and Locust. Compose gives each its own command (docs/contracts.md):
#   python -m services.catalog --instance catalog-1 --host 0.0.0.0 --port 18001
#   python -m mesh.controlplane --host 0.0.0.0 --port 8500
#   python -m gateway --config /etc/gatemesh/gateway.yaml
#   locust -f /app/loadtests/<file>.py
#
# Build context: the repository root (/.dockerignore keeps it to the sources).
#   docker build -f compose/images/app.Dockerfile -t gatemesh/app:dev .    # deps from PyPI
#   compose/images/build-offline.sh                        # no registry and no index at all
#
# Dependencies come from the wheelhouse when the build context has one
# (.gatemesh/wheelhouse, made by build-offline.sh; pip --no-index), and from PyPI
# otherwise. gatemesh itself is always built from the sources in the context, so a
# wheelhouse can never put stale gatemesh code in the image.
#
# Only classic-builder syntax: the docker CLIs on our machines have no buildx plugin.

ARG BASE_IMAGE=python:3.11-slim

# --- context: split the build context into wheels and sources ---------------------------
FROM ${BASE_IMAGE} AS context
COPY . /ctx/
RUN mkdir -p /wheelhouse \
 && if [ -d /ctx/.gatemesh/wheelhouse ]; then \
      find /ctx/.gatemesh/wheelhouse -maxdepth 1 -name '*.whl' -exec mv {} /wheelhouse/ \; ; \
    fi \
 && rm -rf /ctx/.gatemesh

# --- deps: a virtualenv holding the requirements only -------------------------------------
# A layer of its own: it is rebuilt when pyproject.toml or the wheels change, not when
# the code does.
FROM ${BASE_IMAGE} AS deps
# Extras of gatemesh to install ("load" brings Locust; comma-separated; "" for none).
ARG EXTRAS=load
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY --from=context /wheelhouse /tmp/wheelhouse
COPY --from=context /ctx/pyproject.toml /ctx/compose/images/requirements.py /tmp/deps/
RUN python3 /tmp/deps/requirements.py /tmp/deps/pyproject.toml "${EXTRAS}" >/tmp/deps/requirements.txt \
 && python3 -m venv /opt/gatemesh \
 && if ls /tmp/wheelhouse/*.whl >/dev/null 2>&1; then \
      echo "deps: from the wheelhouse in the build context (no index)"; \
      set -- --no-index --find-links /tmp/wheelhouse; \
    else \
      echo "deps: from PyPI (no wheelhouse in the build context)"; \
    fi \
 && /opt/gatemesh/bin/pip install "$@" -r /tmp/deps/requirements.txt

# --- the image ----------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/gatemesh/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY --from=deps /opt/gatemesh /opt/gatemesh
COPY --from=context /ctx /tmp/src
# --no-build-isolation: setuptools is already in the venv (requirements.py lists the
# build requirements), so building gatemesh asks no index.
RUN pip install --no-deps --no-build-isolation --no-index /tmp/src \
 && mkdir -p /app \
 && if [ -d /tmp/src/loadtests ]; then cp -r /tmp/src/loadtests /app/; fi \
 && rm -rf /tmp/src
WORKDIR /app
LABEL org.opencontainers.image.title="gatemesh" \
      org.opencontainers.image.description="gatemesh: gateway, sidecar, control plane, sample services and Locust in one image"
CMD ["python3"]
