#!/usr/bin/env bash
# Creates .venv and installs requirements.txt. Safe to run again: it does nothing when the requirements
# have not changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=$(grep -E '^llama-cpp-python==' requirements.txt | cut -d= -f3)
stamp=".venv/.installed-$(sha256sum requirements.txt scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip wheel setuptools

# llama.cpp is compiled here. Its default "native" build turns on every instruction set the compiler
# finds, AMX included, which faults on some virtual machines; and a flag for an instruction the CPU
# lacks (say AVX512-BF16) crashes with "Illegal instruction". So: a portable build plus exactly the
# AVX-512 extensions that /proc/cpuinfo lists.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
cmake_args="-DGGML_NATIVE=OFF"
if has avx512f; then
  cmake_args="$cmake_args -DGGML_AVX512=ON"
  has avx512_vnni && cmake_args="$cmake_args -DGGML_AVX512_VNNI=ON"
  has avx512vbmi && cmake_args="$cmake_args -DGGML_AVX512_VBMI=ON"
  has avx512_bf16 && cmake_args="$cmake_args -DGGML_AVX512_BF16=ON"
fi
has avx_vnni && cmake_args="$cmake_args -DGGML_AVX_VNNI=ON"
cmake_args=${CMAKE_ARGS:-$cmake_args}

# The built wheel is kept per version and flag set, outside .venv, so a fresh venv on the same machine
# skips the ~10 minute compile, and a wheel built for another CPU is never reused.
key=$(printf '%s %s' "$LLAMA_VERSION" "$cmake_args" | sha256sum | cut -c1-12)
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/medgemma-studio/llama-wheels/$key"
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "Compiling llama-cpp-python $LLAMA_VERSION ($cmake_args), about 10 minutes..."
  CMAKE_ARGS="$cmake_args" .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir \
    -w "$wheels.tmp" "llama-cpp-python==$LLAMA_VERSION"
  mv "$wheels.tmp" "$wheels"
fi
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl

# llama.cpp's own server (continuous batching, parallel slots, prompt cache) from the same source
# package and the same flags, for the gguf backend's default engine. No web UI, no TLS, no download
# at build time. If cmake or a compiler is missing the app falls back to the in-process engine.
server="${XDG_CACHE_HOME:-$HOME/.cache}/medgemma-studio/llama-server/$key"
if [ ! -x "$server/llama-server" ] && command -v cmake >/dev/null && command -v c++ >/dev/null; then
  echo "Compiling llama-server $LLAMA_VERSION ($cmake_args), about 10 minutes..."
  work=$(mktemp -d)
  .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: -d "$work" \
    "llama-cpp-python==$LLAMA_VERSION"
  tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
  # shellcheck disable=SC2086
  cmake -S "$work"/llama_cpp_python-*/vendor/llama.cpp -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    $cmake_args -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    >"$work/configure.log"
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log"
  mkdir -p "$server.tmp"
  cp "$work/build/bin/llama-server" "$server.tmp/"
  rm -rf "$server" && mv "$server.tmp" "$server"
  rm -rf "$work"
fi
if [ -x "$server/llama-server" ]; then
  ln -sf "$server/llama-server" .venv/bin/llama-server
fi

echo "Installing requirements..."
.venv/bin/python -m pip install --quiet -r requirements.txt

rm -f .venv/.installed-*
touch "$stamp"
echo "Environment ready in .venv"
