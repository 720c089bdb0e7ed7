FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY sql ./sql
RUN pip install --no-cache-dir -e . && useradd --system --home /app registry && mkdir -p /data \
    && chown registry /data
USER registry
ENV REGISTRY_DATA_DIR=/data REGISTRY_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
