# deskroute's container image: `deskroute serve` on port 8000 (the API, webhooks and metrics, with the
# scheduled jobs unless --no-jobs). The store and the models live under /var/lib/deskroute (mount a volume);
# the configuration is /etc/deskroute/deskroute.toml (mount it), secrets come in as environment variables.
#
#   docker build -t deskroute .
#   docker run -p 8000:8000 -v deskroute-data:/var/lib/deskroute -v ./deskroute.toml:/etc/deskroute/deskroute.toml:ro \
#       -e RT_PASSWORD -e RT_WEBHOOK_SECRET deskroute
FROM python:3.11-slim

# torch first, CPU-only and pinned as the Makefile does, so pip does not pull a CUDA build of several GB.
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python -m pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "${TORCH_SPEC}"

WORKDIR /opt/deskroute
COPY pyproject.toml README.md LICENSE ./
COPY connectors connectors
COPY embeddings embeddings
COPY policies policies
COPY router router
COPY evals evals
RUN python -m pip install --no-cache-dir . && useradd --system --home-dir /var/lib/deskroute deskroute \
    && mkdir -p /var/lib/deskroute /etc/deskroute && chown deskroute /var/lib/deskroute

USER deskroute
WORKDIR /var/lib/deskroute
# Nothing is downloaded at run time: the embedding model is the installed package.
ENV DESKROUTE_CONFIG=/etc/deskroute/deskroute.toml \
    DESKROUTE_DATA_DIR=/var/lib/deskroute \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
ENTRYPOINT ["deskroute"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
