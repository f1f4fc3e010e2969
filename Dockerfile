# One image for every ragmill process: workers, Flower, the Chroma server and one-off ingests.
# Build: docker compose build   (nothing secret is baked in; secrets come from .env at run time)
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    TOKENIZERS_PARALLELISM=false \
    RAGMILL_DATA_DIR=/data

# Tesseract's language data for scanned pages (the engine itself comes inside tesserocr's wheel):
# English and the languages of the bundled Gutenberg corpus.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr-eng tesseract-ocr-deu \
       tesseract-ocr-fra tesseract-ocr-ita tesseract-ocr-spa tesseract-ocr-nld \
    && rm -rf /var/lib/apt/lists/*

# torch first, from the PyTorch CPU index: otherwise pip resolves sentence-transformers' torch
# to the default wheel, which pulls several GB of CUDA libraries no CPU worker uses.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

WORKDIR /app
# The project and its dependencies; docker/ comes after, so editing a start script reinstalls nothing.
COPY pyproject.toml README.md* ./
COPY corpus ./corpus
COPY tasks ./tasks
COPY pipeline ./pipeline
RUN pip install . \
    && python -c "import torch; assert not torch.version.cuda, 'a CUDA torch replaced the CPU one'"

COPY docker ./docker
# Named volumes start as a copy of these folders, owner included, so the workers can write.
RUN chmod +x docker/* \
    && useradd --create-home --uid 1000 ragmill \
    && mkdir -p /data/cache /data/chroma \
    && chown -R ragmill:ragmill /data
USER ragmill
VOLUME ["/data"]

ENTRYPOINT ["/app/docker/entrypoint"]
CMD ["ragmill", "--help"]
