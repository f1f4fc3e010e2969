#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for ragmill: redis-server from apt, a virtualenv in .venv
# with the CPU build of PyTorch installed first (so pip never pulls the multi-GB CUDA build), then
# ragmill itself. Tesseract and its language packs (English and the languages of the Gutenberg
# corpus) read scanned pages. Extra apt packages and pip extras come from APT_EXTRA and PIP_EXTRAS.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(${APT_EXTRA:-})
command -v redis-server >/dev/null || apt_packages+=(redis-server)
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3-venv)
# The language packs (traineddata) that tesserocr's Tesseract reads; `tesseract-ocr` brings the CLI.
apt_packages+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra
               tesseract-ocr-ita tesseract-ocr-spa tesseract-ocr-nld)
if [ ${#apt_packages[@]} -gt 0 ]; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing ${missing[*]} with apt"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  # A local CPU wheel (pip's find-links) when the machine has one, else PyTorch's CPU-only index;
  # torch's own dependencies come with ragmill's below.
  .venv/bin/pip install -q --no-index --no-deps torch==2.13.0 2>/dev/null \
    || .venv/bin/pip install -q torch==2.13.0 \
         --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
fi
.venv/bin/pip install -q -e ".${PIP_EXTRAS:-}"
echo "ragmill is installed in .venv"
